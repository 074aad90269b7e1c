package logging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
)

func TestTextLineFormat(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewTextHandler(&buf, slog.LevelDebug))
	l.Info("Start subprocess", "cmd", "bash /home/user/test.sh", "pid", 42, "ok", true,
		"empty", "", "eq", "a=b", "quote", `say "hi"`, "cyr", "блок", "err", errors.New("boom"),
		"d", 1500*time.Millisecond, slog.Group("g", "x", 1, slog.Group("h", "y", 2)))
	line := buf.String()
	pid := strconv.Itoa(os.Getpid())
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO     ` + pid + ` Start subprocess ` +
		`cmd="bash /home/user/test.sh" pid=42 ok=true empty="" eq="a=b" quote="say \\"hi\\"" cyr=блок err=boom d=1.5s g.x=1 g.h.y=2\n$`)
	if !re.MatchString(line) {
		t.Errorf("line %q does not match %s", line, re)
	}
}

func TestTextExactLine(t *testing.T) {
	var buf bytes.Buffer
	h := NewTextHandler(&buf, slog.LevelDebug)
	h.pid = "1234"
	at := time.Date(2024, 3, 9, 7, 5, 3, 999_000_000, time.Local)
	for _, tt := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelError, "2024-03-09 07:05:03 ERROR    1234 m\n"},
		{slog.LevelError + 4, "2024-03-09 07:05:03 ERROR    1234 m\n"},
		{slog.LevelWarn, "2024-03-09 07:05:03 WARN     1234 m\n"},
		{slog.LevelWarn + 2, "2024-03-09 07:05:03 WARN     1234 m\n"},
		{slog.LevelInfo, "2024-03-09 07:05:03 INFO     1234 m\n"},
		{slog.LevelDebug, "2024-03-09 07:05:03 DEBUG    1234 m\n"},
		{slog.LevelDebug - 4, "2024-03-09 07:05:03 DEBUG    1234 m\n"},
	} {
		buf.Reset()
		if err := h.Handle(context.Background(), slog.NewRecord(at, tt.level, "m", 0)); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tt.want {
			t.Errorf("level %v: got %q, want %q", tt.level, buf.String(), tt.want)
		}
	}
	// A zero time is left out.
	buf.Reset()
	h.Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0))
	if got, want := buf.String(), "INFO     1234 m\n"; got != want {
		t.Errorf("zero time: got %q, want %q", got, want)
	}
}

func TestTextOneLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewTextHandler(&buf, nil))
	l.Info("line one\nline two\r\x00\x1b[31m\xff\ttab", "multi\nkey", "v\nw", "u", "\u2028")
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("not one line: %q", out)
	}
	for _, want := range []string{`line one\nline two\r\x00\x1b[31m\xff` + "\ttab", `"multi\nkey"="v\nw"`, `u="\u2028"`} {
		if !strings.Contains(out, want) {
			t.Errorf("%q does not contain %q", out, want)
		}
	}
}

func TestTextLevelFilter(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	l := slog.New(NewTextHandler(&buf, lv))
	l.Info("hidden")
	l.Warn("shown")
	lv.Set(slog.LevelDebug)
	l.Debug("now shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "shown") || !strings.Contains(out, "now shown") {
		t.Errorf("output %q", out)
	}
	if NewTextHandler(&buf, nil).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("nil level should mean INFO")
	}
}

func TestTextWithAttrsAndGroups(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(NewTextHandler(&buf, nil))
	a := base.With("lock", "nightly")
	b := a.WithGroup("zk").With("session", "0x1")
	c := b.WithGroup("node")
	a.Info("a", "k", 1)
	b.Info("b", "k", 2)
	c.Info("c", "k", 3, slog.Group("", "inline", 4), slog.Group("empty"))
	base.Info("base")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	wants := []string{
		" a lock=nightly k=1",
		" b lock=nightly zk.session=0x1 zk.k=2",
		" c lock=nightly zk.session=0x1 zk.node.k=3 zk.node.inline=4",
		" base",
	}
	if len(lines) != len(wants) {
		t.Fatalf("got %d lines: %q", len(lines), lines)
	}
	for i, want := range wants {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d: %q does not end with %q", i, lines[i], want)
		}
	}
}

// TestTextSlogtest runs the standard library's handler conformance tests,
// parsing lines back into maps.
func TestTextSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return NewTextHandler(&buf, nil)
	}, func(t *testing.T) map[string]any {
		return parseLine(t, buf.String())
	})
}

var lineRE = regexp.MustCompile(`^(?:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) )?([A-Z]+) +(\d+) (.*)\n$`)

// parseLine turns one line of TextHandler output into the map slogtest
// wants. The message is taken to be one word, as in slogtest's cases.
func parseLine(t *testing.T, line string) map[string]any {
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("line %q does not match %s", line, lineRE)
	}
	out := map[string]any{slog.LevelKey: m[2]}
	if m[1] != "" {
		out[slog.TimeKey] = m[1]
	}
	words := splitWords(t, m[4])
	out[slog.MessageKey] = words[0]
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("word %q of %q is not key=value", w, line)
		}
		path := strings.Split(unquote(t, k), ".")
		dst := out
		for _, g := range path[:len(path)-1] {
			sub, ok := dst[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[g] = sub
			}
			dst = sub
		}
		dst[path[len(path)-1]] = unquote(t, v)
	}
	return out
}

// splitWords splits s at spaces outside double quotes.
func splitWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
			continue
		case c == '"':
			inQuote = !inQuote
		case c == ' ' && !inQuote:
			words = append(words, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if inQuote {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	return append(words, cur.String())
}

func unquote(t *testing.T, s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("unquote %s: %v", s, err)
	}
	return u
}

func TestTextConcurrent(t *testing.T) {
	path := t.TempDir() + "/concurrent.log"
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := slog.New(NewTextHandler(f, nil))
	const goroutines, events = 16, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := base.With("g", g).WithGroup("grp")
			for i := range events {
				l.Info("event with a fairly long message to make torn writes visible", "i", i, "pad", strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != goroutines*events {
		t.Fatalf("got %d lines, want %d", len(lines), goroutines*events)
	}
	re := regexp.MustCompile(`^\S+ \S+ INFO +\d+ event with a fairly long message to make torn writes visible g=\d+ grp.i=\d+ grp.pad=x{100}$`)
	seen := map[string]bool{}
	for _, line := range lines {
		if !re.MatchString(line) {
			t.Fatalf("torn line %q", line)
		}
		seen[line[strings.Index(line, "g="):]] = true
	}
	if len(seen) != goroutines*events {
		t.Errorf("got %d distinct events, want %d", len(seen), goroutines*events)
	}
}

func ExampleTextHandler() {
	h := NewTextHandler(os.Stdout, slog.LevelInfo)
	l := slog.New(h).With("lock", "nightly")
	// A zero time keeps the example's output stable; real records have one.
	r := slog.NewRecord(time.Time{}, slog.LevelWarn, "lock lost", 0)
	r.AddAttrs(slog.String("path", "/app/nightly"), slog.String("reason", "session expired"))
	l.Handler().Handle(context.Background(), r)
	// Prints, with this process's id for 1234 (so the example is not run):
	// WARN     1234 lock lost lock=nightly path=/app/nightly reason="session expired"
}
