package zklock

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zk-flock/zk-flock/internal/testzk"
)

// digestSession connects with digest credentials user:pw and the given
// ACL mode.
func digestSession(t *testing.T, user string, mode ACLMode, log *slog.Logger) *Session {
	t.Helper()
	s, err := Connect(context.Background(), Options{
		Servers: srv.Addrs(), SessionTimeout: 4 * time.Second, Logger: log,
		Auth: []Auth{{Scheme: "digest", Data: []byte(user + ":pw-" + user)}},
		ACL:  mode,
	})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawAs is an independent plain client, authenticated as user unless
// user is "".
func rawAs(t *testing.T, user string) *zk.Conn {
	t.Helper()
	c := raw(t)
	if user != "" {
		if err := c.AddAuth("digest", []byte(user+":pw-"+user)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// wantCreatorACL fails unless p's ACL is exactly all permissions for
// user's digest and READ for the world.
func wantCreatorACL(t *testing.T, c *zk.Conn, p, user string) {
	t.Helper()
	acl, _, err := c.GetACL(p)
	if err != nil {
		t.Fatalf("getAcl %s: %v", p, err)
	}
	want := []zk.ACL{
		zk.DigestACL(zk.PermAll, user, "pw-"+user)[0],
		{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
	}
	if len(acl) != 2 || acl[0] != want[0] || acl[1] != want[1] {
		t.Errorf("ACL of %s = %s, want %s", p, formatACL(acl), formatACL(want))
	}
}

func TestCreatorACLKeepsOthersOut(t *testing.T) {
	root := uniqueRoot(t) + "/nested"
	a := digestSession(t, "alice", ACLCreator, nil)
	l, err := a.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	node := root + "/job"
	admin := rawAs(t, "alice")
	for _, p := range []string{path.Dir(root), root, node} {
		wantCreatorACL(t, admin, p, "alice")
	}

	// Someone else, authenticated or not, can read but not delete the
	// lock, change it, or take locks in the namespace.
	for _, who := range []string{"mallory", ""} {
		c := rawAs(t, who)
		if err := c.Delete(node, -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%q deleting the lock node: %v, want ErrNoAuth", who, err)
		}
		if _, err := c.Set(node, []byte("mine"), -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%q overwriting the lock node: %v, want ErrNoAuth", who, err)
		}
		if _, err := c.Create(root+"/other", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%q creating a lock in the namespace: %v, want ErrNoAuth", who, err)
		}
		if err := c.Delete(root, -1); !errors.Is(err, zk.ErrNoAuth) && !errors.Is(err, zk.ErrNotEmpty) {
			t.Errorf("%q deleting the app root: %v", who, err)
		}
		if _, err := c.SetACL(node, zk.WorldACL(zk.PermAll), -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%q changing the lock node's ACL: %v, want ErrNoAuth", who, err)
		}
		if data, _, err := c.Get(node); err != nil || !bytes.Equal(data, []byte(`{"host":"test"}`)) {
			t.Errorf("%q reading the lock node: %q, %v; want the holder's data", who, data, err)
		}
		// READ shows the ACL, but ZooKeeper hides the password's hash
		// from those without ADMIN: no offline guessing.
		if acl, _, err := c.GetACL(node); err != nil || len(acl) != 2 || acl[0].ID != "alice:x" {
			t.Errorf("%q reading the lock node's ACL: %s, %v; want the digest redacted to alice:x", who, formatACL(acl), err)
		}
	}
	// Through zklock too: another identity gets a clear refusal, not
	// "busy".
	m := digestSession(t, "mallory", ACLCreator, nil)
	if _, err := m.Acquire(context.Background(), lockReq(root, "job2")); !errors.Is(err, zk.ErrNoAuth) || !strings.Contains(err.Error(), "does not let these credentials") {
		t.Errorf("another identity's Acquire: %v, want ErrNoAuth", err)
	}
	if exists, _, _ := admin.Exists(node); !exists {
		t.Fatal("the lock node is gone")
	}
	select {
	case <-l.Done():
		t.Fatalf("lease lost: %v", l.Err())
	default:
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCreatorACLSharedByTheFleet(t *testing.T) {
	// Hosts sharing one identity share the namespace: they queue, wait and
	// take the lock in turn; the queue's nodes get the creator ACL too.
	root := uniqueRoot(t)
	a := digestSession(t, "fleet", ACLCreator, nil)
	b := digestSession(t, "fleet", ACLCreator, nil)
	la, err := a.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		req := lockReq(root, "job")
		req.Wait = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lb, err := b.Acquire(ctx, req)
		if err == nil {
			err = lb.Release(context.Background())
		}
		got <- err
	}()
	admin := rawAs(t, "fleet")
	queue := path.Join(root, QueueDir, "job")
	var waiters []string
	testzk.WaitFor(t, 10*time.Second, "a waiter to queue", func() bool {
		waiters, _, _ = admin.Children(queue)
		return len(waiters) == 1
	})
	for _, p := range []string{path.Join(root, QueueDir), queue, path.Join(queue, waiters[0])} {
		wantCreatorACL(t, admin, p, "fleet")
	}
	if err := rawAs(t, "intruder").Delete(path.Join(queue, waiters[0]), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("another identity deleting a waiter: %v, want ErrNoAuth", err)
	}
	if err := la.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the second host of the fleet: %v", err)
	}
}

func TestWorldACLIsTheOriginals(t *testing.T) {
	root := uniqueRoot(t)
	a := digestSession(t, "alice", ACLWorld, nil)
	if _, err := a.Acquire(context.Background(), lockReq(root, "job")); err != nil {
		t.Fatal(err)
	}
	c := rawAs(t, "")
	for _, p := range []string{root, root + "/job"} {
		acl, _, err := c.GetACL(p)
		if err != nil || len(acl) != 1 || acl[0] != zk.WorldACL(zk.PermAll)[0] {
			t.Errorf("ACL of %s = %s, %v; want world:anyone:cdrwa", p, formatACL(acl), err)
		}
	}
}

func TestCreatorACLNeedsCredentials(t *testing.T) {
	_, err := Connect(context.Background(), Options{Servers: srv.Addrs(), SessionTimeout: 4 * time.Second, ACL: ACLCreator})
	if !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("ACLCreator without Auth: %v, want ErrNoIdentity", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCreatorACLUnderAnOriginalRoot(t *testing.T) {
	// A root the original made (world ACL) keeps working and keeps its
	// ACL; zklock says that others can still delete lock nodes in it.
	root := uniqueRoot(t)
	c := rawAs(t, "")
	if _, err := c.Create(root, RootData, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	var logBuf syncBuffer
	a := digestSession(t, "alice", ACLCreator, slog.New(slog.NewTextHandler(&logBuf, nil)))
	l, err := a.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	acl, _, err := c.GetACL(root)
	if err != nil || len(acl) != 1 || acl[0] != zk.WorldACL(zk.PermAll)[0] {
		t.Errorf("root ACL changed to %s, %v", formatACL(acl), err)
	}
	wantCreatorACL(t, rawAs(t, "alice"), root+"/job", "alice")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logBuf.String(), "lets anyone delete lock nodes") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the open root in the log:\n%s", logBuf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// As documented: the parent's ACL decides, so anyone may delete.
	if err := c.Delete(root+"/job", -1); err != nil {
		t.Fatalf("delete under a world root: %v", err)
	}
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the lease did not notice its node deleted")
	}
}

// TestRootACLWarningOnShortRuns: the warning about an open root comes on a
// run that closes its session right after taking the lock too (a cron job
// with -l 0): Close waits for the check's answer. Before, such runs mostly
// closed the connection under it, and said nothing.
func TestRootACLWarningOnShortRuns(t *testing.T) {
	root := uniqueRoot(t)
	c := rawAs(t, "")
	if _, err := c.Create(root, RootData, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		var logBuf syncBuffer
		a := digestSession(t, "alice", ACLCreator, slog.New(slog.NewTextHandler(&logBuf, nil)))
		if _, err := a.Acquire(context.Background(), lockReq(root, "job")); err != nil {
			t.Fatal(err)
		}
		a.Close()
		if !strings.Contains(logBuf.String(), "lets anyone delete lock nodes") {
			t.Fatalf("run %d: no warning about the open root once the session was closed:\n%s", i, logBuf.String())
		}
	}
}

func TestFormatACL(t *testing.T) {
	got := formatACL(creatorACL)
	if got != "auth::cdrwa,world:anyone:r" {
		t.Errorf("formatACL(creatorACL) = %q", got)
	}
	if openToOthers(creatorACL) || !openToOthers(worldACL) ||
		!openToOthers([]zk.ACL{{Perms: zk.PermCreate, Scheme: "ip", ID: "10.0.0.0/8"}}) {
		t.Error("openToOthers")
	}
	if ACLWorld.String() != "world" || ACLCreator.String() != "creator" {
		t.Error("ACLMode.String")
	}
}
