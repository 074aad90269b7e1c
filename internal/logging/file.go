package logging

import (
	"os"
	"sync"
	"syscall"
)

// File is an io.WriteCloser appending to the file at a path, reopened when
// that path stops naming the open file — what Python's WatchedFileHandler
// does, so logrotate can move the log without a signal to zk-flock.
//
// Before each write it stats the path (one stat per write, nothing more);
// if the path is gone or names another file (device and inode differ), it
// opens the path again, with O_APPEND|O_CREATE and mode 0644 (less the
// umask). Files are opened close-on-exec: the child never inherits them.
// If reopening fails, writes go on to the file already open (the rotated
// one) and the next write tries again; with no file open at all, Write
// returns the open error and the data is lost.
//
// A File is safe for concurrent use.
type File struct {
	path string

	mu     sync.Mutex
	f      *os.File    // nil until an open succeeds
	fi     os.FileInfo // of f, when it was opened
	closed bool
}

// fileFlags open the log. O_NONBLOCK: a FIFO without a reader fails to
// open (ENXIO) instead of blocking zk-flock before it even connects; for
// a regular file it changes nothing, and Go's poller writes to a FIFO that
// opened as it writes to a blocking one.
const fileFlags = os.O_WRONLY | os.O_APPEND | os.O_CREATE | syscall.O_CLOEXEC | syscall.O_NONBLOCK

// OpenFile opens path for appending. It always returns a usable *File: when
// the error is non-nil the file could not be opened now, and each Write
// tries again.
func OpenFile(path string) (*File, error) {
	w := &File{path: path}
	return w, w.reopen()
}

// reopen opens the path and, on success, closes the previous file. w.mu is
// held, or w is not yet shared.
func (w *File) reopen() error {
	f, err := os.OpenFile(w.path, fileFlags, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f, w.fi = f, fi
	return nil
}

// Write appends p to the file, first reopening it if the path has moved.
func (w *File) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	fi, statErr := os.Stat(w.path)
	if w.f == nil || statErr != nil || !os.SameFile(fi, w.fi) {
		if err := w.reopen(); err != nil && w.f == nil {
			return 0, err
		}
	}
	return w.f.Write(p)
}

// Close closes the file; later writes return os.ErrClosed.
func (w *File) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
