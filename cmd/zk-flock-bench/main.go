// Command zk-flock-bench measures zk-flock side by side with flock(1),
// etcdctl lock and the raw ZooKeeper floor, on throwaway loopback servers it
// starts itself, and writes docs/BENCHMARKS.md with a plot. See
// docs/BENCHMARKS.md for what it measures and how; make bench runs it,
// make bench-smoke runs it with tiny sizes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if role := os.Getenv(envPeer); role != "" {
		if err := runPeer(role, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "zk-flock-bench %s peer: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
