// Command worker is what the chaos harness has zk-flock run under the lock.
// It reads CLOCK_MONOTONIC before anything else, reports to the harness
// over the Unix socket named by $ZK_FLOCK_CHAOS_SOCK, and then behaves as
// the harness's plan says: holds for a while or until told, ignores SIGTERM
// or not, starts grandchildren (in its process group, or one that calls
// setsid) that inherit the socket, writes to the harness's fenced toy
// resource. See package wire.
//
//	worker              the command zk-flock runs
//	worker grandchild   a grandchild: sleeps, holding the inherited socket (fd 3)
//	worker grandchild stubborn   the same, ignoring SIGTERM
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
)

// defaultMaxLife bounds every worker and grandchild, so that nothing the
// harness starts can outlive it by much, whatever happens to the harness.
const defaultMaxLife = 120 * time.Second

func main() {
	start := wire.Now() // first: the earliest moment this holder can act
	if len(os.Args) > 1 && os.Args[1] == "grandchild" {
		grandchild(len(os.Args) > 2 && os.Args[2] == "stubborn")
		return
	}
	os.Exit(worker(start))
}

func maxLife() time.Duration {
	if s, err := strconv.Atoi(os.Getenv(wire.EnvMaxLife)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return defaultMaxLife
}

// grandchild sleeps until killed or its maximum life is over. It holds fd 3,
// the worker's socket, so the harness sees the tree alive while it lives.
func grandchild(stubborn bool) {
	if stubborn {
		signal.Ignore(syscall.SIGTERM)
	}
	time.Sleep(maxLife())
}

// conn is the socket to the harness; writes come from several goroutines.
type conn struct {
	mu sync.Mutex
	c  *net.UnixConn
}

func (c *conn) send(m wire.Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.c.Write(append(b, '\n'))
	return err
}

func worker(start int64) int {
	terms := make(chan os.Signal, 4)
	signal.Notify(terms, syscall.SIGTERM)

	path := os.Getenv(wire.EnvSock)
	uc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: connect to harness %q: %v\n", path, err)
		return 2
	}
	c := &conn{c: uc}
	// Leave the caller's stdio alone: a grandchild must not hold
	// zk-flock's stderr pipe open.
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			_ = unix.Dup2(int(null.Fd()), fd)
		}
		null.Close()
	}

	token, _ := strconv.ParseInt(os.Getenv("ZK_FLOCK_TOKEN"), 10, 64)
	slot := -1
	if s, err := strconv.Atoi(os.Getenv("ZK_FLOCK_SLOT")); err == nil {
		slot = s
	}
	run, _ := strconv.ParseInt(os.Getenv(wire.EnvRun), 10, 64)
	if err := c.send(wire.Msg{T: wire.TStart, Mono: start, Pid: os.Getpid(), PPid: os.Getppid(),
		Client: os.Getenv(wire.EnvClient), Run: run, Lock: os.Getenv("ZK_FLOCK_LOCK"), Token: token, Slot: slot}); err != nil {
		return 2
	}

	r := bufio.NewReader(uc)
	_ = uc.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := r.ReadBytes('\n')
	if err != nil {
		return 2
	}
	_ = uc.SetReadDeadline(time.Time{})
	var plan wire.Plan
	if err := json.Unmarshal(line, &plan); err != nil {
		_ = c.send(wire.Msg{T: wire.TError, Mono: wire.Now(), Err: "bad plan: " + err.Error()})
		return 2
	}

	kids := spawn(c, uc, plan)
	exitNow := make(chan struct{})
	go func() { // commands, and the harness going away
		defer close(exitNow)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			var cmd wire.Command
			if json.Unmarshal(line, &cmd) == nil && cmd.Cmd == "exit" {
				return
			}
		}
	}()

	var hold <-chan time.Time
	if !plan.Forever {
		hold = time.After(time.Duration(plan.HoldMs) * time.Millisecond)
	}
	life := time.After(maxLife())
	var tick <-chan time.Time
	if plan.WriteMs > 0 {
		t := time.NewTicker(time.Duration(plan.WriteMs) * time.Millisecond)
		defer t.Stop()
		tick = t.C
		_ = c.send(wire.Msg{T: wire.TWrite, Mono: wire.Now(), Token: token, Seq: 0})
	}
	var seq int64
	for {
		select {
		case <-terms:
			_ = c.send(wire.Msg{T: wire.TTerm, Mono: wire.Now()})
			if !plan.Stubborn {
				return 128 + int(syscall.SIGTERM)
			}
		case <-tick:
			seq++
			if c.send(wire.Msg{T: wire.TWrite, Mono: wire.Now(), Token: token, Seq: seq}) != nil {
				return 2
			}
		case <-hold:
			return finish(c, kids, plan)
		case <-exitNow:
			return finish(c, kids, plan)
		case <-life:
			return finish(c, kids, wire.Plan{})
		}
	}
}

// spawn starts the plan's grandchildren, each holding the socket as fd 3.
func spawn(c *conn, uc *net.UnixConn, plan wire.Plan) []*exec.Cmd {
	n := plan.Grandchildren
	if plan.Setsid {
		n++
	}
	if n == 0 {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		_ = c.send(wire.Msg{T: wire.TError, Mono: wire.Now(), Err: err.Error()})
		return nil
	}
	f, err := uc.File() // a duplicate, inherited as fd 3
	if err != nil {
		_ = c.send(wire.Msg{T: wire.TError, Mono: wire.Now(), Err: err.Error()})
		return nil
	}
	defer f.Close()
	var kids []*exec.Cmd
	for i := 0; i < n; i++ {
		setsid := plan.Setsid && i == n-1
		args := []string{"grandchild"}
		if plan.StubbornKids || setsid {
			args = append(args, "stubborn")
		}
		cmd := exec.Command(self, args...)
		cmd.ExtraFiles = []*os.File{f}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
		if err := cmd.Start(); err != nil {
			_ = c.send(wire.Msg{T: wire.TError, Mono: wire.Now(), Err: err.Error()})
			continue
		}
		kids = append(kids, cmd)
		_ = c.send(wire.Msg{T: wire.TSpawn, Mono: wire.Now(), Pid: cmd.Process.Pid, Setsid: setsid})
	}
	return kids
}

// finish ends a worker that exits by itself: its grandchildren first,
// unless the plan leaves them to zk-flock.
func finish(c *conn, kids []*exec.Cmd, plan wire.Plan) int {
	if !plan.Leave {
		for _, k := range kids {
			_ = k.Process.Kill()
			_, _ = k.Process.Wait()
		}
	}
	_ = c.send(wire.Msg{T: wire.TExit, Mono: wire.Now()})
	return 0
}
