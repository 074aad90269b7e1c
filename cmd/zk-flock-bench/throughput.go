package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// tpResult is one tool's lock cycles per second, one figure per round.
type tpResult struct {
	Tool     string
	Argv     []string // client 0's command line
	Rates    []float64
	Failures int64
}

// throughputTools are the lock runners of the throughput comparison; client
// c always uses lock tp-c, so that the clients never contend.
func (e *env) throughputTools() []struct {
	name string
	argv func(c int) []string
	env  []string
} {
	return []struct {
		name string
		argv func(c int) []string
		env  []string
	}{
		{"zk-flock", func(c int) []string { return e.zkflockArgs("-l", "0", "tp-"+strconv.Itoa(c), "true") }, environ()},
		{"flock(1)", func(c int) []string {
			return []string{e.flock, filepath.Join(e.dir, "tp-"+strconv.Itoa(c)+".lock"), "true"}
		}, environ()},
		{"etcdctl lock", func(c int) []string {
			return []string{e.etcdctl, "--endpoints=" + e.etcdURL, "lock", "tp-" + strconv.Itoa(c), "true"}
		}, environ("ETCDCTL_API=3")},
	}
}

// measureThroughput runs, for each tool in turn and for rounds rounds
// (rotating the order), clients concurrent loops of whole lock cycles on
// distinct locks for dur, and records completed cycles per second.
func (e *env) measureThroughput(ctx context.Context, clients int, dur time.Duration, rounds int) ([]*tpResult, error) {
	tools := e.throughputTools()
	res := make([]*tpResult, len(tools))
	for i, t := range tools {
		res[i] = &tpResult{Tool: t.name, Argv: t.argv(0)}
	}
	for r := range rounds {
		for j := range tools {
			k := (r + j) % len(tools)
			t := tools[k]
			var ok, failed atomic.Int64
			var firstErr error
			var once sync.Once
			var wg sync.WaitGroup
			t0 := time.Now()
			for c := range clients {
				wg.Go(func() {
					for time.Since(t0) < dur && ctx.Err() == nil {
						if _, err := e.measure(ctx, t.argv(c), t.env); err != nil {
							failed.Add(1)
							once.Do(func() { firstErr = err })
							continue
						}
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if ok.Load() == 0 {
				return nil, fmt.Errorf("%s: no cycle completed: %v", t.name, firstErr)
			}
			res[k].Rates = append(res[k].Rates, float64(ok.Load())/time.Since(t0).Seconds())
			res[k].Failures += failed.Load()
		}
	}
	return res, nil
}
