package testzk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// flwTimeout bounds one four-letter word exchange. It must be finite:
// ZooKeeper 3.8 never answers, nor closes, a four-letter word that arrives
// while it is still loading its database (a NullPointerException in
// ServerCnxn.cleanupWriterSocket). Two seconds is long for a loopback
// answer, even from a busy JVM.
const flwTimeout = 2 * time.Second

// Modes reported by srvr.
const (
	ModeLeader     = "leader"
	ModeFollower   = "follower"
	ModeStandalone = "standalone"
	ModeObserver   = "observer"
)

// ErrNotServing is returned by Mode when the server is up but not serving
// requests, e.g. an ensemble member without a quorum.
var ErrNotServing = errors.New("testzk: server not serving requests")

// FourLetter sends the four-letter word cmd ("ruok", "srvr", "mntr",
// "cons", ...) to the server at addr and returns its answer. It gives up
// after 2 s.
func FourLetter(addr, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), flwTimeout)
	defer cancel()
	return fourLetter(ctx, addr, cmd)
}

// fourLetter is FourLetter bounded by ctx.
func fourLetter(ctx context.Context, addr, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
		}
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	return string(b), nil
}

// Mntr returns the server's mntr key/value pairs, e.g. "zk_packets_received"
// or "zk_server_state". It gives up after 2 s.
func Mntr(addr string) (map[string]string, error) {
	out, err := FourLetter(addr, "mntr")
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if ok {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("mntr to %s: unexpected answer %q", addr, out)
	}
	return m, nil
}

// mode asks the server at addr for its mode through srvr.
func mode(ctx context.Context, addr string) (string, error) {
	out, err := fourLetter(ctx, addr, "srvr")
	if err != nil {
		return "", err
	}
	return parseMode(out)
}

// parseMode returns the Mode line of a srvr answer.
func parseMode(srvr string) (string, error) {
	for line := range strings.Lines(srvr) {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	if strings.Contains(srvr, "not currently serving") {
		return "", ErrNotServing
	}
	return "", fmt.Errorf("srvr: no mode in answer %q", srvr)
}
