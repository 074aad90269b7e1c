package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sys/unix"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
	"github.com/zk-flock/zk-flock/internal/faultproxy"
	"github.com/zk-flock/zk-flock/internal/testzk"
)

// AppID is the app_id of every client: locks live under /chaos.
const AppID = "chaos"

// Options configure a chaos run's environment.
type Options struct {
	// ZKFlock and Worker are the binaries to run; Build builds them.
	ZKFlock, Worker string
	// Dir holds the socket, the clients' configuration files and, with
	// Keep, what is left for a look after the run. Empty: a temporary
	// directory, removed at the end.
	Dir  string
	Keep bool
	// RequestTimeout is the session timeout the clients request (the
	// configuration's "timeout"); ServerMaxTimeout caps it on the servers,
	// so the negotiated timeout T is the smaller one. The default asks for
	// 4 s and gets 3 s: zk-flock must fence on the 3 s it was granted.
	RequestTimeout   time.Duration
	ServerMaxTimeout time.Duration
	// TickTime is the ensemble's tick (200 ms).
	TickTime time.Duration
	// Grace and Margin go to every client's configuration ("grace",
	// "margin"); zero Margin leaves zk-flock's default.
	Grace  time.Duration
	Margin time.Duration
	// Wait is zk-flock's -w.
	Wait time.Duration
	// FlockArgs are more zk-flock options for every run.
	FlockArgs []string
	// Groups are the locks and their clients.
	Groups []GroupSpec
	// MaxLife bounds every worker and grandchild.
	MaxLife time.Duration
	// NoProcWatch forces end-of-file death times even as root.
	NoProcWatch bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// GroupSpec describes one lock and its clients.
type GroupSpec struct {
	Name    string
	Slots   int // 0 or 1: a plain lock; N > 1: zk-flock -n N
	Clients int
	HoldMin time.Duration
	HoldMax time.Duration
}

// DefaultOptions are the settings the figures in docs/RELIABILITY.md were
// measured with.
func DefaultOptions() Options {
	return Options{
		RequestTimeout:   4 * time.Second,
		ServerMaxTimeout: 3 * time.Second,
		TickTime:         200 * time.Millisecond,
		Grace:            time.Second,
		Wait:             10 * time.Second,
		MaxLife:          120 * time.Second,
		Groups: []GroupSpec{
			{Name: "a", Clients: 3, HoldMin: 5 * time.Millisecond, HoldMax: 40 * time.Millisecond},
			{Name: "b", Clients: 2, HoldMin: 5 * time.Millisecond, HoldMax: 40 * time.Millisecond},
			{Name: "s", Slots: 2, Clients: 3, HoldMin: 5 * time.Millisecond, HoldMax: 60 * time.Millisecond},
		},
	}
}

// Env is a running chaos environment: a 3-server ZooKeeper ensemble on
// loopback, the harness's hub, and client loops, each behind its own
// proxies.
type Env struct {
	opts    Options
	dir     string
	zkflock string
	worker  string
	ZK      *testzk.Cluster
	hub     *Hub
	hist    *History
	procs   *ProcWatch
	Groups  []*Group
	Clients []*Client
	clock   int64 // CLOCK_REALTIME − CLOCK_MONOTONIC, ns
	T       time.Duration
	holds   map[string][2]time.Duration // group → an ordinary holder's hold time range

	cancel context.CancelFunc
	wg     sync.WaitGroup
	rnd    *rand.Rand
	rndMu  sync.Mutex
}

func (e *Env) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// History returns the run's history.
func (e *Env) History() *History { return e.hist }

// Exact reports whether death times come from the kernel's process events
// (else from end of file on the workers' socket).
func (e *Env) Exact() bool { return e.procs != nil }

// Build builds zk-flock and the worker into dir (without the race
// detector: the harness times them) and returns their paths. It must run
// inside the module.
func Build(ctx context.Context, dir string) (zkflock, worker string, err error) {
	zkflock, worker = filepath.Join(dir, "zk-flock"), filepath.Join(dir, "worker")
	for _, b := range []struct{ out, pkg string }{
		{zkflock, "github.com/zk-flock/zk-flock/cmd/zk-flock"},
		{worker, "github.com/zk-flock/zk-flock/internal/chaos/worker"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s (run inside the zk-flock module, or give the binaries): %w\n%s", b.pkg, err, out)
		}
	}
	return zkflock, worker, nil
}

// Start starts the environment: the process watch (if the kernel lets us),
// the hub, the ensemble, the proxies and the client loops. Stop undoes it.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	e := &Env{opts: opts, T: min(opts.RequestTimeout, opts.ServerMaxTimeout), rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	e.clock = clockOffset()
	if opts.Dir == "" {
		if e.dir, err = os.MkdirTemp("", "zk-flock-chaos-"); err != nil {
			return nil, err
		}
	} else {
		e.dir = opts.Dir
		if err := os.MkdirAll(e.dir, 0o755); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	e.zkflock, e.worker = opts.ZKFlock, opts.Worker
	if e.zkflock == "" || e.worker == "" {
		if e.zkflock, e.worker, err = Build(ctx, e.dir); err != nil {
			return e, err
		}
	}
	if !opts.NoProcWatch {
		if e.procs, err = StartProcWatch(); err != nil {
			e.logf("death times from end of file on the workers' socket (conservative): %v", err)
			e.procs, err = nil, nil
		}
	}
	// What the hub's goroutines read is built before the hub: they learn of
	// workers through other processes, which the race detector cannot see.
	slots := map[string]int{}
	e.holds = map[string][2]time.Duration{}
	for _, g := range opts.Groups {
		slots["/"+AppID+"/"+g.Name] = max(g.Slots, 1)
		e.holds["/"+AppID+"/"+g.Name] = [2]time.Duration{g.HoldMin, g.HoldMax}
	}
	e.hist = NewHistory(e.procs, e.plan)
	if e.hub, err = NewHub(e.dir, e.hist, func(group string) int { return slots[group] }); err != nil {
		return e, err
	}
	e.ZK, err = testzk.Start(ctx, testzk.Options{
		Servers:           3,
		TickTime:          opts.TickTime,
		MaxSessionTimeout: opts.ServerMaxTimeout,
		KeepDirs:          opts.Keep,
	})
	if err != nil {
		return e, fmt.Errorf("start ZooKeeper: %w", err)
	}
	addrs := e.ZK.Addrs()
	for _, gs := range opts.Groups {
		g := &Group{Name: gs.Name, Path: "/" + AppID + "/" + gs.Name, Slots: max(gs.Slots, 1), HoldMin: gs.HoldMin, HoldMax: gs.HoldMax}
		for i := range gs.Clients {
			c := &Client{Name: fmt.Sprintf("%s%d", gs.Name, i), Group: g, env: e, done: make(chan struct{})}
			var hosts []string
			for _, a := range addrs {
				p, err := faultproxy.New(a)
				if err != nil {
					return e, err
				}
				c.Proxies = append(c.Proxies, p)
				hosts = append(hosts, p.Addr())
			}
			c.cfg = filepath.Join(e.dir, c.Name+".json")
			if err := e.writeConfig(c.cfg, hosts); err != nil {
				return e, err
			}
			g.Clients = append(g.Clients, c)
			e.Clients = append(e.Clients, c)
		}
		e.Groups = append(e.Groups, g)
	}
	lctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	for _, c := range e.Clients {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			c.loop(lctx)
		}()
	}
	return e, nil
}

func (e *Env) writeConfig(path string, hosts []string) error {
	cfg := map[string]any{
		"host":    hosts,
		"timeout": e.opts.RequestTimeout.Seconds(),
		"app_id":  AppID,
		"logger":  map[string]string{"path": "stderr", "level": "INFO", "zklevel": "ERROR", "format": "json"},
		"grace":   e.opts.Grace.Seconds(),
	}
	if e.opts.Margin > 0 {
		cfg["margin"] = e.opts.Margin.Seconds()
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// plan is what an ordinary holder does: hold for a random time and write
// to the toy resource.
func (e *Env) plan(group string) wire.Plan {
	if h, ok := e.holds[group]; ok {
		return wire.Plan{HoldMs: e.randDuration(h[0], h[1]).Milliseconds(), WriteMs: 10}
	}
	return wire.Plan{HoldMs: 20, WriteMs: 10}
}

func (e *Env) randDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	e.rndMu.Lock()
	defer e.rndMu.Unlock()
	return lo + time.Duration(e.rnd.Int64N(int64(hi-lo)))
}

// StopClients ends the client loops: each current zk-flock gets SIGTERM,
// stops its command and releases its lock.
func (e *Env) StopClients() {
	if e.cancel == nil {
		return
	}
	for _, c := range e.Clients {
		c.Release(faultproxy.Both)
		c.SetDelay(0)
	}
	e.cancel()
	e.wg.Wait()
}

// Stop stops everything the environment started: client loops, workers
// still alive, proxies, the ensemble, the hub and the process watch.
func (e *Env) Stop() {
	e.StopClients()
	if e.hist != nil {
		for _, iv := range e.hist.Alive() {
			// Normally none: every tree is dead once the loops are. Kill
			// what a broken run left, by pid and by group.
			_ = unix.Kill(-iv.Pid, syscall.SIGKILL)
			_ = unix.Kill(iv.Pid, syscall.SIGKILL)
			for _, k := range iv.kidsCopy(e.hist) {
				_ = unix.Kill(k, syscall.SIGKILL)
			}
		}
	}
	for _, c := range e.Clients {
		for _, p := range c.Proxies {
			p.Close()
		}
	}
	if e.ZK != nil {
		if err := e.ZK.Stop(); err != nil {
			e.logf("stop ZooKeeper: %v", err)
		}
	}
	if e.hub != nil {
		e.hub.Close()
	}
	if e.procs != nil {
		e.procs.Close()
	}
	if e.opts.Dir == "" && !e.opts.Keep && e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// Dir is the environment's directory.
func (e *Env) Dir() string { return e.dir }

// Leftovers lists the lock nodes under /chaos, checked with a client of its
// own after the loops have stopped: every zk-flock has exited by then, and
// any node left must go within the session timeout.
func (e *Env) Leftovers(ctx context.Context) ([]string, error) {
	conn, _, err := zk.Connect(e.ZK.Addrs(), 4*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(2*e.T + time.Second)
	for {
		kids, _, err := conn.Children("/" + AppID)
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil
		}
		if err == nil && len(kids) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return nil, err
			}
			var left []string
			for _, k := range kids {
				_, st, err := conn.Get("/" + AppID + "/" + k)
				if err == nil && st.EphemeralOwner != 0 {
					left = append(left, fmt.Sprintf("%s (session 0x%x)", k, st.EphemeralOwner))
				}
			}
			return left, nil
		}
		// Only ephemeral nodes count: the root may keep persistent ones.
		if err == nil {
			eph := 0
			for _, k := range kids {
				if _, st, err := conn.Get("/" + AppID + "/" + k); err == nil && st.EphemeralOwner != 0 {
					eph++
				}
			}
			if eph == 0 {
				return nil, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// ExpiredSessions reads the servers' logs for the sessions the ensemble
// expired ("Expiring session 0x…, timeout of …ms exceeded") and returns
// when each was first expired, on the monotonic clock (the log's
// millisecond wall-clock time, converted).
func (e *Env) ExpiredSessions() map[string]int64 {
	out := map[string]int64{}
	for _, s := range e.ZK.Servers() {
		b, err := os.ReadFile(s.LogPath())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			i := strings.Index(line, "Expiring session 0x")
			if i < 0 || len(line) < 23 {
				continue
			}
			rest := line[i+len("Expiring session "):]
			j := strings.IndexByte(rest, ',')
			if j < 0 {
				continue
			}
			t, err := time.ParseInLocation("2006-01-02 15:04:05,000", line[:23], time.Local)
			if err != nil {
				continue
			}
			id, at := strings.ToLower(rest[:j]), e.wallToMono(t)
			if old, ok := out[id]; !ok || at < old {
				out[id] = at
			}
		}
	}
	return out
}

// clockOffset measures CLOCK_REALTIME − CLOCK_MONOTONIC, to place zk-flock's
// log times (wall clock) on the monotonic clock.
func clockOffset() int64 {
	best, off := int64(1<<62), int64(0)
	for range 5 {
		a := wire.Now()
		w := time.Now().UnixNano()
		b := wire.Now()
		if b-a < best {
			best, off = b-a, w-(a+b)/2
		}
	}
	return off
}

func (e *Env) wallToMono(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano() - e.clock
}
