package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec says what to run and how.
type Spec struct {
	// Argv is the command and its arguments. Unless Path is set, Argv[0]
	// is looked up in the PATH of Env, the way execvp(3) does.
	Argv []string

	// Path, when set, is the executable to run, and Argv[0] is only passed
	// to it. When Argv is empty, Argv is {Path}.
	Path string

	// Env is the child's environment; nil means this process's. Duplicate
	// keys are dropped, the last one wins (as in os/exec).
	Env []string

	// Dir is the child's working directory; empty means this process's.
	Dir string

	// Stdin, Stdout and Stderr become the child's descriptors 0, 1 and 2;
	// nil means /dev/null. The child inherits no other descriptor. As with
	// os/exec, Start calls Fd, which puts a file in blocking mode.
	Stdin, Stdout, Stderr *os.File

	// Pdeathsig, when not zero, is the signal the child receives if this
	// process dies before it (Linux prctl PR_SET_PDEATHSIG).
	Pdeathsig syscall.Signal

	// Logger receives one record per event (start, exit, signals sent,
	// escaped processes killed); nil discards them.
	Logger *slog.Logger

	// StopTreeOnExit makes the Child stop what is left of its tree as soon
	// as the direct child exits, as StopBy(the exit + ExitGrace) would,
	// without waiting for a caller to ask.
	StopTreeOnExit bool

	// ExitGrace is StopTreeOnExit's grace period: what is left gets
	// SIGTERM at the exit and SIGKILL ExitGrace later.
	ExitGrace time.Duration
}

// ExitStatus is how the direct child ended.
type ExitStatus struct {
	// Code is the exit code of a child that exited, or -1 if it was killed
	// by a signal or its status could not be collected (another part of
	// this process reaped it).
	Code int

	// Signal is the signal that killed the child, or 0.
	Signal syscall.Signal
}

// ExitCode returns the status a shell would report: Code, or 128+N for a
// child killed by signal N. It is -1 if the status is unknown.
func (s ExitStatus) ExitCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

// String describes the status for a log line: "exit status 3",
// "killed by signal 9 (killed)" or "exit status unknown".
func (s ExitStatus) String() string {
	switch {
	case s.Signal != 0:
		return "killed by signal " + strconv.Itoa(int(s.Signal)) + " (" + s.Signal.String() + ")"
	case s.Code < 0:
		return "exit status unknown"
	}
	return "exit status " + strconv.Itoa(s.Code)
}

func statusOf(ws unix.WaitStatus) ExitStatus {
	switch {
	case ws.Exited():
		return ExitStatus{Code: ws.ExitStatus()}
	case ws.Signaled():
		return ExitStatus{Code: -1, Signal: ws.Signal()}
	}
	return ExitStatus{Code: -1}
}

// Child is a running command in its own process group, with everything it
// starts (its tree). Its methods may be called from any goroutine.
//
// Two goroutines belong to a Child. The first forked it, on an OS thread
// locked to it, and waits for it and reaps it (see Start); it ends when the
// child has been reaped. The second carries out Stop and Kill and watches
// for the end of the tree; it ends when TreeDone is closed, that is when
// the tree is gone, whether it was stopped or ended by itself.
type Child struct {
	pid        int // the direct child's pid, also its process group's id
	log        *slog.Logger
	subreaper  bool           // orphans of the tree come to this process: find, kill and reap them
	stopOnExit bool           // Spec.StopTreeOnExit
	exitGrace  time.Duration  // Spec.ExitGrace
	before     map[int]uint64 // this process's children at Start (pid → start time): not the tree's

	exited   chan struct{} // closed by the reaper when the direct child has been reaped
	treeDone chan struct{} // closed by the monitor when nothing of the tree remains
	wake     chan struct{} // Stop requests to the monitor; buffered, one pending is enough

	mu        sync.Mutex
	reaped    bool // the direct child has been reaped: its pid may belong to someone else
	status    ExitStatus
	groupGone bool      // the process group is empty: its id may belong to someone else
	stopping  bool      // Stop was asked for
	outlived  bool      // something of the tree still ran when the direct child had exited
	deadline  time.Time // when to SIGKILL; only moves earlier

	// Owned by the monitor goroutine.
	tracked        map[int]uint64 // processes of the tree outside the group: pid → start time
	zombieScanAt   time.Time      // next full scan to look for a group of zombies only
	zombieScanStep time.Duration
	zombiesOnly    bool // the last scan found no live member of the group
}

// registry lists the live Children of this process by pid (which is also
// their process group id), from their fork until their tree is gone, so that
// a sweep of orphans never takes another Child, or a Child being started, for
// an orphan. Start holds the write lock across the fork, sweeps the read
// lock across their scan.
var registry = struct {
	sync.RWMutex
	children map[int]*Child
}{children: make(map[int]*Child)}

type forkResult struct {
	pid int
	err error
}

// Start starts the command of spec in a new process group (its pgid is its
// pid) and returns at once; it does not wait for the command.
//
// The command is resolved first, so that a missing one gives an error that
// matches ErrNotFound (a shell's 127) and one that exists but cannot be run
// an error that matches ErrNotExecutable (126); the message names the
// command on one line. Any other failure (bad Dir, fork failure) is
// returned wrapped, with no child left behind.
//
// The child inherits only descriptors 0, 1 and 2. To ensure that, Start
// (Prepare, see Prepared) marks every other descriptor of this process
// close-on-exec (Go opens all its own that way already; this catches
// descriptors inherited from this process's parent and those made by raw
// syscalls). A descriptor that other code of this process meant to pass to
// a process it starts by other means loses that, unless passed by
// os/exec's ExtraFiles, which still works.
//
// Signals that this process ignores stay ignored in the child (exec keeps
// SIG_IGN); Go's own handlers are reset to the default.
//
// If this process is a child subreaper (EnableSubreaper) at Start (at
// Prepare, for a Prepared), the Child also finds, kills and reaps the
// tree's processes that leave the process group, once orphaned; see the
// package documentation.
func Start(spec Spec) (*Child, error) {
	p, err := Prepare(spec)
	if err != nil {
		return nil, err
	}
	return p.Start()
}

// Prepared is a command resolved and checked, ready to start: for a caller
// that starts it at a moment when every microsecond counts (a lock just
// taken), Prepare does beforehand what Start would do first.
type Prepared struct {
	spec      Spec
	name      string // argv[0], for messages
	path      string
	argv      []string
	env       []string // deduplicated
	subreaper bool
}

// Prepare does what Start does before it starts anything, with the same
// errors: it resolves the command, checks it and the working directory,
// and marks this process's descriptors close-on-exec. A command removed
// after Prepare fails to start with the same errors.
func Prepare(spec Spec) (*Prepared, error) {
	argv := spec.Argv
	if len(argv) == 0 {
		if spec.Path == "" {
			return nil, fmt.Errorf("%w: empty command", ErrNotFound)
		}
		argv = []string{spec.Path}
	}
	name := argv[0]
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	env = dedupEnv(env)
	if spec.Dir != "" {
		fi, err := os.Stat(spec.Dir)
		if err == nil && !fi.IsDir() {
			err = syscall.ENOTDIR
		}
		if err != nil {
			return nil, fmt.Errorf("supervise: working directory %q: %w", spec.Dir, unwrapPathError(err))
		}
	}
	var path string
	var err error
	if spec.Path != "" {
		path, err = checkExecutable(spec.Path, inDir(spec.Dir, spec.Path))
	} else {
		path, err = lookPath(name, env, spec.Dir)
	}
	if err != nil {
		return nil, err
	}
	if spec.Logger == nil {
		spec.Logger = slog.New(slog.DiscardHandler)
	}
	if err := MarkCloexec(); err != nil {
		spec.Logger.Warn("cannot mark descriptors close-on-exec: the child may inherit some", "err", err)
	}
	return &Prepared{spec: spec, name: name, path: path, argv: argv, env: env, subreaper: isSubreaper()}, nil
}

// Start starts the prepared command as Start does, with env (key=value
// entries) added to its environment, replacing any of the same keys. A
// Prepared can be started more than once.
func (p *Prepared) Start(env ...string) (*Child, error) {
	spec := p.spec
	var devNull *os.File
	stdio := func(f *os.File) (uintptr, error) {
		if f != nil {
			return f.Fd(), nil
		}
		if devNull == nil {
			var err error
			if devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
				return 0, fmt.Errorf("supervise: %w", err)
			}
		}
		return devNull.Fd(), nil
	}
	defer func() {
		if devNull != nil {
			devNull.Close()
		}
	}()
	files := make([]uintptr, 3)
	for i, f := range []*os.File{spec.Stdin, spec.Stdout, spec.Stderr} {
		var err error
		if files[i], err = stdio(f); err != nil {
			return nil, err
		}
	}
	attr := &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   withEnv(p.env, env),
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setpgid:   true, // Pgid 0: a new group whose id is the child's pid
			Pdeathsig: spec.Pdeathsig,
		},
	}

	c := &Child{
		log:        spec.Logger,
		subreaper:  p.subreaper,
		stopOnExit: spec.StopTreeOnExit,
		exitGrace:  spec.ExitGrace,
		exited:     make(chan struct{}),
		treeDone:   make(chan struct{}),
		wake:       make(chan struct{}, 1),
		tracked:    make(map[int]uint64),
	}

	registry.Lock()
	defer registry.Unlock()
	if c.subreaper && hasChildren() {
		// Whatever is already our child is not the tree's. Only a scan
		// lists them; with none (zk-flock starts no other), none is made.
		procs, err := scanProcs()
		if err != nil {
			c.log.Warn("cannot list processes: escaped descendants will not be found", "err", err)
			c.subreaper = false
		}
		self := os.Getpid()
		c.before = make(map[int]uint64)
		for _, p := range procs {
			if p.ppid == self {
				c.before[p.pid] = p.start
			}
		}
	}
	res := make(chan forkResult)
	go c.forkAndReap(p.path, p.argv, attr, res)
	r := <-res
	runtime.KeepAlive(spec.Stdin)
	runtime.KeepAlive(spec.Stdout)
	runtime.KeepAlive(spec.Stderr)
	if r.err != nil {
		return nil, startError(p.name, p.path, r.err)
	}
	registry.children[c.pid] = c
	go c.monitor()
	return c, nil
}

// forkAndReap forks the child and reaps it. It runs on its own goroutine,
// locked to its OS thread, for the child's whole life: Linux delivers
// Pdeathsig when the parent THREAD exits, not the process, and the Go
// runtime ends threads whenever it likes (whenever a goroutine that locked
// its thread exits, for one). A thread whose goroutine is locked to it and
// still running is never ended, so the child receives Pdeathsig only when
// this process dies. Once the child has been reaped the thread no longer
// matters and is unlocked before Exited is closed, so that the goroutine
// waiting for Exited can run on it at once rather than after the runtime
// has ended it and woken another thread.
func (c *Child) forkAndReap(path string, argv []string, attr *syscall.ProcAttr, res chan<- forkResult) {
	runtime.LockOSThread()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		runtime.UnlockOSThread()
		res <- forkResult{err: err}
		return
	}
	c.pid = pid
	c.log = c.log.With("child_pid", pid)
	// Logged here, not by Start, so that it always comes before "child
	// exited" below.
	c.log.Debug("child started", "path", path, "subreaper", c.subreaper)
	res <- forkResult{pid: pid} // after this, Start and the monitor read c.pid and c.log

	// Wait without reaping, so that Signal, which holds mu, never sends a
	// signal to the pid after it was freed (and possibly reused).
	var info unix.Siginfo
	for {
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	c.mu.Lock()
	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	st := ExitStatus{Code: -1}
	if err == nil {
		st = statusOf(ws)
	}
	c.status = st
	c.reaped = true
	c.mu.Unlock()
	runtime.UnlockOSThread()
	if err != nil {
		// ECHILD: some other code of this process waited for any child
		// (wait4(-1)) and took our child's status.
		c.log.Error("cannot collect the child's exit status", "err", err)
	} else {
		c.log.Debug("child exited", "status", st.String())
	}
	close(c.exited)
}

// EnableSubreaper makes this process a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER) for the rest of its life: a process orphaned
// anywhere below it is then adopted by it rather than by init, so that
// Children started afterwards can find, kill and reap descendants that left
// their process group. The process becomes responsible for reaping every
// such orphan; a Child reaps those of its own tree until its TreeDone.
func EnableSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("supervise: become child subreaper: %w", err)
	}
	return nil
}

// Pid returns the direct child's process id.
func (c *Child) Pid() int { return c.pid }

// Pgid returns the child's process group id (the same number as Pid).
func (c *Child) Pgid() int { return c.pid }

// Exited returns a channel that is closed when the direct child has exited
// and been reaped, even if that happened before Start returned.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// TreeDone returns a channel that is closed when the whole tree is gone:
// the direct child has been reaped, no process of its group remains (a
// group of zombies only, whose parent does not reap them, counts as gone),
// and the processes of the tree found outside the group (see the package
// documentation) are gone too.
func (c *Child) TreeDone() <-chan struct{} { return c.treeDone }

// Outlived reports, once TreeDone is closed, whether something of the
// tree was still running after the direct child had exited and been
// reaped: what the command left behind, which then ended by itself or was
// stopped (StopTreeOnExit).
func (c *Child) Outlived() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outlived
}

// Status returns the direct child's exit status once Exited is closed;
// before that, ExitStatus{Code: -1}.
func (c *Child) Status() ExitStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		return ExitStatus{Code: -1}
	}
	return c.status
}

// Wait waits until the direct child has exited and returns its status. If
// ctx is done first, it returns ctx.Err() and leaves the child running.
func (c *Child) Wait(ctx context.Context) (ExitStatus, error) {
	select {
	case <-c.exited:
		return c.Status(), nil
	case <-ctx.Done():
		select {
		case <-c.exited:
			return c.Status(), nil
		default:
		}
		return ExitStatus{Code: -1}, ctx.Err()
	}
}

// Signal sends sig to the direct child only (to forward SIGHUP, SIGUSR1 and
// the like). Once the child has been reaped it returns os.ErrProcessDone and
// sends nothing.
func (c *Child) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return os.ErrProcessDone
	}
	if err := unix.Kill(c.pid, sig); err != nil {
		return fmt.Errorf("supervise: send %v to %d: %w", sig, c.pid, err)
	}
	return nil
}

// SignalGroup sends sig to every process of the child's process group. Once
// the group is known to be empty it returns os.ErrProcessDone and sends
// nothing.
func (c *Child) SignalGroup(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groupGone {
		return os.ErrProcessDone
	}
	err := unix.Kill(-c.pid, sig)
	if err == unix.ESRCH {
		return os.ErrProcessDone
	}
	if err != nil {
		return fmt.Errorf("supervise: send %v to group %d: %w", sig, c.pid, err)
	}
	return nil
}

// Stop is StopBy(time.Now().Add(grace)).
func (c *Child) Stop(grace time.Duration) { c.StopBy(time.Now().Add(grace)) }

// Kill is StopBy(time.Now()): SIGKILL to the whole tree at once, with no
// SIGTERM first.
func (c *Child) Kill() { c.StopBy(time.Now()) }

// StopBy ends the tree: SIGTERM (then SIGCONT, so that a stopped process
// can act on it) to the process group and to the tree's processes found
// outside it, now; then, at deadline, SIGKILL to whatever of the tree is
// still alive, again and again until nothing is. If deadline has passed,
// SIGKILL is sent at once without SIGTERM.
//
// It does not block: the Child's monitor goroutine does the work; wait for
// TreeDone. It may be called any number of times: a call with an earlier
// deadline moves the SIGKILL earlier, a later deadline never postpones it,
// and SIGTERM is sent once. After TreeDone it does nothing.
func (c *Child) StopBy(deadline time.Time) {
	c.setStop(deadline)
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is pending already; the monitor reads the latest deadline
	}
}

// setStop records a stop request; the deadline only moves earlier.
func (c *Child) setStop(deadline time.Time) {
	c.mu.Lock()
	if !c.stopping || deadline.Before(c.deadline) {
		c.stopping = true
		c.deadline = deadline
	}
	c.mu.Unlock()
}

func (c *Child) request() (bool, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping, c.deadline
}
