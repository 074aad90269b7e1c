package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"ERROR", slog.LevelError, true},
		{"error", slog.LevelError, true},
		{"WARN", slog.LevelWarn, true},
		{"Warn", slog.LevelWarn, true},
		{"WARNING", slog.LevelWarn, true},
		{"warning", slog.LevelWarn, true},
		{"INFO", slog.LevelInfo, true},
		{"DEBUG", slog.LevelDebug, true},
		{"debug", slog.LevelDebug, true},
		{"", 0, false},
		{"TRACE", 0, false},
		{"CRITICAL", slog.LevelError, true},
		{"fatal", slog.LevelError, true},
		{"NOTSET", 0, false},
		{" INFO", 0, false},
		{"INFO+1", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, ok=%t", tt.in, got, err, tt.want, tt.ok)
		}
		if name := strings.NewReplacer("WARNING", "WARN", "CRITICAL", "ERROR", "FATAL", "ERROR").Replace(strings.ToUpper(tt.in)); tt.ok && LevelName(got) != name {
			t.Errorf("LevelName(ParseLevel(%q)) = %q", tt.in, LevelName(got))
		}
	}
}

func TestNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zk-flock.log")
	l, c, err := New(path, "info", "text", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("Initialize logger succesfully")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	if strings.Contains(got, "hidden") || !lineRE.MatchString(got) || !strings.Contains(got, " INFO ") {
		t.Errorf("log file: %q", got)
	}
}

func TestNewJSON(t *testing.T) {
	var stderr bytes.Buffer
	l, c, err := New(StderrPath, "DEBUG", "json", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "k", "v", "took", 1500*time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(stderr.Bytes(), &m); err != nil {
		t.Fatalf("%q: %v", stderr.String(), err)
	}
	if m["msg"] != "hello" || m["level"] != "DEBUG" || m["k"] != "v" || m["pid"] != float64(os.Getpid()) || m["took"] != "1.5s" {
		t.Errorf("json line %v", m)
	}
}

func TestNewStderrAndDiscard(t *testing.T) {
	var stderr bytes.Buffer
	l, c, err := New("stderr", "WARN", "", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if out := stderr.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "WARN     ") {
		t.Errorf("stderr: %q", out)
	}
	for _, p := range []string{"/dev/null", ""} {
		l, c, err := New(p, "DEBUG", "text", &stderr)
		if err != nil {
			t.Fatal(err)
		}
		if l.Enabled(context.Background(), slog.LevelError) {
			t.Errorf("path %q: logger is enabled, want it to discard", p)
		}
		l.Error("nowhere")
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestNewBadArguments(t *testing.T) {
	if l, c, err := New("/dev/null", "LOUD", "text", nil); err == nil || l != nil || c != nil {
		t.Errorf("bad level: %v, %v, %v", l, c, err)
	}
	if l, c, err := New("/dev/null", "INFO", "xml", nil); err == nil || l != nil || c != nil {
		t.Errorf("bad format: %v, %v, %v", l, c, err)
	}
}

// TestNewUnopenable: a log file that cannot be opened returns a warning
// error and a logger that works (and writes once the file can be opened).
func TestNewUnopenable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	path := filepath.Join(dir, "zk-flock.log")
	l, c, err := New(path, "INFO", "text", nil)
	if !errors.Is(err, ErrLogFile) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("New: err %v, want ErrLogFile wrapping ErrNotExist and naming the path", err)
	}
	if l == nil || c == nil {
		t.Fatal("New returned a nil logger or Closer with the warning")
	}
	l.Info("lost") // must not panic
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("log file after a write with its directory missing: %v", err)
	}

	// Each write tries the open again.
	l, c, err = New(path, "INFO", "text", nil)
	if !errors.Is(err, ErrLogFile) {
		t.Fatalf("New again: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.Info("kept")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); !strings.Contains(got, "kept") {
		t.Errorf("log file: %q", got)
	}

	// A directory as the path: never openable.
	l, c, err = New(t.TempDir(), "INFO", "json", nil)
	if !errors.Is(err, ErrLogFile) || l == nil || c == nil {
		t.Fatalf("directory: %v", err)
	}
	l.Error("lost")
	c.Close()
}

func TestPrintfLogger(t *testing.T) {
	var buf bytes.Buffer
	// The logger's own level is ERROR: zklevel alone decides.
	l := slog.New(NewTextHandler(&buf, slog.LevelError)).With("lock", "x")
	tests := []struct {
		min    slog.Level
		format string
		args   []any
		want   string // "" means dropped
	}{
		{slog.LevelInfo, "connected to %s", []any{"127.0.0.1:2181"}, "INFO     %d connected to 127.0.0.1:2181 lock=x component=zk"},
		{slog.LevelInfo, "authenticated: id=%d, timeout=%d", []any{7, 4000}, "INFO     %d authenticated: id=7, timeout=4000 lock=x component=zk"},
		{slog.LevelInfo, "failed to connect to %s: %v", []any{"zk1:2181", errors.New("refused")}, "WARN     %d failed to connect to zk1:2181: refused lock=x component=zk"},
		{slog.LevelWarn, "connected to %s", []any{"zk1:2181"}, ""},
		{slog.LevelWarn, "Failed to set previous watches: %v", []any{"x"}, "WARN     %d Failed to set previous watches: x lock=x component=zk"},
		{slog.LevelWarn, "Response for unknown request with xid %d", []any{3}, "WARN     %d Response for unknown request with xid 3 lock=x component=zk"},
		{slog.LevelWarn, "gave up trying to send opClose to server", nil, "WARN     %d gave up trying to send opClose to server lock=x component=zk"},
		{slog.LevelError, "failed to connect to %s: %v", []any{"zk1:2181", "refused"}, ""},
		{slog.LevelDebug, "recv loop terminated: %v\n", []any{"EOF"}, "INFO     %d recv loop terminated: EOF lock=x component=zk"},
		{slog.LevelWarn, "authentication failed: %s", []any{errors.New("read tcp: i/o timeout")}, "WARN     %d session handshake failed: read tcp: i/o timeout lock=x component=zk"},
	}
	for _, tt := range tests {
		buf.Reset()
		var p interface{ Printf(string, ...any) } = NewPrintf(l, tt.min)
		p.Printf(tt.format, tt.args...)
		got := buf.String()
		if tt.want == "" {
			if got != "" {
				t.Errorf("min %v, %q: got %q, want nothing", tt.min, tt.format, got)
			}
			continue
		}
		want := strings.Replace(tt.want, "%d", strconvPid(), 1) + "\n"
		if !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
			t.Errorf("min %v, %q: got %q, want a line ending %q", tt.min, tt.format, got, want)
		}
	}
}

func strconvPid() string { return NewTextHandler(nil, nil).pid }
