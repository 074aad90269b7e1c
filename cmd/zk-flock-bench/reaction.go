package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// reactionTimeout is how long the bench waits for a command's group to die
// after its lock node was deleted before it calls it a failure.
const reactionTimeout = 10 * time.Second

// measureReaction runs n times: a holder whose command has a grandchild in
// its process group, both holding the command's socket to the bench; a
// separate session deletes the lock node; the time until the socket's EOF
// (the last process of the group dead) is the reaction, in ms. zk-flock
// must exit 75 (lock lost).
func (e *env) measureReaction(ctx context.Context, n int) ([]float64, error) {
	var out []float64
	for i := range n {
		e.hub.drain()
		lock := "react-" + strconv.Itoa(i)
		p, err := e.start(e.zkflockArgs("-l", "0", lock, "--", e.child, e.hub.path, "group")...)
		if err != nil {
			return nil, err
		}
		st, err := e.hub.await(ctx, repStart, 30*time.Second)
		if err != nil {
			p.kill()
			return nil, fmt.Errorf("holder: %w. %s", err, e.childrenErrors())
		}
		t0 := monoNow()
		if err := e.mon.Delete("/"+appID+"/"+lock, -1); err != nil {
			p.kill()
			return nil, fmt.Errorf("delete the lock node: %w", err)
		}
		var t1 int64
		timer := time.NewTimer(reactionTimeout)
	wait:
		for {
			select {
			case rep := <-e.hub.reports:
				if rep.kind == repEOF && rep.c == st.c {
					t1 = rep.t
					break wait
				}
			case <-timer.C:
				p.kill()
				return nil, fmt.Errorf("the command's group was still alive %v after its lock node was deleted", reactionTimeout)
			case <-ctx.Done():
				timer.Stop()
				p.kill()
				return nil, ctx.Err()
			}
		}
		timer.Stop()
		out = append(out, nsToMs(t1-t0))
		if err := e.waitAll([]*proc{p}, exitLockLost, exitTimeout); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// exitLockLost is zk-flock's exit status when the lock was lost while the
// command ran.
const exitLockLost = 75
