// Command zk-flock runs a command on this host only while it holds a
// cluster-wide lock in ZooKeeper.
package main

import (
	"os"
	"runtime"
	"runtime/debug"
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
	// The ZooKeeper client library's two buffers (2.5 MB, mostly never
	// touched) take the heap past the runtime's first 4 MB goal as the
	// session is set up, and a collection then runs while zk-flock should
	// be connecting. With twice the default, the first one waits for 8 MB,
	// which a short run never reaches; a long one collects as usual, at
	// three times its live heap. An explicit GOGC is left alone.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
