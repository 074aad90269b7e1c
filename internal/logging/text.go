package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// TimeFormat is the original's timestamp: local time, to the second.
const TimeFormat = "2006-01-02 15:04:05"

// TextHandler is a slog.Handler writing the original zk-flock's line format:
//
//	2006-01-02 15:04:05 INFO     1234 message key=value group.key="a value"
//
// Level names are ERROR, WARN, INFO and DEBUG (see LevelName), padded to
// eight columns as the original's "%(levelname)-8s" did; PID is the process
// id; attributes follow as key=value, group names joined to keys by dots,
// keys and values quoted (strconv.Quote) when empty or holding spaces, '=',
// '"' or unprintable characters. Control characters in the message are
// escaped, so an event is always one line. A zero record time omits the
// timestamp, as slog's handlers do.
//
// Each event is written with a single Write call, so lines from concurrent
// goroutines — or from several processes appending to one O_APPEND file —
// never interleave. A TextHandler and those derived from it by WithAttrs and
// WithGroup share one mutex and are safe for concurrent use.
type TextHandler struct {
	w     io.Writer
	mu    *sync.Mutex
	level slog.Leveler
	pid   string
	// attrs is the preformatted output of WithAttrs, each with a leading
	// space; prefix is the open groups, each followed by a dot.
	attrs  []byte
	prefix string
}

// NewTextHandler returns a TextHandler writing to w the events at or above
// level (slog.LevelInfo when level is nil).
func NewTextHandler(w io.Writer, level slog.Leveler) *TextHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &TextHandler{w: w, mu: new(sync.Mutex), level: level, pid: strconv.Itoa(os.Getpid())}
}

// Enabled reports whether l is at or above the handler's level.
func (h *TextHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle formats r as one line and writes it. The error is the writer's.
func (h *TextHandler) Handle(_ context.Context, r slog.Record) error {
	buf := make([]byte, 0, 256)
	if !r.Time.IsZero() {
		buf = r.Time.AppendFormat(buf, TimeFormat)
		buf = append(buf, ' ')
	}
	name := LevelName(r.Level)
	buf = append(buf, name...)
	for range 8 - len(name) {
		buf = append(buf, ' ')
	}
	buf = append(buf, ' ')
	buf = append(buf, h.pid...)
	buf = append(buf, ' ')
	buf = appendMessage(buf, r.Message)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	buf = append(buf, '\n')

	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(buf)
	return err
}

// WithAttrs returns a handler that adds attrs, under the open groups, to
// every event.
func (h *TextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that puts the attributes that follow under
// name ("name.key=value").
func (h *TextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendMessage appends msg, escaping control characters (and invalid
// UTF-8) so that it cannot break the line.
func appendMessage(buf []byte, msg string) []byte {
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, `\x`...)
			buf = append(buf, "0123456789abcdef"[msg[i]>>4], "0123456789abcdef"[msg[i]&0xf])
		case r == '\t':
			buf = append(buf, '\t')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r) // e.g. '\n'
			buf = append(buf, q[1:len(q)-1]...)
		default:
			buf = append(buf, msg[i:i+size]...)
		}
		i += size
	}
	return buf
}

// appendAttr appends " key=value" for a, or the attributes of a group,
// following slog's rules: values are resolved, empty attributes and empty
// groups are dropped, and an inline group (empty key) adds no prefix.
func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return buf
		}
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range attrs {
			buf = appendAttr(buf, prefix, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = appendMaybeQuoted(buf, prefix+a.Key)
	buf = append(buf, '=')
	var s string
	switch a.Value.Kind() {
	case slog.KindTime:
		s = a.Value.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			s = err.Error()
			break
		}
		s = a.Value.String()
	default:
		s = a.Value.String()
	}
	return appendMaybeQuoted(buf, s)
}

func appendMaybeQuoted(buf []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == ' ' || r == '=' || r == '"' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
