package main

// End-to-end tests of the built binary, run the way a user runs it, against a
// real ZooKeeper: TestMain builds zk-flock once with -race and starts one
// standalone ZooKeeper shared by every test. Each test uses its own app_id,
// so most run in parallel. Under -short they are skipped (they need the
// build and ZooKeeper); the unit tests of this package still run.
//
// Files: e2e_main_test.go (this harness), e2e_run_test.go (running the
// command, environment, -l, -d, load, logs, --help), e2e_lock_test.go (busy,
// -w, -n, a mixed fleet with the original), e2e_signals_test.go (signals,
// lock loss, self-fencing, parent death), e2e_badinput_test.go (bad
// configuration, flags and commands).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zk-flock/zk-flock/internal/testzk"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

var (
	// zkServer is the ZooKeeper shared by the end-to-end tests: tickTime
	// 200 ms, so sessions may last 0.4 s to 4 s.
	zkServer *testzk.Cluster
	// zkAddr is its client address.
	zkAddr string
	// binPath is the zk-flock binary under test, built with -race.
	binPath string
)

// e2eParallel is how many end-to-end tests run at once unless -parallel is
// given: they mostly sleep and wait on ZooKeeper, so more than GOMAXPROCS
// (2 on the CI machine) keeps the package's wall time down without
// starving the timing checks.
const e2eParallel = "4"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", e2eParallel)
	}
	os.Exit(e2eMain(m))
}

func e2eMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "zk-flock-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "zk-flock")
	if err := buildBinary(binPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	return testzk.Main(m, testzk.Options{TickTime: 200 * time.Millisecond}, func(c *testzk.Cluster) {
		zkServer = c
		zkAddr = c.Addrs()[0]
	})
}

// buildBinary builds ./cmd/zk-flock with -race into out, and its metrics
// helper beside it, from the module root found above the working directory.
func buildBinary(out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		return fmt.Errorf("find the go command: %w", err)
	}
	// The metrics helper goes beside it, where zk-flock looks first.
	for _, b := range []struct{ out, pkg string }{{out, "./cmd/zk-flock"}, {filepath.Join(filepath.Dir(out), "zk-flock-metrics"), "./cmd/zk-flock-metrics"}} {
		cmd := exec.Command(goTool, "build", "-race", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build -race %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// moduleRoot walks up from the working directory to the go.mod of this
// module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && regexp.MustCompile(`(?m)^module github\.com/zk-flock/zk-flock\s*$`).Match(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/zk-flock/zk-flock above the working directory")
		}
		dir = parent
	}
}

// e2e skips t under -short: it needs the built binary and ZooKeeper.
func e2e(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the built binary and ZooKeeper")
	}
}

// flockEnv is one test's world: an app_id of its own, a configuration file
// and a log file in a temporary directory.
type flockEnv struct {
	t    *testing.T
	app  string // app_id
	root string // "/" + app
	dir  string // temporary directory for markers
	conf string // configuration file
	log  string // zk-flock's log file
}

var appSeq atomic.Int64

var notAppChar = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newEnv writes a configuration for ZooKeeper zkAddr: session timeout 4 s
// (the server's maximum), a unique app_id, DEBUG logging to a file. Each
// edit may change the configuration before it is written.
func newEnv(t *testing.T, edits ...func(cfg map[string]any)) *flockEnv {
	t.Helper()
	e2e(t)
	dir := t.TempDir()
	app := fmt.Sprintf("e2e-%s-%d-%d", notAppChar.ReplaceAllString(t.Name(), "_"), os.Getpid(), appSeq.Add(1))
	e := &flockEnv{t: t, app: app, root: "/" + app, dir: dir,
		conf: filepath.Join(dir, "flock.json"), log: filepath.Join(dir, "zk-flock.log")}
	cfg := map[string]any{
		"host":    []string{zkAddr},
		"timeout": 4,
		"app_id":  app,
		"logger":  map[string]any{"path": e.log, "level": "DEBUG"},
	}
	for _, edit := range edits {
		edit(cfg)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	e.writeConf(string(b))
	return e
}

// writeConf replaces the configuration file's text.
func (e *flockEnv) writeConf(text string) {
	e.t.Helper()
	// 0600: zk-flock warns about a configuration holding a password that
	// others can read.
	if err := os.WriteFile(e.conf, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// path returns a file name in the test's directory.
func (e *flockEnv) path(name string) string { return filepath.Join(e.dir, name) }

// node returns the path of a node under the test's app root.
func (e *flockEnv) node(name string) string { return e.root + "/" + name }

// result is how one zk-flock run ended.
type result struct {
	code   int    // exit status; -1 if killed by a signal
	signal string // the signal that killed it, if any
	stdout string
	stderr string
	dur    time.Duration // from start to exit
	pid    int
	end    time.Time
}

func (r result) String() string {
	return fmt.Sprintf("exit %d%s after %v, stdout %q, stderr %q", r.code, r.signal, r.dur.Round(time.Millisecond), r.stdout, r.stderr)
}

// stderrLines returns stderr's lines without the trailing newline.
func (r result) stderrLines() []string {
	s := strings.TrimSuffix(r.stderr, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// proc is a running zk-flock.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	start  time.Time
	stdout *os.File
	stderr *os.File
	done   chan struct{}
	res    result
}

// runTimeout bounds every zk-flock run, so that nothing hangs.
const runTimeout = 60 * time.Second

var outSeq atomic.Int64

// binGORACE configures the race detector in the binary under test: by
// default it sleeps 1 s before exiting (atexit_sleep_ms), which every
// timing check would see. A race it finds is still reported on stderr and
// turns the exit status into 66, which the tests catch.
var binGORACE = "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")

// startRaw starts the binary with exactly args. Its stdout and stderr go
// to files (not pipes), so that its exit is seen when it happens, even if
// a leftover grandchild still holds them.
func startRaw(t *testing.T, args ...string) *proc {
	t.Helper()
	return startExec(t, binPath, args...)
}

// startExec starts prog args... as startRaw starts the binary: prog is the
// binary itself, or a shell that execs it.
func startExec(t *testing.T, prog string, args ...string) *proc {
	t.Helper()
	e2e(t)
	dir := t.TempDir()
	n := outSeq.Add(1)
	stdout, err := os.Create(filepath.Join(dir, fmt.Sprintf("stdout-%d", n)))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, fmt.Sprintf("stderr-%d", n)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), binGORACE)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	p := &proc{t: t, cmd: cmd, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start zk-flock: %v", err)
	}
	go func() {
		defer cancel()
		defer close(p.done)
		err := cmd.Wait()
		end := time.Now()
		p.res.end = end
		p.res.dur = end.Sub(p.start)
		p.res.pid = cmd.Process.Pid
		p.res.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.res.signal = " (signal " + ws.Signal().String() + ")"
		}
		if ctx.Err() != nil {
			p.res.signal += " (killed: ran longer than " + runTimeout.String() + ")"
		} else if err != nil && !errors.As(err, new(*exec.ExitError)) {
			p.res.signal += " (" + err.Error() + ")"
		}
		stdout.Close()
		stderr.Close()
		o, _ := os.ReadFile(stdout.Name())
		e, _ := os.ReadFile(stderr.Name())
		p.res.stdout, p.res.stderr = string(o), string(e)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// start starts zk-flock with this test's configuration and -l 0 (the
// default minimum lock time, 5 s, would slow every test down; a later -l
// in args wins; not with --status or --list, which refuse it), then args.
func (e *flockEnv) start(args ...string) *proc {
	e.t.Helper()
	pre := []string{"-c", e.conf, "-l", "0"}
	if slices.Contains(args, "--status") || slices.Contains(args, "--list") {
		pre = pre[:2]
	}
	return startRaw(e.t, append(pre, args...)...)
}

// run runs zk-flock as start does and waits for it.
func (e *flockEnv) run(args ...string) result {
	e.t.Helper()
	return e.start(args...).wait()
}

// pid returns the zk-flock process's pid.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// wait waits for zk-flock to exit.
func (p *proc) wait() result {
	<-p.done
	return p.res
}

// exited reports whether zk-flock has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitTimeout waits at most d for zk-flock to exit, failing the test if it
// does not.
func (p *proc) waitTimeout(d time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
		return p.res
	case <-time.After(d):
		p.t.Fatalf("zk-flock (pid %d) still running after %v", p.pid(), d)
		return result{}
	}
}

// signal sends sig to zk-flock.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := syscall.Kill(p.pid(), sig); err != nil {
		p.t.Fatalf("kill %d %v: %v", p.pid(), sig, err)
	}
}

// fileExists reports whether name exists.
func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// readFile returns name's text, or "" if it cannot be read.
func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

// waitFile waits until name exists and is not empty, and returns its text.
func waitFile(t *testing.T, name string, timeout time.Duration) string {
	t.Helper()
	testzk.WaitFor(t, timeout, "file "+name, func() bool { return readFile(name) != "" })
	time.Sleep(20 * time.Millisecond) // let the writer finish its line
	return readFile(name)
}

// touch creates name.
func touch(t *testing.T, name string) {
	t.Helper()
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPid reads a pid a child wrote to name.
func readPid(t *testing.T, name string) int {
	t.Helper()
	s := strings.TrimSpace(waitFile(t, name, 10*time.Second))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		t.Fatalf("%s: want a pid, got %q", name, s)
	}
	return pid
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// killLeftover makes sure a process a test started through zk-flock does
// not outlive the test, whatever the test found.
func killLeftover(t *testing.T, pid int) {
	t.Cleanup(func() {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// sq quotes s for sh.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// nowNanos is the shell snippet printing the Unix time in nanoseconds.
const nowNanos = "$(date +%s%N)"

// nopLogger silences the go-zookeeper client.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// zkConn opens an independent ZooKeeper session for checks and for
// playing a foreign holder (the original zk-flock). It is closed when the
// test ends, or earlier by the test.
func zkConn(t *testing.T, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{zkAddr}, timeout, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatal("no ZooKeeper session for the test's own client")
		}
	}
}

// checker is the test's own ZooKeeper client for looking at nodes.
func (e *flockEnv) checker() *zk.Conn { return zkConn(e.t, 4*time.Second) }

// zkRetry runs op until it returns anything but a connection error, for
// at most 20 s: on a loaded machine the test's own client may lose its
// connection for a moment, which says nothing about zk-flock.
func zkRetry(t *testing.T, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := op()
		transient := errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionExpired)
		switch {
		case !transient:
			return
		case time.Now().After(deadline):
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exists reports whether node p exists.
func exists(t *testing.T, c *zk.Conn, p string) bool {
	t.Helper()
	var ok bool
	var err error
	zkRetry(t, "exists "+p, func() error { ok, _, err = c.Exists(p); return err })
	if err != nil {
		t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

// children returns p's children, sorted; none if p does not exist.
func children(t *testing.T, c *zk.Conn, p string) []string {
	t.Helper()
	var kids []string
	var err error
	zkRetry(t, "children "+p, func() error { kids, _, err = c.Children(p); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		t.Fatalf("children %s: %v", p, err)
	}
	slices.Sort(kids)
	return kids
}

// get returns node p's data and stat, or a nil stat if p does not exist.
func get(t *testing.T, c *zk.Conn, p string) ([]byte, *zk.Stat) {
	t.Helper()
	var data []byte
	var st *zk.Stat
	var err error
	zkRetry(t, "get "+p, func() error { data, st, err = c.Get(p); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return data, st
}

// waitNode waits until node p exists.
func waitNode(t *testing.T, c *zk.Conn, p string) {
	t.Helper()
	testzk.WaitFor(t, 15*time.Second, "node "+p, func() bool { return exists(t, c, p) })
}

// zkCli runs ZooKeeper's own client against the shared server.
func zkCli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := testzk.ZkCli(ctx, zkAddr, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// statField returns field (e.g. "cZxid") of zkCli stat output as a number.
func statField(t *testing.T, stat, field string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + field + ` = (\S+)$`).FindStringSubmatch(stat)
	if m == nil {
		t.Fatalf("no %s in zkCli stat output:\n%s", field, stat)
	}
	n, err := strconv.ParseInt(m[1], 0, 64)
	if err != nil {
		t.Fatalf("%s = %s: %v", field, m[1], err)
	}
	return n
}

// logLine matches one line of zk-flock's log in the original's format.
var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|WARN|INFO|DEBUG) +\d+ `)

// logText returns the test's zk-flock log.
func (e *flockEnv) logText() string { return readFile(e.log) }

// checkQuiet fails unless r printed nothing at all.
func checkQuiet(t *testing.T, what string, r result) {
	t.Helper()
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("%s: want empty stdout and stderr, got %v", what, r)
	}
}

// oneStderrLine fails unless r's stderr is exactly one line holding each
// of subs, and its stdout is empty.
func oneStderrLine(t *testing.T, what string, r result, subs ...string) {
	t.Helper()
	lines := r.stderrLines()
	if len(lines) != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("%s: want exactly one line on stderr, got %q", what, r.stderr)
	}
	for _, s := range subs {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("%s: stderr %q does not mention %q", what, r.stderr, s)
		}
	}
	if r.stdout != "" {
		t.Errorf("%s: want empty stdout, got %q", what, r.stdout)
	}
}

// event is one line "start NANOS [rest]" or "end NANOS" that a child
// appended to a shared file.
type event struct {
	start bool
	at    int64  // Unix time, nanoseconds
	rest  string // what followed the time
}

// parseEvents reads the lines children appended to one file, in the file's
// order (the time order of the writes).
func parseEvents(t *testing.T, text string) []event {
	t.Helper()
	var events []event
	for l := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "start" && f[0] != "end" {
			t.Fatalf("bad line %q in\n%s", l, text)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("bad time in %q: %v", l, err)
		}
		events = append(events, event{start: f[0] == "start", at: n, rest: strings.Join(f[2:], " ")})
	}
	return events
}

// maxConcurrent is the largest number of children running at once
// according to their start and end lines, taken in time order (children
// running side by side may append out of order), and the number of starts.
func maxConcurrent(t *testing.T, text string) (most, starts int) {
	t.Helper()
	events := parseEvents(t, text)
	slices.SortStableFunc(events, func(a, b event) int {
		switch {
		case a.at != b.at:
			return cmp.Compare(a.at, b.at)
		case a.start == b.start:
			return 0
		case a.start:
			return 1 // an end at the same nanosecond first
		default:
			return -1
		}
	})
	running := 0
	for _, ev := range events {
		if ev.start {
			running++
			starts++
			most = max(most, running)
		} else {
			running--
		}
	}
	return most, starts
}

// jsonObject decodes a JSON object.
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("want a JSON object, got %q: %v", s, err)
	}
	return m
}

// ephemerals lists, recursively, the ephemeral nodes under p (paths
// relative to p, sorted): what sessions hold there. Persistent and
// container nodes, such as the waiters' queue directories that ZooKeeper
// removes only some time after they empty, are left out.
func ephemerals(t *testing.T, c *zk.Conn, p string) []string {
	t.Helper()
	var out []string
	var walk func(rel string)
	walk = func(rel string) {
		for _, kid := range children(t, c, p+rel) {
			r := rel + "/" + kid
			_, st := get(t, c, p+r)
			if st == nil {
				continue
			}
			if st.EphemeralOwner != 0 {
				out = append(out, r[1:])
			}
			walk(r)
		}
	}
	walk("")
	slices.Sort(out)
	return out
}

// zkCliList parses zkCli's "ls" output, "[a, b]", leaving out zk-flock's
// queue directories.
func zkCliList(t *testing.T, out string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\[(.*)\]$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no list in zkCli ls output:\n%s", out)
	}
	var names []string
	for n := range strings.SplitSeq(m[1], ", ") {
		if n != "" && n != zklock.QueueDir && n != zklock.SlotQueueDir {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
