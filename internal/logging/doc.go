// Package logging builds zk-flock's slog loggers: one line per event, to a file reopened when logrotate moves it.
package logging
