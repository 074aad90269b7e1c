package supervise

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv, when set in the environment, makes the test binary a helper
// process (see TestMain): "pdeathsig" runs pdeathsigHelper; "subreaper"
// makes the process a child subreaper and runs the tests it was given.
const helperEnv = "SUPERVISE_TEST_HELPER"

// slack is how late a kill may come in a timing test. The real latency is
// a few milliseconds (TestKillLatency logs it); the rest absorbs a CI
// machine loaded with other packages' tests and the race detector (with
// three busy loops per CPU, 450 ms was seen once; with one, under 50 ms).
const slack = 250 * time.Millisecond

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "pdeathsig":
		os.Exit(pdeathsigHelper())
	case "subreaper":
		if err := EnableSubreaper(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// start starts spec and makes sure, when the test ends, that its tree is
// gone.
func start(t *testing.T, spec Spec) *Child {
	t.Helper()
	c, err := Start(spec)
	if err != nil {
		t.Fatalf("Start(%q): %v", spec.Argv, err)
	}
	t.Cleanup(func() {
		c.Kill()
		select {
		case <-c.TreeDone():
		case <-time.After(5 * time.Second):
			t.Errorf("tree of %d not gone 5 s after Kill", c.Pid())
		}
	})
	return c
}

func sh(script string) Spec {
	return Spec{Argv: []string{"/bin/sh", "-c", script}}
}

// wait waits for ch to be closed, failing the test after d.
func wait(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// waitFile waits for path to hold a complete line and returns it.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s not written within 5 s", path)
	return ""
}

func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	s := waitFile(t, path)
	pid, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: %q is not a pid", path, s)
	}
	return pid
}

// isRunning reports whether pid is a live process: it exists and is not a
// zombie (in this sandbox, PID 1 does not reap the orphans it adopts).
func isRunning(pid int) bool {
	p, err := readStat(pid, make([]byte, statBufSize))
	return err == nil && !p.dead()
}

// killLeftover kills pid at the end of the test if it still runs (a test
// that failed may leave it).
func killLeftover(t *testing.T, pid int) {
	t.Cleanup(func() {
		if isRunning(pid) {
			unix.Kill(pid, unix.SIGKILL)
		}
	})
}

// readyPipe returns a pipe whose write end is the child's stdout, and a
// function that waits for the child to write a line.
func readyPipe(t *testing.T, spec *Spec) func() {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spec.Stdout = w
	t.Cleanup(func() { r.Close(); w.Close() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- line
	}()
	return func() {
		t.Helper()
		w.Close() // the child has its own copy
		select {
		case <-lines:
		case <-time.After(5 * time.Second):
			t.Fatal("child not ready within 5 s")
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, code := range []int{0, 1, 3, 255} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			c := start(t, sh("exit "+strconv.Itoa(code)))
			st, err := c.Wait(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Code != code || st.Signal != 0 || st.ExitCode() != code {
				t.Errorf("status %+v, ExitCode %d; want code %d", st, st.ExitCode(), code)
			}
			// Nothing else in the tree: one check after the exit suffices.
			wait(t, c.TreeDone(), slack, "TreeDone after the exit")
		})
	}
}

func TestKilledBySignal(t *testing.T) {
	for _, sig := range []syscall.Signal{unix.SIGTERM, unix.SIGKILL, unix.SIGUSR1} {
		t.Run(sig.String(), func(t *testing.T) {
			c := start(t, sh(fmt.Sprintf("kill -%d $$", sig)))
			st, _ := c.Wait(context.Background())
			if st.Signal != sig || st.ExitCode() != 128+int(sig) {
				t.Errorf("status %+v, ExitCode %d; want signal %d, %d", st, st.ExitCode(), sig, 128+int(sig))
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain", "#!/bin/sh\nexit 0\n", 0o644)
	garbage := write("garbage", "\x00\x01\x02\x03 not an executable\n", 0o755)
	noInterp := write("nointerp", "#!/nonexistent/interpreter\n", 0o755)
	os.Mkdir(filepath.Join(dir, "subdir"), 0o755)
	emptyDir := t.TempDir()

	for _, tc := range []struct {
		name string
		spec Spec
		want error
	}{
		{"not on PATH", Spec{Argv: []string{"zk-flock-no-such-command"}}, ErrNotFound},
		{"no such path", Spec{Argv: []string{"/nonexistent/dir/cmd"}}, ErrNotFound},
		{"PATH of Env", Spec{Argv: []string{"sh"}, Env: []string{"PATH=" + emptyDir}}, ErrNotFound},
		{"empty", Spec{Argv: []string{""}}, ErrNotFound},
		{"mode 0644", Spec{Argv: []string{plain}}, ErrNotExecutable},
		{"mode 0644 on PATH", Spec{Argv: []string{"plain"}, Env: []string{"PATH=" + emptyDir + ":" + dir}}, ErrNotExecutable},
		{"directory", Spec{Argv: []string{dir}}, ErrNotExecutable},
		{"directory relative to Dir", Spec{Argv: []string{"./subdir"}, Dir: dir}, ErrNotExecutable},
		{"exec format error", Spec{Argv: []string{garbage}}, ErrNotExecutable},
		{"missing interpreter", Spec{Argv: []string{noInterp}}, ErrNotExecutable},
		{"Path 0644", Spec{Path: plain, Argv: []string{"x"}}, ErrNotExecutable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(tc.spec)
			if err == nil {
				c.Kill()
				t.Fatalf("Start(%q) succeeded", tc.spec.Argv)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Start(%q): %v; want %v", tc.spec.Argv, err, tc.want)
			}
			msg, name := err.Error(), tc.spec.Argv[0]
			if tc.spec.Path != "" {
				name = tc.spec.Path
			}
			if strings.Contains(msg, "\n") || name != "" && !strings.Contains(msg, strconv.Quote(name)) {
				t.Errorf("error %q should be one line naming %q", msg, name)
			}
			t.Log(msg)
		})
	}

	t.Run("Dir missing", func(t *testing.T) {
		_, err := Start(Spec{Argv: []string{"true"}, Dir: filepath.Join(dir, "nope")})
		if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotExecutable) {
			t.Fatalf("Start: %v; want a plain error", err)
		}
	})
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello"), []byte("#!/bin/sh\nexit 5\n"), 0o755)
	os.Mkdir(filepath.Join(dir, "true"), 0o755) // a directory on PATH is skipped

	t.Run("PATH of Env", func(t *testing.T) {
		c := start(t, Spec{Argv: []string{"hello"}, Env: []string{"PATH=/nonexistent:" + dir}})
		if st, _ := c.Wait(context.Background()); st.Code != 5 {
			t.Errorf("status %v; want exit status 5", st)
		}
	})
	t.Run("last PATH wins", func(t *testing.T) {
		c := start(t, Spec{Argv: []string{"hello"}, Env: []string{"PATH=/nonexistent", "PATH=" + dir}})
		if st, _ := c.Wait(context.Background()); st.Code != 5 {
			t.Errorf("status %v; want exit status 5", st)
		}
	})
	t.Run("directory skipped", func(t *testing.T) {
		c := start(t, Spec{Argv: []string{"true"}, Env: []string{"PATH=" + dir + ":/usr/bin:/bin"}})
		if st, _ := c.Wait(context.Background()); st.Code != 0 {
			t.Errorf("status %v; want exit status 0", st)
		}
	})
	t.Run("relative to Dir", func(t *testing.T) {
		c := start(t, Spec{Argv: []string{"./hello"}, Dir: dir})
		if st, _ := c.Wait(context.Background()); st.Code != 5 {
			t.Errorf("status %v; want exit status 5", st)
		}
	})
}

// outFile creates dir/out for a child's output; it is closed when the
// test ends.
func outFile(t *testing.T, dir string) (string, *os.File) {
	t.Helper()
	out := filepath.Join(dir, "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return out, f
}

func TestDirEnvStdio(t *testing.T) {
	dir := t.TempDir()
	out, f := outFile(t, dir)
	// cat reads the nil Stdin: /dev/null, so it ends at once.
	spec := sh(`pwd; echo "$FOO"; cat; echo done`)
	spec.Dir, spec.Env, spec.Stdout = dir, []string{"FOO=bar", "PATH=/usr/bin:/bin"}, f
	c := start(t, spec)
	if st, _ := c.Wait(context.Background()); st.Code != 0 {
		t.Fatalf("status %v", st)
	}
	b, _ := os.ReadFile(out)
	if want := dir + "\nbar\ndone\n"; string(b) != want {
		t.Errorf("output %q; want %q", b, want)
	}
}

// TestNoDescriptorLeak: a descriptor without close-on-exec (as one inherited
// from a shell's `100>file`) must not reach the child.
func TestNoDescriptorLeak(t *testing.T) {
	const fd = 100
	if err := unix.Dup2(2, fd); err != nil { // dup2 clears close-on-exec
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c := start(t, sh(fmt.Sprintf("[ -e /proc/self/fd/%d ] && exit 1; ls /proc/self/fd | grep -qvx '[0-3]' && exit 2; exit 0", fd)))
	if st, _ := c.Wait(context.Background()); st.Code != 0 {
		t.Errorf("child saw inherited descriptors (status %v)", st)
	}
}

// TestFastChild: a child that exits before Start returns still has its
// exact status, every time.
func TestFastChild(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := range n {
		argv := []string{"true"}
		want := 0
		if i%3 == 2 {
			argv, want = []string{"false"}, 1
		}
		c, err := Start(Spec{Argv: argv})
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Wait(context.Background())
		if err != nil || st.Code != want || st.Signal != 0 {
			t.Fatalf("run %d of %s: status %+v, %v; want exit status %d", i, argv[0], st, err, want)
		}
		wait(t, c.TreeDone(), time.Second, "TreeDone")
	}
}

func TestStopGraceful(t *testing.T) {
	c := start(t, Spec{Argv: []string{"sleep", "100"}})
	t0 := time.Now()
	c.Stop(10 * time.Second)
	wait(t, c.TreeDone(), 2*time.Second, "TreeDone after SIGTERM")
	t.Logf("SIGTERM to TreeDone: %v", time.Since(t0))
	if st := c.Status(); st.Signal != unix.SIGTERM || st.ExitCode() != 143 {
		t.Errorf("status %v; want killed by SIGTERM", st)
	}
}

// TestStopKillsAtDeadline: a tree that ignores SIGTERM is killed at the
// deadline, not before, and not much after.
func TestStopKillsAtDeadline(t *testing.T) {
	const grace = 300 * time.Millisecond
	spec := sh(`trap '' TERM; sleep 100 & echo ready; exec sleep 100`) // the background sleep inherits the ignored TERM
	ready := readyPipe(t, &spec)
	c := start(t, spec)
	ready()
	t0 := time.Now()
	c.Stop(grace)
	<-c.Exited()
	exited := time.Since(t0)
	wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
	done := time.Since(t0)
	t.Logf("grace %v: child reaped after %v, tree gone after %v", grace, exited, done)
	if exited < grace {
		t.Errorf("child died after %v, before the grace of %v", exited, grace)
	}
	if done > grace+slack {
		t.Errorf("tree gone after %v; want within %v", done, grace+slack)
	}
	if st := c.Status(); st.Signal != unix.SIGKILL {
		t.Errorf("status %v; want killed by SIGKILL", st)
	}
}

func TestStopByEarlierDeadlineWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  time.Duration
		second time.Duration
	}{
		{"later then earlier", 10 * time.Second, 200 * time.Millisecond},
		{"earlier then later", 200 * time.Millisecond, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := sh(`trap '' TERM; echo ready; exec sleep 100`)
			ready := readyPipe(t, &spec)
			c := start(t, spec)
			ready()
			t0 := time.Now()
			c.StopBy(t0.Add(tc.first))
			time.Sleep(20 * time.Millisecond)
			c.StopBy(t0.Add(tc.second))
			wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
			d := time.Since(t0)
			t.Logf("killed after %v", d)
			if d < 200*time.Millisecond || d > 200*time.Millisecond+slack {
				t.Errorf("killed after %v; want 200 ms", d)
			}
		})
	}
}

// TestGroupDies: grandchildren in the group die with the child, whether
// they die of SIGTERM or have to be killed.
func TestGroupDies(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		stop  func(*Child)
		grand string // how the grandchild is started
	}{
		{"Stop", func(c *Child) { c.Stop(5 * time.Second) }, `sleep 100 &`},
		{"Kill", (*Child).Kill, `(trap '' TERM; exec sleep 100) &`},
		{"Stop, grandchild ignores TERM", func(c *Child) { c.Stop(100 * time.Millisecond) }, `(trap '' TERM; exec sleep 100) &`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			c := start(t, sh(tc.grand+` echo $! > `+pidFile+`; sleep 100`))
			grand := waitPidFile(t, pidFile)
			killLeftover(t, grand)
			if !isRunning(grand) {
				t.Fatalf("grandchild %d not running", grand)
			}
			tc.stop(c)
			wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
			if isRunning(grand) {
				t.Errorf("grandchild %d still running after TreeDone", grand)
			}
			if err := unix.Kill(-c.Pgid(), 0); err == nil {
				// Only zombies may remain (PID 1 here does not reap).
				procs, _ := scanProcs()
				for _, p := range procs {
					if p.pgrp == c.Pgid() && !p.dead() {
						t.Errorf("process %d of the group still running", p.pid)
					}
				}
			}
		})
	}
}

// TestEscapedWithLiveParent: without a subreaper, a process that left the
// group is still found, and killed, through its parent in the group.
func TestEscapedWithLiveParent(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		stop func(*Child)
		max  time.Duration
	}{
		{"Kill", (*Child).Kill, slack},
		// SIGTERM must reach the escaped process too: the tree is gone long before the deadline.
		{"Stop", func(c *Child) { c.Stop(10 * time.Second) }, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, tc.name)
			c := start(t, sh(`setsid sh -c 'echo $$ > `+pidFile+`; exec sleep 100' & wait`))
			esc := waitPidFile(t, pidFile)
			killLeftover(t, esc)
			if p, err := readStat(esc, make([]byte, statBufSize)); err != nil || p.pgrp == c.Pgid() {
				t.Fatalf("escaped process %d: %+v, %v; want another group", esc, p, err)
			}
			t0 := time.Now()
			tc.stop(c)
			wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
			t.Logf("tree gone after %v", time.Since(t0))
			if d := time.Since(t0); d > tc.max {
				t.Errorf("tree gone after %v; want within %v", d, tc.max)
			}
			if isRunning(esc) {
				t.Errorf("escaped process %d still running", esc)
			}
		})
	}
}

// TestLeftoversAfterExit: a child that exits leaving a process in its group
// has its status at once; TreeDone waits for the leftover, which StopBy
// ends.
func TestLeftoversAfterExit(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := start(t, sh(`sleep 100 & echo $! > `+pidFile+`; exit 7`))
	wait(t, c.Exited(), 2*time.Second, "Exited")
	if st := c.Status(); st.Code != 7 {
		t.Fatalf("status %v; want exit status 7", st)
	}
	left := waitPidFile(t, pidFile)
	killLeftover(t, left)
	select {
	case <-c.TreeDone():
		t.Fatal("TreeDone closed while a process of the group runs")
	case <-time.After(300 * time.Millisecond):
	}
	if err := c.SignalGroup(0); err != nil {
		t.Errorf("SignalGroup(0) with a live group: %v", err)
	}
	t0 := time.Now()
	c.StopBy(time.Now().Add(5 * time.Second))
	wait(t, c.TreeDone(), 2*time.Second, "TreeDone")
	t.Logf("leftover gone %v after StopBy", time.Since(t0))
	if isRunning(left) {
		t.Errorf("leftover %d still running", left)
	}
	if st := c.Status(); st.Code != 7 {
		t.Errorf("status changed to %v", st)
	}
	if !c.Outlived() {
		t.Error("Outlived() = false with a leftover")
	}
}

// TestSignal: Signal reaches the direct child only, SignalGroup them all.
func TestSignal(t *testing.T) {
	dir := t.TempDir()
	got, pidFile := filepath.Join(dir, "got"), filepath.Join(dir, "pid")
	spec := sh(`trap 'echo usr1 > ` + got + `' USR1; sleep 100 & echo $! > ` + pidFile + `; echo ready
while ! [ -e ` + got + ` ]; do sleep 0.01; done; exit 9`)
	ready := readyPipe(t, &spec)
	c := start(t, spec)
	ready()
	grand := waitPidFile(t, pidFile)
	killLeftover(t, grand)
	if err := c.Signal(unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	wait(t, c.Exited(), 5*time.Second, "exit after SIGUSR1")
	if st := c.Status(); st.Code != 9 {
		t.Errorf("status %v; want exit status 9 (trap ran)", st)
	}
	time.Sleep(20 * time.Millisecond)
	if !isRunning(grand) {
		t.Fatal("Signal reached the grandchild; SIGUSR1 would have killed it")
	}
	if err := c.Signal(unix.SIGUSR1); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit: %v; want os.ErrProcessDone", err)
	}
	if err := c.SignalGroup(unix.SIGUSR1); err != nil { // default action: the grandchild dies
		t.Fatal(err)
	}
	wait(t, c.TreeDone(), 2*time.Second, "TreeDone after SignalGroup")
	if err := c.SignalGroup(0); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SignalGroup after TreeDone: %v; want os.ErrProcessDone", err)
	}
	c.Stop(time.Second) // after TreeDone: nothing
}

// syncBuffer is a bytes.Buffer safe for the Child's goroutines and the
// test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestStopAfterCleanExit: stopping a tree that is already gone (what the
// command does after every exit) signals nothing.
func TestStopAfterCleanExit(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for range 20 {
		c := start(t, Spec{Argv: []string{"true"}, Logger: logger})
		<-c.Exited()
		c.StopBy(time.Now().Add(time.Second))
		wait(t, c.TreeDone(), slack, "TreeDone")
	}
	if out := logs.String(); strings.Contains(out, "SIGTERM") || !strings.Contains(out, "process tree gone") {
		t.Errorf("logs:\n%s", out)
	}
}

// TestCleanExitNoScan: see cleanExitNoScan; TestSubreaper runs it as a
// subreaper, the way zk-flock runs.
func TestCleanExitNoScan(t *testing.T) { cleanExitNoScan(t) }

// cleanExitNoScan: a command that ends leaving nothing behind costs no
// scan of /proc (10 µs per process of the machine), neither at Start nor
// for TreeDone, and TreeDone follows its exit at once.
func cleanExitNoScan(t *testing.T) {
	if isSubreaper() && hasChildren() {
		t.Fatal("this process has children already: Start has to scan to spare them")
	}
	const n = 20
	scansBefore := scans.Load()
	var lat []time.Duration
	for range n {
		c := start(t, Spec{Argv: []string{"true"}})
		<-c.Exited()
		t0 := time.Now()
		wait(t, c.TreeDone(), slack, "TreeDone")
		lat = append(lat, time.Since(t0))
	}
	if d := scans.Load() - scansBefore; d != 0 {
		t.Errorf("%d scans of /proc for %d commands that left nothing behind; want none", d, n)
	}
	slices.Sort(lat)
	t.Logf("Exited → TreeDone: median %v, max %v", lat[n/2], lat[n-1])
}

func TestLookPathExported(t *testing.T) {
	if p, err := LookPath("sh"); err != nil || !filepath.IsAbs(p) {
		t.Errorf(`LookPath("sh") = %q, %v; want an absolute path`, p, err)
	}
	if _, err := LookPath("zk-flock-no-such-command"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookPath of a missing command: %v; want ErrNotFound", err)
	}
}

func TestWait(t *testing.T) {
	c := start(t, Spec{Argv: []string{"sleep", "100"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait: %v; want DeadlineExceeded", err)
	}
	if st := c.Status(); st.Code != -1 {
		t.Errorf("Status before exit: %v; want code -1", st)
	}
	c.Kill()
	st, err := c.Wait(context.Background())
	if err != nil || st.Signal != unix.SIGKILL {
		t.Errorf("Wait: %v, %v; want killed by SIGKILL", st, err)
	}
}

// TestKillLatency measures Kill to Exited and to TreeDone, for one process
// and for a group of eleven (see also the subreaper variant in
// TestSubreaper, the mode zk-flock runs in).
func TestKillLatency(t *testing.T) { killLatency(t) }

func killLatency(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  Spec
		ready bool
	}{
		{"one process", Spec{Argv: []string{"sleep", "100"}}, false},
		{"group of 11", sh(`for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100 & done; echo ready; wait`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var exited, done []time.Duration
			for range 10 {
				spec := tc.spec
				ready := func() {}
				if tc.ready {
					ready = readyPipe(t, &spec)
				}
				c := start(t, spec)
				ready()
				t0 := time.Now()
				c.Kill()
				<-c.Exited()
				exited = append(exited, time.Since(t0))
				wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
				done = append(done, time.Since(t0))
			}
			slices.Sort(exited)
			slices.Sort(done)
			t.Logf("Kill → Exited: median %v, max %v; Kill → TreeDone: median %v, max %v",
				exited[len(exited)/2], exited[len(exited)-1], done[len(done)/2], done[len(done)-1])
			if done[len(done)/2] > slack {
				t.Errorf("median Kill → TreeDone %v; want a few ms", done[len(done)/2])
			}
		})
	}
}

// TestPdeathsig: a helper process (this test binary) starts a child with
// Pdeathsig, then churns OS threads for a second. The child must survive
// the churn and die when the helper is killed. (A control child whose
// parent thread ends dies at once: Pdeathsig is bound to the thread.)
func TestPdeathsig(t *testing.T) {
	for _, sig := range []syscall.Signal{unix.SIGTERM, unix.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=pdeathsig", "SUPERVISE_TEST_SIG="+strconv.Itoa(int(sig)))
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			r := bufio.NewReader(out)
			var pid int
			if line, err := r.ReadString('\n'); err != nil {
				t.Fatalf("helper: %v", err)
			} else if _, err := fmt.Sscanf(line, "pid %d", &pid); err != nil {
				t.Fatalf("helper said %q", line)
			}
			killLeftover(t, pid)
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "churned") {
				t.Fatalf("helper said %q, %v", line, err)
			} else {
				t.Log(line)
			}
			if !isRunning(pid) {
				t.Fatalf("child %d died while the helper churned threads", pid)
			}
			cmd.Process.Kill()
			deadline := time.Now().Add(2 * time.Second)
			for isRunning(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("child %d still running 2 s after its parent was killed", pid)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// init, in the pdeathsig helper, keeps the main goroutine on the main
// thread (TestMain runs on the main goroutine): the runtime never ends the
// main thread, so the control goroutine of pdeathsigHelper must not run on
// it, or it would not end its thread, and its child would live on.
func init() {
	if os.Getenv(helperEnv) == "pdeathsig" {
		runtime.LockOSThread()
	}
}

// pdeathsigHelper starts `sleep 100` with Pdeathsig, prints its pid, ends
// hundreds of OS threads, prints "churned" and waits to be killed. A control
// child started with Pdeathsig from a thread that ends must die of it,
// which shows that Pdeathsig is bound to the thread here too.
func pdeathsigHelper() int {
	sig, _ := strconv.Atoi(os.Getenv("SUPERVISE_TEST_SIG"))
	c, err := Start(Spec{Argv: []string{"sleep", "100"}, Pdeathsig: syscall.Signal(sig)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The control: a child started by os/exec with Pdeathsig from a thread
	// that then ends (here at once, as the churn below may end any thread
	// a goroutine forked from). It dies although its parent process lives.
	control := make(chan *exec.Cmd)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends when this returns
		cmd := exec.Command("sleep", "100")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.Signal(sig)}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		control <- cmd
	}()
	ctl := <-control
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Wait() }()
	fmt.Printf("pid %d\n", c.Pid())
	for t0 := time.Now(); time.Since(t0) < time.Second; {
		done := make(chan struct{}, 16)
		for range 16 {
			go func() {
				runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
				done <- struct{}{}
			}()
		}
		for range 16 {
			<-done
		}
		runtime.GC()
	}
	select {
	case <-c.Exited():
		fmt.Printf("child died: %v\n", c.Status())
		return 1
	default:
	}
	var ctlErr error
	select {
	case ctlErr = <-ctlDone:
	case <-time.After(2 * time.Second):
		fmt.Println("control survived the end of its parent thread")
		return 1
	}
	fmt.Printf("churned; control: %v\n", ctlErr)
	select {}
}

// TestSubreaper runs the tests that need this process to be a child
// subreaper in a subprocess, so that this one stays an ordinary process.
func TestSubreaper(t *testing.T) {
	if os.Getenv(helperEnv) == "subreaper" {
		t.Run("clean exit, no scan", cleanExitNoScan) // first: no other child yet
		t.Run("orphan escaped", subreaperOrphanEscaped)
		t.Run("double fork ignoring TERM", subreaperDoubleFork)
		t.Run("others' children spared", subreaperSparesOthers)
		t.Run("clean exit beside another child", subreaperCleanExitBeside)
		t.Run("fast children", subreaperFastChildren)
		t.Run("kill latency", killLatency)
		return
	}
	args := []string{"-test.run=^TestSubreaper$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"=subreaper")
	out, err := cmd.CombinedOutput()
	t.Logf("subprocess:\n%s", out)
	if err != nil {
		t.Fatalf("subprocess: %v", err)
	}
}

// subreaperOrphanEscaped: the child starts a process in a new session and
// exits; the orphan comes to us, TreeDone waits for it, SIGTERM reaches it.
func subreaperOrphanEscaped(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := start(t, sh(`setsid sh -c 'echo $$ > `+pidFile+`; exec sleep 100' & exit 0`))
	esc := waitPidFile(t, pidFile)
	killLeftover(t, esc)
	wait(t, c.Exited(), 2*time.Second, "Exited")
	if p, err := readStat(esc, make([]byte, statBufSize)); err != nil || p.ppid != os.Getpid() {
		t.Fatalf("orphan %d: %+v, %v; want adopted by us (%d)", esc, p, err, os.Getpid())
	}
	select {
	case <-c.TreeDone():
		t.Fatal("TreeDone closed while an escaped orphan runs")
	case <-time.After(200 * time.Millisecond):
	}
	t0 := time.Now()
	c.Stop(10 * time.Second)
	wait(t, c.TreeDone(), 2*time.Second, "TreeDone")
	t.Logf("orphan gone %v after Stop", time.Since(t0))
	if err := unix.Kill(esc, 0); err != unix.ESRCH { // we reaped it: not even a zombie
		t.Errorf("orphan %d: kill(0) = %v; want ESRCH", esc, err)
	}
}

// subreaperDoubleFork: an intermediate in a new session, ignoring SIGTERM,
// with a child of its own; SIGKILL at the deadline takes the intermediate,
// its child comes to us and is killed at the next poll.
func subreaperDoubleFork(t *testing.T) {
	const grace = 200 * time.Millisecond
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := start(t, sh(`setsid sh -c 'trap "" TERM; sleep 100 & echo $! > `+pidFile+`; wait' & exit 0`))
	leaf := waitPidFile(t, pidFile)
	killLeftover(t, leaf)
	wait(t, c.Exited(), 2*time.Second, "Exited")
	t0 := time.Now()
	c.Stop(grace)
	wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
	d := time.Since(t0)
	t.Logf("tree gone %v after Stop(%v)", d, grace)
	if d < grace || d > grace+slack {
		t.Errorf("tree gone after %v; want %v to %v", d, grace, grace+slack)
	}
	if err := unix.Kill(leaf, 0); err != unix.ESRCH {
		t.Errorf("leaf %d: kill(0) = %v; want ESRCH", leaf, err)
	}
}

// subreaperSparesOthers: children of this process that are not the tree's
// survive the sweep: one in our group started after Start, one in its own
// group started before Start.
func subreaperSparesOthers(t *testing.T) {
	before := exec.Command("sleep", "100")
	before.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := before.Start(); err != nil {
		t.Fatal(err)
	}
	defer before.Wait()
	defer before.Process.Kill()

	c := start(t, sh(`setsid sleep 100 & exit 0`))
	after := exec.Command("sleep", "100")
	if err := after.Start(); err != nil {
		t.Fatal(err)
	}
	defer after.Wait()
	defer after.Process.Kill()

	wait(t, c.Exited(), 2*time.Second, "Exited")
	c.Kill()
	wait(t, c.TreeDone(), 2*time.Second, "TreeDone")
	for _, cmd := range []*exec.Cmd{before, after} {
		if !isRunning(cmd.Process.Pid) {
			t.Errorf("process %d, not of the tree, was killed", cmd.Process.Pid)
		}
	}
}

// subreaperCleanExitBeside: with another child of this process about (in
// a group of its own, started before Start), the cheap check cannot tell
// that the tree is gone, and /proc is scanned after all; the other child
// is not taken for an orphan of the tree, and TreeDone follows the exit.
func subreaperCleanExitBeside(t *testing.T) {
	other := exec.Command("sleep", "100")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Wait()
	defer other.Process.Kill()

	scansBefore := scans.Load()
	c := start(t, Spec{Argv: []string{"true"}})
	wait(t, c.TreeDone(), slack, "TreeDone")
	if scans.Load() == scansBefore {
		t.Error("no scan of /proc although this process has another child")
	}
	if !isRunning(other.Process.Pid) {
		t.Errorf("process %d, not of the tree, was killed", other.Process.Pid)
	}
}

func subreaperFastChildren(t *testing.T) {
	for i := range 50 {
		c, err := Start(Spec{Argv: []string{"sh", "-c", "exit " + strconv.Itoa(i%4)}})
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Wait(context.Background()); st.Code != i%4 {
			t.Fatalf("run %d: status %v; want exit status %d", i, st, i%4)
		}
		wait(t, c.TreeDone(), time.Second, "TreeDone")
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want proc
		ok   bool
	}{
		{"42 (sleep) S 1 40 40 0 -1 4194560 95 0 0 0 0 0 0 0 20 0 1 0 12345 2285568 128 ...\n",
			proc{pid: 42, ppid: 1, pgrp: 40, state: 'S', start: 12345}, true},
		{"7 (a) b (c)) Z 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n",
			proc{pid: 7, ppid: 3, pgrp: 7, state: 'Z', start: 99}, true},
		{"7 (x) R 1 2", proc{}, false},
		{"garbage", proc{}, false},
	} {
		got, err := parseStat([]byte(tc.line))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, ok %v", tc.line, got, err, tc.want, tc.ok)
		}
	}
}

// TestPrepared: a Prepared starts with the environment given to Start
// added (replacing entries of the same keys), more than once; and a command
// removed after Prepare fails to start as a missing one.
func TestPrepared(t *testing.T) {
	dir := t.TempDir()
	out, f := outFile(t, dir)
	spec := sh(`echo "$A $B $C"`)
	spec.Env, spec.Stdout = []string{"A=1", "B=2", "B=22", "PATH=/usr/bin:/bin"}, f
	p, err := Prepare(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"B=3", "C=4"}, nil} {
		c, err := p.Start(extra...)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Wait(context.Background()); st.Code != 0 {
			t.Fatalf("status %v", st)
		}
	}
	b, _ := os.ReadFile(out)
	if want := "1 3 4\n1 22 \n"; string(b) != want {
		t.Errorf("output %q; want %q", b, want)
	}

	script := filepath.Join(dir, "gone")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err = Prepare(Spec{Argv: []string{script}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(script); err != nil {
		t.Fatal(err)
	}
	if c, err := p.Start(); !errors.Is(err, ErrNotFound) {
		if c != nil {
			c.Kill()
		}
		t.Errorf("Start of a command removed after Prepare: %v, want ErrNotFound", err)
	}
}

// TestStopTreeOnExit: with StopTreeOnExit, what the child leaves in its
// group is stopped, with the grace period, as soon as the child exits: a
// leftover that ignores SIGTERM goes at the end of the grace.
func TestStopTreeOnExit(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, script string
		min, max     time.Duration
	}{
		{"leaves on SIGTERM", `sleep 100 & echo $! > "$1"; exit 7`, 0, 2 * time.Second},
		// The command exits only once the leftover ignores SIGTERM.
		{"ignores SIGTERM", `(trap '' TERM; : > "$1.ready"; exec sleep 100) &
			while [ ! -e "$1.ready" ]; do sleep 0.01; done; echo $! > "$1"; exit 7`, 700 * time.Millisecond, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			spec := Spec{Argv: []string{"/bin/sh", "-c", tc.script, "sh", pidFile}}
			spec.StopTreeOnExit, spec.ExitGrace = true, time.Second
			c := start(t, spec)
			left := waitPidFile(t, pidFile)
			killLeftover(t, left)
			wait(t, c.Exited(), 2*time.Second, "Exited")
			t0 := time.Now()
			wait(t, c.TreeDone(), 5*time.Second, "TreeDone")
			if d := time.Since(t0); d < tc.min || d > tc.max {
				t.Errorf("tree gone %v after the exit, want %v to %v", d, tc.min, tc.max)
			}
			if isRunning(left) {
				t.Errorf("leftover %d still running", left)
			}
			if !c.Outlived() {
				t.Error("Outlived() = false with a leftover")
			}
			if st := c.Status(); st.Code != 7 {
				t.Errorf("status %v; want exit status 7", st)
			}
		})
	}
}

// TestStopTreeOnExitNothingLeft: with StopTreeOnExit and no grace, a
// command that leaves nothing behind is not "killed": no SIGKILL sent to
// its empty group, no warning.
func TestStopTreeOnExitNothingLeft(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for range 20 {
		c := start(t, Spec{Argv: []string{"true"}, Logger: logger, StopTreeOnExit: true})
		wait(t, c.TreeDone(), slack, "TreeDone")
		if c.Outlived() {
			t.Fatal("Outlived() = true; nothing was left")
		}
	}
	if out := logs.String(); strings.Contains(out, "SIGKILL") || strings.Contains(out, "SIGTERM") || !strings.Contains(out, "process tree gone") {
		t.Errorf("logs:\n%s", out)
	}
}
