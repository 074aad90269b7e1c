package logging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Async's limits.
const (
	// asyncQueue is how many writes wait for a slow output before more
	// are dropped: a few hundred kilobytes of log lines.
	asyncQueue = 1024
	// FlushTimeout bounds how long Close waits for the queued writes to
	// reach an output that has stopped taking data.
	FlushTimeout = time.Second
)

// Async is an io.Writer whose Write never blocks: it queues a copy of the
// data for a goroutine of its own, which writes it to the underlying
// writer. zk-flock logs from the goroutines that must kill the command in
// time (the process monitor, the lease's deadline, the session's
// watchdog); a log output that stops taking data — a pipe whose reader
// hangs (cmd 2>&1 | logger), a stalled journald stream, a file on a hung
// NFS mount — must not hold them up.
//
// Up to asyncQueue writes wait; beyond that, the oldest are dropped (the
// last lines, which say how a run ended, matter most), and a line saying
// how many goes out before the next one once the output takes data again.
// Errors of the underlying writer are ignored, as a logger would.
//
// An Async is safe for concurrent use, and keeps the order of writes.
type Async struct {
	w    io.Writer
	done chan struct{} // closed when the writing goroutine has ended

	mu      sync.Mutex
	notice  func(dropped int) []byte
	more    sync.Cond // signalled when queue grows or closed is set
	queue   [][]byte  // oldest first, at most asyncQueue
	dropped int       // writes dropped from the head since the goroutine last took one
	closed  bool
}

// NewAsync returns an Async writing to w, and starts its goroutine. notice
// formats the line that says how many writes were dropped; nil means a
// plain "zk-flock: ..." line, as zk-flock's messages on stderr are.
func NewAsync(w io.Writer, notice func(dropped int) []byte) *Async {
	if notice == nil {
		notice = func(n int) []byte {
			return fmt.Appendf(nil, "zk-flock: %d earlier lines dropped: the output was not taking them\n", n)
		}
	}
	a := &Async{w: w, notice: notice, done: make(chan struct{})}
	a.more.L = &a.mu
	go a.loop()
	return a
}

// setNotice replaces the line about dropped writes.
func (a *Async) setNotice(notice func(dropped int) []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.notice = notice
}

// Write queues a copy of p, dropping the oldest queued write if the queue
// is full, and returns len(p). After Close it returns os.ErrClosed.
func (a *Async) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...) // handlers reuse their buffers
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0, os.ErrClosed
	}
	if len(a.queue) == asyncQueue {
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.dropped++
	}
	a.queue = append(a.queue, b)
	a.more.Signal()
	return len(p), nil
}

// loop writes the queue out, each write preceded by the notice of those
// dropped before it, until Close has been called and the queue is empty.
func (a *Async) loop() {
	defer close(a.done)
	for {
		a.mu.Lock()
		for len(a.queue) == 0 && !a.closed {
			a.more.Wait()
		}
		if len(a.queue) == 0 {
			a.mu.Unlock()
			return
		}
		p, n, notice := a.queue[0], a.dropped, a.notice
		a.queue[0] = nil
		a.queue, a.dropped = a.queue[1:], 0
		a.mu.Unlock()
		if n > 0 {
			_, _ = a.w.Write(notice(n))
		}
		_, _ = a.w.Write(p)
	}
}

// ErrStalled is returned by Close when the queued writes could not all be
// written within FlushTimeout.
var ErrStalled = errors.New("logging: the output is not taking data")

// Close stops taking writes and waits up to FlushTimeout for the queued
// ones to be written. If they were not, it returns ErrStalled: the writing
// goroutine is then stuck in the underlying writer, which must not be
// closed under it. Close never closes the underlying writer.
func (a *Async) Close() error {
	a.mu.Lock()
	a.closed = true
	a.more.Signal()
	a.mu.Unlock()
	t := time.NewTimer(FlushTimeout)
	defer t.Stop()
	select {
	case <-a.done:
		return nil
	case <-t.C:
		return ErrStalled
	}
}
