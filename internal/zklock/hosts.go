package zklock

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// hostList is the client library's HostProvider without its DNS lookup and
// without its reconnect delay.
//
// It hands the dialer the servers as configured, "name:port", so that TLS
// can verify the name (the library's default provider resolves names to IP
// addresses once, up front, and dials those); the dialer resolves the name
// at each connect and tries each of its addresses.
//
// And it asks the library to pause (one second, the library's choice) only
// after every server has failed once since the connection was lost. The
// default provider pauses as soon as it comes back round to the server it
// was last connected to: with a single server, before the very first
// reconnect attempt, a second of a session timeout's budget lost to a mere
// connection reset.
type hostList struct {
	mu      sync.Mutex
	servers []string
	curr    int
	tries   int // connection attempts since the last success
}

// Init takes the configured servers, in random order to spread clients
// over the ensemble as the default provider does.
func (p *hostList) Init(servers []string) error {
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
	p.curr = -1
	return nil
}

// Len returns the number of servers.
func (p *hostList) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.servers)
}

// Next returns the next server to try. retryStart, which makes the library
// pause before dialing, is true when every server has been tried since the
// last successful connection.
func (p *hostList) Next() (server string, retryStart bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.curr = (p.curr + 1) % len(p.servers)
	if p.tries >= len(p.servers) {
		retryStart = true
		p.tries = 0
	}
	p.tries++
	return p.servers[p.curr], retryStart
}

// Connected records a successful connection to the current server.
func (p *hostList) Connected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tries = 0
}
