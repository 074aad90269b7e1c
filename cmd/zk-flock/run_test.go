package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestChildEnviron: the variables zk-flock sets for the command are never
// inherited (from an outer zk-flock, say): an inherited copy would come
// first, where getenv finds it, and ZK_FLOCK_SLOT would stay set for a
// lock without slots. Everything else passes through.
func TestChildEnviron(t *testing.T) {
	t.Setenv(envToken, "1")
	t.Setenv(envLock, "/outer/lock")
	t.Setenv(envSlot, "bogus")
	t.Setenv(envDaemon, "1")
	t.Setenv("ZK_FLOCK_TOKENISH", "kept")
	env := childEnviron()
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains([]string{envToken, envLock, envSlot, envDaemon}, name) {
			t.Errorf("inherited %s reaches the command", kv)
		}
	}
	if !slices.Contains(env, "ZK_FLOCK_TOKENISH=kept") {
		t.Errorf("an unrelated variable was dropped: %q", env)
	}
}

// TestRunStderrInProcess: run with a plain writer for stderr and the log on
// stderr too: the log's lines and zk-flock's own come out whole, in order,
// and (under -race) without a data race between them.
func TestRunStderrInProcess(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.json")
	// maxla below any load: the run ends at the load gate, before
	// anything that would change this test process (subreaper, signals).
	cfg := `{"host":["127.0.0.1:1"],"timeout":1,"app_id":"x","maxla":0.000001,"logger":{"path":"stderr","level":"DEBUG"}}`
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", conf, "--metrics-file", filepath.Join(dir, "no", "such", "x.prom"), "L", "true"}, &out, &errb)
	if code != ExitLoad || out.Len() > 0 {
		t.Fatalf("run: exit %d, stdout %q; want %d and nothing", code, out.String(), ExitLoad)
	}
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	gate := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "load average is above maxla") })
	warn := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "zk-flock: warning: metrics not written") })
	if gate < 0 || warn < 0 || warn < gate {
		t.Errorf("stderr: want the load gate's log line, then the metrics warning, got:\n%s", errb.String())
	}
}

// TestLossAfterExitMatters: a lease that ends after the command's exit costs
// the job nothing only if nothing of its tree was left and the tree was
// seen gone before the lease's KillBy.
func TestLossAfterExitMatters(t *testing.T) {
	t0 := time.Now()
	for _, tc := range []struct {
		name     string
		outlived bool
		ended    time.Time
		killBy   time.Time
		want     bool
	}{
		{"deadline ahead, nothing left", false, t0, t0.Add(300 * time.Millisecond), false},
		{"deadline ahead, leftovers killed", true, t0, t0.Add(300 * time.Millisecond), true},
		{"node deleted, learnt of before the tree was seen gone", false, t0, t0.Add(-time.Microsecond), true},
		{"tree seen gone at the deadline", false, t0, t0, true},
	} {
		if got := lossAfterExitMatters(tc.outlived, tc.ended, tc.killBy); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
