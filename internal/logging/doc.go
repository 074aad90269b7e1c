// Package logging builds zk-flock's slog loggers: one line per event in the
// original's format (or JSON), to a file reopened when logrotate moves it.
//
// It knows nothing of ZooKeeper or processes; PrintfLogger adapts a logger to
// the Printf interface that ZooKeeper client libraries take.
package logging
