package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Special values of the "path" argument of New.
const (
	// DiscardPath, the default "logger.path", logs nowhere.
	DiscardPath = "/dev/null"
	// StderrPath logs to the stderr writer given to New.
	StderrPath = "stderr"
)

// ErrLogFile is wrapped by the error New returns when the log file cannot be
// opened; the logger New returns with it works all the same.
var ErrLogFile = errors.New("logging: cannot open log file")

// New returns a logger writing events at or above level (see ParseLevel) in
// format "text" (TextHandler; also for "") or "json" (slog's JSON handler,
// with a "pid" attribute) to path, and the Closer that closes the file.
//
// Path DiscardPath (or "") logs nowhere, StderrPath logs to stderr; any other
// path is a File, appended to and reopened when logrotate moves it. Logging
// never blocks: the output is written through an Async (stderr as it is,
// if it already is one), and the Closer waits at most FlushTimeout for
// what is queued.
//
// An unknown level or format returns a nil logger and an error. If the file
// cannot be opened, New still returns a working logger and Closer, with an
// error wrapping ErrLogFile and the open error: a log file that cannot be
// opened must not fail the job, so the caller prints the error as a warning
// on stderr and goes on. That logger writes nothing until a later write
// manages to open the file (each write tries again).
func New(path, level, format string, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	var newHandler func(io.Writer) slog.Handler
	switch strings.ToLower(format) {
	case "", "text":
		newHandler = func(w io.Writer) slog.Handler { return NewTextHandler(w, lvl) }
	case "json":
		newHandler = func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: durationString}).
				WithAttrs([]slog.Attr{slog.Int("pid", os.Getpid())})
		}
	default:
		return nil, nil, fmt.Errorf("logging: unknown format %q, want \"text\" or \"json\"", format)
	}

	switch path {
	case "", DiscardPath:
		return slog.New(slog.DiscardHandler), nopCloser{}, nil
	case StderrPath:
		if stderr == nil {
			stderr = os.Stderr
		}
		if a, ok := stderr.(*Async); ok { // the caller's, closed by the caller
			a.setNotice(dropNotice(newHandler)) // the stream is the log's now
			return slog.New(newHandler(a)), nopCloser{}, nil
		}
		a := NewAsync(stderr, dropNotice(newHandler))
		return slog.New(newHandler(a)), a, nil
	}
	f, err := OpenFile(path)
	a := NewAsync(f, dropNotice(newHandler))
	logger, closer := slog.New(newHandler(a)), &asyncFile{a, f}
	if err != nil {
		return logger, closer, fmt.Errorf("%w (logging off until it can be opened): %w", ErrLogFile, err)
	}
	return logger, closer, nil
}

// dropNotice formats Async's line about dropped writes as a record of the
// log's own format, whatever its level.
func dropNotice(newHandler func(io.Writer) slog.Handler) func(int) []byte {
	return func(n int) []byte {
		var b bytes.Buffer
		r := slog.NewRecord(time.Now(), slog.LevelWarn, "earlier log lines dropped: the log output was not taking them", 0)
		r.AddAttrs(slog.Int("dropped", n))
		_ = newHandler(&b).Handle(context.Background(), r)
		return b.Bytes()
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// asyncFile closes a log File behind its Async: once what was queued is
// written, or never, if the Async's goroutine is stuck writing to it.
type asyncFile struct {
	a *Async
	f *File
}

func (c *asyncFile) Close() error {
	if err := c.a.Close(); err != nil {
		return err
	}
	return c.f.Close()
}

// durationString writes durations as "1.5s" rather than as nanoseconds, as
// the text format does: log readers are people and jq, not Go.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
