package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Kinds of report a child helper sends (see child/child.c), and the EOF
// the hub adds when the last process holding a child's socket is gone.
const (
	repStart = 'S' // the command started: pid, ppid (zk-flock), token, t = CLOCK_MONOTONIC ns
	repExit  = 'X' // the command is about to exit: t
	repEOF   = 'E' // the socket reached EOF: t is when the hub saw it
)

// report is one message from a child helper.
type report struct {
	kind  byte
	pid   int
	ppid  int
	token int64
	t     int64 // CLOCK_MONOTONIC, ns
	c     *childConn
}

// childConn is one child helper's connection.
type childConn struct {
	conn net.Conn
	pid  int // from its start report
}

// exit tells the child to report "X" and exit.
func (c *childConn) exit() error {
	_, err := c.conn.Write([]byte("x"))
	return err
}

// hub accepts the child helpers' connections on a Unix socket and turns
// their lines into reports on one channel. Its goroutines end when the
// bench exits: one per child connection still open, blocked in a read.
type hub struct {
	path    string
	ln      *net.UnixListener
	reports chan report
}

// hubQueue is the reports channel's capacity: three reports per child
// (start, exit, EOF) for a thousand waiters and their holder.
const hubQueue = 8192

func newHub(path string) (*hub, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	h := &hub{path: path, ln: ln, reports: make(chan report, hubQueue)}
	go h.accept()
	return h, nil
}

func (h *hub) accept() {
	for {
		conn, err := h.ln.Accept()
		if err != nil {
			return // closed
		}
		go h.read(&childConn{conn: conn})
	}
}

// read turns c's lines into reports until EOF, which it reports too.
func (h *hub) read(c *childConn) {
	defer c.conn.Close()
	r := bufio.NewReader(c.conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			h.reports <- report{kind: repEOF, pid: c.pid, t: monoNow(), c: c}
			return
		}
		rep, perr := parseReport(line)
		if perr != nil {
			fmt.Fprintf(os.Stderr, "bench: bad report from a child: %v\n", perr)
			continue
		}
		if rep.kind == repStart {
			c.pid = rep.pid
		}
		rep.c = c
		rep.pid = c.pid
		h.reports <- rep
	}
}

// parseReport parses "S pid ppid token t" or "X t".
func parseReport(line string) (report, error) {
	f := strings.Fields(line)
	switch {
	case len(f) == 5 && f[0] == "S":
		pid, err1 := strconv.Atoi(f[1])
		ppid, err2 := strconv.Atoi(f[2])
		tok, err3 := strconv.ParseInt(f[3], 10, 64)
		t, err4 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			break
		}
		return report{kind: repStart, pid: pid, ppid: ppid, token: tok, t: t}, nil
	case len(f) == 2 && f[0] == "X":
		t, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			break
		}
		return report{kind: repExit, t: t}, nil
	}
	return report{}, fmt.Errorf("%q", line)
}

// drain discards reports left over from an earlier measurement.
func (h *hub) drain() {
	for {
		select {
		case <-h.reports:
		default:
			return
		}
	}
}

func (h *hub) close() {
	h.ln.Close()
	_ = os.Remove(h.path)
}

// await returns the next report of the given kind, discarding others, or an
// error after timeout.
func (h *hub) await(ctx context.Context, kind byte, timeout time.Duration) (report, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case r := <-h.reports:
			if r.kind == kind {
				return r, nil
			}
		case <-t.C:
			return report{}, fmt.Errorf("no %q report from a child within %v", kind, timeout)
		case <-ctx.Done():
			return report{}, ctx.Err()
		}
	}
}
