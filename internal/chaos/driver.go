package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
	"github.com/zk-flock/zk-flock/internal/faultproxy"
)

// Phase is a stretch of the run given to one scenario (or the mix):
// cycles and violations are counted by the start of the holder.
type Phase struct {
	Scenario string `json:"scenario"`
	Name     string `json:"name"`
	From     int64  `json:"from"`
	To       int64  `json:"to"`
}

var episodeSeq atomic.Int64

// RunEpisode runs one fault of scenario sc on the next holder of group g
// and returns the episode once the lock has a next holder (or a bounded
// wait ran out).
func (e *Env) RunEpisode(ctx context.Context, sc Scenario, g *Group) *Episode {
	ep := &Episode{ID: int(episodeSeq.Add(1)), Scenario: sc.ID, Group: g.Path}
	defer e.hist.AddEpisode(ep)
	got := e.hist.ArmVictim(g.Path, ep.ID, sc.Plan)
	var iv *Interval
	select {
	case iv = <-got:
	case <-time.After(30 * time.Second):
		e.hist.Disarm(g.Path)
		ep.Err = "no holder within 30 s"
		return ep
	case <-ctx.Done():
		e.hist.Disarm(g.Path)
		ep.Err = ctx.Err().Error()
		return ep
	}
	ep.Client, ep.Victim, ep.Run = iv.Client, iv.ID, iv.Run
	c := e.client(iv.Client)
	// Let the holder settle into its heartbeats, at a random phase of them.
	sleepCtx(ctx, 300*time.Millisecond+e.randDuration(0, e.T/10))
	if err := sc.Fault(ctx, e, ep, c, iv); err != nil {
		ep.Err = err.Error()
		c.Release(faultproxy.Both)
		c.SetDelay(0)
		if pid, seq := c.Current(); pid != 0 && seq == iv.Run {
			_ = c.Signal(seq, syscall.SIGCONT)
		}
	}
	if ep.Healed == 0 {
		ep.Healed = wire.Now()
	}
	if sc.Limitation {
		e.reapLimitation(ctx, iv)
	}
	// A victim that survived the fault is told to end: a holder that was
	// not killed within T after the fault healed will not be.
	if !waitDone(ctx, iv, e.T+500*time.Millisecond) {
		_ = e.hub.TellExit(iv)
		if !waitDone(ctx, iv, 20*time.Second) {
			ep.Err = fmt.Sprintf("victim interval %d still alive 20 s after it was told to exit", iv.ID)
		}
	}
	// zk-flock exits once its tree is dead and its session closed.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, seq := c.Current(); seq != iv.Run {
			break
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	// The episode ends when the node has a next holder.
	deadline = time.Now().Add(4*e.T + 10*time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if next := e.hist.NextStart(iv.Lock, iv.Start); next != nil {
			break
		}
		select {
		case <-e.hist.Changed():
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	ep.End = wire.Now()
	return ep
}

// reapLimitation ends what a limitation scenario leaves running (the
// grandchildren of a zk-flock killed with SIGKILL): once the lock has a
// next holder, or after 3T, they are killed, and the overlap is measured.
func (e *Env) reapLimitation(ctx context.Context, iv *Interval) {
	deadline := time.Now().Add(4 * e.T)
	for time.Now().Before(deadline) && ctx.Err() == nil && e.hist.NextStart(iv.Lock, iv.Start) == nil {
		sleepCtx(ctx, 50*time.Millisecond)
	}
	sleepCtx(ctx, 500*time.Millisecond)
	for _, k := range iv.kidsCopy(e.hist) {
		_ = unix.Kill(k, syscall.SIGKILL)
	}
	waitDone(ctx, iv, 10*time.Second)
}

func (iv *Interval) kidsCopy(h *History) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), iv.Kids...)
}

func waitDone(ctx context.Context, iv *Interval, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-iv.done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (e *Env) client(name string) *Client {
	for _, c := range e.Clients {
		if c.Name == name {
			return c
		}
	}
	panic("unknown client " + name)
}

// Group returns the group named name.
func (e *Env) Group(name string) *Group {
	for _, g := range e.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// RunScenario runs n episodes of sc on group g, one after another.
func (e *Env) RunScenario(ctx context.Context, sc Scenario, g *Group, n int) Phase {
	ph := Phase{Scenario: sc.ID, Name: sc.Name, From: wire.Now()}
	for i, retries := 0, 0; i < n && ctx.Err() == nil; i++ {
		ep := e.RunEpisode(ctx, sc, g)
		e.logf("  %s %-40s episode %d: victim %s interval %d%s%s", sc.ID, sc.Name, ep.ID, ep.Client, ep.Victim, leaderSuffix(ep), errSuffix(ep.Err))
		if ep.Err != "" && ep.Start == 0 && retries < 2 {
			// The fault could not even be injected (the victim was
			// between connections, say): try another holder.
			retries++
			i--
		}
	}
	ph.To = wire.Now()
	return ph
}

// leaderSuffix marks an episode whose faulted server was the leader: an
// election followed.
func leaderSuffix(ep *Episode) string {
	if ep.Leader {
		return " (the leader)"
	}
	return ""
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " (harness: " + s + ")"
}

// RunMix injects random faults until done says stop: one lane faults the
// first group's holders with every mixable kind, server faults included;
// a second lane, at the same time, faults holders of the other groups with
// the client-side kinds.
func (e *Env) RunMix(ctx context.Context, scs []Scenario, done func() bool) Phase {
	ph := Phase{Scenario: "mix", Name: "random mix", From: wire.Now()}
	var all, local []Scenario
	for _, sc := range scs {
		if sc.Mix {
			all = append(all, sc)
			if !sc.ServerFault {
				local = append(local, sc)
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var mu sync.Mutex
	pick := func(list []Scenario) Scenario {
		mu.Lock()
		defer mu.Unlock()
		return list[rng.IntN(len(list))]
	}
	lane := func(list []Scenario, groups []*Group) {
		for ctx.Err() == nil && !done() {
			sc := pick(list)
			mu.Lock()
			g := groups[rng.IntN(len(groups))]
			mu.Unlock()
			ep := e.RunEpisode(ctx, sc, g)
			e.logf("  mix %-3s %-40s on %s episode %d: victim %s interval %d%s%s", sc.ID, sc.Name, g.Name, ep.ID, ep.Client, ep.Victim, leaderSuffix(ep), errSuffix(ep.Err))
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { lane(all, e.Groups[:1]) })
	if len(e.Groups) > 1 && len(local) > 0 {
		wg.Go(func() { lane(local, e.Groups[1:]) })
	}
	wg.Wait()
	ph.To = wire.Now()
	return ph
}

// Steady lets the clients cycle with no fault for d.
func (e *Env) Steady(ctx context.Context, d time.Duration) Phase {
	ph := Phase{Scenario: "0", Name: "no fault", From: wire.Now()}
	sleepCtx(ctx, d)
	ph.To = wire.Now()
	return ph
}

// Cycles returns how many holders have started so far.
func (e *Env) Cycles() int {
	e.hist.mu.Lock()
	defer e.hist.mu.Unlock()
	return len(e.hist.intervals)
}
