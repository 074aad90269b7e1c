package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos"
)

func TestWriteDocReplacesOnlyTheFigures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "R.md")
	before := "# Title\n\ntext\n\n" + beginMarker + "\nold figures\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &chaos.Report{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Mode: "long", Cycles: 12345,
		Settings: chaos.Settings{T: 3 * time.Second}, Rows: []chaos.Row{{Scenario: "1a", Name: "partition 2T", Episodes: 3, Cycles: 100}}}
	for range 2 { // idempotent
		if err := writeDoc(path, rep); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"# Title\n\ntext\n\n" + beginMarker, "12345 lock cycles", "| 1a | partition 2T | 3 | 100 |", endMarker + "\n\nafter\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old figures") || strings.Count(got, beginMarker) != 1 {
		t.Errorf("old figures kept or markers duplicated:\n%s", got)
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(path, rep); err == nil {
		t.Error("no markers: want an error")
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb strings.Builder
	if code := run(t.Context(), []string{"-nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	out.Reset()
	if code := run(t.Context(), []string{"-list"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "1a  partition 2T") {
		t.Errorf("-list: exit %d, output %q", code, out.String())
	}
}
