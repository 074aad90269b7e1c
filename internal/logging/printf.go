package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// PrintfLogger adapts a *slog.Logger to the logger interface of ZooKeeper
// client libraries, interface{ Printf(format string, args ...any) } (the one
// of github.com/go-zookeeper/zk, set with zk.WithLogger).
//
// Such libraries give no level, so PrintfLogger infers one from the format
// string: WARN for failures ("fail", "error", "gave up", "unexpected",
// "unknown"), INFO for the rest ("connected to", "authenticated", ...). It
// drops messages below its own minimum — the config's "zklevel" — and logs
// the others with component=zk, with the library's "authentication failed"
// said as what it is: the session handshake after (re)connecting failed (a
// server that does not answer in time, say), not credentials refused. The
// logger's own level ("level") does not
// filter them: like the original, where the ZooKeeper C client wrote the
// same file at its own level, "zklevel" alone decides which library messages
// appear. With "zklevel" ERROR (as in the README's example) none do: the
// library reports nothing worse than WARN, and zk-flock logs the failures
// that matter itself.
//
// A PrintfLogger is safe for concurrent use if its logger's handler is.
type PrintfLogger struct {
	h   slog.Handler
	min slog.Level
}

// NewPrintf returns a PrintfLogger writing through l's handler the messages
// at or above min.
func NewPrintf(l *slog.Logger, min slog.Level) *PrintfLogger {
	return &PrintfLogger{h: l.Handler().WithAttrs([]slog.Attr{slog.String("component", "zk")}), min: min}
}

// warnWords mark a library message as a warning.
var warnWords = []string{"fail", "error", "gave up", "unexpected", "unknown"}

// reworded are library formats that mislead an operator, and what they
// mean. go-zookeeper's "authentication" is the connect handshake that sets
// a session up or resumes it; refused credentials come as a session event
// (StateAuthFailed), which zk-flock reports itself.
var reworded = map[string]string{
	"authentication failed: %s": "session handshake failed: %s",
}

// Printf logs fmt.Sprintf(format, args...) at the level inferred from format.
func (p *PrintfLogger) Printf(format string, args ...any) {
	if f, ok := reworded[format]; ok {
		format = f
	}
	lvl := slog.LevelInfo
	lower := strings.ToLower(format)
	for _, w := range warnWords {
		if strings.Contains(lower, w) {
			lvl = slog.LevelWarn
			break
		}
	}
	if lvl < p.min {
		return
	}
	r := slog.NewRecord(time.Now(), lvl, strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"), 0)
	_ = p.h.Handle(context.Background(), r) // As slog.Logger does, ignore the handler's error.
}
