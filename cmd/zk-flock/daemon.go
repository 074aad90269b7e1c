package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/zk-flock/zk-flock/internal/config"
	"github.com/zk-flock/zk-flock/internal/logging"
	"github.com/zk-flock/zk-flock/internal/supervise"
)

// envDaemon marks the re-executed, detached copy of zk-flock (Go cannot
// fork). It is removed from the command's environment.
const envDaemon = "ZK_FLOCK_DAEMONIZED"

// daemonUmask is the file mode mask of the detached zk-flock and so of its
// command: files it creates are not writable by others, whatever the
// invoking shell's umask was.
const daemonUmask = 0o022

// isDaemon reports whether this is the detached copy: the marker in its
// environment, and the session of its own that daemonize gave it. The
// marker alone, set by hand or leaked from elsewhere, must not keep -d
// from detaching.
func isDaemon() bool {
	if os.Getenv(envDaemon) != "1" {
		return false
	}
	sid, err := unix.Getsid(0)
	return err == nil && sid == os.Getpid()
}

// daemonize starts a detached copy of zk-flock with the same arguments, in
// a new session with its standard streams on /dev/null, and returns once it
// has started. The copy validated nothing twice by luck: it parses the same
// arguments and configuration the parent just checked.
func daemonize() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	// The caller waits for its pipes to close (zk-flock -d ... 3>&1 | cat):
	// the copy must not keep the caller's descriptors, only Go's own
	// 0, 1 and 2 are passed.
	if err := supervise.MarkCloexec(); err != nil {
		return err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envDaemon+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	return cmd.Process.Release()
}

// enterDaemon finishes detaching in the copy: the working directory is /
// (so no file system is kept busy) and the umask is sane. The configuration
// was read before, relative to the caller's directory.
func enterDaemon() error {
	syscall.Umask(daemonUmask)
	return os.Chdir("/")
}

// absPaths makes the log file's and the metrics file's paths absolute, so
// that they name the same files once the working directory is / (the log
// is reopened after logrotate).
func absPaths(cfg *config.Config) (err error) {
	if p := cfg.Logger.Path; p != logging.DiscardPath && p != logging.StderrPath && p != "" {
		if cfg.Logger.Path, err = filepath.Abs(p); err != nil {
			return err
		}
	}
	if cfg.MetricsFile != "" {
		cfg.MetricsFile, err = filepath.Abs(cfg.MetricsFile)
	}
	return err
}
