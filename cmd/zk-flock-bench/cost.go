package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// tool is one of the lock runners compared, as a command line.
type tool struct {
	Name string
	Argv []string
	Env  []string
}

// costTools are the commands of the whole-process comparison: each takes an
// uncontended lock, runs true, and lets go.
func (e *env) costTools() []tool {
	return []tool{
		{Name: "zk-flock", Argv: e.zkflockArgs("-l", "0", "L", "true"), Env: environ()},
		{Name: "flock(1)", Argv: []string{e.flock, filepath.Join(e.dir, "L.lock"), "true"}, Env: environ()},
		{Name: "etcdctl lock", Argv: []string{e.etcdctl, "--endpoints=" + e.etcdURL, "lock", "L", "true"}, Env: environ("ETCDCTL_API=3")},
		// The floor of the method: spawning a process that does nothing,
		// and the launcher's own RSS, which every peak RSS includes.
		{Name: "true (floor)", Argv: []string{e.truePath}, Env: environ()},
	}
}

// costResult is one tool's sample of whole-process costs.
type costResult struct {
	Tool   tool
	Wall   []float64 // ms
	CPU    []float64 // ms
	MaxRSS []float64 // MiB
	// Requests is zk_packets_received per run, for zk-flock: the session's
	// connect, its requests and its close.
	Requests []float64
}

// measureCosts runs every tool n times, interleaved (A B C, B C A, C A B,
// …) so that noise hits all alike, after warm runs of each.
func (e *env) measureCosts(ctx context.Context, n, warm int) ([]*costResult, error) {
	tools := e.costTools()
	res := make([]*costResult, len(tools))
	for i, t := range tools {
		res[i] = &costResult{Tool: t}
		for range warm {
			if _, err := e.measure(ctx, t.Argv, t.Env); err != nil {
				return nil, fmt.Errorf("warm-up %s: %w", t.Name, err)
			}
		}
	}
	for i := range n {
		for j := range tools {
			k := (i + j) % len(tools)
			zk := tools[k].Name == "zk-flock"
			var p0 int64
			if zk {
				var err error
				if p0, err = e.packets(); err != nil {
					return nil, err
				}
			}
			c, err := e.measure(ctx, tools[k].Argv, tools[k].Env)
			if err != nil {
				return nil, err
			}
			r := res[k]
			if zk {
				p1, err := e.packets()
				if err != nil {
					return nil, err
				}
				r.Requests = append(r.Requests, float64(p1-p0))
			}
			r.Wall = append(r.Wall, ms(c.Wall))
			r.CPU = append(r.CPU, ms(c.CPU))
			r.MaxRSS = append(r.MaxRSS, float64(c.MaxRSS)/(1<<20))
		}
	}
	return res, nil
}
