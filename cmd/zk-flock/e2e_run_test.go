package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/testzk"
)

// TestE2EExitStatusPassesThrough: the command's status is zk-flock's; a
// command killed by signal N gives 128+N; stdout and stderr are exactly
// the command's.
func TestE2EExitStatusPassesThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		cmd  string
		want int
	}{
		{"true", 0},
		{"false", 1},
		{"sh -c 'exit 3'", 3},
		{"sh -c 'exit 255'", 255},
		{"sh -c 'kill -9 $$'", 137},
		{"sh -c 'kill -TERM $$'", 143},
	} {
		r := e.run("L", tc.cmd)
		if r.code != tc.want {
			t.Errorf("%s: want exit %d, got %v", tc.cmd, tc.want, r)
		}
		checkQuiet(t, tc.cmd, r)
	}

	r := e.run("L", `sh -c 'printf "out\nput"; printf err >&2'`)
	if r.code != 0 || r.stdout != "out\nput" || r.stderr != "err" {
		t.Errorf("want exit 0, stdout exactly %q and stderr exactly %q (the command's own), got %v", "out\nput", "err", r)
	}
	if !strings.Contains(e.logText(), "command started") {
		t.Errorf("zk-flock logged nothing of the run at DEBUG level:\n%s", e.logText())
	}
}

// TestE2EFastCommandsNeverRace: the original sometimes lost a fast child's
// status and returned 1.
func TestE2EFastCommandsNeverRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 20 {
		if r := e.run("L", "true"); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("true, run %d: want exit 0 and no output, got %v", i+1, r)
		}
		if r := e.run("L", "false"); r.code != 1 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("false, run %d: want exit 1 and no output, got %v", i+1, r)
		}
	}
}

// TestE2EHugeCommandLine: a command line of more than a megabyte (more than
// ZooKeeper takes in one request) runs; the lock node keeps only its head.
func TestE2EHugeCommandLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"L", "--", "sh", "-c", `printf %s "$ZK_FLOCK_LOCK"`, "sh"}
	for range 11_000 {
		args = append(args, strings.Repeat("a", 100))
	}
	r := e.start(args...).waitTimeout(20 * time.Second)
	if r.code != 0 || r.stdout != e.node("L") || r.stderr != "" {
		t.Errorf("command line of 1.1 MB: want exit 0, stdout %q, no stderr; got %v", e.node("L"), r)
	}
}

// TestE2EWordSplitting: COMMAND is split as a POSIX shell splits words;
// after "--" the words are taken as they are; options may follow the
// positional arguments.
func TestE2EWordSplitting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	r := e.run("L", `sh -c 'printf "%s|" "a b" c'`)
	if r.code != 0 || r.stdout != "a b|c|" {
		t.Errorf(`shell words: want stdout "a b|c|", got %v`, r)
	}
	r = e.run("L", `printf '%s|' "x  y" 'it'\''s' z\ w ""`)
	if r.code != 0 || r.stdout != "x  y|it's|z w||" {
		t.Errorf(`quoting: want stdout "x  y|it's|z w||", got %v`, r)
	}

	r = e.run("L", "--", "sh", "-c", "exit 4")
	if r.code != 4 {
		t.Errorf("exec form LOCK -- sh -c 'exit 4': want exit 4, got %v", r)
	}
	r = e.run("L", "--", "printf", "%s|", "a b", "'c'")
	if r.code != 0 || r.stdout != "a b|'c'|" {
		t.Errorf(`exec form: want words as they are, stdout "a b|'c'|", got %v`, r)
	}

	marker := e.path("marker")
	r = e.run("L", "touch "+marker+" 'unbalanced")
	if r.code != ExitUsage {
		t.Errorf("unbalanced quote: want exit %d, got %v", ExitUsage, r)
	}
	oneStderrLine(t, "unbalanced quote", r)
	if fileExists(marker) {
		t.Error("unbalanced quote: the command ran")
	}

	// Options after LOCKNAME and COMMAND, the configuration among them:
	// without -l 0 taking effect the run would last the default 5 s.
	r = startRaw(t, "L", "echo hi", "-c", e.conf, "-l", "0").wait()
	if r.code != 0 || r.stdout != "hi\n" || r.dur >= 3*time.Second {
		t.Errorf("LOCK CMD -c FILE -l 0: want exit 0, stdout \"hi\\n\", well under 5 s, got %v", r)
	}
}

// TestE2EMinLockTime: -l counts from acquisition; a contender is busy
// meanwhile.
func TestE2EMinLockTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()

	// The command's start, just after acquisition, is the reference: the
	// time zk-flock takes to start and connect does not count.
	started := e.path("started")
	stamp := fmt.Sprintf("date +%%s%%N > %s", started)
	startedAt := func() time.Time {
		n, err := strconv.ParseInt(strings.TrimSpace(readFile(started)), 10, 64)
		if err != nil {
			t.Fatalf("the command's start time: %v", err)
		}
		return time.Unix(0, n)
	}

	holder := e.start("-l", "1", "L", "sh -c "+sq(stamp))
	waitFile(t, started, 10*time.Second)
	marker := e.path("marker")
	contender := e.start("-x", "7", "L", "touch "+marker)
	r := holder.wait()
	held := r.end.Sub(startedAt())
	if r.code != 0 || r.dur < time.Second || held >= 1600*time.Millisecond {
		t.Errorf("-l 1 L true: want exit 0 about 1 s after acquisition, got %v, %v after the command started", r, held)
	}
	if exists(t, zc, e.node("L")) {
		t.Error("the lock node outlived zk-flock")
	}
	// The contender started during the minimum hold: busy, unless it
	// could not even try before the second was up (a loaded machine).
	cr := contender.wait()
	tried := strings.Contains(e.logText(), fmt.Sprintf(" %d lock is busy", contender.pid()))
	switch {
	case cr.code == 7 && !fileExists(marker) && tried:
		checkQuiet(t, "busy contender", cr)
	case cr.code == 0 && fileExists(marker) && modTime(t, marker).After(r.end):
		t.Logf("the contender tried only after the minimum hold: %v", cr)
	default:
		t.Errorf("contender during -l 1 after the command exited: want busy (exit 7, command not run), got %v, ran: %v", cr, fileExists(marker))
	}

	r = e.run("-l", "1", "L", "sh -c "+sq(stamp+"; sleep 1.5"))
	held = r.end.Sub(startedAt())
	if r.code != 0 || held < 1500*time.Millisecond || held >= 2100*time.Millisecond {
		t.Errorf(`-l 1 L "sleep 1.5": want exit 0 about 1.5 s after acquisition (the minimum counts from acquisition: not 2.5 s), got %v, %v after the command started`, r, held)
	}

	// SIGTERM ends the minimum hold at once, with the command's status.
	p := e.start("-l", "30", "L", "sh -c 'exit 4'")
	testzk.WaitFor(t, 10*time.Second, "the minimum hold", func() bool {
		return strings.Contains(e.logText(), fmt.Sprintf(" %d holding the lock for the minimum time", p.pid()))
	})
	sent := time.Now()
	p.signal(syscall.SIGTERM)
	if r := p.waitTimeout(10 * time.Second); r.code != 4 || r.end.Sub(sent) > 3*time.Second {
		t.Errorf("SIGTERM during -l 30: want exit 4 (the command's) at once, got %v", r)
	}
	if exists(t, zc, e.node("L")) {
		t.Error("the lock node outlived zk-flock")
	}

	r = e.run("-l", "0", "L", "sh -c "+sq(stamp))
	if held = r.end.Sub(startedAt()); r.code != 0 || held >= time.Second {
		t.Errorf("-l 0: want exit 0 under 1 s after acquisition, got %v, %v after the command started", r, held)
	}

	// The default is 5 s, counted from acquisition.
	r = startRaw(t, "-c", e.conf, "L", "sh -c "+sq(stamp)).wait()
	if held = r.end.Sub(startedAt()); r.code != 0 || r.dur < 5*time.Second || held >= 5600*time.Millisecond {
		t.Errorf("default -l: want exit 0 about 5 s after acquisition, got %v, %v after the command started", r, held)
	}
}

// TestE2EEnvironmentAndNode: the command's environment carries the fencing
// token (the node's czxid) and the node's path; the node holds JSON about
// the holder, is ephemeral, and is gone as soon as zk-flock exits.
func TestE2EEnvironmentAndNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	envFile, release := e.path("env"), e.path("release")
	cmd := fmt.Sprintf(`sh -c 'echo "$ZK_FLOCK_TOKEN $ZK_FLOCK_LOCK ${ZK_FLOCK_SLOT-unset} ${GOMAXPROCS-unset}" > %s; while [ ! -e %s ]; do sleep 0.05; done'`, envFile, release)
	p := e.start("L", cmd)
	f := strings.Fields(waitFile(t, envFile, 15*time.Second))
	if len(f) != 4 {
		t.Fatalf("environment: want token, lock, slot and GOMAXPROCS, got %q", f)
	}
	token, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || token <= 0 {
		t.Errorf("ZK_FLOCK_TOKEN=%q: want a positive number", f[0])
	}
	if f[1] != e.node("L") {
		t.Errorf("ZK_FLOCK_LOCK=%q, want %q", f[1], e.node("L"))
	}
	if f[2] != "unset" {
		t.Errorf("ZK_FLOCK_SLOT=%q without -n, want it unset", f[2])
	}
	if os.Getenv("GOMAXPROCS") == "" && f[3] != "unset" {
		t.Errorf("GOMAXPROCS=%q: zk-flock's own setting leaked to the command", f[3])
	}

	stat := zkCli(t, "stat", e.node("L"))
	if czxid := statField(t, stat, "cZxid"); czxid != token {
		t.Errorf("ZK_FLOCK_TOKEN %d, but the node's cZxid is %d (%#x)", token, czxid, czxid)
	}
	if owner := statField(t, stat, "ephemeralOwner"); owner == 0 {
		t.Errorf("the lock node is not ephemeral:\n%s", stat)
	}
	data := strings.TrimSpace(zkCli(t, "get", e.node("L")))
	m := jsonObject(t, data)
	host, _ := os.Hostname()
	if m["host"] != host {
		t.Errorf("node data host %v, want %q: %s", m["host"], host, data)
	}
	if fmt.Sprint(m["pid"]) != strconv.Itoa(p.pid()) {
		t.Errorf("node data pid %v, want zk-flock's pid %d: %s", m["pid"], p.pid(), data)
	}
	if s, _ := m["started"].(string); s == "" {
		t.Errorf("node data: no start time: %s", data)
	} else if at, err := time.Parse(time.RFC3339Nano, s); err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Second {
		t.Errorf("node data started %q: want the acquisition time (RFC 3339): %v", s, err)
	}
	if m["command"] != cmd {
		t.Errorf("node data command %v, want %q", m["command"], cmd)
	}
	if v, _ := m["version"].(string); v == "" {
		t.Errorf("node data: no version: %s", data)
	}

	touch(t, release)
	r := p.waitTimeout(15 * time.Second)
	if r.code != 0 {
		t.Errorf("want exit 0, got %v", r)
	}
	// Closing the session deletes the node at once; an expiry would take
	// the 4 s session timeout.
	if exists(t, zc, e.node("L")) {
		t.Error("the lock node is still there right after zk-flock exited: the session was not closed")
	}
	if got := ephemerals(t, zc, e.root); len(got) != 0 {
		t.Errorf("left in %s: %v", e.root, got)
	}

	// Tokens strictly increase across successive holders.
	var last int64
	for i := range 3 {
		r := e.run("L", `sh -c 'echo $ZK_FLOCK_TOKEN'`)
		n, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
		if r.code != 0 || err != nil {
			t.Fatalf("run %d: want a token on stdout, got %v", i+1, r)
		}
		if n <= last || n <= token {
			t.Errorf("run %d: token %d is not larger than the previous %d (first %d)", i+1, n, last, token)
		}
		last = n
	}
}

// TestE2EDaemonize: -d returns 0 at once; the command runs detached, in
// /, with umask 022, without zk-flock's internal marker in its environment;
// a relative --metrics-file is relative to the caller's directory. The
// marker set in the caller's environment (by hand, or leaked) does not
// stop -d from detaching.
func TestE2EDaemonize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	marker := e.path("marker")
	script := fmt.Sprintf(`ls -l /proc/$PPID/fd > %s.fds; sleep 1; { pwd; umask; echo "${ZK_FLOCK_DAEMONIZED-unset}"; echo $$; } > %s.tmp; mv %s.tmp %s`, marker, marker, marker, marker)
	// Started from a shell with umask 077, so that 022 is -d's doing, and
	// a descriptor of its own (7), which the daemon must not keep.
	r := startExec(t, "sh", "-c", `umask 077; cd "$1"; exec 7>>inherited; export ZK_FLOCK_DAEMONIZED=1; shift; exec "$0" "$@"`, binPath, e.dir,
		"-c", e.conf, "-l", "0", "-d", "--metrics-file", "job.prom", "L", "sh -c "+sq(script)).wait()
	if r.code != 0 || r.dur >= time.Second {
		t.Errorf("-d: want exit 0 at once, got %v", r)
	}
	checkQuiet(t, "-d", r)
	if fileExists(marker) {
		t.Fatal("-d returned only after the command finished")
	}
	waitNode(t, zc, e.node("L"))
	out := strings.Fields(waitFile(t, marker, 15*time.Second))
	if len(out) != 4 {
		t.Fatalf("daemonized command wrote %q", out)
	}
	if pid, _ := strconv.Atoi(out[3]); pid > 0 {
		killLeftover(t, pid)
	}
	if out[0] != "/" {
		t.Errorf("daemonized command: working directory %s, want /", out[0])
	}
	if out[1] != "0022" {
		t.Errorf("daemonized command: umask %s, want 0022", out[1])
	}
	if out[2] != "unset" {
		t.Errorf("daemonized command: ZK_FLOCK_DAEMONIZED=%s in its environment", out[2])
	}
	if fds := readFile(marker + ".fds"); !strings.Contains(fds, "socket:") || strings.Contains(fds, "inherited") {
		t.Errorf("the daemon's descriptors (want its ZooKeeper socket, not the caller's fd 7):\n%s", fds)
	}
	testzk.WaitFor(t, 10*time.Second, "the daemon to release the lock", func() bool { return !exists(t, zc, e.node("L")) })
	if log := e.logText(); !strings.Contains(log, "command exited") {
		t.Errorf("the daemon's log has no exit of the command:\n%s", log)
	}
	testzk.WaitFor(t, 10*time.Second, "the daemon's metrics in the caller's directory", func() bool {
		return strings.Contains(readFile(e.path("job.prom")), `outcome="ran"} 1`)
	})
}

// modTime returns name's modification time.
func modTime(t *testing.T, name string) time.Time {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// loadAvg1 reads the 1-minute load average.
func loadAvg1(t *testing.T) float64 {
	t.Helper()
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) == 0 {
		t.Fatal("cannot read /proc/loadavg")
	}
	la, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return la
}

// ensureLoad makes the 1-minute load average non-zero, burning CPU in
// goroutines for at most 15 s if it is 0.00. The burners keep going until
// the test ends, so that the load stays up.
func ensureLoad(t *testing.T) float64 {
	t.Helper()
	la := loadAvg1(t)
	if la > 0 {
		return la
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	for range runtime.NumCPU() {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := 0; i < 1e6; i++ {
				}
			}
		}()
	}
	testzk.WaitFor(t, 15*time.Second, "a non-zero load average", func() bool { la = loadAvg1(t); return la > 0 })
	return la
}

// TestE2EMaxLoad: above maxla the command does not run (exit 1, nothing on
// stderr, as for a busy lock: cron would mail it; the log says why); a high
// maxla runs it.
func TestE2EMaxLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ensureLoad(t)
	marker := e.path("marker")
	r := e.run("-m", "0", "L", "touch "+marker)
	if r.code != ExitLoad {
		t.Errorf("-m 0 with a non-zero load: want exit %d, got %v", ExitLoad, r)
	}
	checkQuiet(t, "-m 0", r)
	if log := e.logText(); !strings.Contains(log, "load average is above maxla") {
		t.Errorf("-m 0: the log does not say why:\n%s", log)
	}
	if fileExists(marker) {
		t.Error("-m 0: the command ran")
	}
	if exists(t, e.checker(), e.root) {
		t.Errorf("-m 0: %s was created in ZooKeeper", e.root)
	}

	// The configuration's maxla, and a flag overriding it.
	e2 := newEnv(t, func(c map[string]any) { c["maxla"] = 0 })
	if r := e2.run("L", "touch "+marker); r.code != ExitLoad || fileExists(marker) {
		t.Errorf(`"maxla": 0 in the config: want exit %d without running, got %v`, ExitLoad, r)
	}
	if r := e2.run("-m", "1000", "L", "touch "+marker); r.code != 0 || !fileExists(marker) {
		t.Errorf(`-m 1000 over "maxla": 0: want the command run, got %v`, r)
	}
	if r := e.run("-m", "-1", "L", "true"); r.code != 0 {
		t.Errorf("-m -1 (no limit): want exit 0, got %v", r)
	}
}

// maxWholeSleep is the longest -s sleep TestE2ESleepForLoad waits out;
// on a busier machine it checks the first part of the sleep and stops it,
// so that a load of 16 does not cost 16 s.
const maxWholeSleep = 2 * time.Second

// TestE2ESleepForLoad: -s sleeps as many seconds as the load average
// before trying the lock, and says so in the DEBUG log.
func TestE2ESleepForLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	la := loadAvg1(t)
	marker := e.path("marker")
	p := e.start("-s", "L", "touch "+marker)
	sleepLine := fmt.Sprintf(" %d sleeping for the load average", p.pid())
	testzk.WaitFor(t, 15*time.Second, "the sleep line or the end", func() bool {
		return p.exited() || strings.Contains(e.logText(), sleepLine)
	})
	var slept time.Duration
	for l := range strings.SplitSeq(e.logText(), "\n") {
		if !strings.Contains(l, sleepLine) {
			continue
		}
		i := strings.Index(l, " sleep=")
		if i < 0 {
			t.Fatalf("sleep line without its duration: %q", l)
		}
		d, err := time.ParseDuration(strings.Fields(l[i+len(" sleep="):])[0])
		if err != nil {
			t.Fatalf("sleep line %q: %v", l, err)
		}
		slept = d
	}
	switch {
	case slept == 0:
		r := p.waitTimeout(10 * time.Second)
		if la > 0.05 {
			t.Errorf("-s with load %.2f: no sleep in the log: %v\n%s", la, r, e.logText())
		}
	case slept <= maxWholeSleep:
		r := p.waitTimeout(slept + 10*time.Second)
		if r.code != 0 || !fileExists(marker) || r.dur < slept || r.dur > slept+3*time.Second {
			t.Errorf("-s: the log says %v of sleep; want the command run after it, got %v", slept, r)
		}
	default:
		// The lock is not tried during the sleep; SIGTERM ends it.
		time.Sleep(maxWholeSleep * 3 / 4)
		if p.exited() || strings.Contains(e.logText(), fmt.Sprintf(" %d trying the lock", p.pid())) {
			t.Fatalf("-s: the log says %v of sleep, but the lock was tried within %v: %v\n%s", slept, maxWholeSleep*3/4, p.res, e.logText())
		}
		p.signal(syscall.SIGTERM)
		if r := p.waitTimeout(5 * time.Second); r.code != 143 || fileExists(marker) {
			t.Errorf("SIGTERM during the -s sleep: want exit 143 without running, got %v", r)
		}
	}
	t.Logf("load %.2f before the run, sleep %v", la, slept)
}

// TestE2ELogFile: every log line is in the original's format; a log file
// that cannot be opened is one warning on stderr and the job still runs.
func TestE2ELogFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.run("L", "sh -c 'exit 5'"); r.code != 5 {
		t.Fatalf("want exit 5, got %v", r)
	}
	log := e.logText()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) < 3 {
		t.Errorf("want several lines in the DEBUG log, got:\n%s", log)
	}
	for _, l := range lines {
		if !logLine.MatchString(l) {
			t.Errorf("log line not in the original's format: %q", l)
		}
	}
	for _, want := range []string{" DEBUG ", " INFO "} {
		if !strings.Contains(log, want) {
			t.Errorf("DEBUG log has no%sline:\n%s", want, log)
		}
	}

	// JSON lines, and logging to stderr: stdout stays the command's.
	jsonLog := e.path("json.log")
	e = newEnv(t, func(c map[string]any) {
		c["logger"] = map[string]any{"path": jsonLog, "level": "DEBUG", "format": "json"}
	})
	if r := e.run("L", "true"); r.code != 0 {
		t.Fatalf("json log: want exit 0, got %v", r)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(readFile(jsonLog)), "\n") {
		if m := jsonObject(t, l); m["msg"] == nil || m["level"] == nil || m["pid"] == nil {
			t.Errorf("json log line without msg, level or pid: %s", l)
		}
	}
	e = newEnv(t, func(c map[string]any) { c["logger"] = map[string]any{"path": "stderr", "level": "DEBUG"} })
	r := e.run("L", "echo out")
	if r.code != 0 || r.stdout != "out\n" || !strings.Contains(r.stderr, "command started") {
		t.Errorf(`"path": "stderr": want the log on stderr and only the command's output on stdout, got %v`, r)
	}
	for _, l := range r.stderrLines() {
		if !logLine.MatchString(l) {
			t.Errorf("log line on stderr not in the original's format: %q", l)
		}
	}

	for _, path := range []string{t.TempDir(), "/proc/nonexistent/x"} {
		e := newEnv(t, func(c map[string]any) { c["logger"] = map[string]any{"path": path, "level": "DEBUG"} })
		r := e.run("L", `sh -c 'echo ran; exit 6'`)
		if r.code != 6 || r.stdout != "ran\n" {
			t.Errorf("log path %s: want the job run with its status 6, got %v", path, r)
		}
		oneStderrLine(t, "log path "+path, result{stderr: r.stderr}, "warning", path)
	}
}

// readmeTables returns the long options in the README's option table and
// the numeric exit statuses in its exit status table.
func readmeTables(t *testing.T) (opts, statuses []string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme := readFile(filepath.Join(root, "README.md"))
	inExit := false // in the first table after the "Exit status" heading
	for l := range strings.SplitSeq(readme, "\n") {
		cells := strings.Split(l, "|")
		switch {
		case l == "Exit status":
			inExit = true
		case len(cells) < 3 || !strings.HasPrefix(l, "|"):
			inExit = inExit && len(statuses) == 0
		default:
			first := strings.TrimSpace(cells[1])
			if strings.HasPrefix(first, "`-") {
				opts = append(opts, regexp.MustCompile("--[a-z][a-z-]*").FindAllString(first, -1)...)
			}
			if inExit && regexp.MustCompile(`^\d+(\+N)?$`).MatchString(first) {
				statuses = append(statuses, first)
			}
		}
	}
	if len(opts) < 10 || len(statuses) < 8 {
		t.Fatalf("could not read the README's tables: options %q, statuses %q", opts, statuses)
	}
	return opts, statuses
}

// TestE2EHelpAndVersion: --help lists every long option of the README's
// table and every exit status; --version names the Go version.
func TestE2EHelpAndVersion(t *testing.T) {
	t.Parallel()
	e2e(t)
	opts, statuses := readmeTables(t)
	t.Logf("README: options %q, exit statuses %q", opts, statuses)
	for _, arg := range []string{"--help", "-h"} {
		r := startRaw(t, arg).wait()
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: want exit 0 and empty stderr, got %v", arg, r)
		}
		for _, opt := range opts {
			if !regexp.MustCompile(`(?m)^\s+(-\w, )?` + opt + `\b`).MatchString(r.stdout) {
				t.Errorf("%s does not list %s (from the README's option table)", arg, opt)
			}
		}
		i := strings.Index(r.stdout, "Exit status")
		if i < 0 {
			t.Fatalf("%s has no exit status section:\n%s", arg, r.stdout)
		}
		for _, st := range append(statuses, "-x STATUS") {
			if !strings.Contains(r.stdout[i:], "\n  "+st+" ") {
				t.Errorf("%s does not list exit status %s:\n%s", arg, st, r.stdout[i:])
			}
		}
	}
	r := startRaw(t, "--version").wait()
	if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "zk-flock ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("--version: want exit 0 and \"zk-flock ... %s\", got %v", runtime.Version(), r)
	}
}

// TestE2ECommandFailsToStart: a command that passes the early checks but
// cannot be executed (a script whose interpreter is missing, a file that
// is no executable) exits 126 with one line, once the lock was taken, and
// leaves no lock node.
func TestE2ECommandFailsToStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	for name, text := range map[string]string{
		"no-interpreter": "#!/nonexistent/interpreter\ntrue\n",
		"garbage":        "\x7fELF garbage, not a program\n",
	} {
		f := e.path(name)
		if err := os.WriteFile(f, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		r := e.run("L", f)
		if r.code != ExitCannotExec {
			t.Errorf("%s: want exit %d, got %v", name, ExitCannotExec, r)
		}
		oneStderrLine(t, name, r, f)
		if got := ephemerals(t, zc, e.root); len(got) != 0 {
			t.Errorf("%s: left %v", name, got)
		}
	}
}

// TestE2ELogReopened: logrotate moves the log away while the command runs;
// zk-flock's later lines go to a new file at the configured path.
func TestE2ELogReopened(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := e.path("release")
	p := e.start("L", "sh -c "+sq(waitRelease(release)))
	testzk.WaitFor(t, 10*time.Second, "the command to start", func() bool { return strings.Contains(e.logText(), "command started") })
	if err := os.Rename(e.log, e.log+".1"); err != nil {
		t.Fatal(err)
	}
	touch(t, release)
	if r := p.waitTimeout(10 * time.Second); r.code != 0 {
		t.Fatalf("want exit 0, got %v", r)
	}
	old, cur := readFile(e.log+".1"), e.logText()
	if !strings.Contains(old, "command started") || strings.Contains(old, "command exited") {
		t.Errorf("rotated log: want the lines up to the rotation only:\n%s", old)
	}
	if !strings.Contains(cur, "command exited") {
		t.Errorf("new log at %s: want the lines after the rotation, got:\n%s", e.log, cur)
	}
}

// TestE2EOneServerDown: a configuration listing a dead server first still
// works through the live one.
func TestE2EOneServerDown(t *testing.T) {
	t.Parallel()
	dead := testzk.RefusingPort(t)
	e := newEnv(t, func(c map[string]any) {
		c["host"] = []string{"127.0.0.1:" + strconv.Itoa(dead), zkAddr}
	})
	for range 3 { // the client picks a server at random
		if r := e.run("L", "echo ran"); r.code != 0 || r.stdout != "ran\n" || r.dur > 3*time.Second {
			t.Errorf("one of two servers down: want the command run promptly, got %v", r)
		}
	}
}
