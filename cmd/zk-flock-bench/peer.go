package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// The cross-process floor: delete → watch → create as in floors.DWC, but
// with the two sessions in two processes, each a raw go-zookeeper client:
// what the exchange costs when both sides are idle processes the kernel
// must wake, as two zk-flocks are. The bench runs itself as the two peers,
// chosen by envPeer.
const (
	envPeer     = "ZK_FLOCK_BENCH_PEER" // "holder" or "waiter"
	envPeerAddr = "ZK_FLOCK_BENCH_PEER_ADDR"
	envPeerNode = "ZK_FLOCK_BENCH_PEER_NODE"
)

// runPeer is the bench run as a peer. The holder creates the node, says
// "ready", waits for a line on stdin, deletes the node and prints when it
// called delete. The waiter watches the node, says "ready", and when the
// watch fires creates the node and prints when its create returned. Times
// are CLOCK_MONOTONIC nanoseconds.
func runPeer(role string, stdin io.Reader, stdout io.Writer) error {
	addr, node := os.Getenv(envPeerAddr), os.Getenv(envPeerNode)
	c, _, err := connectZK(context.Background(), addr, sessionTimeout*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	acl := zk.WorldACL(zk.PermAll)
	switch role {
	case "holder":
		if _, err := c.Create(node, nil, zk.FlagEphemeral, acl); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "ready")
		if _, err := bufio.NewReader(stdin).ReadString('\n'); err != nil {
			return err
		}
		t0 := monoNow()
		if err := c.Delete(node, -1); err != nil {
			return err
		}
		fmt.Fprintln(stdout, t0)
	case "waiter":
		ok, _, watch, err := c.ExistsW(node)
		if err != nil || !ok {
			return fmt.Errorf("exists %s: %v %v", node, ok, err)
		}
		fmt.Fprintln(stdout, "ready")
		if ev := <-watch; ev.Type != zk.EventNodeDeleted {
			return fmt.Errorf("watch: %v", ev)
		}
		if _, err := c.Create(node, nil, zk.FlagEphemeral, acl); err != nil {
			return err
		}
		fmt.Fprintln(stdout, monoNow())
	default:
		return fmt.Errorf("unknown peer role %q", role)
	}
	return nil
}

// peer is a running peer process.
type peer struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines *bufio.Reader
}

func (e *env) startPeer(role, node string) (*peer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envPeer+"="+role, envPeerAddr+"="+e.zkAddr, envPeerNode+"="+node)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peer{cmd: cmd, in: in, lines: bufio.NewReader(out)}
	if line, err := p.line(); err != nil || line != "ready" {
		p.kill()
		return nil, fmt.Errorf("%s peer: %q %v", role, line, err)
	}
	return p, nil
}

func (p *peer) line() (string, error) {
	s, err := p.lines.ReadString('\n')
	return strings.TrimSpace(s), err
}

func (p *peer) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// crossProcessDWC times one delete → watch → create between two peer
// processes: from the holder's delete call to the waiter's create
// returning.
func (e *env) crossProcessDWC(node string) (time.Duration, error) {
	holder, err := e.startPeer("holder", node)
	if err != nil {
		return 0, err
	}
	defer holder.kill()
	waiter, err := e.startPeer("waiter", node)
	if err != nil {
		return 0, err
	}
	defer waiter.kill()
	// Let both settle into waiting, as a holder and a waiter do.
	time.Sleep(20 * time.Millisecond)
	if _, err := io.WriteString(holder.in, "go\n"); err != nil {
		return 0, err
	}
	var t [2]int64
	for i, p := range []*peer{holder, waiter} {
		s, err := p.line()
		if err == nil {
			t[i], err = strconv.ParseInt(s, 10, 64)
		}
		if err != nil {
			return 0, fmt.Errorf("peer said %q: %w", s, err)
		}
	}
	if err := waiter.cmd.Wait(); err != nil {
		return 0, fmt.Errorf("waiter: %w", err)
	}
	if t[1] < t[0] {
		return 0, errors.New("the waiter created the node before the holder deleted it")
	}
	return time.Duration(t[1] - t[0]), nil
}
