package testzk

import (
	"fmt"
	"net"
	"syscall"
	"testing"
)

// Ports are the TCP ports of one server, all on 127.0.0.1. They stay the
// same across restarts.
type Ports struct {
	Client   int // clients and four-letter words
	Peer     int // followers to the leader (ensembles only)
	Election int // leader election (ensembles only)
	// Extra are Options.ExtraPorts more free ports, for lines added by
	// Options.ExtraConfig (secureClientPort, say).
	Extra []int
}

// FreePort returns a loopback port that was free when asked. Nothing holds
// it afterwards, so another process may take it first; Start retries with
// new ports when a server cannot bind.
func FreePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct free loopback ports. All listeners are held
// open until every port is chosen, so the n ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close() // held until all n are chosen
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// RefusingPort returns a loopback port that refuses connections until the
// test ends: a socket is bound to it and never listens. A port that was
// merely free (FreePort) may be taken meanwhile by a server another test,
// or another test package, starts: then "unreachable" connects.
func RefusingPort(t testing.TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("refusing port: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("refusing port: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("refusing port: %v", err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}
