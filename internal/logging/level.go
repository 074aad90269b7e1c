package logging

import (
	"fmt"
	"log/slog"
	"strings"
)

// ParseLevel returns the slog level for one of the original's level names,
// ERROR, WARN, INFO or DEBUG, in any case; Python's WARNING is accepted
// for WARN, and CRITICAL and FATAL for ERROR.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "ERROR", "CRITICAL", "FATAL":
		return slog.LevelError, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "DEBUG":
		return slog.LevelDebug, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q, want ERROR, WARN, INFO or DEBUG", s)
}

// LevelName returns the name the text format prints for l: the name of the
// highest of ERROR, WARN, INFO and DEBUG that l reaches, DEBUG below that.
// The original had only these four, so slog's "WARN+2" style never appears.
func LevelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}
