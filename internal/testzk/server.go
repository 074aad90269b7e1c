package testzk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	// ZooKeeper exits within a fraction of a second on SIGTERM; 10 s means
	// something is wrong and SIGKILL ends it.
	stopGrace = 10 * time.Second
	// pollInterval is how often a server is asked whether it serves yet:
	// a server starts in about half a second, so 50 ms wastes little.
	pollInterval = 50 * time.Millisecond
	// logTailLines is how much of a server's log start errors quote.
	logTailLines = 40
)

// errPortInUse marks a start that failed because a port was taken between
// choosing it and the JVM binding it; Start then retries with new ports.
var errPortInUse = errors.New("port already in use")

// Server is one ZooKeeper server process. Its ports and data directory stay
// the same across Stop and Start, so a restarted ensemble member rejoins
// with its data. Its methods are safe for concurrent use.
type Server struct {
	id    int
	dir   string
	ports Ports
	argv  []string

	mu     sync.Mutex
	p      *process // the latest run; nil before the first
	paused bool
}

// newServer prepares server id's directory under root: zoo.cfg, data/ and
// data/myid. It does not start the server.
func newServer(root string, id int, all []Ports, o Options) (*Server, error) {
	java, err := Java()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "server"+strconv.Itoa(id))
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(id)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write myid: %w", err)
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(o.zooCfg(id, data, all)), 0o644); err != nil {
		return nil, fmt.Errorf("write zoo.cfg: %w", err)
	}
	argv := []string{java}
	argv = append(argv, defaultJVMFlags...)
	argv = append(argv, "-Dzookeeper.log.dir="+dir)
	argv = append(argv, o.JVMFlags...)
	argv = append(argv, "-cp", Classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	return &Server{id: id, dir: dir, ports: all[id-1], argv: argv}, nil
}

// ID returns the server's id, 1-based (its myid).
func (s *Server) ID() int { return s.id }

// Addr returns the client address, "127.0.0.1:port".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.ports.Client) }

// Ports returns the server's ports.
func (s *Server) Ports() Ports {
	p := s.ports
	p.Extra = append([]int(nil), s.ports.Extra...)
	return p
}

// Dir returns the server's directory: zoo.cfg, data/ and zookeeper.log.
func (s *Server) Dir() string { return s.dir }

// LogPath returns the file the JVM's output and ZooKeeper's log go to.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "zookeeper.log") }

// Running reports whether the server's JVM is alive (paused or not).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p != nil && !s.p.exited()
}

// Start starts the server if it is not running and waits until it serves
// requests: as standalone, or as leader or follower once a quorum is up.
// A lone ensemble member never serves, so it waits until ctx ends; start a
// whole stopped ensemble with Cluster.Start. On error the JVM is left
// running; the error quotes the tail of the server's log.
func (s *Server) Start(ctx context.Context) error {
	p, err := s.launch()
	if err != nil {
		return err
	}
	return s.waitServing(ctx, p)
}

// Restart stops the server (SIGTERM) and starts it again, as Start.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start(ctx)
}

// launch starts the JVM unless it is running, and returns its process.
func (s *Server) launch() (*process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.exited() {
		return s.p, nil
	}
	log, err := os.OpenFile(s.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	defer log.Close() // the JVM has its own copy
	fmt.Fprintf(log, "==== testzk: starting server %d at %s\n", s.id, time.Now().Format(time.RFC3339Nano))
	p, err := launch(s.argv, s.dir, log)
	if err != nil {
		return nil, fmt.Errorf("server %d: %w", s.id, err)
	}
	s.p = p
	s.paused = false
	return p, nil
}

// waitServing waits until the server answers srvr with a mode, the JVM
// exits, or ctx ends.
func (s *Server) waitServing(ctx context.Context, p *process) error {
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		_, err := mode(attempt, s.Addr())
		cancel()
		if err == nil {
			return nil
		}
		last = err
		t := time.NewTimer(pollInterval)
		select {
		case <-t.C:
			continue
		case <-p.done:
			t.Stop()
			return s.startError(fmt.Errorf("exited: %v", p.err))
		case <-ctx.Done():
			t.Stop()
			return s.startError(fmt.Errorf("%w (last: %v)", ctx.Err(), last))
		}
	}
}

// startError says which server did not start and why, with the tail of its
// log; it wraps errPortInUse if the log says a port was taken.
func (s *Server) startError(err error) error {
	log, rerr := os.ReadFile(s.LogPath())
	if rerr != nil {
		return fmt.Errorf("server %d on %s did not start: %w (log %s: %v)", s.id, s.Addr(), err, s.LogPath(), rerr)
	}
	if bytes.Contains(log, []byte("Address already in use")) {
		err = fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return fmt.Errorf("server %d on %s did not start: %w\n--- last lines of %s:\n%s",
		s.id, s.Addr(), err, s.LogPath(), tail(log, logTailLines))
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	i := len(b)
	for ; n > 0 && i > 0; n-- {
		i = bytes.LastIndexByte(b[:i], '\n')
		if i < 0 {
			i = 0
		}
	}
	return string(bytes.TrimLeft(b[i:], "\n"))
}

// Stop sends SIGTERM and waits for the JVM to exit, sending SIGKILL after
// 10 s. A paused server is resumed so that it can exit. Stopping a
// stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil || s.p.exited() {
		return nil
	}
	if err := s.p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := s.p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	s.paused = false
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-s.p.done:
		return nil
	case <-t.C:
		return s.killLocked()
	}
}

// Kill sends SIGKILL and waits for the JVM to exit. Killing a stopped
// server does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	if s.p == nil {
		return nil
	}
	if err := s.p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-s.p.done // SIGKILL cannot be caught: this is quick
	s.paused = false
	return nil
}

// Pause freezes the JVM with SIGSTOP: its sockets stay open but it answers
// nothing, like a server stuck in a long GC pause.
func (s *Server) Pause() error {
	return s.pauseResume(syscall.SIGSTOP, true)
}

// Resume thaws a paused JVM with SIGCONT.
func (s *Server) Resume() error {
	return s.pauseResume(syscall.SIGCONT, false)
}

func (s *Server) pauseResume(sig syscall.Signal, paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil || s.p.exited() {
		return fmt.Errorf("server %d: not running", s.id)
	}
	if err := s.p.signal(sig); err != nil {
		return err
	}
	s.paused = paused
	// A signal takes effect asynchronously: without this wait, a request
	// sent right after Pause could still be served.
	return waitThreadsStopped(s.p.proc.Pid, paused)
}

// waitThreadsStopped waits, up to a few seconds, until every thread of pid
// is stopped (state T), or, with stopped false, until none is.
func waitThreadsStopped(pid int, stopped bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			return nil // gone: nothing left to wait for
		}
		done := true
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // the thread ended
			}
			// The state follows the command name in parentheses.
			i := strings.LastIndexByte(string(b), ')')
			if i < 0 || i+2 >= len(b) {
				continue
			}
			if st := b[i+2]; (st == 'T' || st == 't') != stopped && st != 'Z' && st != 'X' {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d: threads not %s after 5s", pid, map[bool]string{true: "stopped", false: "running"}[stopped])
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Paused reports whether the server was paused and not resumed since.
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

// Mode asks the server through srvr whether it is ModeLeader,
// ModeFollower, ModeStandalone or ModeObserver. It returns ErrNotServing
// when the server is up but does not serve requests, and gives up after
// 2 s (a paused server never answers).
func (s *Server) Mode() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), flwTimeout)
	defer cancel()
	m, err := mode(ctx, s.Addr())
	if err != nil {
		return "", fmt.Errorf("server %d: %w", s.id, err)
	}
	return m, nil
}
