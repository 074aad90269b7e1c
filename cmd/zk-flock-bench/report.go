package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// table is one block of figures, printed on stdout and in the report.
type table struct {
	Title  string
	Header []string
	Rows   [][]string
	Note   string // Markdown only: how to read it
}

func f2(x float64) string { return fmt.Sprintf("%.2f", x) }
func f1(x float64) string { return fmt.Sprintf("%.1f", x) }
func fx(x float64) string { return fmt.Sprintf("%.2f×", x) }

// tables renders the results.
func tables(r *results) []table {
	var ts []table
	if len(r.costs) > 0 {
		t := table{
			Title:  "1. Whole-process cost: take an uncontended lock, run true, let go",
			Header: []string{"tool", "wall median ms", "wall p99 ms", "CPU median ms", "CPU p99 ms", "peak RSS median MiB", "peak RSS p99 MiB", "wall vs etcdctl", "wall vs flock(1)", "ZooKeeper requests/run"},
			Note: fmt.Sprintf("%d runs of each, interleaved (A B C, B C A, …) after %d warm runs each. Wall: monotonic clock from before fork to after wait4; CPU: user+system from wait4's rusage; peak RSS: ru_maxrss. All include the `true` each tool runs. Measured through a tiny launcher (the child helper's -measure), so that ru_maxrss is the command's own: `true (floor)` shows the launcher's share, the floor of the method. ZooKeeper requests: mntr zk_packets_received before and after each zk-flock run.",
				len(r.costs[0].Wall), r.o.warm),
		}
		etcd, fl := r.cost("etcdctl lock"), r.cost("flock(1)")
		for _, c := range r.costs {
			w, cpu, rss := summarize(c.Wall), summarize(c.CPU), summarize(c.MaxRSS)
			row := []string{c.Tool.Name, f2(w.Median), f2(w.P99), f2(cpu.Median), f2(cpu.P99), f1(rss.Median), f1(rss.P99), "", "", ""}
			if len(c.Requests) > 0 {
				row[9] = fmt.Sprintf("%.0f", summarize(c.Requests).Median)
			}
			if etcd != nil {
				row[7] = fx(w.Median / summarize(etcd.Wall).Median)
			}
			if fl != nil {
				row[8] = fx(w.Median / summarize(fl.Wall).Median)
			}
			t.Rows = append(t.Rows, row)
		}
		ts = append(ts, t)
	}
	if f := r.floors; f != nil {
		t := table{
			Title:  "2. Raw ZooKeeper floor (go-zookeeper clients, in the bench's process unless said) and process spawn",
			Header: []string{"operation", "median ms", "p99 ms", "n"},
			Note:   "Interleaved: one of each per iteration. Session set-up: zk.Connect until StateHasSession. delete→watch→create: session A deletes a node that session B watches; B creates it when the watch fires; timed from A's delete call to B's create returning; A and B swap roles every time. After " + idleGap.String() + " idle: the same, with the sessions and the server left quiet that long between setting the watch and the delete, as a single handoff comes after a wait (the bench's back-to-back requests keep the CPUs and ZooKeeper's threads awake; after a quiet spell each step wakes one); the target's floor is the back-to-back one, the stricter. Between two processes: the same with A and B in two processes of their own (the bench run as a raw go-zookeeper client, started beforehand and left idle 20 ms), as two zk-flocks are; this is not the target's floor. Spawn: fork+exec of the child helper from a Go process (os/exec) until its first timestamp in main, the part of every handoff that is only starting the command.",
		}
		for _, x := range []struct {
			name string
			s    []float64
		}{{"session set-up", f.Session}, {"create (ephemeral)", f.Create}, {"delete", f.Delete}, {"delete → watch → create (two sessions)", f.DWC}, {"delete → watch → create (two sessions), after " + idleGap.String() + " idle", f.DWCIdle}, {"delete → watch → create (two processes)", f.DWCProc}, {"spawn the command (fork+exec → main)", f.Spawn}} {
			s := summarize(x.s)
			t.Rows = append(t.Rows, []string{x.name, f2(s.Median), f2(s.P99), fmt.Sprint(s.N)})
		}
		ts = append(ts, t)
	}
	if len(r.herds) > 0 {
		t := table{
			Title:  "3–4. Handoff and herd: holder's command exits → next command starts",
			Header: []string{"waiters", "rounds", "handoffs", "median ms", "mean ms", "p99 ms", "mean, first tenth ms", "mean vs 1 waiter", "median vs floor", "requests/handoff raw", "requests/handoff net", "background req/s per session"},
			Note: "Each round: a holder, then W waiters started (in batches of 50) and left until the server shows all W queued; then a quiet window measures the background (pings and heartbeats); then the holder's command is told to exit and every command exits as soon as it starts, so the W handoffs run back to back. " +
				"A handoff is the CLOCK_MONOTONIC time from the previous command's last instruction to the next command's first (both in the child helper). `first tenth`: the handoffs while nine tenths of the queue still waited. " +
				"Requests: zk_packets_received (mntr) over the handoffs ÷ handoffs; `net` subtracts the background, the quiet window's packets per session-second × the session-seconds alive during the handoffs (a session counts until its command exits). `floor`: the raw delete→watch→create median.",
		}
		one := r.herd(1)
		var oneMean, dwc float64
		if one != nil && len(one.Rounds) > 0 {
			oneMean = summarize(one.handoffs()).Mean
		}
		if r.floors != nil {
			dwc = summarize(r.floors.DWC).Median
		}
		for _, h := range r.herds {
			if len(h.Rounds) == 0 {
				t.Rows = append(t.Rows, []string{fmt.Sprint(h.W), "0", "failed: " + oneLine(h.Err), "", "", "", "", "", "", "", "", ""})
				continue
			}
			s := summarize(h.handoffs())
			ft := summarize(h.firstTenth())
			raw, net := h.requests()
			n := fmt.Sprint(s.N)
			for _, rd := range h.Rounds {
				if rd.Partial {
					n += " (deadline hit: partial)"
					break
				}
			}
			row := []string{fmt.Sprint(h.W), fmt.Sprint(len(h.Rounds)), n, f2(s.Median), f2(s.Mean), f2(s.P99),
				f2(ft.Mean), "", "", f1(raw), f1(net), f2(h.bgRate())}
			if oneMean > 0 {
				row[7] = fx(s.Mean / oneMean)
			}
			if dwc > 0 {
				row[8] = fx(s.Median / dwc)
			}
			t.Rows = append(t.Rows, row)
		}
		ts = append(ts, t)
	}
	if len(r.tp) > 0 {
		t := table{
			Title:  "5. Throughput: whole lock cycles per second, concurrent clients on distinct locks",
			Header: []string{"tool", "cycles/s median", "min", "max", "failed cycles", "vs etcdctl"},
			Note: fmt.Sprintf("%d clients, each running its tool back to back on its own lock for %v; %d rounds, the tools' order rotating. Figures are per round.",
				r.o.clients, r.o.tpDur, len(r.tp[0].Rates)),
		}
		var etcd float64
		for _, x := range r.tp {
			if x.Tool == "etcdctl lock" {
				etcd = summarize(x.Rates).Median
			}
		}
		for _, x := range r.tp {
			s := summarize(x.Rates)
			row := []string{x.Tool, f1(s.Median), f1(s.Min), f1(s.Max), fmt.Sprint(x.Failures), ""}
			if etcd > 0 {
				row[5] = fx(s.Median / etcd)
			}
			t.Rows = append(t.Rows, row)
		}
		ts = append(ts, t)
	}
	if len(r.reaction) > 0 {
		s := summarize(r.reaction)
		ts = append(ts, table{
			Title:  "6. Reaction: lock node deleted by another client → the command's process group dead",
			Header: []string{"n", "median ms", "p99 ms", "max ms"},
			Rows:   [][]string{{fmt.Sprint(s.N), f2(s.Median), f2(s.P99), f2(s.Max)}},
			Note:   "The command starts a grandchild in its process group; both hold the command's Unix socket to the bench. Timed from just before the bench's delete request to the bench reading EOF on that socket (the last process of the group dead). zk-flock exited 75 every time.",
		})
	}
	var tr table
	tr.Title = "Targets"
	tr.Header = []string{"target", "goal", "measured", "verdict"}
	for _, t := range targets(r) {
		tr.Rows = append(tr.Rows, []string{t.Name, t.Goal, t.Measured, t.verdict()})
		if strings.HasPrefix(t.verdict(), "MISS") {
			tr.Note = "Why a target is missed, and what would close it: README.md, section Performance " +
				"(the bench measures; the analysis is written from traces, by hand)."
		}
	}
	ts = append(ts, tr)
	return ts
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// writeTable prints the tables as aligned text.
func writeTable(w io.Writer, r *results) {
	for _, t := range tables(r) {
		fmt.Fprintf(w, "\n%s\n", t.Title)
		rows := append([][]string{t.Header}, t.Rows...)
		widths := make([]int, len(t.Header))
		for _, row := range rows {
			for i, c := range row {
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
		for _, row := range rows {
			var b strings.Builder
			for i, c := range row {
				if i > 0 {
					b.WriteString("  ")
				}
				b.WriteString(c)
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))))
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
	for _, k := range sortedKeys(r.errs) {
		fmt.Fprintf(w, "\nFAILED: %s: %v\n", k, r.errs[k])
	}
}

func sortedKeys(m map[string]error) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// writeReport writes the Markdown report to path.
func writeReport(path string, r *results) error {
	var b strings.Builder
	e := r.env
	hide := func(s string) string {
		s = strings.ReplaceAll(s, e.etcdDir, "$ETCD_DIR")
		return strings.ReplaceAll(s, e.dir, "$TMP")
	}
	cmd := func(argv []string) string { return hide(strings.Join(argv, " ")) }
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	p("Benchmarks")
	p("==========")
	p("")
	if r.o.smoke {
		p("**Smoke run** (tiny sizes, for CI): the figures below say only that every measurement still works.")
		p("")
	}
	p("Generated by `go run ./cmd/zk-flock-bench%s` (`make bench`) on %s, in %v. Regenerate rather than edit;",
		argsString(r.o.args), r.started.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Round(time.Second))
	p("these machines are noisy, so compare only figures from the same run: the ratios below are.")
	p("")
	ld := r.load.summary()
	m := r.machine
	p("| | |")
	p("|---|---|")
	p("| machine | %d CPUs, %s, %s memory |", m.CPUs, m.Model, m.Memory)
	p("| kernel | %s |", m.Kernel)
	p("| Go | %s |", m.Go)
	p("| zk-flock | %s, built with `go build -trimpath` (no -race) |", r.commit)
	sync := "forceSync=yes (its default: every transaction fsynced to the data directory, on disk, as production runs it)"
	switch {
	case !r.o.zkSync:
		sync = "forceSync=no (-zk-fsync=false: no fsync)"
	case onTmpfs(os.TempDir()): // where testzk puts the data directory
		sync = "forceSync=yes (its default), but the data directory is on tmpfs ($TMPDIR), where an fsync costs nothing"
	}
	p("| ZooKeeper | %s, standalone, tickTime 2000, %s, full JIT (`-XX:TieredStopAtLevel=4 -Xmx1g`), maxClientCnxns=0; warmed up first, as a production server is: %v of sessions and lock cycles from %d clients (%d requests) |", m.ZooKeeper, sync, r.o.zkWarm, r.o.clients, r.zkWarmOps)
	etcdData := "data beside ZooKeeper's ($ETCD_DIR), fsynced as installed"
	if r.env.etcdTmpfs {
		etcdData = "data on tmpfs ($ETCD_DIR), where its fsyncs cost nothing (etcd 3.4 cannot turn them off)"
	}
	p("| etcd | %s, %s; single member, %s |", m.Etcd, m.Etcdctl, etcdData)
	p("| flock(1) | %s |", m.Flock)
	p("| child helper | C, built with `%s -O2 -static` (%s) |", e.cc, e.ccVersion)
	p("| load during the run | 1-minute load average %.2f min, %.2f median, %.2f max (%d samples, every 5 s); other jobs shared the machine |", ld.Min, ld.Median, ld.Max, ld.N)
	p("")
	p("Everything is on loopback, started by the bench and stopped at its end.")
	p("")

	p("Commands")
	p("--------")
	p("")
	p("zk-flock's configuration (`$TMP/distributed-flock.json`):")
	p("")
	p("```json")
	p("{\"host\": [\"%s\"], \"timeout\": %d, \"app_id\": %q}", e.zkAddr, sessionTimeout, appID)
	p("```")
	p("")
	p("```sh")
	p("# 1. whole-process cost, and 5. throughput (lock tp-N per client)")
	for _, t := range e.costTools() {
		env := ""
		if t.Name == "etcdctl lock" {
			env = "ETCDCTL_API=3 "
		}
		p("%s%s", env, cmd(t.Argv))
	}
	p("# 3-4. handoff and herd: one holder, then W waiters on the same lock")
	p("%s", cmd(e.zkflockArgs("-l", "0", "herd-W-N", "--", e.child, e.hub.path)))
	p("%s", cmd(e.zkflockArgs("-w", waitFlag, "-l", "0", "herd-W-N", "--", e.child, e.hub.path)))
	p("# 6. reaction: the command starts a grandchild in its group; the bench deletes /%s/react-N", appID)
	p("%s", cmd(e.zkflockArgs("-l", "0", "react-N", "--", e.child, e.hub.path, "group")))
	p("# servers")
	p("%s", cmd(e.etcd.Args))
	p("java … org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg   # internal/testzk")
	p("```")
	p("")
	p("`child` is `cmd/zk-flock-bench/child/child.c`, a static C program: it reports its start (CLOCK_MONOTONIC, read first thing in `main`, microseconds after the exec) on the bench's Unix socket, and on request its exit.")
	p("")

	p("Results")
	p("-------")
	p("")
	plotRel, err := filepath.Rel(filepath.Dir(path), r.o.plot)
	if err != nil {
		plotRel = r.o.plot
	}
	for _, t := range tables(r) {
		if t.Title == "Targets" {
			continue
		}
		writeMarkdownTable(&b, t)
		if strings.HasPrefix(t.Title, "3–4.") {
			p("![handoff latency against the number of waiters](%s)", filepath.ToSlash(plotRel))
			p("")
		}
	}
	for _, k := range sortedKeys(r.errs) {
		p("**%s failed**: `%s`", k, hide(oneLine(r.errs[k])))
		p("")
	}
	for _, t := range tables(r) {
		if t.Title == "Targets" {
			writeMarkdownTable(&b, t)
		}
	}
	p("Method")
	p("------")
	p("")
	p("- Medians and p99 (nearest rank: with 100 samples or fewer it is the largest). Compared commands are interleaved, never run as all of A then all of B, so that noise from other jobs hits them alike.")
	p("- The handoff rounds of every waiter count are interleaved too, in passes; the counts with a single round (the largest) run in the last pass.")
	p("- Requests are counted by the server (mntr `zk_packets_received`), which counts every packet a client sends: requests, pings, and the connect request. Four-letter words are not counted.")
	p("- All waiters run on this one host, so whatever per-release or per-start cost grows with the number of processes on a host (the CPU they share; zk-flock scans /proc only when its command left processes behind) grows with the number of waiters here; on a fleet each host has one waiter.")
	p("- Requests per handoff: with one waiter, no queued waiter moves up to the head of the queue; with more, every handoff includes that, so the requests target compares %d waiters with the fewest waiters above one.", herdTarget)
	p("- The bench never compares a figure with one from another run.")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func argsString(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return " " + strings.Join(args, " ")
}

func writeMarkdownTable(b *strings.Builder, t table) {
	fmt.Fprintf(b, "### %s\n\n", t.Title)
	if t.Note != "" {
		fmt.Fprintf(b, "%s\n\n", t.Note)
	}
	fmt.Fprintf(b, "| %s |\n", strings.Join(t.Header, " | "))
	seps := make([]string, len(t.Header))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(b, "|%s|\n", strings.Join(seps, "|"))
	for _, row := range t.Rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	b.WriteString("\n")
}

// onTmpfs reports whether dir is on a tmpfs.
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
