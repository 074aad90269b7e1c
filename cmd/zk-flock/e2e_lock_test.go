package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zk-flock/zk-flock/internal/testzk"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

// waitRelease is a shell loop that runs until file exists.
func waitRelease(file string) string {
	return fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", file)
}

// holdLock starts zk-flock holding lock L until the test touches the
// returned release file; it waits until the lock node exists.
func holdLock(t *testing.T, e *flockEnv) (*proc, string) {
	t.Helper()
	release := e.path("release")
	p := e.start("L", "sh -c "+sq(waitRelease(release)))
	waitNode(t, e.checker(), e.node("L"))
	return p, release
}

// logInterval is a command that appends "start NANOS [what]" and "end NANOS"
// to file around body.
func logInterval(file, what, body string) string {
	return fmt.Sprintf(`sh -c 'echo start %s %s >> %s; %s; echo end %s >> %s'`, nowNanos, what, file, body, nowNanos, file)
}

// TestE2EBusy: a busy lock without -w exits at once with the -x status,
// without running the command, printing nothing and leaving nothing in
// ZooKeeper.
func TestE2EBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	holder, release := holdLock(t, e)

	marker := e.path("marker")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 0},
		{[]string{"-x", "7"}, 7},
		{[]string{"--exitcode", "255"}, 255},
		{[]string{"L", "touch " + marker, "-x", "3"}, 3},
	} {
		args := tc.args
		if !slices.Contains(args, "L") {
			args = append(slices.Clone(args), "L", "touch "+marker)
		}
		r := e.run(args...)
		// At once: the holder holds until released, so anything well
		// short of forever proves no waiting; 3 s leaves room for a
		// race-built binary on a loaded machine.
		if r.code != tc.want || r.dur >= 3*time.Second {
			t.Errorf("busy, %q: want exit %d at once (< 3 s), got %v", args, tc.want, r)
		}
		checkQuiet(t, fmt.Sprintf("busy, %q", args), r)
		if fileExists(marker) {
			t.Fatalf("busy, %q: the command ran", args)
		}
	}
	if got := ephemerals(t, zc, e.root); !slices.Equal(got, []string{"L"}) {
		t.Errorf("ephemeral nodes under %s: want only the holder's L, got %v", e.root, got)
	}
	data, _ := get(t, zc, e.node("L"))
	if pid := jsonObject(t, string(data))["pid"]; fmt.Sprint(pid) != strconv.Itoa(holder.pid()) {
		t.Errorf("the lock node is no longer the holder's: %s", data)
	}
	if log := e.logText(); !strings.Contains(log, "lock is busy") {
		t.Errorf("a busy lock is not logged:\n%s", log)
	}
	touch(t, release)
	if r := holder.waitTimeout(10 * time.Second); r.code != 0 {
		t.Errorf("holder: want exit 0, got %v", r)
	}
}

// TestE2EWaitRunsAfterHolder: with -w the waiter runs once the holder is
// done, never overlapping it.
func TestE2EWaitRunsAfterHolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	times := e.path("times")
	holder := e.start("L", logInterval(times, "holder", "sleep 1"))
	waitNode(t, zc, e.node("L"))
	waiter := e.start("-w", "10", "L", logInterval(times, "waiter", "sleep 0.2"))

	hr, wr := holder.waitTimeout(15*time.Second), waiter.waitTimeout(15*time.Second)
	if hr.code != 0 || wr.code != 0 {
		t.Fatalf("want both to run and exit 0; holder %v, waiter %v", hr, wr)
	}
	checkQuiet(t, "waiter", wr)
	ev := parseEvents(t, readFile(times))
	if len(ev) != 4 || !ev[0].start || ev[0].rest != "holder" || ev[1].start || !ev[2].start || ev[2].rest != "waiter" || ev[3].start {
		t.Fatalf("want the holder's start and end, then the waiter's:\n%s", readFile(times))
	}
	if ev[2].at <= ev[1].at {
		t.Errorf("the waiter started %v before the holder ended", time.Duration(ev[1].at-ev[2].at))
	}
	if wr.dur < 500*time.Millisecond {
		t.Errorf("the waiter did not wait: %v", wr)
	}
	// Woken by the deletion, not by polling: it starts promptly.
	if gap := time.Duration(ev[2].at - ev[1].at); gap > time.Second {
		t.Errorf("the waiter started %v after the holder ended", gap)
	}
}

// TestE2EWaitGivesUp: -w 0.5 against a longer holder gives up after about
// 0.5 s with the -x status, without running the command.
func TestE2EWaitGivesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	holder, release := holdLock(t, e)

	marker := e.path("marker")
	for _, w := range []string{"0.5", "500ms"} {
		// What starting and connecting take on this machine now, which the
		// wait comes on top of.
		base := e.run("-x", "9", "L", "touch "+marker)
		r := e.run("-w", w, "-x", "9", "L", "touch "+marker)
		if limit := base.dur + 1300*time.Millisecond; r.code != 9 || r.dur < 500*time.Millisecond || r.dur >= limit {
			t.Errorf("-w %s -x 9 against a busy lock: want exit 9 after about 0.5 s (under %v, as the busy run without -w took %v), got %v", w, limit, base.dur, r)
		}
		checkQuiet(t, "-w "+w, r)
		if fileExists(marker) {
			t.Errorf("-w %s: the command ran", w)
		}
	}
	if got := ephemerals(t, zc, e.root); !slices.Equal(got, []string{"L"}) {
		t.Errorf("ephemeral nodes under %s: want only the holder's L, got %v", e.root, got)
	}
	// The log says a run waits, and that it gave up after waiting.
	log := e.logText()
	waited := regexp.MustCompile(`lock still busy when the wait ended; .* waited=([0-9.]+m?s)`).FindAllStringSubmatch(log, -1)
	if strings.Count(log, "lock is busy; queued for it") != 2 || len(waited) != 2 {
		t.Fatalf("log: want two waits queued, then given up, got:\n%s", log)
	}
	for _, m := range waited {
		if d, err := time.ParseDuration(m[1]); err != nil || d < 500*time.Millisecond || d > 5*time.Second {
			t.Errorf("log: waited=%s, want about 0.5 s", m[1])
		}
	}
	touch(t, release)
	holder.waitTimeout(10 * time.Second)
}

// TestE2ESemaphore: -n 2 lets two of three contenders run at once, on
// nodes LOCK_0 and LOCK_1, with ZK_FLOCK_SLOT set; the third runs when a
// slot frees.
func TestE2ESemaphore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	times, release := e.path("times"), e.path("release")
	body := waitRelease(release) + "; sleep 0.3"
	var ps []*proc
	for range 3 {
		ps = append(ps, e.start("-n", "2", "-w", "20", "S", logInterval(times, `$ZK_FLOCK_SLOT $ZK_FLOCK_LOCK`, body)))
	}
	testzk.WaitFor(t, 15*time.Second, "two contenders running", func() bool { return strings.Count(readFile(times), "start") >= 2 })

	if ls := zkCliList(t, zkCli(t, "ls", e.root)); !slices.Equal(ls, []string{"S_0", "S_1"}) {
		t.Errorf("zkCli ls %s while two run: want lock nodes [S_0 S_1], got %v", e.root, ls)
	}
	if n := strings.Count(readFile(times), "start"); n != 2 {
		t.Errorf("%d contenders running at once with -n 2:\n%s", n, readFile(times))
	}
	touch(t, release)
	for i, p := range ps {
		if r := p.waitTimeout(20 * time.Second); r.code != 0 {
			t.Errorf("contender %d: want exit 0, got %v", i+1, r)
		} else {
			checkQuiet(t, "semaphore contender", r)
		}
	}
	text := readFile(times)
	most, starts := maxConcurrent(t, text)
	if most > 2 || starts != 3 {
		t.Errorf("want all 3 run, at most 2 at once; got %d runs, %d at once:\n%s", starts, most, text)
	}
	for _, ev := range parseEvents(t, text) {
		if !ev.start {
			continue
		}
		f := strings.Fields(ev.rest)
		if len(f) != 2 || (f[0] != "0" && f[0] != "1") || f[1] != e.node("S_"+f[0]) {
			t.Errorf("ZK_FLOCK_SLOT and ZK_FLOCK_LOCK: want 0 or 1 and %s_<slot>, got %q", e.node("S"), ev.rest)
		}
	}
	if got := ephemerals(t, zc, e.root); len(got) != 0 {
		t.Errorf("left under %s: %v", e.root, got)
	}
}

// foreign plays the original zk-flock on a mixed fleet: it creates the
// EPHEMERAL node with plain-text data "host<uuid>" and a world ACL, under
// the persistent root holding "Rootnode", in a session of its own.
func foreign(t *testing.T, e *flockEnv, names ...string) *zk.Conn {
	t.Helper()
	c := zkConn(t, 4*time.Second)
	if _, err := c.Create(e.root, []byte("Rootnode"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := c.Create(e.node(n), []byte("oldhost5f0c8a1e-8f1d-4c2b-9d3e-2a6b7c8d9e0f"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("foreign create %s: %v", n, err)
		}
	}
	return c
}

// TestE2EMixedFleet: zk-flock and the original exclude each other.
func TestE2EMixedFleet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	marker := e.path("marker")

	// The original holds the lock: zk-flock is busy, then waits for it.
	orig := foreign(t, e, "L")
	if r := e.run("-x", "5", "L", "touch "+marker); r.code != 5 || fileExists(marker) {
		t.Errorf("lock held by the original: want busy (exit 5, not run), got %v", r)
	}
	waiter := e.start("-w", "20", "L", "touch "+marker)
	time.Sleep(300 * time.Millisecond)
	if fileExists(marker) || waiter.exited() {
		t.Fatal("zk-flock -w ran while the original held the lock")
	}
	closed := time.Now()
	orig.Close() // the original exits: its session and node go
	r := waiter.waitTimeout(15 * time.Second)
	if r.code != 0 || !fileExists(marker) {
		t.Errorf("after the original released: want the waiter to run, got %v", r)
	}
	if d := r.end.Sub(closed); d > 5*time.Second {
		t.Errorf("the waiter ran %v after the original released", d)
	}

	// zk-flock holds the lock: the original's create fails.
	holder, release := holdLock(t, e)
	other := zkConn(t, 4*time.Second)
	if _, err := other.Create(e.node("L"), []byte("otherhostuuid"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNodeExists) {
		t.Errorf("the original's create while zk-flock holds the lock: want %v, got %v", zk.ErrNodeExists, err)
	}
	touch(t, release)
	holder.waitTimeout(10 * time.Second)

	// Semaphore slots held by the original.
	sem := foreign(t, e, "sem_0", "sem_1")
	slotMarker := e.path("slot")
	if r := e.run("-n", "2", "-x", "4", "sem", "touch "+slotMarker); r.code != 4 || fileExists(slotMarker) {
		t.Errorf("-n 2 with both slots held by the original: want busy (exit 4), got %v", r)
	}
	r = e.run("-n", "3", "sem", `sh -c 'echo $ZK_FLOCK_SLOT $ZK_FLOCK_LOCK'`)
	if want := "2 " + e.node("sem_2") + "\n"; r.code != 0 || r.stdout != want {
		t.Errorf("-n 3 with slots 0 and 1 held by the original: want slot 2 (%q), got %v", want, r)
	}
	sem.Close()
	if r := e.run("-n", "2", "sem", "sh -c 'echo $ZK_FLOCK_SLOT'"); r.code != 0 || r.stdout != "0\n" {
		t.Errorf("-n 2 after the original released: want slot 0, got %v", r)
	}
}

// TestE2EWaitersFIFO: waiters are served in the order they came.
func TestE2EWaitersFIFO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	order := e.path("order")
	holder, release := holdLock(t, e)
	queue := e.root + "/" + zklock.QueueDir + "/L"
	var waiters []*proc
	for i := range 4 {
		waiters = append(waiters, e.start("-w", "30", "L", fmt.Sprintf("sh -c 'echo %d >> %s'", i, order)))
		testzk.WaitFor(t, 10*time.Second, fmt.Sprintf("waiter %d to queue", i), func() bool { return len(children(t, zc, queue)) == i+1 })
	}
	touch(t, release)
	for i, w := range waiters {
		if r := w.waitTimeout(15 * time.Second); r.code != 0 {
			t.Errorf("waiter %d: %v", i, r)
		}
	}
	holder.waitTimeout(10 * time.Second)
	if got := strings.Fields(readFile(order)); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("waiters ran in the order %v, want the order they came: 0 1 2 3", got)
	}
	if got := ephemerals(t, zc, e.root); len(got) != 0 {
		t.Errorf("left under %s: %v", e.root, got)
	}
}

// TestE2EManyContendersNeverOverlap: eight contenders with -w on one lock,
// then on a semaphore of 3: every one runs, never more than allowed at
// once.
func TestE2EManyContendersNeverOverlap(t *testing.T) {
	t.Parallel()
	for _, slots := range []int{0, 3} {
		e := newEnv(t)
		times := e.path("times")
		var ps []*proc
		for range 8 {
			args := []string{"-w", "60", "L", logInterval(times, "x", "sleep 0.1")}
			if slots > 0 {
				args = append([]string{"-n", strconv.Itoa(slots)}, args...)
			}
			ps = append(ps, e.start(args...))
		}
		for i, p := range ps {
			if r := p.waitTimeout(60 * time.Second); r.code != 0 {
				t.Errorf("-n %d, contender %d: want exit 0, got %v", slots, i+1, r)
			}
		}
		most, starts := maxConcurrent(t, readFile(times))
		if limit := max(slots, 1); most > limit || starts != 8 {
			t.Errorf("-n %d: want all 8 run, at most %d at once; got %d runs, %d at once:\n%s", slots, limit, starts, most, readFile(times))
		}
		if got := ephemerals(t, e.checker(), e.root); len(got) != 0 {
			t.Errorf("-n %d: left under %s: %v", slots, e.root, got)
		}
	}
}

// TestE2EReleaseLingersForQueue: a holder that releases the lock with a
// client queued for it lingers before its exit; one that releases it with
// nobody queued does not.
func TestE2EReleaseLingersForQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	holder := e.start("L", "sleep 0.5")
	waitNode(t, zc, e.node("L"))
	waiter := e.start("-w", "10", "L", "true")
	hr, wr := holder.waitTimeout(15*time.Second), waiter.waitTimeout(15*time.Second)
	if hr.code != 0 || wr.code != 0 {
		t.Fatalf("want both to run and exit 0; holder %v, waiter %v", hr, wr)
	}
	const lingers = "lock released; clients queue for it: lingering before the exit"
	log := e.logText()
	if !strings.Contains(log, fmt.Sprintf(" %d %s", holder.pid(), lingers)) {
		t.Errorf("the holder released the lock to a queued waiter without lingering:\n%s", log)
	}
	if strings.Contains(log, fmt.Sprintf(" %d %s", waiter.pid(), lingers)) {
		t.Errorf("the waiter lingered with nobody queued behind it:\n%s", log)
	}
}
