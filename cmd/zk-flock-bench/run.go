package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// options is the parsed command line; zero sizes take the mode's defaults.
type options struct {
	smoke    bool
	out      string // the Markdown report
	plot     string // the plot, PNG
	repo     string // the repository to build zk-flock from
	rev      string // a git revision to build zk-flock from instead of the work tree
	goTool   string
	keep     bool
	args     []string // as given, for the report
	procRuns int      // runs of each tool in the whole-process comparison
	floors   int      // samples of each raw floor
	handoffs int      // single-waiter rounds
	herd     int      // handoffs per waiter count above one (rounds = herd/W, at least 1)
	waiters  []int    // waiter counts
	clients  int      // throughput: concurrent clients
	tpDur    time.Duration
	tpRounds int
	react    int           // reaction samples
	warm     int           // warm-up runs of each tool
	zkWarm   time.Duration // warming ZooKeeper's JIT up before anything is measured
	zkSync   bool          // ZooKeeper's forceSync
	idle     time.Duration
}

// modeDefaults fills the sizes left at zero: the full run's, or the smoke
// run's (tiny, seconds, every measurement still exercised).
func (o *options) modeDefaults() {
	full := options{procRuns: 200, floors: 200, handoffs: 100, herd: 120, waiters: []int{1, 10, 40, 100, 1000},
		clients: 8, tpDur: 3 * time.Second, tpRounds: 3, react: 50, warm: 5, idle: 100 * time.Millisecond, zkWarm: 10 * time.Second}
	smoke := options{procRuns: 5, floors: 5, handoffs: 5, herd: 10, waiters: []int{1, 4, 10},
		clients: 4, tpDur: 500 * time.Millisecond, tpRounds: 1, react: 3, warm: 1, idle: 50 * time.Millisecond, zkWarm: 500 * time.Millisecond}
	d := &full
	if o.smoke {
		d = &smoke
	}
	setInt := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	setInt(&o.procRuns, d.procRuns)
	setInt(&o.floors, d.floors)
	setInt(&o.handoffs, d.handoffs)
	setInt(&o.herd, d.herd)
	setInt(&o.clients, d.clients)
	setInt(&o.tpRounds, d.tpRounds)
	setInt(&o.react, d.react)
	setInt(&o.warm, d.warm)
	if o.tpDur <= 0 {
		o.tpDur = d.tpDur
	}
	if o.idle <= 0 {
		o.idle = d.idle
	}
	if o.zkWarm <= 0 {
		o.zkWarm = d.zkWarm
	}
	if len(o.waiters) == 0 {
		o.waiters = d.waiters
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{args: args}
	fs := flag.NewFlagSet("zk-flock-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.smoke, "smoke", false, "tiny sizes (seconds), report to a temporary directory: what CI runs")
	fs.StringVar(&o.out, "out", "", "Markdown report (default docs/BENCHMARKS.md; with -smoke a temporary file)")
	fs.StringVar(&o.plot, "plot", "", "plot of handoff latency against waiters, PNG (default docs/bench/handoff.png beside the report's docs/)")
	fs.StringVar(&o.repo, "repo", ".", "the repository to build zk-flock from")
	fs.StringVar(&o.rev, "rev", "", "build zk-flock from this git revision (git archive) instead of the work tree")
	fs.StringVar(&o.goTool, "go", "go", "the go command")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (servers' logs, zk-flock's stderr)")
	fs.IntVar(&o.procRuns, "runs", 0, "whole-process runs of each tool (default 200, smoke 5)")
	fs.IntVar(&o.floors, "floor-runs", 0, "samples of each raw ZooKeeper floor (default 200, smoke 5)")
	fs.IntVar(&o.handoffs, "handoffs", 0, "single-waiter handoff rounds (default 100, smoke 5)")
	fs.IntVar(&o.herd, "herd-handoffs", 0, "handoffs per waiter count above one: rounds of W waiters until this many (default 120, smoke 10)")
	waiters := fs.String("waiters", "", "waiter counts, comma-separated (default 1,10,40,100,1000; smoke 1,4,10)")
	fs.IntVar(&o.clients, "clients", 0, "throughput: concurrent clients (default 8, smoke 4)")
	fs.DurationVar(&o.tpDur, "throughput-time", 0, "throughput: time per tool and round (default 3s, smoke 500ms)")
	fs.IntVar(&o.tpRounds, "throughput-rounds", 0, "throughput: rounds (default 3, smoke 1)")
	fs.IntVar(&o.react, "reactions", 0, "reaction samples (default 50, smoke 3)")
	fs.DurationVar(&o.zkWarm, "zk-warmup", 0, "warm ZooKeeper up this long first, as a production server is (default 10s, smoke 500ms)")
	fs.BoolVar(&o.zkSync, "zk-fsync", true, "ZooKeeper fsyncs every transaction to its data directory on disk (forceSync=yes, its default, as production runs it); false: forceSync=no")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *waiters != "" {
		for _, f := range strings.Split(*waiters, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad waiter count %q", f)
			}
			o.waiters = append(o.waiters, n)
		}
	}
	o.modeDefaults()
	return o, nil
}

// results is everything one run measured; a measurement that failed has
// its error in errs and no figures.
type results struct {
	o                 *options
	started, finished time.Time
	machine           machine
	load              loadSamples
	commit            string
	env               *env

	zkWarmOps int // requests the warm-up sent
	floors    *floors
	costs     []*costResult
	herds     []*herdResult
	tp        []*tpResult
	reaction  []float64
	errs      map[string]error
}

// Names of the measurements, for errors and the report.
const (
	mFloors   = "raw ZooKeeper floor"
	mCosts    = "whole-process cost"
	mHerd     = "handoff and herd"
	mTP       = "throughput"
	mReaction = "reaction"
)

// run is the bench: parse flags, set up, measure, report. It returns 0, or
// 1 when a measurement failed (the report is still written), or 2 on bad
// usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "zk-flock-bench: %v\n", err)
		return 2
	}
	if err := o.resolveOutputs(); err != nil {
		fmt.Fprintf(stderr, "zk-flock-bench: %v\n", err)
		return 1
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", args...)
	}

	if la, err := loadAvg(); err == nil && la > float64(runtime.NumCPU())/2 {
		progress("the 1-minute load average is %.2f: other work will show in the figures (the report records the load)", la)
	}
	r := &results{o: o, started: time.Now(), errs: make(map[string]error)}
	stopLoad := r.load.sample(5 * time.Second)
	defer stopLoad()
	e, err := setup(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "zk-flock-bench: %v\n", err)
		return 1
	}
	defer e.close()
	r.env = e
	r.machine = readMachine(e)
	r.commit = gitDescribe(o.repo, o.rev)

	progress("warming up ZooKeeper (%v of sessions and lock cycles from %d clients)", o.zkWarm, o.clients)
	if r.zkWarmOps, err = warmZooKeeper(ctx, e.zkAddr, o.clients, o.zkWarm); err == nil {
		_, err = e.measureFloors(ctx, 10*o.warm)
	}
	if err != nil {
		r.errs[mFloors] = fmt.Errorf("warm-up: %w", err)
	}
	if r.errs[mFloors] == nil {
		progress("measuring the raw ZooKeeper floor (%d samples each)", o.floors)
		r.floors, r.errs[mFloors] = e.measureFloors(ctx, o.floors)
	}
	progress("measuring whole-process cost (%d interleaved runs of each tool)", o.procRuns)
	r.costs, r.errs[mCosts] = e.measureCosts(ctx, o.procRuns, o.warm)
	progress("measuring handoffs and herds (waiters %v)", o.waiters)
	r.herds = e.measureHerds(ctx, o.herdPlan(), o.idle, func(s string) { progress("%s", s) })
	for _, h := range r.herds {
		if h.Err != nil {
			r.errs[mHerd] = errors.Join(r.errs[mHerd], fmt.Errorf("%d waiters: %w", h.W, h.Err))
		}
	}
	progress("measuring throughput (%d clients, %v per tool, %d rounds)", o.clients, o.tpDur, o.tpRounds)
	r.tp, r.errs[mTP] = e.measureThroughput(ctx, o.clients, o.tpDur, o.tpRounds)
	progress("measuring reaction to a deleted lock node (%d samples)", o.react)
	r.reaction, r.errs[mReaction] = e.measureReaction(ctx, o.react)
	stopLoad()
	r.finished = time.Now()
	for k, v := range r.errs {
		if v == nil {
			delete(r.errs, k)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "zk-flock-bench: interrupted; no report written")
		return 1
	}

	writeTable(stdout, r)
	if err := writePlot(o.plot, r); err != nil {
		r.errs["plot"] = err
	}
	if err := writeReport(o.out, r); err != nil {
		fmt.Fprintf(stderr, "zk-flock-bench: %v\n", err)
		return 1
	}
	progress("wrote %s and %s", o.out, o.plot)
	if len(r.errs) > 0 {
		for k, v := range r.errs {
			fmt.Fprintf(stderr, "zk-flock-bench: %s failed: %v\n", k, v)
		}
		return 1
	}
	return 0
}

// herdPlan turns the options into rounds per waiter count.
func (o *options) herdPlan() []herdPlan {
	var plan []herdPlan
	for _, w := range o.waiters {
		n := (o.herd + w - 1) / w
		if w == 1 {
			n = o.handoffs
		}
		plan = append(plan, herdPlan{W: w, Rounds: max(1, n)})
	}
	return plan
}

// resolveOutputs sets the report's and plot's paths: docs/ in the
// repository, or a temporary directory for a smoke run.
func (o *options) resolveOutputs() error {
	if o.out == "" {
		if o.smoke {
			dir, err := os.MkdirTemp("", "zk-flock-bench-smoke-")
			if err != nil {
				return err
			}
			o.out = filepath.Join(dir, "BENCHMARKS.md")
		} else {
			o.out = filepath.Join(o.repo, "docs", "BENCHMARKS.md")
		}
	}
	if o.plot == "" {
		o.plot = filepath.Join(filepath.Dir(o.out), "bench", "handoff.png")
	}
	for _, p := range []string{o.out, o.plot} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// loadSamples records the 1-minute load average during the run.
type loadSamples struct {
	mu      sync.Mutex
	samples []float64
}

// sample reads /proc/loadavg now and every interval until stop is called.
func (l *loadSamples) sample(every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	read := func() {
		if v, err := loadAvg(); err == nil {
			l.mu.Lock()
			l.samples = append(l.samples, v)
			l.mu.Unlock()
		}
	}
	read()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

func (l *loadSamples) summary() summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.samples)
}

// loadAvg returns the 1-minute load average.
func loadAvg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("empty /proc/loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}
