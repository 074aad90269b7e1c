package logging

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, f *File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatalf("Write(%q): %v", s, err)
	}
}

func TestFileAppendsAndCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zk-flock.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "new\n")
	if got := readFile(t, path); got != "old\nnew\n" {
		t.Errorf("got %q, want the old content kept and the new appended", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh.log")
	f, err = OpenFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 {
		t.Errorf("new file mode %v, want at most 0644", perm)
	}
}

// TestFileRotation does what logrotate does: rename the file (or remove
// it), then the next write must land in a new file at the old path.
func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zk-flock.log")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, "line 1\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, f, "line 2\n")
	if got := readFile(t, path); got != "line 2\n" {
		t.Errorf("new file: got %q", got)
	}
	if got := readFile(t, path+".1"); got != "line 1\n" {
		t.Errorf("rotated file: got %q", got)
	}
	write(t, f, "line 3\n") // no change: same file
	if got := readFile(t, path); got != "line 2\nline 3\n" {
		t.Errorf("new file: got %q", got)
	}

	// Removed outright.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	write(t, f, "line 4\n")
	if got := readFile(t, path); got != "line 4\n" {
		t.Errorf("after remove: got %q", got)
	}

	// Replaced by another file (create, then rename over it).
	if err := os.WriteFile(path+".tmp", []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	write(t, f, "line 5\n")
	if got := readFile(t, path); got != "other\nline 5\n" {
		t.Errorf("after replace: got %q", got)
	}
}

// TestFileReopenFails: the directory is gone, so the path cannot be opened
// again; writes go on to the rotated file, and the path is used again once
// it can be created.
func TestFileReopenFails(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "zk-flock.log")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, "a\n")
	moved := filepath.Join(base, "moved.log")
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	write(t, f, "b\n")
	if got := readFile(t, moved); got != "a\nb\n" {
		t.Errorf("moved file: got %q", got)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, f, "c\n")
	if got := readFile(t, path); got != "c\n" {
		t.Errorf("recreated: got %q", got)
	}
}

func TestFileNeverOpened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	path := filepath.Join(dir, "zk-flock.log")
	f, err := OpenFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenFile: %v, want ErrNotExist", err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("lost\n")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write: %v, want ErrNotExist", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, f, "kept\n")
	if got := readFile(t, path); got != "kept\n" {
		t.Errorf("got %q", got)
	}
}

// TestFileFIFOWithoutReader: a FIFO nobody reads is a log that cannot be
// opened now, not a hang; once read, it is written.
func TestFileFIFOWithoutReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	var f *File
	go func() {
		var err error
		f, err = OpenFile(path)
		opened <- err
	}()
	select {
	case err := <-opened:
		if !errors.Is(err, syscall.ENXIO) {
			t.Fatalf("OpenFile of a FIFO without a reader: %v, want ENXIO", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenFile of a FIFO without a reader blocked")
	}
	defer f.Close()
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	write(t, f, "read at last\n")
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if got := string(buf[:n]); got != "read at last\n" {
		t.Errorf("read %q from the FIFO", got)
	}
}

// TestFileCloseOnExec: a child started by zk-flock must not inherit the log
// file.
func TestFileCloseOnExec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zk-flock.log")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	check := func(when string) {
		t.Helper()
		f.mu.Lock()
		defer f.mu.Unlock()
		rc, err := f.f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var flags int
		var ferr error
		if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0) }); err != nil {
			t.Fatal(err)
		}
		if ferr != nil {
			t.Fatal(ferr)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: FD_CLOEXEC not set (flags %#x)", when, flags)
		}
	}
	check("first open")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, f, "x\n")
	check("after reopen")
}
