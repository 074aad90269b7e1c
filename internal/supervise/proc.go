package supervise

import (
	"bytes"
	"os"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// proc is one process as read from /proc/PID/stat.
type proc struct {
	pid   int
	ppid  int
	pgrp  int
	state byte   // R, S, D, Z, T, X, …
	start uint64 // start time in clock ticks after boot: with pid, a process's identity
}

// dead reports whether the process will never run again: a zombie (waiting
// to be reaped by its parent) or already being torn down.
func (p proc) dead() bool { return p.state == 'Z' || p.state == 'X' || p.state == 'x' }

// statBufSize holds any /proc/PID/stat line: 52 numeric fields of at most
// 20 digits, plus a command name of at most 64 bytes (16 today) and spaces.
const statBufSize = 1536

// readStat reads /proc/PID/stat. The error is the open error (ENOENT or
// ESRCH once the process is gone and reaped) or a parse error.
func readStat(pid int, buf []byte) (proc, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return proc{}, err
	}
	n, err := readFull(fd, buf)
	unix.Close(fd)
	if err != nil {
		return proc{}, err
	}
	return parseStat(buf[:n])
}

func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// parseStat parses a /proc/PID/stat line. The command name stands in
// parentheses and may itself hold spaces and parentheses, so the fields are
// counted from the LAST ')'.
func parseStat(b []byte) (proc, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return proc{}, errBadStat
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return proc{}, errBadStat
	}
	// After ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime … (proc(5): fields 3 to 22).
	f := bytes.Fields(b[end+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return proc{}, errBadStat
	}
	p := proc{pid: pid, state: f[0][0]}
	if p.ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return proc{}, errBadStat
	}
	if p.pgrp, err = strconv.Atoi(string(f[2])); err != nil {
		return proc{}, errBadStat
	}
	if p.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return proc{}, errBadStat
	}
	return p, nil
}

// scans counts the scans of /proc, for the tests that check that a command
// ending by itself costs none.
var scans atomic.Int64

// scanProcs lists every process of the machine (of our PID namespace). It
// costs one open and read per process (about 10 µs each on a small VM), so it
// is called only when a kill is under way or when nothing cheaper can answer.
// A process that exits during the scan is left out.
func scanProcs() ([]proc, error) {
	scans.Add(1)
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, statBufSize)
	procs := make([]proc, 0, len(names))
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		p, err := readStat(pid, buf)
		if err != nil {
			continue // gone meanwhile
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// isSubreaper reports whether this process is a child subreaper, or is the
// init of its PID namespace (which adopts every orphan of the namespace the
// same way).
func isSubreaper() bool {
	if os.Getpid() == 1 {
		return true
	}
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return err == nil && v != 0
}

// hasChildren reports whether this process has any child at all, of any
// of its threads: running, stopped or a zombie. waitid(P_ALL) with WNOHANG
// fails with ECHILD only when there is none; WNOWAIT reaps nothing, so
// other code's children are left alone; __WALL counts children whose exit
// signal is not SIGCHLD too. Any other error counts as a child, so that the
// caller falls back to scanning /proc.
//
// For a child subreaper (or PID 1), no child means no descendant either:
// when a process dies, the kernel hands its children to the nearest living
// subreaper among its ancestors, so every live descendant keeps a chain of
// live parents up to this process. The kernel looks at the children under
// the lock that reparenting takes, so the answer holds at one instant.
func hasChildren() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
		if err != unix.EINTR {
			return err != unix.ECHILD
		}
	}
}

// MarkCloexec sets close-on-exec on every descriptor of this process above
// 2, so that a child started next inherits only 0, 1 and 2. Go opens all its
// own descriptors close-on-exec; this catches the others: descriptors this
// process inherited from its own parent (a shell's `9>lockfile`, a
// supervisor's sockets) and any made by raw syscalls or C code.
func MarkCloexec() error {
	err := unix.CloseRange(3, uint(^uint32(0)), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc/self/fd.
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 3 {
			continue
		}
		// EBADF: closed meanwhile; nothing to do.
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	return nil
}
