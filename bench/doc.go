// Package bench holds side-by-side benchmarks of wsfleet against other Go
// WebSocket libraries. It is a module of its own so that the library's go.mod
// lists only what the library needs; nothing here is imported by wsfleet.
//
// Run from this folder, for example:
//
//	go test -run '^$' -bench Mask -benchmem -count 10 | tee /tmp/mask-bench.txt
//	benchstat -col /impl -row /size /tmp/mask-bench.txt
//
// and, for ratios that hold up while other work loads the machine:
//
//	WSFLEET_FASTEST=1 go test -run 'TestMaskGoals|TestHeaderFastest' -v
package bench
