package chaos

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
)

// Config says what a chaos run does.
type Config struct {
	Mode string // "smoke" or "long", for the report
	// Scenarios are the scenario IDs to run, in order; empty: all.
	Scenarios []string
	// Episodes is how many times each scenario's fault is injected.
	Episodes int
	// Steady is a first phase without faults.
	Steady time.Duration
	// Cycles: after the scenarios, the random mix runs until this many
	// lock cycles (holders) were seen in all, and for at least MixMin, at
	// most MixMax. Zero Cycles and MixMin: no mix.
	Cycles int
	MixMin time.Duration
	MixMax time.Duration
}

// SmokeConfig covers every fault kind once, in about two minutes.
func SmokeConfig() Config {
	return Config{Mode: "smoke", Episodes: 1, Steady: 3 * time.Second}
}

// LongConfig is `make chaos`: every fault kind several times, then a
// random mix until at least 10,000 lock cycles.
func LongConfig() Config {
	return Config{Mode: "long", Episodes: 3, Steady: 20 * time.Second, Cycles: 10000, MixMin: 60 * time.Second, MixMax: 15 * time.Minute}
}

// Run starts an environment, runs cfg's scenarios and returns the report
// and the history. Everything it started is stopped when it returns.
func Run(ctx context.Context, opts Options, cfg Config) (*Report, Snapshot, error) {
	began := time.Now()
	e, err := Start(ctx, opts)
	if err != nil {
		return nil, Snapshot{}, err
	}
	defer e.Stop()
	e.logf("ensemble up (%s), %d clients on %d locks; death times exact: %t", e.Dir(), len(e.Clients), len(e.Groups), e.Exact())
	loads := sampleLoad(ctx)

	all := Scenarios(e.T)
	byID := map[string]Scenario{}
	for _, sc := range all {
		byID[sc.ID] = sc
	}
	var run []Scenario
	if len(cfg.Scenarios) == 0 {
		run = all
	} else {
		for _, id := range cfg.Scenarios {
			sc, ok := byID[id]
			if !ok && id != "mix" {
				return nil, Snapshot{}, fmt.Errorf("unknown scenario %q", id)
			}
			if ok {
				run = append(run, sc)
			}
		}
	}
	var phases []Phase
	if cfg.Steady > 0 {
		phases = append(phases, e.Steady(ctx, cfg.Steady))
		e.logf("no fault: %d cycles so far", e.Cycles())
	}
	main := e.Group("a")
	if main == nil {
		main = e.Groups[0]
	}
	for _, sc := range run {
		phases = append(phases, e.RunScenario(ctx, sc, main, max(cfg.Episodes, 1)))
		e.logf("%s %s done: %d cycles so far, %v", sc.ID, sc.Name, e.Cycles(), time.Since(began).Round(time.Second))
	}
	if cfg.Cycles > 0 || cfg.MixMin > 0 {
		mixStart := time.Now()
		phases = append(phases, e.RunMix(ctx, all, func() bool {
			el := time.Since(mixStart)
			return el >= cfg.MixMax || (el >= cfg.MixMin && e.Cycles() >= cfg.Cycles)
		}))
		e.logf("mix done: %d cycles, %v", e.Cycles(), time.Since(began).Round(time.Second))
	}
	if err := ctx.Err(); err != nil {
		return nil, Snapshot{}, err
	}
	e.StopClients()
	// Every tree is dead once its zk-flock has exited; give the last ends
	// of file a moment to be read.
	deadline := time.Now().Add(5 * time.Second)
	for len(e.hist.Alive()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	end := wire.Now()
	alive := e.hist.Alive()
	left, lerr := e.Leftovers(ctx)
	if lerr != nil {
		left = append(left, "cannot list: "+lerr.Error())
	}
	snap := e.hist.Snapshot()
	rep := Analyze(snap, phases, all, e.ExpiredSessions(), e.Settings(), end)
	for _, iv := range alive {
		rep.Violations = append(rep.Violations, Violation{Kind: "alive", Lock: iv.Lock, A: iv.ID, B: iv.ID,
			Detail: fmt.Sprintf("interval %d (client %s) still alive after every zk-flock exited", iv.ID, iv.Client)})
	}
	rep.Leftovers = left
	rep.Date = time.Now()
	rep.Machine = Machine()
	rep.Mode = cfg.Mode
	rep.Duration = time.Since(began)
	if e.procs != nil {
		rep.Losses = e.procs.Losses()
	}
	rep.Load = loads()
	return rep, snap, nil
}

// sampleLoad samples the 1-minute load average every 5 s until the
// returned function is called, which returns the samples.
func sampleLoad(ctx context.Context) func() []float64 {
	var (
		mu      sync.Mutex
		samples []float64
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	read := func() {
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			var l float64
			if _, err := fmt.Sscan(string(b), &l); err == nil {
				mu.Lock()
				samples = append(samples, l)
				mu.Unlock()
			}
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		read()
		for {
			select {
			case <-t.C:
				read()
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() []float64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return append([]float64(nil), samples...)
	}
}

// Settings returns the self-fencing parameters zk-flock runs with here,
// derived as cmd/zk-flock derives them.
func (e *Env) Settings() Settings {
	margin := e.opts.Margin
	if margin == 0 {
		margin = max(200*time.Millisecond, e.T/10)
	}
	// The heartbeat is a tenth of the granted T (zklock's interval).
	budget := e.T - e.T/4 - e.T/10
	return Settings{
		Requested: e.opts.RequestTimeout,
		T:         e.T,
		Budget:    budget,
		Margin:    margin,
		Lead:      min(e.opts.Grace, budget/4),
		Grace:     e.opts.Grace,
		Heartbeat: e.T / 10,
		TickTime:  e.opts.TickTime,
		Exact:     e.Exact(),
	}
}
