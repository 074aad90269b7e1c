package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAsyncOrderAndClose: writes reach the output in order, and Close
// returns once they all have.
func TestAsyncOrderAndClose(t *testing.T) {
	var out bytes.Buffer
	a := NewAsync(&out)
	var want strings.Builder
	for i := range 3 * asyncQueue / 4 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		buf := []byte(line)
		if n, err := a.Write(buf); n != len(buf) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		copy(buf, "XXXX") // the caller reuses its buffer
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("output differs from what was written:\n%.200q\nwant\n%.200q", out.String(), want.String())
	}
	if _, err := a.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
}

// stalled is an output that takes nothing until released, as a pipe whose
// reader hangs.
type stalled struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (s *stalled) Write(p []byte) (int, error) {
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *stalled) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestAsyncStalledOutput: with an output that takes nothing, writes neither
// block nor pile up without bound; Close gives up after FlushTimeout; what
// was dropped is said once the output takes data again.
func TestAsyncStalledOutput(t *testing.T) {
	s := &stalled{release: make(chan struct{})}
	a := NewAsync(s)
	const writes = 3 * asyncQueue
	t0 := time.Now()
	for i := range writes {
		fmt.Fprintf(a, "line %d\n", i)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("%d writes to a stalled output took %v", writes, d)
	}
	t0 = time.Now()
	if err := a.Close(); !errors.Is(err, ErrStalled) {
		t.Errorf("Close: %v, want ErrStalled", err)
	}
	if d := time.Since(t0); d < FlushTimeout || d > FlushTimeout+time.Second {
		t.Errorf("Close returned after %v, want about %v", d, FlushTimeout)
	}

	close(s.release)
	<-a.done
	out := s.String()
	// One write was taken by the goroutine before the queue filled up.
	kept := strings.Count(out, "line ")
	if kept < asyncQueue || kept > asyncQueue+1 {
		t.Errorf("%d writes reached the output, want %d or %d", kept, asyncQueue, asyncQueue+1)
	}
	if !strings.HasPrefix(out, "line 0\n") {
		t.Errorf("output starts %.40q, want the first write first", out)
	}
	want := fmt.Sprintf("zk-flock: %d log writes dropped: the log output was not taking data\n", writes-kept)
	if !strings.Contains(out, want) {
		t.Errorf("output ends %q, want %q in it", out[max(0, len(out)-200):], want)
	}
}
