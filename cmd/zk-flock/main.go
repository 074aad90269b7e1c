// Command zk-flock runs a command on this host only while it holds a
// cluster-wide lock in ZooKeeper.
package main

import (
	"os"
	"runtime"
)

func main() {
	// zk-flock waits far more than it computes: one P keeps its handful of
	// goroutines on one thread, where handing work from one to the next
	// does not wake another CPU. That shaves a few hundred microseconds
	// off taking and releasing a lock on a small, busy host.
	// An explicit GOMAXPROCS in the environment is left alone.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
