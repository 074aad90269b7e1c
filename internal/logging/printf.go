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
// the others with component=zk. The logger's own level ("level") does not
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

// Printf logs fmt.Sprintf(format, args...) at the level inferred from format.
func (p *PrintfLogger) Printf(format string, args ...any) {
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
