package chaos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
)

// The Linux process events connector (<linux/cn_proc.h>): the kernel sends
// every fork, exec and exit on the machine, each stamped with
// ktime_get_ns(), which is CLOCK_MONOTONIC. It needs CAP_NET_ADMIN and the
// initial network namespace.
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventFork     = 0x00000001
	procEventExit     = 0x80000000

	nlmsgHdrLen = 16
	cnMsgLen    = 20
	// offsets in a message: nlmsghdr, cn_msg, then struct proc_event
	evWhat = nlmsgHdrLen + cnMsgLen // u32
	evTS   = evWhat + 8             // u64 timestamp_ns
	evData = evWhat + 16            // the event's union
)

// procRec is one process (thread group) as the connector reported it.
type procRec struct {
	pid, ppid  int
	fork       int64 // CLOCK_MONOTONIC ns of its fork
	exit       int64 // latest exit of any of its threads, 0 while none
	leaderDead bool
	threads    int // live threads besides the leader
	kids       []*procRec
}

func (p *procRec) dead() bool { return p.leaderDead && p.threads <= 0 }

// ProcWatch follows every process of the machine through the process events
// connector, so that the death of a whole process tree is known to the
// nanosecond, on the kernel's own monotonic clock, however late the harness
// gets to look. It is what makes "the next holder started after every
// process of the old one was dead" an exact check rather than a guess
// skewed by the harness's scheduling delays.
type ProcWatch struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	gens   map[int][]*procRec // pid → its processes, oldest first
	losses []int64            // when the kernel dropped events (ENOBUFS)
	events int64
}

// StartProcWatch subscribes to the process events connector. It fails
// without CAP_NET_ADMIN or outside the initial network namespace; callers
// then fall back to end-of-file times.
func StartProcWatch() (*ProcWatch, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector socket: %w", err)
	}
	w := &ProcWatch{fd: fd, stop: make(chan struct{}), done: make(chan struct{}), gens: make(map[int][]*procRec)}
	fail := func(what string, err error) (*ProcWatch, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector %s: %w", what, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: 0}); err != nil {
		return fail("bind", err)
	}
	// Room for bursts: a lost event makes a tree's death time unknown.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 32<<20)
	}
	// A receive timeout lets the reader notice Close.
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("timeout", err)
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)
	ne.PutUint32(msg[12:], uint32(os.Getpid()))
	ne.PutUint32(msg[16:], cnIdxProc)
	ne.PutUint32(msg[20:], cnValProc)
	ne.PutUint16(msg[32:], 4)
	ne.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("listen", err)
	}
	// Prove that events arrive, with pids as this process sees them (a
	// process in a pid namespace of its own would see other numbers).
	go w.read()
	probe := exec.Command("true")
	if err := probe.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("proc connector probe: %w", err)
	}
	pid := probe.Process.Pid
	_ = probe.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, _, ok := w.TreeDeath(pid, wire.Now()); ok {
			return w, nil
		}
		if time.Now().After(deadline) {
			w.Close()
			return nil, fmt.Errorf("proc connector: no exit event for probe process %d within 2 s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close stops following events.
func (w *ProcWatch) Close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	<-w.done
	unix.Close(w.fd)
}

func (w *ProcWatch) read() {
	defer close(w.done)
	runtime.LockOSThread() // a thread of its own: it must keep up
	defer runtime.UnlockOSThread()
	buf := make([]byte, 64<<10)
	lastPrune := time.Now()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		switch {
		case errors.Is(err, unix.ENOBUFS):
			w.mu.Lock()
			w.losses = append(w.losses, wire.Now())
			w.mu.Unlock()
			continue
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			w.mu.Lock()
			w.losses = append(w.losses, wire.Now())
			w.mu.Unlock()
			return
		}
		w.parse(buf[:n])
		if time.Since(lastPrune) > 30*time.Second {
			w.prune(wire.Now() - int64(10*time.Minute))
			lastPrune = time.Now()
		}
	}
}

// parse handles one datagram of netlink messages.
func (w *ProcWatch) parse(b []byte) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return
		}
		m := b[:l]
		b = b[(l+3)&^3:]
		if len(m) < evData+16 {
			continue
		}
		what := ne.Uint32(m[evWhat:])
		ts := int64(ne.Uint64(m[evTS:]))
		d := m[evData:]
		switch what {
		case procEventFork:
			ptgid := int(ne.Uint32(d[4:]))
			cpid, ctgid := int(ne.Uint32(d[8:])), int(ne.Uint32(d[12:]))
			w.fork(ts, ptgid, cpid, ctgid)
		case procEventExit:
			pid, tgid := int(ne.Uint32(d[0:])), int(ne.Uint32(d[4:]))
			w.exit(ts, pid, tgid)
		}
	}
}

func (w *ProcWatch) latest(pid int) *procRec {
	g := w.gens[pid]
	if len(g) == 0 {
		return nil
	}
	return g[len(g)-1]
}

func (w *ProcWatch) fork(ts int64, ptgid, cpid, ctgid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	if cpid != ctgid { // a new thread of ctgid
		if p := w.latest(ctgid); p != nil && !p.leaderDead {
			p.threads++
		}
		return
	}
	p := &procRec{pid: cpid, ppid: ptgid, fork: ts}
	if parent := w.latest(ptgid); parent != nil && parent.fork <= ts {
		parent.kids = append(parent.kids, p)
	}
	w.gens[cpid] = append(w.gens[cpid], p)
}

func (w *ProcWatch) exit(ts int64, pid, tgid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	p := w.latest(tgid)
	if p == nil || p.fork > ts {
		return
	}
	p.exit = max(p.exit, ts)
	if pid == tgid {
		p.leaderDead = true
	} else if p.threads > 0 {
		p.threads--
	}
}

// prune forgets processes dead before cutoff (their trees were settled
// long ago).
func (w *ProcWatch) prune(cutoff int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, g := range w.gens {
		keep := g[:0]
		for _, p := range g {
			if !(p.leaderDead && p.exit < cutoff) {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			delete(w.gens, pid)
		} else {
			w.gens[pid] = keep
		}
	}
}

// TreeDeath looks up the process pid that was running at time at (the
// worker's own start reading) and every process descended from it by fork,
// wherever they moved since (other groups, sessions, parents). If all are
// dead it returns the latest exit among them, their number and true; if
// some still live, or the process is unknown, or the kernel dropped events
// since it started, it returns false.
func (w *ProcWatch) TreeDeath(pid int, at int64) (death int64, members int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var root *procRec
	for _, p := range w.gens[pid] {
		if p.fork <= at {
			root = p
		}
	}
	if root == nil {
		return 0, 0, false
	}
	for _, l := range w.losses {
		if l >= root.fork {
			return 0, 0, false
		}
	}
	queue := []*procRec{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		members++
		if !p.dead() {
			return 0, members, false
		}
		death = max(death, p.exit)
		queue = append(queue, p.kids...)
	}
	return death, members, true
}

// Losses returns how many times the kernel dropped events.
func (w *ProcWatch) Losses() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.losses)
}
