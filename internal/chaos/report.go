package chaos

import (
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Settings are the parameters a report was measured with.
type Settings struct {
	Requested time.Duration `json:"requested"` // session timeout asked for
	T         time.Duration `json:"t"`         // negotiated
	Budget    time.Duration `json:"budget"`    // how long the session is sure to live after an answer
	Margin    time.Duration `json:"margin"`
	Lead      time.Duration `json:"lead"` // SIGTERM this long before the kill deadline
	Grace     time.Duration `json:"grace"`
	Heartbeat time.Duration `json:"heartbeat"`
	TickTime  time.Duration `json:"tick"`
	Exact     bool          `json:"exact"` // death times from the kernel's process events
}

// Row is one scenario's figures.
type Row struct {
	Scenario    string `json:"scenario"`
	Name        string `json:"name"`
	Unsafe      bool   `json:"unsafe,omitempty"`
	Limitation  bool   `json:"limitation,omitempty"`
	Episodes    int    `json:"episodes"`
	Failed      int    `json:"failed"` // episodes the harness could not carry out
	Cycles      int    `json:"cycles"`
	Violations  int    `json:"violations"`
	Expected    int    `json:"expected"` // overlaps of an unsafe or limitation scenario
	Unconfirmed int    `json:"unconfirmed,omitempty"`
	// MinMargin is the least time between a holder's death and the next
	// start on the same lock node, over every handoff of the phase;
	// MinVictim only over handoffs from a fault's victim. MinExpiry is the
	// least time between a victim's death and the ensemble's expiry of its
	// session, where it expired: the self-fencing's real slack.
	MinMargin  time.Duration   `json:"min_margin"`
	MinVictim  time.Duration   `json:"min_victim"`
	MinExpiry  time.Duration   `json:"min_expiry"`
	MaxOverlap time.Duration   `json:"max_overlap,omitempty"`
	Detect     []time.Duration `json:"detect"`
	Kill       []time.Duration `json:"kill"`
	Kills      int             `json:"kills"`    // victims killed because the lock was (or might be) lost
	Needless   int             `json:"needless"` // of those, whose session the ensemble never expired
	Others     int             `json:"others"`   // other holders killed during the phase (collateral)
	OthersNeed int             `json:"others_needless"`
	Rejected   int             `json:"rejected"` // writes the toy resource rejected as stale
	// Fenced is how many holders (victims or not) zk-flock killed because
	// the leader had not answered for too long. MaxLate is the latest of
	// their trees' deaths relative to the deadline, last answer + budget −
	// margin: a few ms after it is the SIGKILL sent at the deadline taking
	// effect, which the margin is for. PastT counts the trees that died
	// after last answer + budget, when the session might have expired:
	// zk-flock itself ran late (assumption 2).
	Fenced  int           `json:"fenced"`
	MaxLate time.Duration `json:"max_late"`
	PastT   int           `json:"past_t"`
}

// Report is a chaos run's result.
type Report struct {
	Date       time.Time     `json:"date"`
	Machine    string        `json:"machine"`
	Mode       string        `json:"mode"`
	Duration   time.Duration `json:"duration"`
	Settings   Settings      `json:"settings"`
	Cycles     int           `json:"cycles"`
	Rows       []Row         `json:"rows"`
	Violations []Violation   `json:"violations"`
	Leftovers  []string      `json:"leftovers,omitempty"`
	Losses     int           `json:"event_losses,omitempty"`
	Load       []float64     `json:"load"` // 1-minute load average, every 5 s
	// What Analyze was given, so that a saved run can be checked again.
	Phases  []Phase          `json:"phases"`
	Expired map[string]int64 `json:"expired_sessions"`
	End     int64            `json:"end"`
}

// loadSummary describes the load samples: min, median, max.
func (r *Report) loadSummary() string {
	if len(r.Load) == 0 {
		return "unknown"
	}
	s := append([]float64(nil), r.Load...)
	sort.Float64s(s)
	return fmt.Sprintf("%.1f min, %.1f median, %.1f max", s[0], s[len(s)/2], s[len(s)-1])
}

// Failed reports whether the run breaks the promise: a violation outside
// the unsafe and limitation scenarios, or a lock node left behind.
func (r *Report) Failed() bool {
	for _, v := range r.Violations {
		if !v.Expected && !v.Unconfirmed {
			return true
		}
	}
	return len(r.Leftovers) > 0
}

// Analyze computes the report from a history: phases give the scenario
// windows, expired the sessions the ensemble expired and when.
//
// A kill is needless when the ensemble heard from the holder's session
// after zk-flock had given the lock up: the session was closed by zk-flock
// itself, or expired more than T plus one tick (ZooKeeper rounds expiry
// up to a tick) after zk-flock's decision; connectivity had come back, and
// the command could have gone on. A session that expired earlier was lost
// while zk-flock was cut off: that kill was needed.
func Analyze(s Snapshot, phases []Phase, scs []Scenario, expired map[string]int64, st Settings, end int64) *Report {
	needless := func(r *FlockRun, decided int64) bool {
		if r == nil {
			return false
		}
		at, ok := expired[r.Session]
		return !ok || at-int64(st.T)-int64(st.TickTime) > decided
	}
	byID := map[int]*Interval{}
	for i := range s.Intervals {
		byID[s.Intervals[i].ID] = &s.Intervals[i]
	}
	scByID := map[string]Scenario{}
	for _, sc := range scs {
		scByID[sc.ID] = sc
	}
	epByID := map[int]*Episode{}
	for i := range s.Episodes {
		epByID[s.Episodes[i].ID] = &s.Episodes[i]
	}
	expected := func(iv *Interval) bool {
		ep := epByID[iv.Episode]
		if ep == nil {
			return false
		}
		sc := scByID[ep.Scenario]
		return sc.Unsafe || sc.Limitation
	}
	viol := Check(s.Intervals, end, expected)
	margins := Margins(s.Intervals)
	runOf := map[string]*FlockRun{}
	for i := range s.Runs {
		r := &s.Runs[i]
		runOf[fmt.Sprintf("%s/%d", r.Client, r.Seq)] = r
	}
	settle(s, byID, runOf)
	byIntervalRun := map[string]*Interval{}
	for i := range s.Intervals {
		iv := &s.Intervals[i]
		byIntervalRun[fmt.Sprintf("%s/%d", iv.Client, iv.Run)] = iv
	}

	rep := &Report{Violations: viol, Cycles: len(s.Intervals), Settings: st, Phases: phases, Expired: expired, End: end}
	for _, ph := range phases {
		row := Row{Scenario: ph.Scenario, Name: ph.Name, MinMargin: unset, MinVictim: unset, MinExpiry: unset, MaxLate: unset}
		if sc, ok := scByID[ph.Scenario]; ok {
			row.Unsafe, row.Limitation = sc.Unsafe, sc.Limitation
		}
		in := func(t int64) bool { return t >= ph.From && t < ph.To }
		victims := map[string]bool{}
		for i := range s.Episodes {
			ep := &s.Episodes[i]
			if ep.Start == 0 && ep.Err == "" {
				continue
			}
			if !in(ep.Start) && !(ep.Start == 0 && ph.Scenario == ep.Scenario) {
				continue
			}
			if ph.Scenario != "mix" && ep.Scenario != ph.Scenario {
				continue
			}
			row.Episodes++
			if ep.Err != "" {
				row.Failed++
			}
			iv := byID[ep.Victim]
			if iv == nil {
				continue
			}
			victims[fmt.Sprintf("%s/%d", iv.Client, iv.Run)] = true
			if ep.Status == statusLockLost {
				row.Kills++
				if needless(runOf[fmt.Sprintf("%s/%d", iv.Client, iv.Run)], ep.Detect) {
					row.Needless++
				}
				if ep.Detect > 0 {
					row.Detect = append(row.Detect, time.Duration(ep.Detect-ep.Start))
				}
			}
			if r := runOf[fmt.Sprintf("%s/%d", iv.Client, iv.Run)]; r != nil && ep.Death > 0 {
				if at, ok := expired[r.Session]; ok {
					if m := time.Duration(at - ep.Death); row.MinExpiry == unset || m < row.MinExpiry {
						row.MinExpiry = m
					}
				}
			}
			killed := ep.Status == statusLockLost || ep.Status == 128+9
			if killed && ep.Death > 0 && ep.Start > 0 {
				row.Kill = append(row.Kill, time.Duration(ep.Death-ep.Start))
			}
			if ep.NextStart > 0 && ep.Death > 0 {
				m := time.Duration(ep.NextStart - ep.Death)
				if row.MinVictim == unset || m < row.MinVictim {
					row.MinVictim = m
				}
			}
		}
		for i := range s.Intervals {
			iv := &s.Intervals[i]
			if !in(iv.Start) {
				continue
			}
			row.Cycles++
			if m, ok := margins[iv.ID]; ok && (row.MinMargin == unset || m < row.MinMargin) {
				row.MinMargin = m
			}
		}
		for _, v := range viol {
			if b := byID[v.B]; b != nil && in(b.Start) {
				switch {
				case v.Expected:
					row.Expected++
					row.MaxOverlap = max(row.MaxOverlap, v.Overlap)
				case v.Unconfirmed:
					row.Unconfirmed++
				default:
					row.Violations++
				}
			}
		}
		for i := range s.Runs {
			r := &s.Runs[i]
			if r.Status != statusLockLost || !in(r.End) || victims[fmt.Sprintf("%s/%d", r.Client, r.Seq)] {
				continue
			}
			row.Others++
			if needless(r, r.Lost) {
				row.OthersNeed++
			}
		}
		for i := range s.Runs {
			r := &s.Runs[i]
			if !in(r.End) {
				continue
			}
			late, ok := lateness(r, byIntervalRun, st)
			if !ok {
				continue
			}
			row.Fenced++
			if row.MaxLate == unset || late > row.MaxLate {
				row.MaxLate = late
			}
			if late > st.Margin {
				row.PastT++
			}
		}
		for _, w := range s.Writes {
			if !w.Accepted && in(w.Mono) {
				row.Rejected++
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep
}

// answeredFor finds how long no server had answered in zklock's message
// for a lease given up on the deadline path.
var answeredFor = regexp.MustCompile(`no answer through the ZooKeeper leader for ([0-9.]+m?s);`)

// lateness returns, for a run whose lease was given up because the leader
// had not answered for too long, how long after the deadline (last answer +
// budget − margin) its command's tree died; ok is false for other runs.
func lateness(r *FlockRun, byIntervalRun map[string]*Interval, st Settings) (time.Duration, bool) {
	m := answeredFor.FindStringSubmatch(r.LostErr)
	if m == nil || r.Lost == 0 {
		return 0, false
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return 0, false
	}
	iv := byIntervalRun[fmt.Sprintf("%s/%d", r.Client, r.Seq)]
	if iv == nil || iv.Death == 0 {
		return 0, false
	}
	killBy := r.Lost - int64(d) + int64(st.Budget) - int64(st.Margin)
	return time.Duration(iv.Death - killBy), true
}

// settle fills in the episodes' outcomes from the history.
func settle(s Snapshot, byID map[int]*Interval, runOf map[string]*FlockRun) {
	for i := range s.Episodes {
		ep := &s.Episodes[i]
		iv := byID[ep.Victim]
		if iv == nil {
			continue
		}
		ep.Death = iv.Death
		ep.Status = -1
		if r := runOf[fmt.Sprintf("%s/%d", iv.Client, iv.Run)]; r != nil {
			ep.Status = r.Status
			if r.Lost > 0 {
				ep.Detect = r.Lost
			}
		}
		if ep.Detect == 0 && iv.Term > 0 {
			ep.Detect = iv.Term
		}
		var next *Interval
		for j := range s.Intervals {
			c := &s.Intervals[j]
			if c.Lock == iv.Lock && c.Start > iv.Start && (next == nil || c.Start < next.Start) {
				next = c
			}
		}
		if next != nil {
			ep.Next, ep.NextStart = next.ID, next.Start
		}
	}
}

// Machine describes this machine in one line.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.IndexByte(l, ':'); i > 0 {
					cpu = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = " Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d × %s,%s, %s", runtime.NumCPU(), cpu, kernel, runtime.Version())
}

// unset marks a minimum over nothing.
const unset = time.Duration(math.MinInt64)

func ms(d time.Duration) string {
	if d == unset {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

func lat(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s / %s", ms(percentile(ds, 50)), ms(percentile(ds, 99)), ms(percentile(ds, 100)))
}

func (r Row) violationsCell() string {
	s := fmt.Sprint(r.Violations)
	if r.Unsafe || r.Limitation {
		s += fmt.Sprintf(" (+%d expected, up to %s ms)", r.Expected, ms(r.MaxOverlap))
	}
	if r.Unconfirmed > 0 {
		s += fmt.Sprintf(" (+%d unconfirmed)", r.Unconfirmed)
	}
	return s
}

func (r Row) lateCell() string {
	if r.Fenced == 0 {
		return "–"
	}
	return fmt.Sprintf("%d: %s (%d)", r.Fenced, signedMs(r.MaxLate), r.PastT)
}

func signedMs(d time.Duration) string {
	if d == unset {
		return "–"
	}
	if d >= 0 {
		return "+" + ms(d)
	}
	return ms(d)
}

// WriteMarkdown writes the figures as a Markdown section.
func (r *Report) WriteMarkdown(w io.Writer) {
	st := r.Settings
	fmt.Fprintf(w, "Generated by `zk-flock-chaos` (%s run) on %s: %d lock cycles in %s on %s; "+
		"1-minute load average %s (other jobs shared the machine).\n\n",
		r.Mode, r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Cycles, r.Duration.Round(time.Second), r.Machine, r.loadSummary())
	death := "the kernel's exit times of every process of the holder's tree (process events connector), exact"
	if !st.Exact {
		death = "end of file on the workers' socket as the harness saw it (late, so conservative)"
	}
	fmt.Fprintf(w, "Settings: session timeout requested %v, negotiated T = %v (server maxSessionTimeout); budget %v (T − T/4 − heartbeat); "+
		"margin %v (default: max(0.2 s, T/10)); grace %v, so SIGTERM comes %v before the kill deadline (min(grace, budget/4)); "+
		"heartbeat every %v; tickTime %v. Deaths: %s.\n\n", st.Requested, st.T, st.Budget, st.Margin, st.Grace, st.Lead, st.Heartbeat, st.TickTime, death)
	fmt.Fprintln(w, "| # | fault | episodes | cycles | violations | min margin ms: all / victim | victim dead before expiry, min ms | detection ms p50 / p99 / max | kill ms p50 / p99 / max | victims killed (needless) | others killed (needless) | fenced: latest death vs. deadline, ms (past budget) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|---|---:|---|---|---|---|---|")
	for _, row := range r.Rows {
		eps := fmt.Sprint(row.Episodes)
		if row.Failed > 0 {
			eps += fmt.Sprintf(" (%d failed)", row.Failed)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s / %s | %s | %s | %s | %d (%d) | %d (%d) | %s |\n",
			row.Scenario, row.Name, eps, row.Cycles, row.violationsCell(), ms(row.MinMargin), ms(row.MinVictim), ms(row.MinExpiry),
			lat(row.Detect), lat(row.Kill), row.Kills, row.Needless, row.Others, row.OthersNeed, row.lateCell())
	}
	fmt.Fprintln(w)
	fenced, pastT, maxLate, where := 0, 0, unset, []string{}
	for _, row := range r.Rows {
		if row.Unsafe {
			continue // zk-flock was frozen on purpose
		}
		fenced += row.Fenced
		pastT += row.PastT
		if row.PastT > 0 {
			where = append(where, row.Scenario)
		}
		if row.Fenced > 0 && (maxLate == unset || row.MaxLate > maxLate) {
			maxLate = row.MaxLate
		}
	}
	if fenced > 0 {
		when := fmt.Sprintf("%s ms after", ms(maxLate))
		if maxLate < 0 {
			when = fmt.Sprintf("%s ms before", ms(-maxLate))
		}
		fmt.Fprintf(w, "Outside scenario 7, zk-flock killed %d holders because the leader had not answered for too long; the latest of their trees died %s its deadline (last answer + budget − margin; the %v margin absorbs the SIGKILL sent at the deadline taking effect). ",
			fenced, when, st.Margin)
		if pastT == 0 {
			fmt.Fprintf(w, "None died after last answer + budget.\n\n")
		} else {
			fmt.Fprintf(w, "%d died after last answer + budget, when the session might have expired (scenarios %s): zk-flock itself ran late (assumption 2).\n\n",
				pastT, strings.Join(where, ", "))
		}
	}
	for _, row := range r.Rows {
		if row.Unsafe && row.Rejected > 0 {
			fmt.Fprintf(w, "Scenario %s: the toy resource rejected %d writes of the stale holder (lower token).\n\n", row.Scenario, row.Rejected)
		}
	}
	if r.Losses > 0 {
		fmt.Fprintf(w, "The kernel dropped process events %d times; those holders' deaths are end-of-file times.\n\n", r.Losses)
	}
	if len(r.Leftovers) > 0 {
		fmt.Fprintf(w, "Lock nodes left behind: %s.\n\n", strings.Join(r.Leftovers, ", "))
	} else {
		fmt.Fprintln(w, "No lock node was left behind once the clients stopped.")
		fmt.Fprintln(w)
	}
}

// WriteText writes the figures as a plain table, and every violation.
func (r *Report) WriteText(w io.Writer) {
	st := r.Settings
	fmt.Fprintf(w, "T=%v (requested %v) margin=%v grace=%v lead=%v exact-deaths=%t cycles=%d duration=%s load=%s\n",
		st.T, st.Requested, st.Margin, st.Grace, st.Lead, st.Exact, r.Cycles, r.Duration.Round(time.Second), r.loadSummary())
	fmt.Fprintf(w, "%-4s %-42s %5s %6s %-22s %7s %7s %7s %-18s %-18s %-8s %-8s %s\n",
		"#", "fault", "eps", "cycles", "violations", "margin", "victim", "expiry", "detect p50/p99/max", "kill p50/p99/max", "killed", "others", "fenced: late (past budget)")
	for _, row := range r.Rows {
		eps := fmt.Sprint(row.Episodes)
		if row.Failed > 0 {
			eps += fmt.Sprintf("!%d", row.Failed)
		}
		fmt.Fprintf(w, "%-4s %-42s %5s %6d %-22s %7s %7s %7s %-18s %-18s %-8s %-8s %s\n",
			row.Scenario, row.Name, eps, row.Cycles, row.violationsCell(), ms(row.MinMargin), ms(row.MinVictim), ms(row.MinExpiry),
			lat(row.Detect), lat(row.Kill), fmt.Sprintf("%d(%d)", row.Kills, row.Needless), fmt.Sprintf("%d(%d)", row.Others, row.OthersNeed), row.lateCell())
	}
	shown := 0
	for _, v := range r.Violations {
		if v.Expected || v.Unconfirmed {
			continue
		}
		if shown++; shown <= 50 {
			fmt.Fprintf(w, "VIOLATION: %s\n", v)
		}
	}
	if shown > 50 {
		fmt.Fprintf(w, "... and %d more violations\n", shown-50)
	}
	for _, v := range r.Violations {
		if v.Unconfirmed && !v.Expected {
			fmt.Fprintf(w, "unconfirmed (end-of-file timing): %s\n", v)
		}
	}
	// Expected overlaps: one line per frozen holder.
	type agg struct {
		n   int
		max time.Duration
		v   Violation
	}
	exp := map[int]*agg{}
	var order []int
	for _, v := range r.Violations {
		if !v.Expected {
			continue
		}
		a := exp[v.A]
		if a == nil {
			a = &agg{v: v}
			exp[v.A] = a
			order = append(order, v.A)
		}
		a.n++
		a.max = max(a.max, v.Overlap)
	}
	for _, id := range order {
		a := exp[id]
		fmt.Fprintf(w, "expected: %s on %s: interval %d was still alive when %d later holders started, by up to %v\n",
			a.v.Kind, a.v.Lock, id, a.n, a.max.Round(time.Millisecond))
	}
	for _, l := range r.Leftovers {
		fmt.Fprintf(w, "LEFT BEHIND: %s\n", l)
	}
}
