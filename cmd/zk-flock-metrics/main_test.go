package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestWritesTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.prom")
	in := `{"lock":"nightly","outcome":"lost","status":75,"wait_seconds":1.5,"run_seconds":12.25,"end_unix_seconds":1795600000.5}`
	var stderr bytes.Buffer
	if code := run([]string{path}, strings.NewReader(in), &stderr); code != exitOK {
		t.Fatalf("status %d, stderr %q", code, stderr.String())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("not Prometheus text: %v", err)
	}
	got := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				if l.GetName() == "lock" && l.GetValue() != "nightly" {
					t.Errorf("%s: lock label %q", name, l.GetValue())
				}
				if l.GetName() == "outcome" {
					key += "/" + l.GetValue()
				}
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"zk_flock_last_outcome/ran": 0, "zk_flock_last_outcome/busy": 0, "zk_flock_last_outcome/lost": 1,
		"zk_flock_last_outcome/timeout": 0, "zk_flock_last_outcome/stopped": 0, "zk_flock_last_outcome/error": 0,
		"zk_flock_last_exit_status":           75,
		"zk_flock_last_wait_seconds":          1.5,
		"zk_flock_last_run_duration_seconds":  12.25,
		"zk_flock_last_run_timestamp_seconds": 1795600000.5,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want exactly %v", got, want)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		in   string
		code int
		msg  string
	}{
		{"no path", nil, `{}`, exitUsage, "usage"},
		{"two paths", []string{"a", "b"}, `{}`, exitUsage, "usage"},
		{"not JSON", []string{filepath.Join(dir, "x.prom")}, `lock=L`, exitUsage, "standard input"},
		{"no lock", []string{filepath.Join(dir, "x.prom")}, `{"outcome":"ran"}`, exitUsage, "no lock name"},
		{"unknown outcome", []string{filepath.Join(dir, "x.prom")}, `{"lock":"L","outcome":"maybe"}`, exitUsage, `unknown outcome "maybe"`},
		{"unwritable", []string{"/nonexistent/dir/x.prom"}, `{"lock":"L","outcome":"ran"}`, exitError, "write /nonexistent/dir/x.prom: no such file or directory"},
	} {
		var stderr bytes.Buffer
		code := run(tc.args, strings.NewReader(tc.in), &stderr)
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if code != tc.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "zk-flock-metrics: ") || !strings.Contains(lines[0], tc.msg) {
			t.Errorf("%s: status %d, stderr %q; want %d and one line with %q", tc.name, code, stderr.String(), tc.code, tc.msg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad input left files behind: %v", entries)
	}
}
