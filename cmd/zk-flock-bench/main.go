// Command zk-flock-bench measures zk-flock side by side with flock(1),
// etcdctl lock and the raw ZooKeeper floor, on throwaway loopback servers it
// starts itself, and writes docs/BENCHMARKS.md with a plot. See
// docs/BENCHMARKS.md for what it measures and how; make bench runs it,
// make bench-smoke runs it with tiny sizes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
