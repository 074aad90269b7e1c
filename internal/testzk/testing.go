package testzk

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// New starts a cluster for one test, as Start, and stops it when the test
// ends. A failure to start fails the test, never skips it.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("start ZooKeeper: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop ZooKeeper: %v", err)
		}
	})
	return c
}

// Main starts a cluster shared by a package's tests, hands it to set, runs
// the tests and stops the cluster. It returns the exit status for os.Exit:
// 1, after saying why on stderr, if the cluster did not start, so that a
// missing installation fails the tests instead of skipping them:
//
//	var zk *testzk.Cluster
//
//	func TestMain(m *testing.M) {
//		os.Exit(testzk.Main(m, testzk.Options{}, func(c *testzk.Cluster) { zk = c }))
//	}
func Main(m *testing.M, opts Options, set func(*Cluster)) int {
	c, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testzk: start ZooKeeper: %v\n", err)
		return 1
	}
	set(c)
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testzk: stop ZooKeeper: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewTLS starts, for one test as New does, a standalone server that also
// serves TLS on a secure client port, with certificates made in a
// temporary directory for "localhost"; clientAuth is ZooKeeper's
// ssl.clientAuth ("need", "want" or "none"). It returns the server, the
// certificate files and the secure port.
func NewTLS(t testing.TB, clientAuth string) (*Server, *TLSFiles, int) {
	t.Helper()
	files, err := NewTLSFiles(t.TempDir(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	c := New(t, Options{
		ExtraPorts: 1,
		ExtraConfig: func(_ int, p Ports) []string {
			return files.ServerConfig(p.Extra[0], clientAuth)
		},
	})
	s := c.Servers()[0]
	return s, files, s.Ports().Extra[0]
}

// WaitFor polls cond every 5 ms until it holds, failing the test after
// timeout with what it was waiting for.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
