package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every line back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip sends a line and returns the echo, or an error after timeout.
func roundTrip(c net.Conn, r *bufio.Reader, timeout time.Duration) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	return r.ReadString('\n')
}

func TestHoldAndRelease(t *testing.T) {
	for _, d := range []Direction{Up, Down, Both} {
		p, err := New(echoServer(t))
		if err != nil {
			t.Fatal(err)
		}
		c, r := dial(t, p)
		if got, err := roundTrip(c, r, time.Second); err != nil || got != "ping\n" {
			t.Fatalf("before hold: %q, %v", got, err)
		}
		p.Hold(d)
		if got, err := roundTrip(c, r, 200*time.Millisecond); err == nil {
			t.Fatalf("direction %d held, but got %q", d, got)
		}
		p.Release(d)
		// The held ping arrives after the release, in order.
		c.SetReadDeadline(time.Now().Add(time.Second))
		if got, err := r.ReadString('\n'); err != nil || got != "ping\n" {
			t.Fatalf("after release: %q, %v", got, err)
		}
		p.Close()
	}
}

func TestDelay(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	p.SetDelay(100 * time.Millisecond)
	start := time.Now()
	if _, err := roundTrip(c, r, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("round trip took %v, want >= 200ms (100ms each way)", el)
	}
}

func TestReset(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	if _, err := roundTrip(c, r, time.Second); err != nil {
		t.Fatal(err)
	}
	p.Reset()
	_, err = roundTrip(c, r, time.Second)
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("after reset: %v, want connection reset", err)
	}
}

func TestActive(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n := p.Active(); n != 0 {
		t.Fatalf("Active before any connection = %d, want 0", n)
	}
	c, r := dial(t, p)
	if _, err := roundTrip(c, r, time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Active(); n != 1 {
		t.Fatalf("Active with one connection = %d, want 1", n)
	}
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for p.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Active after close = %d, want 0", p.Active())
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Hold(Up)
	if d := p.Held(); d != Up {
		t.Fatalf("Held = %d, want Up", d)
	}
	p.Release(Up)
	if d := p.Held(); d != 0 {
		t.Fatalf("Held after release = %d, want 0", d)
	}
}
