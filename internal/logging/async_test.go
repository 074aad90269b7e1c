package logging

import (
	"bytes"
	jsonpkg "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAsyncOrderAndClose: writes reach the output in order, and Close
// returns once they all have.
func TestAsyncOrderAndClose(t *testing.T) {
	var out bytes.Buffer
	a := NewAsync(&out, nil)
	var want strings.Builder
	for i := range 3 * asyncQueue / 4 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		buf := []byte(line)
		if n, err := a.Write(buf); n != len(buf) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		copy(buf, "XXXX") // the caller reuses its buffer
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("output differs from what was written:\n%.200q\nwant\n%.200q", out.String(), want.String())
	}
	if _, err := a.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
}

// stalled is an output that takes nothing until released, as a pipe whose
// reader hangs.
type stalled struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (s *stalled) Write(p []byte) (int, error) {
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *stalled) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestAsyncStalledOutput: with an output that takes nothing, writes neither
// block nor pile up without bound; Close gives up after FlushTimeout; once
// the output takes data again, a line says how many writes were dropped,
// the oldest, and the newest follow it.
func TestAsyncStalledOutput(t *testing.T) {
	s := &stalled{release: make(chan struct{})}
	a := NewAsync(s, func(n int) []byte { return fmt.Appendf(nil, "dropped %d\n", n) })
	const writes = 3 * asyncQueue
	t0 := time.Now()
	for i := range writes {
		fmt.Fprintf(a, "line %d\n", i)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("%d writes to a stalled output took %v", writes, d)
	}
	t0 = time.Now()
	if err := a.Close(); !errors.Is(err, ErrStalled) {
		t.Errorf("Close: %v, want ErrStalled", err)
	}
	if d := time.Since(t0); d < FlushTimeout || d > FlushTimeout+time.Second {
		t.Errorf("Close returned after %v, want about %v", d, FlushTimeout)
	}

	close(s.release)
	<-a.done
	// Every write is there or counted as dropped, in order, each count
	// just before the first write after the gap; the newest made it.
	next, dropped := 0, 0
	lines := strings.Split(strings.TrimSuffix(s.String(), "\n"), "\n")
	for _, l := range lines {
		if n, ok := strings.CutPrefix(l, "dropped "); ok {
			d, err := strconv.Atoi(n)
			if err != nil || d <= 0 {
				t.Fatalf("bad notice %q", l)
			}
			next, dropped = next+d, dropped+d
			continue
		}
		if l != fmt.Sprintf("line %d", next) {
			t.Fatalf("got %q, want \"line %d\" (output %.200q...)", l, next, s.String())
		}
		next++
	}
	if next != writes || lines[len(lines)-1] != fmt.Sprintf("line %d", writes-1) {
		t.Errorf("output accounts for %d writes, ends %q; want %d, the last", next, lines[len(lines)-1], writes)
	}
	if kept := writes - dropped; kept < asyncQueue || kept > asyncQueue+2 {
		t.Errorf("%d writes kept, want the queue's %d (and one or two the goroutine held)", kept, asyncQueue)
	}
}

// TestDropNotice: the line about dropped writes is a record of the log's
// own format, whatever its level.
func TestDropNotice(t *testing.T) {
	json := dropNotice(func(w io.Writer) slog.Handler {
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelError})
	})(7)
	var m map[string]any
	if err := jsonpkg.Unmarshal(json, &m); err != nil || m["level"] != "WARN" || m["dropped"] != float64(7) {
		t.Errorf("JSON notice %q: %v, %v", json, m, err)
	}
	text := string(dropNotice(func(w io.Writer) slog.Handler { return NewTextHandler(w, slog.LevelError) })(7))
	if !lineRE.MatchString(text) || !strings.Contains(text, "dropped=7") || !strings.HasSuffix(text, "\n") {
		t.Errorf("text notice %q", text)
	}
}

// TestStderrLogTakesOverTheNotice: a log on the caller's Async stderr says
// what was dropped in the log's own format.
func TestStderrLogTakesOverTheNotice(t *testing.T) {
	var out bytes.Buffer
	a := NewAsync(&out, nil)
	defer a.Close()
	if _, _, err := New(StderrPath, "ERROR", "json", a); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	line := a.notice(3)
	a.mu.Unlock()
	var m map[string]any
	if err := jsonpkg.Unmarshal(line, &m); err != nil || m["dropped"] != float64(3) {
		t.Errorf("notice %q: %v, %v; want a JSON record", line, m, err)
	}
}
