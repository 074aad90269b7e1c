package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
	"github.com/zk-flock/zk-flock/internal/faultproxy"
)

// Exit statuses of zk-flock that the harness tells apart (see
// cmd/zk-flock/exit.go).
const (
	statusBusy     = 99 // -x 99: the lock stayed busy for the whole -w wait
	statusLockLost = 75
	statusNoZK     = 69
)

// Group is one lock (or semaphore) and the clients that contend for it.
type Group struct {
	Name    string // LOCKNAME
	Path    string // the lock node, or the semaphore's prefix: /<app_id>/<LOCKNAME>
	Slots   int    // 1 for a plain lock
	HoldMin time.Duration
	HoldMax time.Duration
	Clients []*Client
}

// Client is one host of the fleet: a loop that runs zk-flock again and
// again, reaching each ZooKeeper server through a proxy of its own, so that
// a fault can be injected for this client only.
type Client struct {
	Name    string
	Group   *Group
	Proxies []*faultproxy.Proxy // Proxies[i] leads to server i+1
	cfg     string
	env     *Env

	mu     sync.Mutex
	cur    *os.Process
	curSeq int64
	done   chan struct{}
}

// ActiveServer returns the id of the server the client is connected to now
// (the one whose proxy carries a connection), or 0.
func (c *Client) ActiveServer() int {
	id, most := 0, 0
	for i, p := range c.Proxies {
		if n := p.Active(); n > most {
			id, most = i+1, n
		}
	}
	return id
}

// Hold stops traffic in direction d between the client and every server.
func (c *Client) Hold(d faultproxy.Direction) {
	for _, p := range c.Proxies {
		p.Hold(d)
	}
}

// Release lets traffic in direction d flow again.
func (c *Client) Release(d faultproxy.Direction) {
	for _, p := range c.Proxies {
		p.Release(d)
	}
}

// Reset resets every connection of the client.
func (c *Client) Reset() {
	for _, p := range c.Proxies {
		p.Reset()
	}
}

// SetDelay delays the client's traffic by d each way.
func (c *Client) SetDelay(d time.Duration) {
	for _, p := range c.Proxies {
		p.SetDelay(d)
	}
}

// Current returns the pid of the zk-flock process the client runs now, and
// its run number; 0 if none.
func (c *Client) Current() (pid int, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return 0, 0
	}
	return c.cur.Pid, c.curSeq
}

// Signal sends sig to the client's zk-flock if it is still run number seq.
func (c *Client) Signal(seq int64, sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.curSeq != seq {
		return fmt.Errorf("client %s: run %d is over", c.Name, seq)
	}
	// os.Process signals through a pidfd: never a reused pid.
	return c.cur.Signal(sig)
}

// loop runs zk-flock until ctx ends, then stops the current run gently.
func (c *Client) loop(ctx context.Context) {
	defer close(c.done)
	// Pdeathsig fires when the forking thread ends, not the process: keep
	// this one for the loop's life, so that zk-flock dies with the harness.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := c.env
	args := []string{"-c", c.cfg, "-w", strconv.FormatFloat(e.opts.Wait.Seconds(), 'f', -1, 64), "-l", "0", "-x", strconv.Itoa(statusBusy)}
	if c.Group.Slots > 1 {
		args = append(args, "-n", strconv.Itoa(c.Group.Slots))
	}
	args = append(args, e.opts.FlockArgs...)
	args = append(args, c.Group.Name, "--", e.worker)
	for seq := int64(1); ctx.Err() == nil; seq++ {
		cmd := exec.Command(e.zkflock, args...)
		cmd.Env = append(os.Environ(),
			wire.EnvSock+"="+e.hub.Path(),
			wire.EnvClient+"="+c.Name,
			wire.EnvRun+"="+strconv.FormatInt(seq, 10),
			wire.EnvMaxLife+"="+strconv.Itoa(int(e.opts.MaxLife.Seconds())),
		)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.WaitDelay = 2 * time.Second
		start := wire.Now()
		if err := cmd.Start(); err != nil {
			e.logf("client %s: start zk-flock: %v", c.Name, err)
			sleepCtx(ctx, time.Second)
			continue
		}
		c.mu.Lock()
		c.cur, c.curSeq = cmd.Process, seq
		c.mu.Unlock()
		var killer *time.Timer
		var killerMu sync.Mutex
		stop := context.AfterFunc(ctx, func() {
			// At shutdown: SIGTERM (and SIGCONT, should it be stopped),
			// which zk-flock answers by stopping its command and releasing
			// the lock; SIGKILL if that takes too long.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Process.Signal(syscall.SIGCONT)
			killerMu.Lock()
			killer = time.AfterFunc(15*time.Second, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
			killerMu.Unlock()
		})
		err := cmd.Wait()
		stop()
		killerMu.Lock()
		if killer != nil {
			killer.Stop()
		}
		killerMu.Unlock()
		end := wire.Now()
		c.mu.Lock()
		c.cur = nil
		c.mu.Unlock()
		r := &FlockRun{Client: c.Name, Seq: seq, Group: c.Group.Path, Pid: cmd.Process.Pid, Start: start, End: end, Status: exitStatus(cmd, err)}
		e.parseLog(r, stderr.Bytes())
		e.hist.AddRun(r)
		switch r.Status {
		case 0, statusBusy:
		case statusNoZK, statusLockLost:
			sleepCtx(ctx, 50*time.Millisecond)
		default:
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
}

func exitStatus(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		return -1
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// parseLog reads what the harness needs from zk-flock's JSON log: the
// session and token of the lock, and when and why it was lost.
func (e *Env) parseLog(r *FlockRun, log []byte) {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Time    time.Time `json:"time"`
			Msg     string    `json:"msg"`
			Session string    `json:"session"`
			Token   int64     `json:"token"`
			Err     string    `json:"err"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Msg {
		case "lock acquired":
			r.Session, r.Token = l.Session, l.Token
		case "lock lost":
			if r.Lost == 0 {
				r.Lost = e.wallToMono(l.Time)
				r.LostErr = l.Err
			}
		}
	}
	if r.Status != 0 && r.Status != statusBusy {
		const keep = 16 << 10
		if len(log) > keep {
			log = log[len(log)-keep:]
		}
		r.Log = string(log)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
