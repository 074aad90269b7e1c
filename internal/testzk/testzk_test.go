package testzk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// testTimeout bounds each ZooKeeper step of these tests.
const testTimeout = 30 * time.Second

// quiet drops go-zookeeper's connection chatter.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// connect opens a go-zookeeper session to addrs, closed when t ends.
func connect(t *testing.T, addrs []string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(addrs, 4*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatalf("connect to %v: %v", addrs, err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// zkCliGet returns the data of path as read by zkCli from server.
func zkCliGet(t *testing.T, server, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	out, err := ZkCli(ctx, server, "get", path)
	if err != nil {
		t.Fatalf("zkCli get %s on %s: %v\n%s", path, server, err, out)
	}
	return strings.TrimSuffix(out, "\n")
}

func TestStandalone(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	c := New(t, Options{})
	t.Logf("standalone server up in %v", time.Since(begin))
	s := c.Server(1)

	if got, err := FourLetter(s.Addr(), "ruok"); err != nil || got != "imok" {
		t.Errorf("ruok = %q, %v; want imok", got, err)
	}
	if m, err := s.Mode(); err != nil || m != ModeStandalone {
		t.Errorf("Mode() = %q, %v; want %q", m, err, ModeStandalone)
	}
	if l, err := c.Leader(); err != nil || l != s {
		t.Errorf("Leader() = %v, %v; want the standalone server", l, err)
	}

	conn := connect(t, c.Addrs())
	if _, err := conn.Create("/testzk", []byte("hello world"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}
	if data, _, err := conn.Get("/testzk"); err != nil || string(data) != "hello world" {
		t.Fatalf("get = %q, %v; want %q", data, err, "hello world")
	}

	t.Run("mntr", func(t *testing.T) {
		m, err := Mntr(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if m["zk_server_state"] != ModeStandalone {
			t.Errorf("zk_server_state = %q", m["zk_server_state"])
		}
		if m["zk_packets_received"] == "" {
			t.Errorf("no zk_packets_received in %v", m)
		}
	})

	t.Run("zkCli", func(t *testing.T) {
		if got := zkCliGet(t, s.Addr(), "/testzk"); got != "hello world" {
			t.Errorf("zkCli get = %q; want %q", got, "hello world")
		}
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		out, err := ZkCli(ctx, s.Addr(), "getAcl", "/testzk")
		if err != nil || !strings.Contains(out, "'world,'anyone") {
			t.Errorf("zkCli getAcl = %q, %v; want the world ACL", out, err)
		}
		out, err = ZkCli(ctx, s.Addr(), "get", "/missing")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "Node does not exist") {
			t.Errorf("zkCli get /missing = %q, %v; want exit status 1, node does not exist", out, err)
		}
	})

	t.Run("restart keeps data", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		if err := s.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if got := zkCliGet(t, s.Addr(), "/testzk"); got != "hello world" {
			t.Errorf("after restart: zkCli get = %q; want %q", got, "hello world")
		}
	})

	t.Run("stop twice", func(t *testing.T) {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := c.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if s.Running() {
			t.Error("server still running after Stop")
		}
		if _, err := FourLetter(s.Addr(), "ruok"); err == nil {
			t.Error("ruok answered after Stop")
		}
	})
}

func TestEnsembleFailover(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	c := New(t, Options{Servers: 3})
	t.Logf("3-server ensemble up in %v", time.Since(begin))
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	old, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Servers() {
		if m, err := s.Mode(); err != nil || (s == old) != (m == ModeLeader) || (s != old && m != ModeFollower) {
			t.Errorf("server %d: Mode() = %q, %v (leader is %d)", s.ID(), m, err, old.ID())
		}
	}

	conn := connect(t, c.Addrs())
	if _, err := conn.Create("/before", []byte("written before the kill"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}

	begin = time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	if old.Running() {
		t.Fatal("leader still running after Kill")
	}
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server %d killed, server %d leads after %v", old.ID(), leader.ID(), time.Since(begin))
	if leader == old {
		t.Fatalf("killed server %d still leads", old.ID())
	}
	if got := zkCliGet(t, leader.Addr(), "/before"); got != "written before the kill" {
		t.Errorf("after failover: get /before = %q", got)
	}
	if _, err := conn.Create("/after", []byte("written while it was down"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create after failover: %v", err)
	}

	begin = time.Now()
	if err := old.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("server %d rejoined in %v", old.ID(), time.Since(begin))
	if m, err := old.Mode(); err != nil || m != ModeFollower {
		t.Errorf("rejoined server: Mode() = %q, %v; want %q", m, err, ModeFollower)
	}
	for _, p := range []string{"/before", "/after"} {
		if got := zkCliGet(t, old.Addr(), p); !strings.HasPrefix(got, "written") {
			t.Errorf("rejoined server: get %s = %q", p, got)
		}
	}

	t.Run("pause a follower", func(t *testing.T) {
		var f *Server
		for _, s := range c.Servers() {
			if s != leader {
				f = s
				break
			}
		}
		if err := f.Pause(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Mode(); err == nil {
			t.Error("a paused server answered srvr")
		}
		if l, err := c.Leader(); err != nil || l != leader {
			t.Errorf("with a follower paused: Leader() = %v, %v; want server %d", l, err, leader.ID())
		}
		if err := f.Resume(); err != nil {
			t.Fatal(err)
		}
		if err := f.Start(ctx); err != nil { // already running: waits until it serves
			t.Fatal(err)
		}
	})
}

func TestStartFailureQuotesLog(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the failed server's directory is kept
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	begin := time.Now()
	c, err := Start(ctx, Options{ExtraConfig: func(int, Ports) []string {
		return []string{"tickTime=notanumber"}
	}})
	if err == nil {
		c.Stop()
		t.Fatal("Start with a bad zoo.cfg succeeded")
	}
	for _, want := range []string{"did not start", "exited", "zookeeper.log", "notanumber", "directories kept"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("a server that exits took %v to report", d)
	}
}

func TestTakenPortRetried(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	attempts := 0
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c, err := Start(ctx, Options{ExtraConfig: func(int, Ports) []string {
		attempts++
		return []string{fmt.Sprintf("clientPort=%d", taken)}
	}})
	if err == nil {
		c.Stop()
		t.Fatal("Start on a taken port succeeded")
	}
	if !errors.Is(err, errPortInUse) {
		t.Errorf("error does not wrap errPortInUse: %v", err)
	}
	if attempts != startAttempts {
		t.Errorf("tried %d times; want %d", attempts, startAttempts)
	}
}
