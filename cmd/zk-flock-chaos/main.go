// Command zk-flock-chaos is the fault-injection suite of zk-flock: it runs
// a real 3-server ZooKeeper ensemble on loopback and several zk-flock
// clients, each behind proxies of its own, injects faults (partitions,
// one-way drops, resets, server crashes and pauses, loss of quorum, zk-flock
// killed or frozen, stubborn children, grandchildren) on the holder of a
// lock, records when every holder started and when the last process of its
// tree died, and fails if two holders of one lock were ever alive at once.
//
//	zk-flock-chaos            the long run (make chaos): ≥ 10,000 lock cycles
//	zk-flock-chaos -short     every fault kind once (make chaos-smoke, CI)
//
// It prints a table, and with -doc FILE replaces the figures section of
// FILE (docs/RELIABILITY.md) with this run's. It exits 1 if the promise was
// broken, 2 if the harness itself failed. See docs/RELIABILITY.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Markers around the generated section of the -doc file.
const (
	beginMarker = "<!-- chaos:figures:begin (written by zk-flock-chaos; do not edit) -->"
	endMarker   = "<!-- chaos:figures:end -->"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zk-flock-chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "every fault kind once (CI), instead of the long run")
	scenarios := fs.String("scenarios", "", "comma-separated scenario IDs to run (default: all); see -list")
	list := fs.Bool("list", false, "list the scenarios and exit")
	episodes := fs.Int("episodes", 0, "faults injected per scenario (default: 1 with -short, else 3)")
	cycles := fs.Int("cycles", -1, "random mix until this many lock cycles in all (default: 0 with -short, else 10000)")
	mixMin := fs.Duration("mix-min", -1, "random mix at least this long")
	mixMax := fs.Duration("mix-max", -1, "random mix at most this long")
	steady := fs.Duration("steady", -1, "a first phase without faults")
	doc := fs.String("doc", "", "replace the figures section of this Markdown `file`")
	jsonOut := fs.String("json", "", "write the report and the whole history to this `file`")
	keep := fs.Bool("keep", false, "keep the work directory (ZooKeeper logs, configurations)")
	dir := fs.String("dir", "", "work `directory` (default: a temporary one)")
	zkflock := fs.String("zk-flock", "", "zk-flock binary to test (default: build ./cmd/zk-flock)")
	worker := fs.String("worker", "", "worker binary (default: build ./internal/chaos/worker)")
	quiet := fs.Bool("q", false, "no progress lines")
	noProc := fs.Bool("no-proc-events", false, "time deaths by end of file only, even as root")
	check := fs.String("check", "", "check again the history saved with -json in `file` and print its figures (and, with -doc, write them); run nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := chaos.DefaultOptions()
	if *list {
		for _, sc := range chaos.Scenarios(min(opts.RequestTimeout, opts.ServerMaxTimeout)) {
			note := ""
			switch {
			case sc.Unsafe:
				note = "  (expected unsafe: measured, not counted)"
			case sc.Limitation:
				note = "  (documented limitation: measured, not counted)"
			}
			fmt.Fprintf(stdout, "%-3s %s%s\n", sc.ID, sc.Name, note)
		}
		return 0
	}
	cfg := chaos.LongConfig()
	if *short {
		cfg = chaos.SmokeConfig()
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(*scenarios, ",")
	}
	if *episodes > 0 {
		cfg.Episodes = *episodes
	}
	if *cycles >= 0 {
		cfg.Cycles = *cycles
	}
	if *mixMin >= 0 {
		cfg.MixMin = *mixMin
	}
	if *mixMax >= 0 {
		cfg.MixMax = *mixMax
	}
	if *steady >= 0 {
		cfg.Steady = *steady
	}
	if cfg.MixMax < cfg.MixMin {
		cfg.MixMax = cfg.MixMin
	}
	opts.Dir, opts.Keep, opts.ZKFlock, opts.Worker, opts.NoProcWatch = *dir, *keep, *zkflock, *worker, *noProc
	start := time.Now()
	if !*quiet {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}
	}

	var (
		rep  *chaos.Report
		snap chaos.Snapshot
		err  error
	)
	if *check != "" {
		rep, snap, err = recheck(*check)
	} else {
		rep, snap, err = chaos.Run(ctx, opts, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "zk-flock-chaos: %v\n", err)
		return 2
	}
	rep.WriteText(stdout)
	if *jsonOut != "" && *check == "" {
		b, err := json.MarshalIndent(saved{rep, snap}, "", " ")
		if err == nil {
			err = os.WriteFile(*jsonOut, b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "zk-flock-chaos: write %s: %v\n", *jsonOut, err)
			return 2
		}
	}
	if *doc != "" {
		if err := writeDoc(*doc, rep); err != nil {
			fmt.Fprintf(stderr, "zk-flock-chaos: %v\n", err)
			return 2
		}
	}
	if rep.Failed() {
		fmt.Fprintln(stderr, "zk-flock-chaos: FAILED: the promise was broken (see above)")
		return 1
	}
	fmt.Fprintf(stderr, "zk-flock-chaos: ok: %d lock cycles, no two holders of a lock at once (outside scenarios 5x and 7) in %v\n",
		rep.Cycles, time.Since(start).Round(time.Second))
	return 0
}

// saved is what -json writes.
type saved struct {
	Report  *chaos.Report  `json:"report"`
	History chaos.Snapshot `json:"history"`
}

// recheck runs the checker and the analysis again on a saved run.
func recheck(path string) (*chaos.Report, chaos.Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, chaos.Snapshot{}, err
	}
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, chaos.Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	if s.Report == nil {
		return nil, chaos.Snapshot{}, fmt.Errorf("%s: no report", path)
	}
	old := s.Report
	rep := chaos.Analyze(s.History, old.Phases, chaos.Scenarios(old.Settings.T), old.Expired, old.Settings, old.End)
	for _, v := range old.Violations {
		if v.Kind == "alive" {
			rep.Violations = append(rep.Violations, v)
		}
	}
	rep.Date, rep.Machine, rep.Mode, rep.Duration, rep.Load, rep.Leftovers, rep.Losses =
		old.Date, old.Machine, old.Mode, old.Duration, old.Load, old.Leftovers, old.Losses
	return rep, s.History, nil
}

// writeDoc replaces the text between the markers in path with the report.
func writeDoc(path string, rep *chaos.Report) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	i := bytes.Index(b, []byte(beginMarker))
	j := bytes.Index(b, []byte(endMarker))
	if i < 0 || j < i {
		return errors.New(path + ": no figures section (markers " + beginMarker + " … " + endMarker + ")")
	}
	var out bytes.Buffer
	out.Write(b[:i+len(beginMarker)])
	out.WriteString("\n\n")
	rep.WriteMarkdown(&out)
	out.Write(b[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}
