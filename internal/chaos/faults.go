package chaos

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
	"github.com/zk-flock/zk-flock/internal/faultproxy"
	"github.com/zk-flock/zk-flock/internal/testzk"
)

// Episode is one fault injected on one holder (the victim): a fresh holder
// of the group is told how to behave, the fault starts once it runs, lasts,
// heals, and the episode ends when the lock has a next holder.
type Episode struct {
	ID       int    `json:"id"`
	Scenario string `json:"scenario"`
	Group    string `json:"group"`
	Client   string `json:"client,omitempty"`
	Victim   int    `json:"victim,omitempty"` // interval id
	Run      int64  `json:"run,omitempty"`    // the victim's zk-flock run
	Server   int    `json:"server,omitempty"` // server faulted (scenario 4), 0: none
	Leader   bool   `json:"leader,omitempty"` // that server led the ensemble when faulted
	Start    int64  `json:"start,omitempty"`  // fault injected
	Healed   int64  `json:"healed,omitempty"` // fault over
	End      int64  `json:"end,omitempty"`
	// Outcome, filled in by Settle from the history.
	Status    int    `json:"status"`           // the victim's zk-flock exit status
	Detect    int64  `json:"detect,omitempty"` // zk-flock gave up the lease ("lock lost"), else the worker's SIGTERM
	Death     int64  `json:"death,omitempty"`  // the victim's tree died
	NextStart int64  `json:"next_start,omitempty"`
	Next      int    `json:"next,omitempty"`
	Err       string `json:"err,omitempty"` // the harness could not carry the episode out
}

// Scenario is one kind of fault.
type Scenario struct {
	ID   string
	Name string
	// Plan is the victim's behaviour.
	Plan wire.Plan
	// Fault injects the fault on the victim iv (of client c), waits for
	// its length and heals it. It sets ep.Server when it faults a server.
	Fault func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error
	// Unsafe: overlaps are expected (zk-flock itself frozen), measured, not
	// counted as failures.
	Unsafe bool
	// Limitation: a documented limitation, measured, not counted.
	Limitation bool
	// ServerFault: the fault hits the ensemble, not one client.
	ServerFault bool
	// Mix: part of the random mix.
	Mix bool
}

// forever is the plan of a victim that holds until it is killed or told.
var forever = wire.Plan{Forever: true, WriteMs: 20}

// Scenarios returns every fault kind for session timeout t.
func Scenarios(t time.Duration) []Scenario {
	return []Scenario{
		{ID: "1a", Name: "partition 2T", Plan: forever, Mix: true, Fault: partition(faultproxy.Both, 2*t)},
		{ID: "1b", Name: "partition T/2", Plan: forever, Mix: true, Fault: partition(faultproxy.Both, t/2)},
		{ID: "1c", Name: "partition T/10", Plan: forever, Mix: true, Fault: partition(faultproxy.Both, t/10)},
		{ID: "2a", Name: "drop client→server 2T", Plan: forever, Mix: true, Fault: partition(faultproxy.Up, 2*t)},
		{ID: "2b", Name: "drop server→client 2T", Plan: forever, Mix: true, Fault: partition(faultproxy.Down, 2*t)},
		{ID: "3", Name: "connection reset", Plan: forever, Mix: true, Fault: reset},
		{ID: "4a", Name: "kill -9 holder's server", Plan: forever, Mix: true, ServerFault: true, Fault: serverFault(holderServer, kill9, 2*t)},
		{ID: "4b", Name: "SIGSTOP holder's server 2T", Plan: forever, Mix: true, ServerFault: true, Fault: serverFault(holderServer, pause, 2*t)},
		{ID: "4c", Name: "kill -9 leader", Plan: forever, Mix: true, ServerFault: true, Fault: serverFault(leader, kill9, 2*t)},
		{ID: "4d", Name: "SIGSTOP leader 2T", Plan: forever, Mix: true, ServerFault: true, Fault: serverFault(leader, pause, 2*t)},
		{ID: "4e", Name: "2 of 3 servers down 2T", Plan: forever, Mix: true, ServerFault: true, Fault: quorumLoss(2 * t)},
		{ID: "5", Name: "kill -9 zk-flock", Plan: forever, Mix: true, Fault: killFlock},
		{ID: "6a", Name: "child ignores SIGTERM, partition 2T", Plan: wire.Plan{Forever: true, Stubborn: true, WriteMs: 20}, Mix: true, Fault: partition(faultproxy.Both, 2*t)},
		{ID: "6b", Name: "grandchildren (+setsid), partition 2T", Plan: wire.Plan{Forever: true, Grandchildren: 2, StubbornKids: true, Setsid: true, WriteMs: 20}, Mix: true, Fault: partition(faultproxy.Both, 2*t)},
		{ID: "6c", Name: "child exits, grandchildren stay", Plan: wire.Plan{HoldMs: 200, Grandchildren: 2, StubbornKids: true, Setsid: true, Leave: true, WriteMs: 20}, Mix: true, Fault: nothing},
		{ID: "8", Name: "delay T/20 each way, 2T", Plan: forever, Mix: true, Fault: delay(t/20, 2*t)},
		{ID: "9", Name: "SIGTERM to contenders while they wait", Plan: forever, Mix: true, Fault: interruptContenders(t)},
		{ID: "5x", Name: "kill -9 zk-flock, grandchildren in group", Plan: wire.Plan{Forever: true, Grandchildren: 2, WriteMs: 20}, Limitation: true, Fault: killFlock},
		{ID: "7", Name: "SIGSTOP zk-flock 2T", Plan: forever, Unsafe: true, Fault: stopFlock(2 * t)},
	}
}

// partition holds direction d between the victim's client and every
// server for length d.
func partition(dir faultproxy.Direction, length time.Duration) func(context.Context, *Env, *Episode, *Client, *Interval) error {
	return func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
		ep.Start = wire.Now()
		c.Hold(dir)
		sleepCtx(ctx, length)
		c.Release(dir)
		ep.Healed = wire.Now()
		return nil
	}
}

func reset(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
	ep.Server = c.ActiveServer()
	ep.Start = wire.Now()
	c.Reset()
	ep.Healed = ep.Start
	return nil
}

func delay(d, length time.Duration) func(context.Context, *Env, *Episode, *Client, *Interval) error {
	return func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
		ep.Start = wire.Now()
		c.SetDelay(d)
		sleepCtx(ctx, length)
		c.SetDelay(0)
		ep.Healed = wire.Now()
		return nil
	}
}

// interruptContenders sends SIGTERM, for length, every 50-250 ms, to a
// random zk-flock of the victim's group that is not the victim's: each is
// connecting, creating its node or waiting for the lock, and must leave no
// node behind (checked when the run ends).
func interruptContenders(length time.Duration) func(context.Context, *Env, *Episode, *Client, *Interval) error {
	return func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
		var others []*Client
		for _, o := range c.Group.Clients {
			if o != c {
				others = append(others, o)
			}
		}
		if len(others) == 0 {
			return errors.New("no contenders")
		}
		ep.Start = wire.Now()
		end := time.Now().Add(length)
		for time.Now().Before(end) && ctx.Err() == nil {
			o := others[e.randDuration(0, time.Duration(len(others)))]
			if _, seq := o.Current(); seq != 0 {
				_ = o.Signal(seq, syscall.SIGTERM)
			}
			sleepCtx(ctx, e.randDuration(50*time.Millisecond, 250*time.Millisecond))
		}
		ep.Healed = wire.Now()
		return nil
	}
}

func nothing(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
	ep.Start = wire.Now()
	ep.Healed = ep.Start
	return nil
}

func killFlock(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
	pid, seq := c.Current()
	if pid != iv.Flock || seq != iv.Run {
		return fmt.Errorf("victim's zk-flock %d (run %d) is not running (current %d, run %d)", iv.Flock, iv.Run, pid, seq)
	}
	ep.Start = wire.Now()
	err := c.Signal(seq, syscall.SIGKILL)
	ep.Healed = ep.Start
	return err
}

func stopFlock(length time.Duration) func(context.Context, *Env, *Episode, *Client, *Interval) error {
	return func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
		pid, seq := c.Current()
		if pid != iv.Flock || seq != iv.Run {
			return fmt.Errorf("victim's zk-flock %d (run %d) is not running", iv.Flock, iv.Run)
		}
		ep.Start = wire.Now()
		if err := c.Signal(seq, syscall.SIGSTOP); err != nil {
			return err
		}
		sleepCtx(ctx, length)
		err := c.Signal(seq, syscall.SIGCONT)
		ep.Healed = wire.Now()
		return err
	}
}

// A server picker chooses the server to fault.
type serverPicker func(e *Env, c *Client) (*testzk.Server, error)

func holderServer(e *Env, c *Client) (*testzk.Server, error) {
	id := c.ActiveServer()
	if id == 0 {
		return nil, errors.New("the holder has no connection")
	}
	return e.ZK.Server(id), nil
}

func leader(e *Env, c *Client) (*testzk.Server, error) { return e.ZK.Leader() }

type serverAction int

const (
	kill9 serverAction = iota
	pause
)

// serverFault kills (then restarts) or pauses (then resumes) one server for
// length, and waits until the ensemble serves again.
func serverFault(pick serverPicker, act serverAction, length time.Duration) func(context.Context, *Env, *Episode, *Client, *Interval) error {
	return func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
		s, err := pick(e, c)
		if err != nil {
			return err
		}
		ep.Server = s.ID()
		// Faulting the leader means an election: say so (4a, 4b).
		if m, err := s.Mode(); err == nil && m == testzk.ModeLeader {
			ep.Leader = true
		}
		ep.Start = wire.Now()
		switch act {
		case kill9:
			err = s.Kill()
		case pause:
			err = s.Pause()
		}
		if err != nil {
			return err
		}
		sleepCtx(ctx, length)
		switch act {
		case kill9:
			sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			err = s.Start(sctx)
			cancel()
		case pause:
			err = s.Resume()
		}
		ep.Healed = wire.Now()
		if err != nil {
			return err
		}
		return e.waitHealthy(ctx)
	}
}

// quorumLoss kills the holder's server and one more, so the ensemble has
// no quorum for length, then starts them again.
func quorumLoss(length time.Duration) func(context.Context, *Env, *Episode, *Client, *Interval) error {
	return func(ctx context.Context, e *Env, ep *Episode, c *Client, iv *Interval) error {
		first := c.ActiveServer()
		if first == 0 {
			first = 1
		}
		second := first%3 + 1
		ep.Server = first
		ep.Start = wire.Now()
		for _, id := range []int{first, second} {
			if err := e.ZK.Server(id).Kill(); err != nil {
				return err
			}
		}
		sleepCtx(ctx, length)
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		err := e.ZK.Start(sctx)
		cancel()
		ep.Healed = wire.Now()
		if err != nil {
			return err
		}
		return e.waitHealthy(ctx)
	}
}

// waitHealthy waits until every server serves and one leads.
func (e *Env) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		ok := true
		for _, s := range e.ZK.Servers() {
			if _, err := s.Mode(); err != nil {
				ok = false
				break
			}
		}
		if ok {
			if _, err := e.ZK.Leader(); err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensemble not healthy: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
