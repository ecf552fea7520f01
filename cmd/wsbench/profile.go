package main

import (
	"os"
	"runtime/pprof"
)

// startCPUProfile profiles wsbench's own process (-cpuprofile): where the generator spends its
// CPU, which is what a load tester must keep small. stop ends the profile and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		_ = fh.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = fh.Close()
	}, nil
}
