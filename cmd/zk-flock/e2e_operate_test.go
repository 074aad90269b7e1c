package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zk-flock/zk-flock/internal/testzk"
)

// TestE2EStatusAndList: --status and --list read who holds a lock while it
// runs, in text and JSON, with the documented exit statuses; an unknown
// lock is free.
func TestE2EStatusAndList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	release := e.path("release")
	holder := e.start("nightly", "sh -c "+sq(waitRelease(release)))
	sem := e.start("-n", "2", "sem", "sh -c "+sq(waitRelease(release)))
	waitNode(t, zc, e.node("nightly"))
	waitNode(t, zc, e.node("sem_0"))
	waiter := e.start("-w", "30", "nightly", "true")
	testzk.WaitFor(t, 10*time.Second, "the waiter to queue", func() bool {
		return len(children(t, zc, e.root+"/.zk-flock-queues/nightly")) == 1
	})

	r := e.run("--status", "nightly")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != ExitHeld || len(lines) != 2 || r.stderr != "" {
		t.Fatalf("--status of a held lock: want exit 0 and a header and one row, got %v", r)
	}
	for _, want := range []string{e.node("nightly"), "held", strconv.Itoa(holder.pid()), "sh -c"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("--status row %q lacks %q", lines[1], want)
		}
	}

	r = e.run("--status", "nightly", "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || r.code != ExitHeld || len(rows) != 1 {
		t.Fatalf("--status --json: %v (%v)", r, err)
	}
	h, _ := rows[0]["holder"].(map[string]any)
	_, stat := get(t, zc, e.node("nightly"))
	if rows[0]["state"] != "held" || rows[0]["client"] != "zk-flock" || h == nil ||
		h["pid"] != float64(holder.pid()) || rows[0]["token"] != float64(stat.Czxid) ||
		rows[0]["session"] != "0x"+strconv.FormatInt(stat.EphemeralOwner, 16) || rows[0]["waiting"] != float64(1) {
		t.Errorf("--status --json row: %v (node czxid %d, owner %#x)", rows[0], stat.Czxid, stat.EphemeralOwner)
	}

	r = e.run("--status", "-n", "2", "sem", "--json")
	rows = nil
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || r.code != ExitHeld || len(rows) != 2 {
		t.Fatalf("--status -n 2 --json: %v (%v)", r, err)
	}
	if rows[0]["state"] != "held" || rows[0]["slot"] != float64(0) || rows[1]["state"] != "free" || rows[1]["slot"] != float64(1) {
		t.Errorf("semaphore slots: %v", rows)
	}
	if h, _ := rows[0]["holder"].(map[string]any); h == nil || h["pid"] != float64(sem.pid()) {
		t.Errorf("slot 0's holder: %v, want pid %d", rows[0]["holder"], sem.pid())
	}

	if r := e.run("--status", "no-such-lock"); r.code != ExitFree || !strings.Contains(r.stdout, "free") || r.stderr != "" {
		t.Errorf("--status of an unknown lock: want exit 1 (free), got %v", r)
	}

	// Nodes of others: one closed to us, one persistent (nothing will
	// ever free it).
	zc.AddAuth("digest", []byte("other:secret"))
	zkRetry(t, "create a closed node", func() error {
		_, err := zc.Create(e.node("closed"), []byte("theirs"), zk.FlagEphemeral, zk.DigestACL(zk.PermAll, "other", "secret"))
		return err
	})
	zkRetry(t, "create a persistent node", func() error {
		_, err := zc.Create(e.node("stuck"), []byte("left over"), 0, zk.WorldACL(zk.PermAll))
		return err
	})
	defer zc.Delete(e.node("stuck"), -1)

	r = e.run("--list")
	if r.code != ExitOK || !strings.Contains(r.stdout, e.node("nightly")) || !strings.Contains(r.stdout, e.node("sem_0")) ||
		strings.Contains(r.stdout, ".zk-flock-") || !strings.Contains(r.stdout, "no READ permission") || !strings.Contains(r.stdout, "persistent") {
		t.Errorf("--list: want the held locks, the closed node as unreadable, the persistent one as such and no queue directory, got %v", r)
	}
	if r := e.run("--status", "closed", "--json"); r.code != ExitHeld || !strings.Contains(r.stdout, `"client": "unknown"`) {
		t.Errorf("--status of a node we may not read: want held by an unknown client, got %v", r)
	}

	touch(t, release)
	for _, p := range []*proc{holder, sem, waiter} {
		if r := p.waitTimeout(15 * time.Second); r.code != 0 {
			t.Errorf("a contender: %v", r)
		}
	}
	if r := e.run("--status", "nightly"); r.code != ExitFree {
		t.Errorf("--status after the holders left: want exit 1 (free), got %v", r)
	}
	if r := e.run("-c", "/nonexistent/flock.json", "--status", "nightly"); r.code != ExitConfig || len(r.stderrLines()) != 1 {
		t.Errorf("--status with a missing config: want exit 78 and one line, got %v", r)
	}
}

// TestE2EStatusUnreachable: --status against no ZooKeeper is one line and
// exit 69.
func TestE2EStatusUnreachable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg map[string]any) {
		cfg["host"] = []string{"127.0.0.1:1"}
		cfg["timeout"] = 1
	})
	r := e.run("--status", "nightly")
	if r.code != ExitUnavailable || len(r.stderrLines()) != 1 || r.stdout != "" {
		t.Errorf("--status, ZooKeeper unreachable: want exit 69, one line, no stdout; got %v", r)
	}
}

// TestE2EMaxRuntime: a command still running at --max-runtime (or the
// config's max_runtime) is stopped, SIGTERM then SIGKILL after the grace
// period, and zk-flock exits 124; the lock is released.
func TestE2EMaxRuntime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	r := e.run("--max-runtime", "0.5", "L", "sleep 30")
	if r.code != ExitTimeout || r.dur < 500*time.Millisecond || r.dur > 5*time.Second {
		t.Errorf("--max-runtime 0.5 with sleep 30: want exit 124 after about 0.5 s, got %v", r)
	}
	if exists(t, zc, e.node("L")) {
		t.Errorf("lock node left after --max-runtime")
	}

	// A command that ignores SIGTERM is killed after the grace period.
	pidfile := e.path("pid")
	r = e.run("--max-runtime", "0.3", "--grace", "0.5", "L",
		"sh -c "+sq("trap '' TERM; echo $$ > "+pidfile+"; while :; do sleep 0.05; done"))
	if r.code != ExitTimeout || r.dur < 800*time.Millisecond || r.dur > 5*time.Second {
		t.Errorf("stubborn command, --max-runtime 0.3 --grace 0.5: want exit 124 after about 0.8 s, got %v", r)
	}
	if pid := readPid(t, pidfile); alive(pid) {
		killLeftover(t, pid)
		t.Errorf("the stubborn command %d survived --max-runtime", pid)
	}

	// A command that ends in time keeps its own status; the config key
	// works as the flag does.
	e2 := newEnv(t, func(cfg map[string]any) { cfg["max_runtime"] = 0.4 })
	if r := e2.run("L", "sh -c 'exit 3'"); r.code != 3 {
		t.Errorf("a quick command under max_runtime: want its status 3, got %v", r)
	}
	if r := e2.run("L", "sleep 30"); r.code != ExitTimeout {
		t.Errorf("config max_runtime 0.4: want exit 124, got %v", r)
	}
	// The config's "grace": 0 is no grace, as --grace 0 is, not the
	// default 5 s.
	e3 := newEnv(t, func(cfg map[string]any) { cfg["grace"] = 0 })
	pidfile = e3.path("pid")
	r = e3.run("--max-runtime", "0.3", "L", "sh -c "+sq("trap '' TERM; echo $$ > "+pidfile+"; while :; do sleep 0.05; done"))
	if r.code != ExitTimeout || r.dur > 3*time.Second {
		t.Errorf(`stubborn command, "grace": 0 and --max-runtime 0.3: want exit 124 after about 0.3 s, got %v`, r)
	}
	if pid := readPid(t, pidfile); alive(pid) {
		killLeftover(t, pid)
		t.Errorf("the stubborn command %d survived --max-runtime", pid)
	}
	if r := e.run("--max-runtime", "soon", "L", "true"); r.code != ExitUsage || len(r.stderrLines()) != 1 {
		t.Errorf("--max-runtime soon: want exit 64 and one line, got %v", r)
	}
}

var promLine = regexp.MustCompile(`^zk_flock_[a-z_]+\{lock="[^"]+"(,outcome="[a-z]+")?\} [-0-9.e+]+$`)

// TestE2EMetricsFile: --metrics-file writes the run's outcome and figures
// in the Prometheus text format, for each outcome; an unwritable path, or a
// missing helper, is a warning and the job's status is unchanged.
func TestE2EMetricsFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prom := e.path("job.prom")
	metrics := func() map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(readFile(prom)), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			if !promLine.MatchString(line) {
				t.Errorf("metrics line %q is not Prometheus text for lock L", line)
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			m[line[:i]] = line[i+1:]
		}
		return m
	}
	outcome := func(m map[string]string) string {
		for k, v := range m {
			if strings.HasPrefix(k, "zk_flock_last_outcome{") && v == "1" {
				return k[strings.Index(k, `outcome="`)+9 : len(k)-2]
			}
		}
		return ""
	}

	before := time.Now()
	if r := e.run("--metrics-file", prom, "L", "sh -c 'sleep 0.3; exit 3'"); r.code != 3 {
		t.Fatalf("run: %v", r)
	}
	m := metrics()
	if outcome(m) != "ran" || m[`zk_flock_last_exit_status{lock="L"}`] != "3" {
		t.Errorf("after a run that exited 3: %v", m)
	}
	if d, _ := strconv.ParseFloat(m[`zk_flock_last_run_duration_seconds{lock="L"}`], 64); d < 0.3 || d > 5 {
		t.Errorf("run duration %v, want about 0.3 s", d)
	}
	if ts, _ := strconv.ParseFloat(m[`zk_flock_last_run_timestamp_seconds{lock="L"}`], 64); ts < float64(before.Unix()) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("last run timestamp %v, want now", ts)
	}
	if n := strings.Count(readFile(prom), "zk_flock_last_outcome{"); n != 6 {
		t.Errorf("%d outcome series, want all 6 (1 for this run's, 0 for the others)", n)
	}

	holder, release := holdLock(t, e)
	if r := e.run("--metrics-file", prom, "-x", "9", "L", "true"); r.code != 9 || outcome(metrics()) != "busy" {
		t.Errorf("busy: %v, metrics %v", r, metrics())
	}
	if r := e.run("--metrics-file", prom, "-w", "0.3", "L", "true"); r.code != 0 {
		t.Errorf("busy after -w 0.3: %v", r)
	} else if w, _ := strconv.ParseFloat(metrics()[`zk_flock_last_wait_seconds{lock="L"}`], 64); w < 0.3 {
		t.Errorf("wait %v s, want at least the 0.3 s waited", w)
	}
	touch(t, release)
	holder.waitTimeout(10 * time.Second)

	if r := e.run("--metrics-file", prom, "--max-runtime", "0.2", "L", "sleep 30"); r.code != ExitTimeout || outcome(metrics()) != "timeout" {
		t.Errorf("timeout: %v, metrics %v", r, metrics())
	}

	// Stopped by SIGTERM: "stopped", with the command's status.
	p := e.start("--metrics-file", prom, "L", "sh -c 'trap \"exit 7\" TERM; touch "+e.path("up")+"; while :; do sleep 0.1; done'")
	testzk.WaitFor(t, 10*time.Second, "the command to start", func() bool {
		if p.exited() {
			t.Fatalf("zk-flock exited before its command started: %v", p.res)
		}
		return fileExists(e.path("up"))
	})
	p.signal(syscall.SIGTERM)
	if r := p.waitTimeout(10 * time.Second); r.code != 7 || outcome(metrics()) != "stopped" {
		t.Errorf("SIGTERM: %v, metrics %v", r, metrics())
	}

	// Every failure is reported, those before ZooKeeper is asked too: a
	// cron job with a typo must not keep exporting its last good run.
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"L", "/nonexistent/nightly-reprot"}, ExitNotFound},
		{[]string{"L", e.conf}, ExitCannotExec}, // not executable
		{[]string{"bad/name", "true"}, ExitUsage},
		{[]string{"-c", e.path("missing.json"), "L", "true"}, ExitConfig},
	} {
		os.Remove(prom)
		r := e.run(append([]string{"--metrics-file", prom}, tc.args...)...)
		if r.code != tc.code || outcome(metrics()) != "error" || metrics()[`zk_flock_last_exit_status{lock="`+tc.args[len(tc.args)-2]+`"}`] != strconv.Itoa(tc.code) {
			t.Errorf("%q: want exit %d and outcome error with its status, got %v, metrics %q", tc.args, tc.code, r, readFile(prom))
		}
	}

	// Written atomically: no temporary file is left next to it.
	entries, _ := os.ReadDir(filepath.Dir(prom))
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), "job.prom") && de.Name() != "job.prom" {
			t.Errorf("left behind next to the metrics file: %s", de.Name())
		}
	}

	r := e.run("--metrics-file", "/nonexistent/dir/job.prom", "L", "sh -c 'exit 4'")
	if r.code != 4 || len(r.stderrLines()) != 1 || !strings.Contains(r.stderr, "warning") {
		t.Errorf("unwritable metrics path: want the job's status 4 and one warning line, got %v", r)
	}
	// Without its helper (a binary copied on its own), metrics are a
	// warning naming the helper; the job runs as ever.
	if _, err := os.Stat("/usr/lib/zk-flock/zk-flock-metrics"); err == nil {
		t.Log("not checking a missing helper: the Debian package's is installed here")
	} else {
		alone := filepath.Join(t.TempDir(), "zk-flock")
		if err := os.WriteFile(alone, []byte(readFile(binPath)), 0o755); err != nil {
			t.Fatal(err)
		}
		r := startExec(t, alone, "-c", e.conf, "--metrics-file", e.path("alone.prom"), "L", "sh -c 'exit 5'").wait()
		if r.code != 5 || len(r.stderrLines()) != 1 || !strings.Contains(r.stderr, "warning: metrics not written: zk-flock-metrics not found") {
			t.Errorf("missing helper: want the job's status 5 and one warning naming the helper, got %v", r)
		}
	}
	e3 := newEnv(t, func(cfg map[string]any) { cfg["metrics_file"] = e.path("from-config.prom") })
	if r := e3.run("L", "true"); r.code != 0 || !strings.Contains(readFile(e.path("from-config.prom")), `outcome="ran"} 1`) {
		t.Errorf("config metrics_file: %v, file %q", r, readFile(e.path("from-config.prom")))
	}
}

// TestE2EJSONLog: logger.format "json" writes one JSON object per line,
// with durations as strings, and logger.path "stderr" logs to stderr.
func TestE2EJSONLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg map[string]any) {
		cfg["logger"] = map[string]any{"path": "stderr", "level": "DEBUG", "format": "json"}
	})
	r := e.run("L", "echo hi")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("run with JSON logs on stderr: %v", r)
	}
	var sawAcquired bool
	for _, line := range r.stderrLines() {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["msg"] == "lock acquired" {
			sawAcquired = true
			if _, ok := m["timeout"].(string); !ok {
				t.Errorf("duration logged as %T (%v), want a string", m["timeout"], m["timeout"])
			}
		}
		for _, k := range []string{"pid", "component", "lock"} {
			if strings.Count(line, `"`+k+`":`) > 1 {
				t.Errorf("two %s keys in %q", k, line)
			}
		}
	}
	if !sawAcquired {
		t.Errorf("no 'lock acquired' record in:\n%s", r.stderr)
	}

	// The ZooKeeper library's messages (zklevel INFO) carry component=zk,
	// once.
	e2 := newEnv(t, func(cfg map[string]any) {
		cfg["logger"] = map[string]any{"path": "stderr", "level": "DEBUG", "zklevel": "INFO", "format": "json"}
	})
	r = e2.run("L", "true")
	if r.code != 0 || !strings.Contains(r.stderr, `"component":"zk"`) {
		t.Errorf("zklevel INFO: want library records with component zk, got %v", r)
	}
	for _, line := range r.stderrLines() {
		if strings.Count(line, `"component":`) > 1 {
			t.Errorf("two component keys in %q", line)
		}
	}

	// Logging to stderr, a failure is still one line there: not the
	// plain line and a log record of it too.
	r = e2.run("L", "/nonexistent/command")
	oneStderrLine(t, "command not found, logging to stderr", r, "/nonexistent/command")
}
