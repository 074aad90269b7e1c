package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sys/unix"

	"github.com/zk-flock/zk-flock/internal/faultproxy"
	"github.com/zk-flock/zk-flock/internal/testzk"
)

// child is a running testdata/child.sh under zk-flock.
type child struct {
	p    *proc
	dir  string // where child.sh records
	pid  int    // child.sh
	gpid int    // its grandchild, a sleep in its process group
}

// startChild starts zk-flock args... LOCK "sh testdata/child.sh DIR [mode]"
// and waits until the child has set its traps.
func (e *flockEnv) startChild(lock, mode string, args ...string) *child {
	e.t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "child.sh"))
	if err != nil {
		e.t.Fatal(err)
	}
	dir := e.t.TempDir()
	cmd := fmt.Sprintf("sh %s %s %s", script, dir, mode)
	p := e.start(append(args, lock, cmd)...)
	select {
	case <-p.done:
		e.t.Fatalf("zk-flock exited before the child was ready: %v", p.res)
	default:
	}
	c := &child{p: p, dir: dir}
	waitFile(e.t, filepath.Join(dir, "ready"), 15*time.Second)
	c.pid = readPid(e.t, filepath.Join(dir, "pid"))
	c.gpid = readPid(e.t, filepath.Join(dir, "gpid"))
	killLeftover(e.t, c.pid)
	killLeftover(e.t, c.gpid)
	return c
}

// signals returns the signal names child.sh recorded, in order.
func (c *child) signals() []string {
	var names []string
	for l := range strings.SplitSeq(strings.TrimSpace(readFile(filepath.Join(c.dir, "signals"))), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// signalTime returns when child.sh recorded sig, or zero.
func (c *child) signalTime(sig string) time.Time {
	for l := range strings.SplitSeq(readFile(filepath.Join(c.dir, "signals")), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == sig {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return time.Unix(0, n)
		}
	}
	return time.Time{}
}

// deathWatch polls pids every 5 ms; the function it returns waits (at most
// timeout) until all are dead and says when that was first seen — a time
// no earlier than their deaths.
func deathWatch(t *testing.T, timeout time.Duration, pids ...int) func() time.Time {
	t.Helper()
	done := make(chan time.Time, 1)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if !slices.ContainsFunc(pids, alive) {
				done <- time.Now()
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() time.Time {
		t.Helper()
		select {
		case at := <-done:
			return at
		case <-time.After(timeout):
			t.Fatalf("processes %v still alive after %v", pids, timeout)
			return time.Time{}
		}
	}
}

// onlyTERM reports whether the command recorded SIGTERM and nothing else,
// once or more: supervise signals the process group and then the direct
// child, and a shell scheduled between the two runs its trap twice (the
// kernel's pdeathsig has been seen to arrive twice as well).
func onlyTERM(sigs []string) bool {
	return len(sigs) > 0 && !slices.ContainsFunc(sigs, func(s string) bool { return s != "TERM" })
}

// gone fails unless pid no longer exists at all (not even as a zombie).
func gone(t *testing.T, what string, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s (pid %d) still exists: kill(pid, 0) = %v, want ESRCH (alive: %v)", what, pid, err, alive(pid))
	}
}

// TestE2ESigtermStopsCommand: SIGTERM to zk-flock reaches the command,
// zk-flock exits promptly with its status, the lock node goes and nothing
// of the command's group survives.
func TestE2ESigtermStopsCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		c := e.startChild("L", "")
		waitNode(t, zc, e.node("L"))
		sent := time.Now()
		c.p.signal(sig)
		r := c.p.waitTimeout(10 * time.Second)
		if r.code != 3 || !onlyTERM(c.signals()) {
			t.Errorf("%v to zk-flock: want the command to get SIGTERM and its status 3 passed on; got %v, command got %v", sig, r, c.signals())
		}
		if d := r.end.Sub(sent); d > time.Second {
			t.Errorf("%v to zk-flock: exited %v later, want promptly", sig, d)
		}
		checkQuiet(t, sig.String(), r)
		if exists(t, zc, e.node("L")) {
			t.Errorf("%v: the lock node outlived zk-flock", sig)
		}
		gone(t, "the command", c.pid)
		gone(t, "the grandchild in the command's group", c.gpid)
	}
}

// TestE2EStubbornCommandIsKilled: a command that ignores SIGTERM is
// SIGKILLed --grace after it.
func TestE2EStubbornCommandIsKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.startChild("L", "ignore-term", "--grace", "0.5")
	sent := time.Now()
	c.p.signal(syscall.SIGTERM)
	r := c.p.waitTimeout(10 * time.Second)
	d := r.end.Sub(sent)
	if r.code != 128+int(syscall.SIGKILL) || d < 500*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("stubborn command, --grace 0.5: want SIGKILL (exit 137) about 0.5 s after SIGTERM, got %v, %v after SIGTERM", r, d)
	}
	gone(t, "the command", c.pid)
	gone(t, "the grandchild", c.gpid)

	// A second SIGTERM kills at once.
	c = e.startChild("L", "ignore-term", "--grace", "30")
	c.p.signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	if c.p.exited() {
		t.Fatalf("exited before the grace period: %v", c.p.res)
	}
	sent = time.Now()
	c.p.signal(syscall.SIGTERM)
	r = c.p.waitTimeout(10 * time.Second)
	if d := r.end.Sub(sent); r.code != 137 || d > time.Second {
		t.Errorf("second SIGTERM: want SIGKILL at once (exit 137), got %v, %v after it", r, d)
	}
}

// TestE2ELeftoverGrandchildStopped: when the command exits, what it left
// running in its group is stopped before the lock goes.
func TestE2ELeftoverGrandchildStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gpidFile := e.path("gpid")
	r := e.run("L", fmt.Sprintf(`sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > %s; exit 2'`, gpidFile))
	gpid := readPid(t, gpidFile)
	killLeftover(t, gpid)
	if r.code != 2 || r.dur > 3*time.Second {
		t.Errorf("want exit 2 promptly, got %v", r)
	}
	gone(t, "the background grandchild", gpid)

	// A leftover that ignores SIGTERM is SIGKILLed after --grace; the lock
	// is held until it is gone, and the status is still the command's.
	zc := e.checker()
	gpidFile = e.path("gpid2")
	p := e.start("--grace", "0.5", "L", fmt.Sprintf(`sh -c 'trap "" TERM; sleep 300 >/dev/null 2>&1 & echo $! > %s; exit 0'`, gpidFile))
	gpid = readPid(t, gpidFile)
	killLeftover(t, gpid)
	exited := time.Now()
	if !exists(t, zc, e.node("L")) && !p.exited() {
		t.Error("the lock was let go while a process of the command's group still ran")
	}
	r = p.waitTimeout(10 * time.Second)
	if d := r.end.Sub(exited); r.code != 0 || d < 400*time.Millisecond || d > 2*time.Second {
		t.Errorf("a leftover ignoring SIGTERM, --grace 0.5: want exit 0 about 0.5 s after the command exited, got %v, %v", r, d)
	}
	gone(t, "the leftover ignoring SIGTERM", gpid)
}

// TestE2ESignalsForwarded: SIGHUP, SIGUSR1, SIGUSR2 and SIGQUIT reach the
// command, which goes on running.
func TestE2ESignalsForwarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.startChild("L", "")
	var want []string
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGQUIT} {
		name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
		want = append(want, name)
		c.p.signal(sig)
		testzk.WaitFor(t, 5*time.Second, name+" at the command", func() bool { return len(c.signals()) == len(want) })
		if got := c.signals(); !slices.Equal(got, want) {
			t.Fatalf("after %v: the command got %v, want %v", sig, got, want)
		}
		if c.p.exited() {
			t.Fatalf("zk-flock exited on %v: %v", sig, c.p.res)
		}
	}
	c.p.signal(syscall.SIGTERM)
	if r := c.p.waitTimeout(10 * time.Second); r.code != 3 {
		t.Errorf("want exit 3 (the command's, after SIGTERM), got %v", r)
	}
}

// TestE2EJobControlSignals: Ctrl-Z (SIGTSTP) and SIGTTIN/SIGTTOU do not stop
// zk-flock, which must run to keep its session while the command, in a
// group of its own, runs on: SIGTSTP is refused with a line on stderr, the
// other two are ignored, by the command too (a terminal read fails with
// EIO instead of stopping it with the lock held).
func TestE2EJobControlSignals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.startChild("L", "")
	state := func(pid int) string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return err.Error()
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		st, _, _ := strings.Cut(rest, " ")
		return st
	}
	for _, sig := range []syscall.Signal{syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU} {
		c.p.signal(sig)
		time.Sleep(200 * time.Millisecond)
		if st := state(c.p.pid()); st == "T" || st == "t" {
			syscall.Kill(c.p.pid(), syscall.SIGCONT)
			t.Fatalf("zk-flock stopped by %v", unix.SignalName(sig))
		}
		if c.p.exited() {
			t.Fatalf("zk-flock exited on %v: %v", unix.SignalName(sig), c.p.res)
		}
	}
	if got := c.signals(); len(got) != 0 {
		t.Errorf("the command got %v; job control signals are not forwarded", got)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
	if err != nil {
		t.Fatal(err)
	}
	var ignored uint64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			ignored, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGTTIN, syscall.SIGTTOU} {
		if ignored&(1<<(sig-1)) == 0 {
			t.Errorf("the command does not ignore %v (SigIgn %x)", unix.SignalName(sig), ignored)
		}
	}
	c.p.signal(syscall.SIGTERM)
	wantStopRefused(t, c.p.waitTimeout(10*time.Second), 3)
}

// wantStopRefused fails unless r exited with status and said, in one line
// on stderr, that it ignored a SIGTSTP.
func wantStopRefused(t *testing.T, r result, status int) {
	t.Helper()
	if r.code != status {
		t.Errorf("want exit %d, got %v", status, r)
	}
	if lines := r.stderrLines(); len(lines) != 1 || !strings.Contains(lines[0], "ignoring SIGTSTP") {
		t.Errorf("stderr: want one line saying SIGTSTP is ignored, got %q", lines)
	}
}

// TestE2EStopRefusedWhileHolding: Ctrl-Z during -l, after the command has
// exited and while zk-flock still holds the lock, is refused with its line
// on stderr too.
func TestE2EStopRefusedWhileHolding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.start("-l", "1.5", "L", "true")
	testzk.WaitFor(t, 10*time.Second, "the command to exit", func() bool {
		return strings.Contains(e.logText(), fmt.Sprintf(" %d command exited", p.pid()))
	})
	p.signal(syscall.SIGTSTP)
	wantStopRefused(t, p.waitTimeout(10*time.Second), 0)
}

// TestE2EHangupReachesStoppedCommand: a SIGHUP forwarded to a stopped
// command comes with SIGCONT, as a shell sends its stopped jobs on a
// hangup: the command acts on it instead of holding the lock, stopped, for
// ever after its terminal went away.
func TestE2EHangupReachesStoppedCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidFile, hup := e.path("pid"), e.path("hup")
	p := e.start("L", "sh -c "+sq(`trap "echo hup > `+hup+`; exit 0" HUP; echo $$ > `+pidFile+`; while :; do sleep 0.05; done`))
	waitFile(t, pidFile, 15*time.Second)
	pid := readPid(t, pidFile)
	killLeftover(t, pid)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	p.signal(syscall.SIGHUP)
	r := p.waitTimeout(10 * time.Second)
	if r.code != 0 || !fileExists(hup) {
		t.Errorf("SIGHUP to zk-flock while its command is stopped: want the command's trap to run and exit 0, got %v (trap ran: %v)", r, fileExists(hup))
	}
}

// TestE2ESignalWhileWaiting: SIGTERM (SIGINT) while waiting for a busy lock
// exits 143 (130) without running the command or leaving a node.
func TestE2ESignalWhileWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	holder, release := holdLock(t, e)
	marker := e.path("marker")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		waiter := e.start("-w", "30", "L", "touch "+marker)
		testzk.WaitFor(t, 10*time.Second, "the waiter to wait", func() bool {
			return strings.Contains(e.logText(), fmt.Sprintf(" %d trying the lock", waiter.pid()))
		})
		time.Sleep(300 * time.Millisecond) // into the wait proper
		sent := time.Now()
		waiter.signal(sig)
		r := waiter.waitTimeout(10 * time.Second)
		if want := 128 + int(sig); r.code != want || r.end.Sub(sent) > time.Second {
			t.Errorf("%v while waiting: want exit %d promptly, got %v", sig, want, r)
		}
		checkQuiet(t, sig.String()+" while waiting", r)
		if fileExists(marker) {
			t.Errorf("%v while waiting: the command ran", sig)
		}
		if got := ephemerals(t, zc, e.root); !slices.Equal(got, []string{"L"}) {
			t.Errorf("%v while waiting: want only the holder's node left, got %v", sig, got)
		}
	}
	touch(t, release)
	if r := holder.waitTimeout(10 * time.Second); r.code != 0 {
		t.Errorf("holder: %v", r)
	}
}

// TestE2ELockLost: the lock node deleted behind zk-flock's back kills the
// command's whole group at once; zk-flock exits 75 with one line on stderr.
func TestE2ELockLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.startChild("L", "ignore-term")
	dead := deathWatch(t, 30*time.Second, c.pid, c.gpid)

	// Someone else writing the node's data takes nothing away: the owner
	// is still zk-flock's session.
	zkCli(t, "set", e.node("L"), "scribble")
	time.Sleep(500 * time.Millisecond)
	if c.p.exited() || !alive(c.pid) || !alive(c.gpid) {
		t.Fatalf("a data change on the lock node stopped the command: %v", c.p.res)
	}

	zkCli(t, "delete", e.node("L"))
	deleted := time.Now()
	if d := dead().Sub(deleted); d > time.Second {
		t.Errorf("the command's group died %v after the lock node was deleted, want < 1 s", d)
	}
	r := c.p.waitTimeout(10 * time.Second)
	if r.code != ExitLockLost || r.end.Sub(deleted) > time.Second {
		t.Errorf("lock node deleted: want exit %d within 1 s, got %v, %v after the delete", ExitLockLost, r, r.end.Sub(deleted))
	}
	oneStderrLine(t, "lock lost", r, "lost")
	gone(t, "the command", c.pid)
	gone(t, "the grandchild", c.gpid)
}

// TestE2ELockLostAfterExit: the lock lost after the command exited, while
// what it left in its group is still being stopped (a leftover that
// ignores SIGTERM, inside a long --grace): the leftover dies at once, not
// at the grace's end, and zk-flock exits 75, not with the command's 0,
// saying the leftovers were killed.
func TestE2ELockLostAfterExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidFile, gpidFile := e.path("pid"), e.path("gpid")
	p := e.start("--grace", "60", "L", fmt.Sprintf(`sh -c 'trap "" TERM; sleep 300 >/dev/null 2>&1 & echo $! > %s; echo $$ > %s; exit 0'`, gpidFile, pidFile))
	gpid, pid := readPid(t, gpidFile), readPid(t, pidFile)
	killLeftover(t, gpid)
	testzk.WaitFor(t, 10*time.Second, "the command's exit", func() bool { return !alive(pid) })
	time.Sleep(100 * time.Millisecond) // the leftover got its SIGTERM, ignored
	if p.exited() || !alive(gpid) {
		t.Fatalf("with a leftover ignoring SIGTERM and --grace 60, zk-flock or the leftover ended early: %v, leftover alive %v", p.res, alive(gpid))
	}

	dead := deathWatch(t, 30*time.Second, gpid)
	zkCli(t, "delete", e.node("L"))
	deleted := time.Now()
	if d := dead().Sub(deleted); d > time.Second {
		t.Errorf("the leftover died %v after the lock node was deleted, want < 1 s", d)
	}
	r := p.waitTimeout(10 * time.Second)
	if r.code != ExitLockLost || r.end.Sub(deleted) > time.Second {
		t.Errorf("lock node deleted while a leftover was stopped: want exit %d within 1 s, got %v, %v after the delete", ExitLockLost, r, r.end.Sub(deleted))
	}
	oneStderrLine(t, "lock lost after the command exited", r, "lost", "left running", "exited 0")
	gone(t, "the leftover", gpid)
}

// TestE2EBrokenStderr: logging to stderr, whose reader has gone (cmd 2>&1 |
// logger, and logger restarted), zk-flock still kills the command's whole
// group when the lock is lost and when it is told to stop, and exits with
// its documented status: a write to the broken pipe fails, it does not
// kill zk-flock with SIGPIPE before the group is dead.
func TestE2EBrokenStderr(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg map[string]any) {
		cfg["logger"] = map[string]any{"path": "stderr", "level": "DEBUG"}
	})
	script, err := filepath.Abs(filepath.Join("testdata", "child.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		how  string
		stop func(p *os.Process, lock string)
		want int
	}{
		{"lock node deleted", func(_ *os.Process, lock string) { zkCli(t, "delete", e.node(lock)) }, ExitLockLost},
		{"SIGTERM", func(p *os.Process, _ string) { p.Signal(syscall.SIGTERM) }, 3},
	} {
		lock := "L" + strconv.Itoa(len(tc.how))
		dir := t.TempDir()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binPath, "-c", e.conf, "-l", "0", lock, "sh "+script+" "+dir)
		cmd.Env = append(os.Environ(), binGORACE)
		cmd.Stderr = w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		go io.Copy(io.Discard, r)
		waitFile(t, filepath.Join(dir, "ready"), 15*time.Second)
		pid, gpid := readPid(t, filepath.Join(dir, "pid")), readPid(t, filepath.Join(dir, "gpid"))
		killLeftover(t, pid)
		killLeftover(t, gpid)
		r.Close() // the reader goes away: every write to stderr now fails

		dead := deathWatch(t, 15*time.Second, pid, gpid)
		tc.stop(cmd.Process, lock)
		dead()
		err = cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() || ws.ExitStatus() != tc.want {
			t.Errorf("%s with stderr broken: want exit %d, got %v (%v)", tc.how, tc.want, cmd.ProcessState, err)
		}
		gone(t, "the command", pid)
		gone(t, "the grandchild", gpid)
	}
}

// TestE2EStalledStderr: logging to a stderr that takes no data (cmd 2>&1 |
// logger, with logger hung), zk-flock cut off from ZooKeeper still kills a
// command that ignores SIGTERM, and its group, before the session can
// expire: its log lines and its stderr line wait in a queue, they do not
// hold up the kill. Once stderr is read again they come out, the "lost"
// line with them, and zk-flock exits 75.
func TestE2EStalledStderr(t *testing.T) {
	t.Parallel()
	const session = 2 * time.Second // "timeout": 2, granted as asked
	proxy, err := faultproxy.New(zkAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	e := newEnv(t, func(c map[string]any) {
		c["host"] = []string{proxy.Addr()}
		c["timeout"] = 2
		c["logger"] = map[string]any{"path": "stderr", "level": "DEBUG"}
	})
	script, err := filepath.Abs(filepath.Join("testdata", "child.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(binPath, "-c", e.conf, "-l", "0", "--grace", "30", "L", "sh "+script+" "+dir+" ignore-term")
	cmd.Env = append(os.Environ(), binGORACE)
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	waitFile(t, filepath.Join(dir, "ready"), 15*time.Second)
	pid, gpid := readPid(t, filepath.Join(dir, "pid")), readPid(t, filepath.Join(dir, "gpid"))
	killLeftover(t, pid)
	killLeftover(t, gpid)

	// Fill the pipe: from now on every write zk-flock makes to stderr
	// blocks until the test reads.
	size, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.Write(make([]byte, size))
		w.Close()
	}()
	testzk.WaitFor(t, 5*time.Second, "the stderr pipe to fill up", func() bool {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		return err == nil && n >= size-4096
	})

	dead := deathWatch(t, 15*time.Second, pid, gpid)
	held := time.Now()
	proxy.Hold(faultproxy.Both)
	diedAt := dead()
	if d := diedAt.Sub(held); d >= session {
		t.Errorf("with stderr stalled, the command died %v after the partition began, not before the %v session timeout", d, session)
	}

	out := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); out <- b }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("zk-flock still running 15 s after stderr was read again")
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() || ws.ExitStatus() != ExitLockLost {
		t.Errorf("want exit %d, got %v", ExitLockLost, cmd.ProcessState)
	}
	if b := <-out; !bytes.Contains(b, []byte("zk-flock: lock L lost, command killed")) { // after the test's zeroes
		t.Errorf("stderr, once read again, has no \"lock lost\" line:\n%s", bytes.TrimLeft(b, "\x00"))
	}
}

// TestE2ESelfFencing: cut off from ZooKeeper, zk-flock kills the command
// before the session can expire, so a second zk-flock that gets the lock
// after the expiry starts its command only after the first one's died.
// With "timeout": 30 the server grants only its maximum, 4 s: zk-flock must
// fence by the granted timeout, not the one it asked for.
func TestE2ESelfFencing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		timeout int           // requested, in the configuration
		session time.Duration // granted by the server (tickTime 200 ms, at most 20 ticks)
	}{
		{2, 2 * time.Second},
		{30, 4 * time.Second},
	} {
		t.Run(fmt.Sprintf("timeout_%d", tc.timeout), func(t *testing.T) {
			t.Parallel()
			selfFencing(t, tc.timeout, tc.session)
		})
	}
}

func selfFencing(t *testing.T, timeout int, session time.Duration) {
	proxy, err := faultproxy.New(zkAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	fenced := newEnv(t, func(c map[string]any) { c["host"] = []string{proxy.Addr()}; c["timeout"] = timeout })
	e := newEnv(t, func(c map[string]any) { c["app_id"] = fenced.app })

	c := fenced.startChild("L", "", "--grace", "5")
	dead := deathWatch(t, 30*time.Second, c.pid, c.gpid)
	started := e.path("started")
	second := e.start("-w", "30", "L", fmt.Sprintf(`sh -c 'date +%%s%%N > %s'`, started))
	testzk.WaitFor(t, 10*time.Second, "the second zk-flock to wait", func() bool {
		return strings.Contains(e.logText(), fmt.Sprintf(" %d trying the lock", second.pid()))
	})
	time.Sleep(300 * time.Millisecond)

	held := time.Now()
	proxy.Hold(faultproxy.Both)
	diedAt := dead()
	if term := c.signalTime("TERM"); !term.IsZero() && term.After(diedAt) {
		t.Errorf("recorded SIGTERM at %v after seeing the command dead at %v", term, diedAt)
	}
	r := c.p.waitTimeout(15 * time.Second)
	if r.code != ExitLockLost {
		t.Errorf("partitioned: want exit %d, got %v", ExitLockLost, r)
	}
	oneStderrLine(t, "partitioned", r, "lost")
	if !onlyTERM(c.signals()) {
		t.Errorf("partitioned: want the command stopped with SIGTERM first, it got %v", c.signals())
	}

	sr := second.waitTimeout(30 * time.Second)
	if sr.code != 0 {
		t.Fatalf("second zk-flock: want it to get the lock once the session expired and exit 0, got %v", sr)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(readFile(started)), 10, 64)
	if err != nil {
		t.Fatalf("second command's start time: %v", err)
	}
	startAt := time.Unix(0, n)
	t.Logf("partition at 0; first command dead by %v; zk-flock exited at %v; second command started at %v",
		diedAt.Sub(held), r.end.Sub(held), startAt.Sub(held))
	if !startAt.After(diedAt) {
		t.Errorf("the second command started %v BEFORE the first was seen dead: two holders at once", diedAt.Sub(startAt))
	}
	// Killed before the session could expire, not after.
	if d := diedAt.Sub(held); d >= session {
		t.Errorf("the command died %v after the partition began, not before the %v session timeout", d, session)
	}
}

// TestE2EParentDeath: kill -9 of zk-flock sends the command the -p signal.
func TestE2EParentDeath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     []string
		wantTERM bool
	}{
		{nil, true},
		{[]string{"-p", "TERM"}, true},
		{[]string{"-p", "KILL"}, false},
		{[]string{"-p", "9"}, false},
		{[]string{"--pdeathsig", "SIGKILL"}, false},
	} {
		t.Run(strings.Join(append([]string{"p"}, tc.args...), "_"), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.startChild("L", "", tc.args...)
			dead := deathWatch(t, 10*time.Second, c.pid)
			c.p.signal(syscall.SIGKILL)
			killed := time.Now()
			if d := dead().Sub(killed); d > 2*time.Second {
				t.Errorf("the command died %v after zk-flock was killed", d)
			}
			if got := c.signals(); tc.wantTERM != onlyTERM(got) {
				t.Errorf("want SIGTERM at the command: %v; it recorded %v", tc.wantTERM, got)
			}
		})
	}
}

// TestE2ESigtermDuringLoadSleep: SIGTERM during -s's sleep (or, if the
// load is too low for a sleep to catch, during the wait for the busy lock
// that follows it) exits 143 without running the command.
func TestE2ESigtermDuringLoadSleep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	ensureLoad(t)
	holder, release := holdLock(t, e)
	marker := e.path("marker")
	p := e.start("-s", "-w", "30", "L", "touch "+marker)
	testzk.WaitFor(t, 10*time.Second, "the -s sleep", func() bool {
		return strings.Contains(e.logText(), fmt.Sprintf(" %d sleeping for the load average", p.pid()))
	})
	p.signal(syscall.SIGTERM)
	r := p.waitTimeout(5 * time.Second)
	if r.code != 143 || fileExists(marker) {
		t.Errorf("SIGTERM during -s: want exit 143 without running, got %v", r)
	}
	checkQuiet(t, "SIGTERM during -s", r)
	if got := ephemerals(t, zc, e.root); !slices.Equal(got, []string{"L"}) {
		t.Errorf("SIGTERM during -s: want only the holder's node, got %v", got)
	}
	touch(t, release)
	holder.waitTimeout(10 * time.Second)
}

// TestE2EShortPartitionChangesNothing: a hiccup shorter than the session
// can bear — traffic held for a moment, connections reset — leaves the
// command running, and it ends with its own status.
func TestE2EShortPartitionChangesNothing(t *testing.T) {
	t.Parallel()
	proxy, err := faultproxy.New(zkAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	// A 4 s session (the server's maximum): with a single server, the
	// client waits 1 s before it reconnects after the reset, which a 2 s
	// session's fencing (SIGTERM after 1.3 s of silence) would not bear.
	e := newEnv(t, func(c map[string]any) { c["host"] = []string{proxy.Addr()} })
	zc := e.checker()
	c := e.startChild("L", "")
	_, before := get(t, zc, e.node("L"))

	proxy.Hold(faultproxy.Both)
	time.Sleep(400 * time.Millisecond)
	proxy.Release(faultproxy.Both)
	time.Sleep(300 * time.Millisecond)
	proxy.Reset() // the client reconnects, to the same session
	time.Sleep(1500 * time.Millisecond)

	if c.p.exited() || len(c.signals()) != 0 {
		t.Fatalf("a short hiccup stopped the command: %v, signals %v\n%s", c.p.res, c.signals(), e.logText())
	}
	if _, after := get(t, zc, e.node("L")); after == nil || after.EphemeralOwner != before.EphemeralOwner || after.Czxid != before.Czxid {
		t.Errorf("after the hiccup the lock node is not the same: %+v, was %+v", after, before)
	}
	c.p.signal(syscall.SIGTERM)
	if r := c.p.waitTimeout(10 * time.Second); r.code != 3 {
		t.Errorf("want the command's own status 3 after SIGTERM, got %v", r)
	}
}

// proxiedWaiter is a lock held by one zk-flock and a waiter, started with
// args, that reaches ZooKeeper through a fault proxy and has queued.
type proxiedWaiter struct {
	proxy   *faultproxy.Proxy
	e, w    *flockEnv // the holder's environment, the waiter's
	zc      *zk.Conn
	holder  *proc
	release string // touched, it lets the holder's command end
	waiter  *proc
}

func startProxiedWaiter(t *testing.T, args ...string) *proxiedWaiter {
	t.Helper()
	proxy, err := faultproxy.New(zkAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	// The default 4 s session: a shorter one would make the new holder's
	// lease, which gives up after about a third of it without an answer,
	// a victim of this loaded machine's scheduling.
	e := newEnv(t)
	w := newEnv(t, func(c map[string]any) { c["host"] = []string{proxy.Addr()}; c["app_id"] = e.app })
	p := &proxiedWaiter{proxy: proxy, e: e, w: w, zc: e.checker()}
	p.holder, p.release = holdLock(t, e)
	p.waiter = w.start(args...)
	testzk.WaitFor(t, 10*time.Second, "the waiter to queue", p.queued)
	return p
}

// queued reports whether one waiter queues for L.
func (p *proxiedWaiter) queued() bool {
	return len(children(p.e.t, p.zc, p.e.root+"/.zk-flock-queues/L")) == 1
}

// TestE2EWaiterRidesOutZooKeeperTrouble: a waiter (-w) cut off from
// ZooKeeper for longer than its session timeout loses its session; it
// starts a new one once ZooKeeper answers again and goes on waiting, until
// -w runs out, instead of exiting 69.
func TestE2EWaiterRidesOutZooKeeperTrouble(t *testing.T) {
	t.Parallel()
	ran := t.TempDir() + "/ran"
	p := startProxiedWaiter(t, "-w", "30", "L", "touch "+ran)

	p.proxy.Hold(faultproxy.Both)
	time.Sleep(9 * time.Second) // over twice the session timeout: the session is gone
	if p.waiter.exited() {
		t.Fatalf("the waiter gave up during the outage: %v", p.waiter.res)
	}
	p.proxy.Release(faultproxy.Both)
	testzk.WaitFor(t, 15*time.Second, "the waiter to queue again, in a new session", p.queued)
	touch(t, p.release)
	if r := p.holder.waitTimeout(10 * time.Second); r.code != 0 {
		t.Errorf("holder: %v", r)
	}
	r := p.waiter.waitTimeout(15 * time.Second)
	if r.code != 0 || !fileExists(ran) {
		t.Errorf("waiter after the outage: want its command run and exit 0, got %v\n%s", r, p.w.logText())
	}
	if !strings.Contains(p.w.logText(), "trying again with a new session") {
		t.Errorf("the waiter's log does not say it started a new session:\n%s", p.w.logText())
	}
}

// TestE2EWaitEndsInZooKeeperTrouble: a queued waiter whose -w runs out
// while no server answers its session exits 69, not with the busy status:
// the lock may have been free all along.
func TestE2EWaitEndsInZooKeeperTrouble(t *testing.T) {
	t.Parallel()
	p := startProxiedWaiter(t, "-w", "2", "-x", "5", "L", "true")
	p.proxy.Hold(faultproxy.Both)
	p.proxy.Reset()
	r := p.waiter.waitTimeout(10 * time.Second)
	p.proxy.Release(faultproxy.Both)
	if r.code != ExitUnavailable {
		t.Errorf("waiter whose wait ended while cut off: want exit %d, got %v", ExitUnavailable, r)
	}
	oneStderrLine(t, "waiter", r, "ZooKeeper")
	touch(t, p.release)
	if r := p.holder.waitTimeout(10 * time.Second); r.code != 0 {
		t.Errorf("holder: %v", r)
	}
}
