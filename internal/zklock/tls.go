package zklock

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
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
// address dialed: the name as configured (see hostList), or an IP
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
