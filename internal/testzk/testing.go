package testzk

import (
	"context"
	"fmt"
	"os"
	"testing"
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
