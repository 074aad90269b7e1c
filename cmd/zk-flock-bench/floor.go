package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// floors are the raw costs zk-flock cannot go below, measured in-process
// with the same client library zk-flock uses, in milliseconds.
type floors struct {
	Session []float64 // connect until the server grants a session
	Create  []float64 // create an ephemeral node
	Delete  []float64 // delete it
	DWC     []float64 // delete in session A → watch fires in B → B's create returns
	DWCIdle []float64 // the same after idleGap of quiet, as a handoff comes
	DWCProc []float64 // the same, A and B in two processes (see peer.go)
	Spawn   []float64 // fork+exec of the child helper → its first instruction in main
}

// idleGap is the quiet before the delete of the floor's idle variant. A
// single handoff comes after a wait, with the CPUs and the server's threads
// asleep, and each step of the exchange then wakes one of them; back to
// back they are awake. 20 ms is enough for that, and shorter than any
// quiet window of the handoff rounds, so the idle floor errs low.
const idleGap = 20 * time.Millisecond

// measureFloors measures each floor n times, interleaved: one of each per
// iteration.
func (e *env) measureFloors(ctx context.Context, n int) (*floors, error) {
	a, _, err := connectZK(ctx, e.zkAddr, sessionTimeout*time.Second)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	b, _, err := connectZK(ctx, e.zkAddr, sessionTimeout*time.Second)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	root := "/" + appID
	if _, err := a.Create(root, []byte("Rootnode"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return nil, fmt.Errorf("create %s: %w", root, err)
	}
	f := &floors{}
	node := root + "/floor"
	handover := root + "/floor-dwc"
	for i := range n {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c, d, err := connectZK(ctx, e.zkAddr, sessionTimeout*time.Second)
		if err != nil {
			return nil, fmt.Errorf("session set-up: %w", err)
		}
		c.Close()
		f.Session = append(f.Session, ms(d))

		t0 := time.Now()
		if _, err := a.Create(node, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		t1 := time.Now()
		if err := a.Delete(node, -1); err != nil {
			return nil, fmt.Errorf("delete: %w", err)
		}
		t2 := time.Now()
		f.Create = append(f.Create, ms(t1.Sub(t0)))
		f.Delete = append(f.Delete, ms(t2.Sub(t1)))

		// Alternate which session holds, as a lock alternates between
		// hosts.
		holder, waiter := a, b
		if i%2 == 1 {
			holder, waiter = b, a
		}
		d, err = deleteWatchCreate(holder, waiter, handover, 0)
		if err != nil {
			return nil, fmt.Errorf("delete→watch→create: %w", err)
		}
		f.DWC = append(f.DWC, ms(d))
		d, err = deleteWatchCreate(waiter, holder, handover, idleGap)
		if err != nil {
			return nil, fmt.Errorf("delete→watch→create after %v idle: %w", idleGap, err)
		}
		f.DWCIdle = append(f.DWCIdle, ms(d))

		d, err = e.crossProcessDWC(root + "/floor-xproc")
		if err != nil {
			return nil, fmt.Errorf("delete→watch→create between processes: %w", err)
		}
		f.DWCProc = append(f.DWCProc, ms(d))

		s, err := e.spawnChild(ctx)
		if err != nil {
			return nil, fmt.Errorf("spawn: %w", err)
		}
		f.Spawn = append(f.Spawn, s)
	}
	return f, nil
}

// warmZooKeeper runs clients concurrent loops of what zk-flock makes the
// server do (set up a session, create a lock node, read it with a watch,
// check it, delete it, close) for d, and returns the number of requests
// sent. A fresh JVM interprets ZooKeeper's request path until its JIT has
// seen it thousands of times; a production server has long since compiled
// it, and etcd, the peer, is compiled ahead of time.
func warmZooKeeper(ctx context.Context, addr string, clients int, d time.Duration) (int, error) {
	c, _, err := connectZK(ctx, addr, sessionTimeout*time.Second)
	if err != nil {
		return 0, err
	}
	_, err = c.Create("/"+appID, []byte("Rootnode"), 0, zk.WorldACL(zk.PermAll))
	c.Close()
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return 0, fmt.Errorf("create /%s: %w", appID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		ops int
		err error
	}
	results := make(chan result, clients)
	for i := range clients {
		go func() {
			ops := 0
			node := "/" + appID + "/warm-" + strconv.Itoa(i)
			for ctx.Err() == nil {
				c, _, err := connectZK(ctx, addr, sessionTimeout*time.Second)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					results <- result{ops, err}
					return
				}
				ops++
				for range 20 {
					_, err = c.Create(node, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
					if err == nil {
						_, _, _, err = c.GetW(node)
					}
					if err == nil {
						_, _, err = c.Exists(node)
					}
					if err == nil {
						err = c.Delete(node, -1)
					}
					if err != nil {
						break
					}
					ops += 4
				}
				c.Close()
				ops++
				if err != nil {
					results <- result{ops, fmt.Errorf("%s: %w", node, err)}
					return
				}
			}
			results <- result{ops, nil}
		}()
	}
	total := 0
	var errs []error
	for range clients {
		r := <-results
		total += r.ops
		errs = append(errs, r.err)
	}
	return total, errors.Join(errs...)
}

// deleteWatchCreate creates p in holder, sets a watch on it from waiter,
// waits idle, then times holder's delete until waiter's create (issued when
// the watch fires) returns. It leaves p deleted.
func deleteWatchCreate(holder, waiter *zk.Conn, p string, idle time.Duration) (time.Duration, error) {
	if _, err := holder.Create(p, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		return 0, err
	}
	ok, _, watch, err := waiter.ExistsW(p)
	if err != nil || !ok {
		return 0, fmt.Errorf("exists %s: %v %v", p, ok, err)
	}
	time.Sleep(idle)
	created := make(chan error, 1)
	var t1 time.Time
	go func() {
		ev := <-watch
		if ev.Type != zk.EventNodeDeleted {
			created <- fmt.Errorf("watch: %v", ev)
			return
		}
		_, err := waiter.Create(p, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		t1 = time.Now()
		created <- err
	}()
	t0 := time.Now()
	if err := holder.Delete(p, -1); err != nil {
		return 0, err
	}
	if err := <-created; err != nil {
		return 0, err
	}
	d := t1.Sub(t0)
	return d, waiter.Delete(p, -1)
}

// spawnChild times fork+exec of the child helper from here until the
// timestamp it takes first thing in main: the part of every handoff that is
// only starting the command, in milliseconds.
func (e *env) spawnChild(ctx context.Context) (float64, error) {
	e.hub.drain()
	cmd := exec.Command(e.child, e.hub.path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := monoNow()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait() //nolint:errcheck // the status says nothing more
	rep, err := e.hub.await(ctx, repStart, 10*time.Second)
	if err != nil {
		_ = cmd.Process.Kill()
		return 0, err
	}
	if err := rep.c.exit(); err != nil {
		return 0, err
	}
	if rep.pid != cmd.Process.Pid {
		return 0, errors.New("report from pid " + strconv.Itoa(rep.pid) + ", not the child started")
	}
	return nsToMs(rep.t - t0), nil
}
