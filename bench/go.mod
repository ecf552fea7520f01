module github.com/wsfleet/wsfleet/bench

go 1.26.8

require (
	github.com/gobwas/ws v1.5.0
	github.com/wsfleet/wsfleet v0.0.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/wsfleet/wsfleet => ../
