package metrics

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindHelperBesideTheExecutable(t *testing.T) {
	bin := t.TempDir()
	self := filepath.Join(bin, "zk-flock")
	writeScript(t, self, "exit 0")
	helper := filepath.Join(bin, HelperName)
	writeScript(t, helper, "exit 0")
	if got, err := FindHelper(self); err != nil || got != helper {
		t.Fatalf("FindHelper = %q, %v; want %q", got, err, helper)
	}
	// Through a symlink (/usr/local/bin/zk-flock -> /opt/zk-flock/zk-flock),
	// beside the real file.
	link := filepath.Join(t.TempDir(), "zk-flock")
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	if got, err := FindHelper(link); err != nil || got != helper {
		t.Fatalf("FindHelper via a symlink = %q, %v; want %q", got, err, helper)
	}
}

func TestFindHelperMissing(t *testing.T) {
	if _, err := os.Stat(filepath.Join(LibDir, HelperName)); err == nil {
		t.Skipf("%s is installed here", filepath.Join(LibDir, HelperName))
	}
	bin := t.TempDir()
	// Not executable: not taken.
	if err := os.WriteFile(filepath.Join(bin, HelperName), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := FindHelper(filepath.Join(bin, "zk-flock"))
	if err == nil || !strings.Contains(err.Error(), HelperName+" not found in "+bin+" or "+LibDir) {
		t.Fatalf("err = %v, want it to name both places", err)
	}
}

func TestWritePassesTheRunAndReportsTheHelpersLine(t *testing.T) {
	dir := t.TempDir()
	helper := filepath.Join(dir, HelperName)
	writeScript(t, helper, `cat > "$1"`)
	out := filepath.Join(dir, "run.json")
	r := Run{Lock: "L", Outcome: OutcomeBusy, Status: 1, Wait: 0.25, End: 1.5}
	if err := Write(context.Background(), helper, out, r); err != nil {
		t.Fatal(err)
	}
	var got Run
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &got) != nil || got != r {
		t.Fatalf("the helper read %+v (%v), want %+v", got, err, r)
	}

	writeScript(t, helper, `echo "zk-flock-metrics: open $1: permission denied" >&2; exit 1`)
	err := Write(context.Background(), helper, "/x/job.prom", r)
	if err == nil || err.Error() != "open /x/job.prom: permission denied" {
		t.Fatalf("err = %v, want the helper's own message", err)
	}
	writeScript(t, helper, `exit 3`)
	if err := Write(context.Background(), helper, out, r); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("a silent failure: err = %v", err)
	}
}

func TestWriteInterrupted(t *testing.T) {
	helper := filepath.Join(t.TempDir(), HelperName)
	writeScript(t, helper, "exec sleep 5")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := Write(ctx, helper, filepath.Join(t.TempDir(), "job.prom"), Run{Lock: "L", Outcome: OutcomeRan})
	if err == nil || !strings.Contains(err.Error(), "interrupted") || time.Since(t0) > 3*time.Second {
		t.Fatalf("err = %v after %v, want an interruption at once", err, time.Since(t0))
	}
}

func TestCheck(t *testing.T) {
	for _, o := range Outcomes {
		if err := (Run{Lock: "L", Outcome: o}).Check(); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
	if (Run{Outcome: OutcomeRan}).Check() == nil || (Run{Lock: "L", Outcome: "ok"}).Check() == nil {
		t.Error("Check accepts a run without a lock or with an unknown outcome")
	}
}
