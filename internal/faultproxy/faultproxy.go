// Package faultproxy is a TCP proxy for fault-injection tests: it forwards
// loopback connections to one target and can hold traffic in either
// direction (a silent partition), delay it, or reset every connection.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Direction selects which way traffic is held.
type Direction int

const (
	// Up is client to server.
	Up Direction = 1 << iota
	// Down is server to client.
	Down
	// Both directions: a silent partition.
	Both = Up | Down
)

// Proxy forwards connections accepted on Addr to a target address.
//
// Holding a direction stops reading from that side's socket: bytes already
// sent wait in kernel buffers and arrive, in order, once the direction is
// released, as after a real partition heals; meanwhile the sender sees no
// error and no answer. New connections are accepted while held, but their
// bytes are held too.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	held    Direction
	release chan struct{} // closed and replaced whenever held shrinks
	delay   time.Duration
	links   map[*link]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type link struct{ client, server net.Conn }

// New listens on a free loopback port and forwards to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, release: make(chan struct{}), links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Hold stops traffic in direction d (added to what is already held).
func (p *Proxy) Hold(d Direction) {
	p.mu.Lock()
	p.held |= d
	p.mu.Unlock()
}

// Release lets traffic in direction d flow again.
func (p *Proxy) Release(d Direction) {
	p.mu.Lock()
	p.held &^= d
	close(p.release)
	p.release = make(chan struct{})
	p.mu.Unlock()
}

// SetDelay delays every chunk of data in both directions by d.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Active returns how many connections the proxy forwards now: a client
// behind several proxies, one per server, is on the server whose proxy has
// one.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Held returns the directions held now.
func (p *Proxy) Held() Direction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Reset closes every current connection with a TCP reset.
func (p *Proxy) Reset() {
	p.mu.Lock()
	links := p.links
	p.links = map[*link]struct{}{}
	p.mu.Unlock()
	for l := range links {
		l.reset()
	}
}

// Close stops accepting, resets every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Reset()
	p.Release(Both)
	p.wg.Wait()
}

func (l *link) reset() {
	for _, c := range []net.Conn{l.client, l.server} {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST, not FIN
		}
		c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.reset()
			return
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, c, s, Up)
		go p.pipe(l, s, c, Down)
	}
}

// pipe copies src to dst, honouring holds and delays of direction d.
func (p *Proxy) pipe(l *link, src, dst net.Conn, d Direction) {
	defer p.wg.Done()
	defer func() {
		// One side ended: end the other, so both pipes exit.
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		if !p.waitReleased(d) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			// Data read just before a hold started is held too.
			if !p.waitReleased(d) {
				return
			}
			p.mu.Lock()
			delay := p.delay
			p.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

// waitReleased blocks while direction d is held; false if the proxy closed.
func (p *Proxy) waitReleased(d Direction) bool {
	for {
		p.mu.Lock()
		held, release, closed := p.held&d != 0, p.release, p.closed
		p.mu.Unlock()
		if closed {
			return false
		}
		if !held {
			return true
		}
		<-release
	}
}
