package zklock

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// minHandshakeTimeout bounds a TLS handshake from below. A ZooKeeper
// server's first handshakes after it starts (class loading, seeding its
// random generator) can take most of a second on a loaded host, and a
// handshake that times out is simply retried.
const minHandshakeTimeout = time.Second

// tlsHandshakeTimeout bounds one TLS handshake as handshakeTimeout bounds
// the connect request's answer: the session timeout's share for one
// server, at most a fifth of it, but at least minHandshakeTimeout. A
// frozen server accepts the connection in its kernel and never answers;
// given the whole connect timeout, as it was, one frozen server of two
// failed a third of connects that a healthy server could have served (an
// acceptance run), and a holder reconnecting through it could not ride
// the outage out.
func (s *Session) tlsHandshakeTimeout() time.Duration {
	t := s.Timeout()
	return max(minHandshakeTimeout, min(t/time.Duration(max(s.servers, 1)), t/5))
}

// tlsDialer returns a Dialer that opens a TCP connection with dial and runs
// a TLS handshake over it with a copy of cfg, for at most bound() from the
// dial's start. Unless cfg.ServerName is set, the server's certificate is
// verified against the host part of the address dialed: the name as
// configured (see hostList), or an IP address, which must then be among
// the certificate's IP addresses.
func tlsDialer(cfg *tls.Config, dial Dialer, bound func() time.Duration) Dialer {
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
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(bound()))
		defer cancel()
		tc := tls.Client(raw, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}
