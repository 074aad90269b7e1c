package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zk-flock/zk-flock/internal/testzk"
)

// Settings of the servers and of zk-flock under test.
const (
	// appID is the zk-flock namespace the bench's locks live in.
	appID = "zkflockbench"
	// sessionTimeout is zk-flock's configured timeout, in seconds: the
	// README's example, and what a fleet typically runs with.
	sessionTimeout = 5
	// zkTick is ZooKeeper's stock tickTime (testzk's default is much
	// shorter, for expiry tests; the bench measures a stock server).
	zkTick = 2 * time.Second
	// monitorTimeout is the bench's own session's timeout: long, so that
	// its pings hardly add to the request counts.
	monitorTimeout = 30 * time.Second
	// etcdStartTimeout bounds waiting for etcd to report itself healthy.
	etcdStartTimeout = 30 * time.Second
)

// zkJVMFlags are added after testzk's: testzk limits the JIT to its first
// tier so that three test JVMs start fast on two cores; a benchmarked
// server runs with the full JIT as a stock zkServer.sh does, and with room
// for a thousand sessions.
var zkJVMFlags = []string{"-XX:TieredStopAtLevel=4", "-Xmx1g"}

// env is everything one bench run needs: built binaries, servers, the
// children's report socket and the bench's own ZooKeeper session. close
// stops all of it.
type env struct {
	dir      string // temporary directory, removed by close
	zkflock  string // built zk-flock binary
	child    string // built child helper
	cfg      string // zk-flock configuration file
	flock    string // flock(1)
	etcdctl  string
	truePath string // true(1)
	stderr   *os.File
	errPath  string // where every zk-flock's stderr goes

	zk      *testzk.Cluster
	zkAddr  string
	etcd    *exec.Cmd
	etcdDir string
	// etcdTmpfs: etcdDir is on tmpfs, where its fsyncs cost nothing.
	etcdTmpfs bool
	etcdURL   string

	cc, ccVersion string // the C compiler that built the child helper, for the report

	hub *hub
	mon *zk.Conn // the bench's own session: reads queues, deletes nodes

	mu    sync.Mutex
	procs map[*proc]struct{} // running processes, killed by close

	keep bool
}

// setup builds the binaries and starts ZooKeeper, etcd and the hub.
func setup(ctx context.Context, o *options, progress io.Writer) (e *env, err error) {
	dir, err := os.MkdirTemp("", "zk-flock-bench-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	e = &env{dir: dir, procs: make(map[*proc]struct{}), keep: o.keep}
	defer func() {
		if err != nil {
			e.close()
			e = nil
		}
	}()

	// zk-flock comes from the work tree, or with -rev from a clean export
	// of that revision (the work tree may be mid-edit); the child helper is
	// the bench's own and always comes from the work tree.
	src := o.repo
	if o.rev != "" {
		src = filepath.Join(dir, "src")
		if err := exportRev(ctx, o.repo, o.rev, src); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(progress, "bench: building zk-flock (from %s) and the child helper in %s\n", src, dir)
	e.zkflock = filepath.Join(dir, "zk-flock")
	e.child = filepath.Join(dir, "child")
	build := exec.CommandContext(ctx, o.goTool, "build", "-trimpath", "-o", e.zkflock, "./cmd/zk-flock")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/zk-flock: %w\n%s", err, out)
	}
	if e.cc, e.ccVersion, err = buildChild(ctx, filepath.Join(o.repo, "cmd", "zk-flock-bench", "child", "child.c"), e.child); err != nil {
		return nil, err
	}

	for _, t := range []struct {
		name string
		p    *string
	}{{"flock", &e.flock}, {"etcdctl", &e.etcdctl}, {"true", &e.truePath}} {
		if *t.p, err = exec.LookPath(t.name); err != nil {
			return nil, fmt.Errorf("%s not found (make bench installs util-linux and etcd-client): %w", t.name, err)
		}
	}

	fmt.Fprintln(progress, "bench: starting ZooKeeper (standalone, loopback)")
	e.zk, err = testzk.Start(ctx, testzk.Options{
		TickTime: zkTick,
		JVMFlags: zkJVMFlags,
		ExtraConfig: func(int, testzk.Ports) []string {
			return []string{
				// ZooKeeper allows 60 connections per client address
				// by default; a thousand waiters on loopback need more.
				"maxClientCnxns=0",
				// testzk turns fsync off for throwaway test servers;
				// the bench runs ZooKeeper as installed unless told.
				"forceSync=" + forceSync(o.zkSync),
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start ZooKeeper: %w", err)
	}
	e.zkAddr = e.zk.Addrs()[0]

	fmt.Fprintln(progress, "bench: starting etcd (single member, loopback)")
	if err := e.startEtcd(ctx, o.zkSync); err != nil {
		return nil, err
	}

	e.cfg = filepath.Join(dir, "distributed-flock.json")
	conf := fmt.Sprintf("{\"host\": [%q], \"timeout\": %d, \"app_id\": %q}\n", e.zkAddr, sessionTimeout, appID)
	if err := os.WriteFile(e.cfg, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	e.errPath = filepath.Join(dir, "zk-flock.stderr")
	if e.stderr, err = os.OpenFile(e.errPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("open children's stderr: %w", err)
	}
	if e.hub, err = newHub(filepath.Join(dir, "child.sock")); err != nil {
		return nil, err
	}
	if e.mon, _, err = connectZK(ctx, e.zkAddr, monitorTimeout); err != nil {
		return nil, fmt.Errorf("bench's own ZooKeeper session: %w", err)
	}
	return e, nil
}

// exportRev writes the tree of git revision rev of repo into dir.
func exportRev(ctx context.Context, repo, rev, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tar := filepath.Join(filepath.Dir(dir), "src.tar")
	for _, argv := range [][]string{{"git", "-C", repo, "archive", "-o", tar, rev}, {"tar", "-xf", tar, "-C", dir}} {
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return os.Remove(tar)
}

// buildChild compiles the child helper, static, with $CC or cc, and
// returns the compiler and its version line, for the report.
func buildChild(ctx context.Context, src, out string) (cc, version string, err error) {
	cc = os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", "", fmt.Errorf("%s not found: the child helper is C (make bench installs Debian's gcc): %w", cc, err)
	}
	if b, err := exec.CommandContext(ctx, cc, "-O2", "-static", "-Wall", "-o", out, src).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("%s %s: %w\n%s", cc, src, err, b)
	}
	if v, err := exec.CommandContext(ctx, cc, "--version").Output(); err == nil {
		version, _, _ = strings.Cut(string(v), "\n")
	}
	return cc, version, nil
}

// forceSync is ZooKeeper's setting for fsync on (its default) or off.
func forceSync(on bool) string {
	if on {
		return "yes"
	}
	return "no"
}

// startEtcd starts a single-member etcd on two free loopback ports. Its
// data goes where ZooKeeper's does (the temporary directory), and both
// fsync as installed; with sync false, as ZooKeeper then does not, it goes
// on tmpfs when there is one, where its fsyncs cost nothing (etcd 3.4
// cannot turn them off).
func (e *env) startEtcd(ctx context.Context, sync bool) error {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return fmt.Errorf("etcd not found (make bench installs Debian's etcd-server): %w", err)
	}
	base := e.dir
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && !sync {
		base = "/dev/shm"
	}
	e.etcdTmpfs = onTmpfs(base)
	if e.etcdDir, err = os.MkdirTemp(base, "zk-flock-bench-etcd-"); err != nil {
		return fmt.Errorf("etcd data dir: %w", err)
	}
	client, err := testzk.FreePort()
	if err != nil {
		return err
	}
	peer, err := testzk.FreePort()
	if err != nil {
		return err
	}
	e.etcdURL = "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	log, err := os.Create(filepath.Join(e.dir, "etcd.log"))
	if err != nil {
		return fmt.Errorf("etcd log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--name", "bench", "--data-dir", filepath.Join(e.etcdDir, "data"),
		"--listen-client-urls", e.etcdURL, "--advertise-client-urls", e.etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "bench="+peerURL, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	e.etcd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(etcdStartTimeout)
	for {
		if etcdHealthy(e.etcdURL) {
			return nil
		}
		select {
		case err := <-exited:
			e.etcd = nil
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("etcd exited: %v\n%s", err, lastLines(string(b), 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("etcd not healthy within %v\n%s", etcdStartTimeout, lastLines(string(b), 20))
		}
	}
}

func etcdHealthy(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"true"`)
}

// close kills every process the bench started, stops the servers and
// removes the temporary directories (unless -keep).
func (e *env) close() {
	e.killAll()
	if e.mon != nil {
		e.mon.Close()
	}
	if e.hub != nil {
		e.hub.close()
	}
	if e.etcd != nil && e.etcd.Process != nil {
		_ = syscall.Kill(-e.etcd.Process.Pid, syscall.SIGKILL)
		_, _ = e.etcd.Process.Wait()
	}
	if e.zk != nil {
		_ = e.zk.Stop()
	}
	if e.stderr != nil {
		e.stderr.Close()
	}
	if e.etcdDir != "" {
		_ = os.RemoveAll(e.etcdDir)
	}
	if !e.keep {
		_ = os.RemoveAll(e.dir)
	}
}

// zkflockArgs is zk-flock's command line with the bench's config file.
func (e *env) zkflockArgs(args ...string) []string {
	return append([]string{e.zkflock, "-c", e.cfg}, args...)
}

// packets returns the server's zk_packets_received.
func (e *env) packets() (int64, error) {
	m, err := testzk.Mntr(e.zkAddr)
	if err != nil {
		return 0, err
	}
	return mntrInt(m, "zk_packets_received")
}

func mntrInt(m map[string]string, key string) (int64, error) {
	v, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("mntr has no %s", key)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("mntr %s: %w", key, err)
	}
	return n, nil
}

// connectZK opens a raw session and waits until the server grants it; it
// returns how long that took.
func connectZK(ctx context.Context, addr string, timeout time.Duration) (*zk.Conn, time.Duration, error) {
	t0 := time.Now()
	conn, events, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, 0, err
	}
	limit := time.NewTimer(10 * time.Second)
	defer limit.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, time.Since(t0), nil
			}
		case <-limit.C:
			conn.Close()
			return nil, 0, errors.New("no session within 10s")
		case <-ctx.Done():
			conn.Close()
			return nil, 0, ctx.Err()
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// childrenErrors returns the tail of what the zk-flock processes wrote on
// stderr, for error messages.
func (e *env) childrenErrors() string {
	b, err := os.ReadFile(e.errPath)
	if err != nil || len(b) == 0 {
		return "(zk-flock wrote nothing on stderr)"
	}
	return "zk-flock's stderr ends with:\n" + lastLines(string(b), 10)
}
