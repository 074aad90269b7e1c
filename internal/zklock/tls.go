package zklock

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// minHandshakeTimeout bounds a TLS handshake from below. The client
// library gives a dial one second; a ZooKeeper server's first handshakes
// after it starts (class loading, seeding its random generator) can take
// longer than that on a loaded host, and a handshake that times out is
// simply retried, so a little more patience saves a round of retries.
const minHandshakeTimeout = 3 * time.Second

// tlsDialer returns a Dialer that opens a TCP connection with dial and runs
// a TLS handshake over it with a copy of cfg. Unless cfg.ServerName is set,
// the server's certificate is verified against the host part of the
// address dialed: the name as configured (see nameProvider), or an IP
// address, which must then be among the certificate's IP addresses.
func tlsDialer(cfg *tls.Config, dial Dialer) Dialer {
	return func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c := cfg.Clone()
		if c.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			c.ServerName = host
		}
		start := time.Now()
		raw, err := dial(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(max(timeout, minHandshakeTimeout)))
		defer cancel()
		tc := tls.Client(raw, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}

// nameProvider is the client library's HostProvider without its DNS
// lookup: it hands the dialer the servers as configured, "name:port", so
// that TLS can verify the name (the library's default provider resolves
// names to IP addresses once, up front, and dials those). The dialer
// resolves the name at each connect and tries each of its addresses.
type nameProvider struct {
	mu      sync.Mutex
	servers []string
	curr    int
	last    int
}

// Init takes the configured servers, in random order to spread clients
// over the ensemble as the default provider does.
func (p *nameProvider) Init(servers []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(servers) == 0 {
		return fmt.Errorf("no servers given")
	}
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return err
		}
	}
	p.servers = append([]string(nil), servers...)
	rand.Shuffle(len(p.servers), func(i, j int) { p.servers[i], p.servers[j] = p.servers[j], p.servers[i] })
	p.curr, p.last = -1, -1
	return nil
}

// Len returns the number of servers.
func (p *nameProvider) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.servers)
}

// Next returns the next server to try; retryStart is true when every
// server has been tried since the last successful connection.
func (p *nameProvider) Next() (server string, retryStart bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.curr = (p.curr + 1) % len(p.servers)
	retryStart = p.curr == p.last
	if p.last == -1 {
		p.last = 0
	}
	return p.servers[p.curr], retryStart
}

// Connected records a successful connection to the current server.
func (p *nameProvider) Connected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = p.curr
}
