package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zk-flock/zk-flock/internal/zklock"
)

func TestDescribe(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	since := now.Add(-90 * time.Second)
	ours := zklock.NodeInfo{Name: "job", Path: "/app/job", Held: true, Session: 0xabc, Token: 42, Since: since, Waiters: 3,
		Data: []byte(`{"host":"web-1","pid":7,"started":"2026-11-25T11:58:30Z","command":"backup --all","version":"1.0"}`)}
	original := zklock.NodeInfo{Name: "job", Path: "/app/job", Held: true, Session: 0xdef, Token: 9, Since: since,
		Data: []byte("web-2a1b2c3d4-5e6f")}
	free := zklock.NodeInfo{Name: "sem_1", Path: "/app/sem_1"}
	empty := zklock.NodeInfo{Name: "old", Path: "/app/old", Held: true, Session: 0x123, Token: 5, Since: now.Add(-1723 * time.Millisecond)}
	if r := describe(empty, &options{lock: "old"}, now); r.HeldFor != 1.723 {
		t.Errorf("held for %v seconds, want exactly 1.723 (whole milliseconds)", r.HeldFor)
	}

	r := describe(ours, &options{lock: "job"}, now)
	if r.State != "held" || r.Client != "zk-flock" || r.Holder == nil || r.Holder.Host != "web-1" || r.Holder.PID != 7 ||
		r.Token != 42 || r.Session != "0xabc" || r.HeldFor != 90 || r.Waiting != 3 || r.Since != "2026-11-25T11:58:30Z" {
		t.Errorf("zk-flock holder: %+v", r)
	}
	r = describe(original, &options{lock: "job"}, now)
	if r.State != "held" || r.Client != "original" || r.Holder != nil || r.Raw != "web-2a1b2c3d4-5e6f" {
		t.Errorf("original holder: %+v", r)
	}
	r = describe(free, &options{lock: "sem", slots: 2}, now)
	if r.State != "free" || r.Lock != "sem" || r.Slot == nil || *r.Slot != 1 || r.Holder != nil || r.Token != 0 {
		t.Errorf("free slot: %+v", r)
	}

	var out bytes.Buffer
	printStatus(&out, []lockStatus{
		describe(ours, &options{lock: "job"}, now),
		describe(original, &options{lock: "job"}, now),
		describe(free, &options{lock: "sem", slots: 2}, now),
		describe(empty, &options{lock: "old"}, now),
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "NODE") {
		t.Fatalf("table:\n%s", out.String())
	}
	for i, want := range [][]string{
		{"/app/job", "held", "web-1", "7", "1m30s", "42", "0xabc", "3", "backup --all"},
		{"/app/job", "held", "web-2a1b2c3d4-5e6f (original client)"},
		{"/app/sem_1", "free"},
		{"/app/old", "held   (original client, no data)"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
}

func TestHolderDataTruncatesCommand(t *testing.T) {
	for _, cmd := range []string{
		"true",
		strings.Repeat("a", maxHolderCommand),
		strings.Repeat("a", maxHolderCommand+1),
		strings.Repeat("ж", maxHolderCommand), // 2 bytes each: the cut must not split one
		"true " + strings.Repeat("x ", 600_000),
	} {
		var h holder
		if err := json.Unmarshal(holderData(cmd), &h); err != nil {
			t.Fatalf("command of %d bytes: %v", len(cmd), err)
		}
		switch {
		case len(cmd) <= maxHolderCommand && h.Command != cmd:
			t.Errorf("command of %d bytes changed: %.40q…", len(cmd), h.Command)
		case len(cmd) > maxHolderCommand && (len(h.Command) > maxHolderCommand || !strings.HasSuffix(h.Command, "…") ||
			!strings.HasPrefix(cmd, strings.TrimSuffix(h.Command, "…")) || !utf8.ValidString(h.Command)):
			t.Errorf("command of %d bytes kept as %d bytes %.40q…%q", len(cmd), len(h.Command), h.Command, h.Command[max(0, len(h.Command)-8):])
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"host-1 (x)":         "host-1 (x)",
		"锁-блокировка-ü":     "锁-блокировка-ü",
		"x\x1b[2Jy\r":        `x\x1b[2Jy\r`,
		"sleep 8\n# two":     `sleep 8\n# two`,
		"a\tb":               `a\tb`,
		"zero\u200bwidth":    `zero\u200bwidth`,
		"bad \xff byte":      `bad \xff byte`,
		"\u2028line sep\x7f": `\u2028line sep\x7f`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPrintStatusEscapes: node data is anyone's to write; the table shows
// it escaped, one line per lock.
func TestPrintStatusEscapes(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, []lockStatus{
		{Node: "/app/a", State: "held", Client: "original", Raw: "host\x1b[31mRED\x07\nfake line"},
		{Node: "/app/b", State: "held", Client: "zk-flock", Holder: &holder{Host: "h\r", PID: 1, Command: "sh -c 'x\ny'"}},
	})
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\r") || strings.Count(out, "\n") != 3 {
		t.Errorf("status table with control characters in node data:\n%s", out)
	}
	for _, want := range []string{`host\x1b[31mRED\a\nfake line (original client)`, `h\r`, `sh -c 'x\ny'`} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %s:\n%s", want, out)
		}
	}
}

// TestPrintStatusCapsHolder: one node holding a megabyte (anyone may write
// an original client's node) does not make every row of the table a
// megabyte wide; --json keeps it whole.
func TestPrintStatusCapsHolder(t *testing.T) {
	var b bytes.Buffer
	big := strings.Repeat("x", 1<<20)
	printStatus(&b, []lockStatus{
		{Node: "/app/a", State: "held", Client: "original", Raw: big},
		{Node: "/app/b", State: "held", Client: "zk-flock", Holder: &holder{Host: big, PID: 1, Command: "true"}},
		{Node: "/app/c", State: "free"},
	})
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if len(line) > 300 {
			t.Errorf("row %d is %d bytes long: %.120s…", i, len(line), line)
		}
	}
	if rows := strings.Split(b.String(), "\n"); len(rows) < 3 || !strings.Contains(rows[1], "x… (original client)") || !strings.Contains(rows[2], "x… ") {
		t.Errorf("the cuts are not marked:\n%.600s", b.String())
	}
}
