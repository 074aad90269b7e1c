package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zk-flock/zk-flock/internal/testzk"
)

// Handoff and herd settings.
const (
	// waitFlag is the waiters' -w: only a bound, so generous enough for a
	// thousand waiters to start, queue and take their turns on two cores.
	waitFlag = "900"
	// startBatch waiters are started at once; the next batch starts when
	// these are queued, so that a thousand processes do not all fight
	// for two cores at once and time out connecting.
	startBatch = 50
	// queueTimeout bounds waiting for one batch to queue.
	queueTimeout = 60 * time.Second
	// Deadline of one round's handoffs: phaseBase plus phasePerWaiter for
	// each waiter. Past it the round ends with what it has (Partial).
	phaseBase      = 60 * time.Second
	phasePerWaiter = 300 * time.Millisecond
	// exitTimeout bounds waiting for every zk-flock of a round to exit
	// after its command did.
	exitTimeout = 60 * time.Second
)

// queueRoot is where zk-flock's herd-free waiters queue: one directory of
// ephemeral-sequential nodes per lock.
const queueRoot = "/" + appID + "/.zk-flock-queues"

// herdRound is one round: a holder and W waiters queued on one lock, then
// W handoffs in a row, each waiter's command exiting as soon as it starts.
type herdRound struct {
	W        int
	Handoffs []float64 // ms, holder's command exit → next command start, in order
	Setup    time.Duration
	Phase    float64 // ms, first exit → last start
	// Packets is zk_packets_received during the handoffs; AliveSec the
	// session-seconds of zk-flock sessions alive meanwhile. IdlePackets and
	// IdleSec are the same for a quiet window before the handoffs, with
	// everyone queued: the background rate of pings and heartbeats.
	Packets     int64
	AliveSec    float64
	IdlePackets int64
	IdleSec     float64
	Partial     bool // the deadline passed before all W handoffs
}

// herdResult is every round of one waiter count.
type herdResult struct {
	W      int
	Rounds []*herdRound
	Err    error
}

// handoffs returns every round's handoffs.
func (h *herdResult) handoffs() []float64 {
	var all []float64
	for _, r := range h.Rounds {
		all = append(all, r.Handoffs...)
	}
	return all
}

// firstTenth returns the handoffs of each round's first tenth (at least
// one), while nine tenths of the waiters or more were still queued.
func (h *herdResult) firstTenth() []float64 {
	var out []float64
	for _, r := range h.Rounds {
		n := max(1, r.W/10)
		out = append(out, r.Handoffs[:min(n, len(r.Handoffs))]...)
	}
	return out
}

// bgRate is the background request rate per session-second, pooled over
// the rounds' idle windows.
func (h *herdResult) bgRate() float64 {
	var p, s float64
	for _, r := range h.Rounds {
		p += float64(r.IdlePackets)
		s += r.IdleSec
	}
	if s == 0 {
		return 0
	}
	return p / s
}

// requests returns ZooKeeper requests per handoff: raw (every packet the
// server received during the handoffs) and with the background of pings
// and heartbeats subtracted (bgRate × session-seconds alive).
func (h *herdResult) requests() (raw, net float64) {
	var pk, alive float64
	var n int
	for _, r := range h.Rounds {
		pk += float64(r.Packets)
		alive += r.AliveSec
		n += len(r.Handoffs)
	}
	if n == 0 {
		return 0, 0
	}
	return pk / float64(n), (pk - h.bgRate()*alive) / float64(n)
}

// herdPlan is how many rounds each waiter count gets.
type herdPlan struct {
	W      int
	Rounds int
}

// measureHerds runs the plan's rounds interleaved: in passes, each waiter
// count joining in the last Rounds passes, so that the many small rounds
// and the few big ones share the same stretch of time, and the biggest
// ones come last. A failed waiter count is recorded and left out of later
// passes.
func (e *env) measureHerds(ctx context.Context, plan []herdPlan, idleBase time.Duration, progress func(string)) []*herdResult {
	passes := 0
	res := make([]*herdResult, len(plan))
	for i, p := range plan {
		passes = max(passes, p.Rounds)
		res[i] = &herdResult{W: p.W}
	}
	for pass := range passes {
		for i, p := range plan {
			r := res[i]
			if pass < passes-p.Rounds || r.Err != nil || ctx.Err() != nil {
				continue
			}
			lock := "herd-" + strconv.Itoa(p.W) + "-" + strconv.Itoa(pass)
			// The quiet window must see enough pings (one per session
			// every third of its timeout) to estimate their rate.
			idle := idleBase + time.Duration(p.W)*3*time.Millisecond
			round, err := e.herdRound(ctx, p.W, lock, idle)
			if err != nil {
				r.Err = err
				progress(fmt.Sprintf("%d waiters: %v", p.W, err))
				continue
			}
			r.Rounds = append(r.Rounds, round)
			if p.W >= 10 {
				s := summarize(round.Handoffs)
				progress(fmt.Sprintf("%d waiters: %d handoffs, mean %.2f ms, median %.2f ms (setup %v)",
					p.W, len(round.Handoffs), s.Mean, s.Median, round.Setup.Round(time.Millisecond)))
			}
		}
	}
	return res
}

// herdRound runs one round on lock: start a holder, queue W waiters, watch
// the background for idle, then let the commands exit one after another.
func (e *env) herdRound(ctx context.Context, W int, lock string, idle time.Duration) (r *herdRound, err error) {
	e.hub.drain()
	var all []*proc
	defer func() {
		if err != nil {
			for _, p := range all {
				p.kill()
			}
		}
	}()
	t0 := time.Now()
	holder, err := e.start(e.zkflockArgs("-l", "0", lock, "--", e.child, e.hub.path)...)
	if err != nil {
		return nil, err
	}
	all = append(all, holder)
	first, err := e.hub.await(ctx, repStart, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("holder: %w. %s", err, e.childrenErrors())
	}
	base, err := e.queueState(lock)
	if err != nil {
		return nil, err
	}
	for started := 0; started < W; {
		n := min(startBatch, W-started)
		for range n {
			p, err := e.start(e.zkflockArgs("-w", waitFlag, "-l", "0", lock, "--", e.child, e.hub.path)...)
			if err != nil {
				return nil, fmt.Errorf("start waiter: %w", err)
			}
			all = append(all, p)
		}
		started += n
		if err := e.waitQueued(ctx, lock, base, started, all); err != nil {
			return nil, err
		}
	}
	r = &herdRound{W: W, Setup: time.Since(t0)}

	p1, err := e.packets()
	if err != nil {
		return nil, err
	}
	ti := time.Now()
	if err := sleep(ctx, idle); err != nil {
		return nil, err
	}
	p2, err := e.packets()
	if err != nil {
		return nil, err
	}
	r.IdlePackets = p2 - p1
	r.IdleSec = time.Since(ti).Seconds() * float64(W+1)

	p3, err := e.packets()
	if err != nil {
		return nil, err
	}
	tStart := monoNow()
	if err := first.c.exit(); err != nil {
		return nil, err
	}
	starts := []int64{first.t} // CLOCK_MONOTONIC ns of each command's start
	var exits []int64
	var tEnd, p4 int64
	deadline := time.NewTimer(phaseBase + time.Duration(W)*phasePerWaiter)
	defer deadline.Stop()
	check := time.NewTicker(500 * time.Millisecond)
	defer check.Stop()
loop:
	for len(starts) < W+1 || len(exits) < W+1 {
		select {
		case rep := <-e.hub.reports:
			switch rep.kind {
			case repStart:
				starts = append(starts, rep.t)
				if len(starts) == W+1 {
					tEnd = rep.t
					if p4, err = e.packets(); err != nil {
						return nil, err
					}
				}
				if err := rep.c.exit(); err != nil {
					return nil, err
				}
			case repExit:
				exits = append(exits, rep.t)
			}
		case <-check.C:
			for _, p := range all {
				if p.exited() && p.status != 0 {
					return nil, fmt.Errorf("a zk-flock exited %d during the handoffs. %s", p.status, e.childrenErrors())
				}
			}
		case <-deadline.C:
			r.Partial = true
			break loop
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.Partial {
		tEnd = monoNow()
		if p4, err = e.packets(); err != nil {
			return nil, err
		}
		for _, p := range all {
			p.kill()
		}
	} else if err := e.waitAll(all, 0, exitTimeout); err != nil {
		return nil, err
	}
	slices.Sort(starts)
	slices.Sort(exits)
	for i := 0; i < len(exits) && i+1 < len(starts); i++ {
		if starts[i+1] <= exits[i] {
			return nil, fmt.Errorf("mutual exclusion violated on %s: command %d started %.3f ms before command %d exited",
				lock, i+1, nsToMs(exits[i]-starts[i+1]), i)
		}
		r.Handoffs = append(r.Handoffs, nsToMs(starts[i+1]-exits[i]))
	}
	if len(r.Handoffs) == 0 {
		return nil, fmt.Errorf("no handoff within the deadline on %s. %s", lock, e.childrenErrors())
	}
	r.Phase = nsToMs(tEnd - tStart)
	r.Packets = p4 - p3
	for i := range W + 1 {
		end := tEnd
		if i < len(exits) {
			end = min(exits[i], tEnd)
		}
		r.AliveSec += float64(end-tStart) / 1e9
	}
	return r, nil
}

// queueState is what the server shows of the waiters on one lock.
type queueState struct {
	Queued  int // nodes in the lock's queue directory; -1 if it does not exist
	Watches int64
	Conns   int64
}

func (e *env) queueState(lock string) (queueState, error) {
	var q queueState
	kids, _, err := e.mon.Children(queueRoot + "/" + lock)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		q.Queued = -1
	case err != nil:
		return q, fmt.Errorf("list the queue of %s: %w", lock, err)
	default:
		q.Queued = len(kids)
	}
	m, err := testzk.Mntr(e.zkAddr)
	if err != nil {
		return q, err
	}
	if q.Watches, err = mntrInt(m, "zk_watch_count"); err != nil {
		return q, err
	}
	if q.Conns, err = mntrInt(m, "zk_num_alive_connections"); err != nil {
		return q, err
	}
	return q, nil
}

// waitQueued waits until n waiters are connected and queued on lock, from
// the server's point of view: n more connections than at base and, if the
// lock has a queue directory, n more nodes in it, else n more watches
// (waiters that all watch the lock node).
func (e *env) waitQueued(ctx context.Context, lock string, base queueState, n int, ps []*proc) error {
	deadline := time.Now().Add(queueTimeout)
	poll := 10 * time.Millisecond
	if n > 100 {
		poll = 50 * time.Millisecond
	}
	for {
		q, err := e.queueState(lock)
		if err != nil {
			return err
		}
		queued := q.Watches - base.Watches
		if q.Queued >= 0 {
			queued = int64(q.Queued - max(base.Queued, 0))
		}
		if q.Conns-base.Conns >= int64(n) && queued >= int64(n) {
			return nil
		}
		for _, p := range ps {
			if p.exited() {
				return fmt.Errorf("a zk-flock exited %d while waiters queued. %s", p.status, e.childrenErrors())
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d waiters queued on %s after %v (%d new connections)",
				queued, n, lock, queueTimeout, q.Conns-base.Conns)
		}
		if err := sleep(ctx, poll); err != nil {
			return err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
