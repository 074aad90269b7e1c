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
// Up to asyncQueue writes wait; beyond that, writes are dropped, and a line
// saying how many is written once the output takes data again. Errors of
// the underlying writer are ignored, as a logger would.
//
// An Async is safe for concurrent use, and keeps the order of writes.
type Async struct {
	w    io.Writer
	ch   chan []byte
	done chan struct{} // closed when the writing goroutine has ended

	mu      sync.Mutex
	closed  bool
	dropped int
}

// NewAsync returns an Async writing to w, and starts its goroutine.
func NewAsync(w io.Writer) *Async {
	a := &Async{w: w, ch: make(chan []byte, asyncQueue), done: make(chan struct{})}
	go a.loop()
	return a
}

// Write queues a copy of p and returns len(p), or drops p if the queue is
// full. After Close it returns os.ErrClosed.
func (a *Async) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0, os.ErrClosed
	}
	select {
	case a.ch <- append([]byte(nil), p...): // handlers reuse their buffers
	default:
		a.dropped++
	}
	return len(p), nil
}

func (a *Async) loop() {
	defer close(a.done)
	for p := range a.ch {
		_, _ = a.w.Write(p)
		a.reportDropped()
	}
	a.reportDropped()
}

// reportDropped writes how many writes were dropped since it last did.
func (a *Async) reportDropped() {
	a.mu.Lock()
	n := a.dropped
	a.dropped = 0
	a.mu.Unlock()
	if n > 0 {
		_, _ = fmt.Fprintf(a.w, "zk-flock: %d log writes dropped: the log output was not taking data\n", n)
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
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
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
