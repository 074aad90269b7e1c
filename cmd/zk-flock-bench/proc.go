package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// cost is what one process run cost, as wait4 reports it to the child
// helper's -measure launcher: wall time (CLOCK_MONOTONIC from before fork to
// after wait4), user+system CPU and peak RSS. CPU and RSS include the
// descendants the process waited for (the command zk-flock, flock or
// etcdctl runs), alike for all.
type cost struct {
	Wall   time.Duration
	CPU    time.Duration
	MaxRSS int64 // bytes
}

// measure runs argv (argv[0] an absolute path) to completion through the
// launcher and returns its cost; a non-zero exit is an error quoting its
// stderr.
func (e *env) measure(ctx context.Context, argv []string, env []string) (cost, error) {
	var out, errBuf bytes.Buffer
	cmd := exec.CommandContext(ctx, e.child, append([]string{"-measure"}, argv...)...)
	cmd.Env = env
	cmd.Stdout = &out
	cmd.Stderr = &errBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return cost{}, fmt.Errorf("%s: %w: %s", argv[0], err, bytes.TrimSpace(errBuf.Bytes()))
	}
	var wall, cpu, rss int64
	var status int
	if _, err := fmt.Sscan(out.String(), &wall, &cpu, &rss, &status); err != nil {
		return cost{}, fmt.Errorf("%s: launcher said %q: %w", argv[0], out.String(), err)
	}
	if status != 0 {
		return cost{}, fmt.Errorf("%s exited %d: %s", argv[0], status, bytes.TrimSpace(errBuf.Bytes()))
	}
	return cost{Wall: time.Duration(wall), CPU: time.Duration(cpu), MaxRSS: rss * 1024}, nil
}

// proc is a process the bench started and keeps running: a zk-flock holder
// or waiter. Done is closed when it has exited; Status is then its exit
// status (-1 when killed by a signal).
type proc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	status int
	err    error
}

// start starts argv with stdout on /dev/null and stderr on the shared
// zk-flock stderr file, in its own process group, killed if the bench dies.
func (e *env) start(argv ...string) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = e.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	e.mu.Lock()
	e.procs[p] = struct{}{}
	e.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		p.status = cmd.ProcessState.ExitCode()
		e.mu.Lock()
		delete(e.procs, p)
		e.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether p has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to p's process group (zk-flock and its command).
func (p *proc) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killAll kills every process still running and waits for them.
func (e *env) killAll() {
	e.mu.Lock()
	ps := make([]*proc, 0, len(e.procs))
	for p := range e.procs {
		ps = append(ps, p)
	}
	e.mu.Unlock()
	for _, p := range ps {
		p.kill()
	}
	for _, p := range ps {
		<-p.done
	}
}

// waitAll waits until every process in ps has exited with status want, or
// the timeout passes (then it kills them).
func (e *env) waitAll(ps []*proc, want int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var bad []string
	for i, p := range ps {
		select {
		case <-p.done:
		case <-deadline.C:
			for _, q := range ps[i:] {
				q.kill()
			}
			return fmt.Errorf("%d of %d zk-flock processes still running after %v; killed. %s", len(ps)-i, len(ps), timeout, e.childrenErrors())
		}
		if p.status != want && len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("pid %d exited %d", p.cmd.Process.Pid, p.status))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("zk-flock exited with an unexpected status (want %d): %v. %s", want, bad, e.childrenErrors())
	}
	return nil
}

// environ is the bench's environment, for the commands it measures.
func environ(extra ...string) []string {
	return append(os.Environ(), extra...)
}
