package zklock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zk-flock/zk-flock/internal/faultproxy"
	"github.com/zk-flock/zk-flock/internal/testzk"
)

// srv is the one ZooKeeper server shared by this package's tests. Its
// session timeouts may range from 0.4 s to 8 s (tickTime 200 ms).
var srv *testzk.Cluster

func TestMain(m *testing.M) {
	os.Exit(testzk.Main(m, testzk.Options{TickTime: 200 * time.Millisecond}, func(c *testzk.Cluster) { srv = c }))
}

var nameSeq atomic.Int64

// uniqueRoot returns a fresh app root for one test.
func uniqueRoot(t *testing.T) string {
	return fmt.Sprintf("/%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), nameSeq.Add(1))
}

func connect(t *testing.T, servers []string, timeout time.Duration) *Session {
	t.Helper()
	s, err := Connect(context.Background(), Options{Servers: servers, SessionTimeout: timeout})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// raw is an independent plain client for checking what is in ZooKeeper.
func raw(t *testing.T) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(srv.Addrs(), 4*time.Second, zk.WithLogger(discardPrintf{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newProxy returns a fault proxy to the test server, closed at the end of
// the test.
func newProxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(srv.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func lockReq(root, name string) Request {
	return Request{Root: root, Name: name, Data: []byte(`{"host":"test"}`), Margin: 100 * time.Millisecond, Lead: 100 * time.Millisecond}
}

func TestAcquireCreatesOriginalLayout(t *testing.T) {
	root := uniqueRoot(t) + "/nested"
	s := connect(t, srv.Addrs(), 4*time.Second)
	l, err := s.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	c := raw(t)
	data, stat, err := c.Get(root + "/job")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"host":"test"}` || stat.EphemeralOwner != s.ID() {
		t.Fatalf("lock node: data %q owner %#x, want our data and session %#x", data, stat.EphemeralOwner, s.ID())
	}
	if l.Path() != root+"/job" || l.Slot() != -1 || l.Token() != stat.Czxid {
		t.Fatalf("lease: path %s slot %d token %d, want %s -1 %d", l.Path(), l.Slot(), l.Token(), root+"/job", stat.Czxid)
	}
	rootData, rootStat, err := c.Get(root)
	if err != nil || string(rootData) != "Rootnode" || rootStat.EphemeralOwner != 0 {
		t.Fatalf("root: %q %v %v, want persistent Rootnode", rootData, rootStat, err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := c.Exists(root + "/job"); ok {
		t.Fatal("lock node still exists after Release")
	}
	if !errors.Is(l.Err(), ErrClosed) {
		t.Fatalf("Err after Release = %v, want ErrClosed", l.Err())
	}
}

// TestPipelinedRead: the read that fetches a new lock node's token is sent
// behind the create, and its answer is used: one round trip, not two.
func TestPipelinedRead(t *testing.T) {
	root := uniqueRoot(t)
	s := connect(t, srv.Addrs(), 4*time.Second)
	c := raw(t)
	const n = 30
	for i := 0; i < n; i++ {
		l, err := s.Acquire(context.Background(), lockReq(root, "job"))
		if err != nil {
			t.Fatal(err)
		}
		_, stat, err := c.Get(root + "/job")
		if err != nil {
			t.Fatal(err)
		}
		if l.Token() != stat.Czxid {
			t.Fatalf("cycle %d: token %d, want the node's czxid %d", i, l.Token(), stat.Czxid)
		}
		if err := l.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// A ping written between the create and the read sends the read
	// first now and then; more than a few means the pipelining is broken.
	if r := s.rereads.Load(); r > n/10 {
		t.Fatalf("%d of %d acquisitions needed a second read of the node", r, n)
	}
}

func TestSawCreate(t *testing.T) {
	const us = 0x42
	fired := make(chan zk.Event, 1)
	fired <- zk.Event{Type: zk.EventNodeDeleted}
	for _, tc := range []struct {
		name  string
		stat  *zk.Stat
		watch <-chan zk.Event
		want  bool
	}{
		{"ours, watch pending", &zk.Stat{EphemeralOwner: us}, make(chan zk.Event), true},
		{"someone else's", &zk.Stat{EphemeralOwner: us + 1}, make(chan zk.Event), false},
		{"an earlier node of ours, deleted since", &zk.Stat{EphemeralOwner: us}, fired, false},
		{"read failed", nil, nil, false},
	} {
		if got := sawCreate(tc.stat, tc.watch, us); got != tc.want {
			t.Errorf("%s: sawCreate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBusyWithoutWait(t *testing.T) {
	root := uniqueRoot(t)
	a := connect(t, srv.Addrs(), 4*time.Second)
	b := connect(t, srv.Addrs(), 4*time.Second)
	if _, err := a.Acquire(context.Background(), lockReq(root, "job")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := b.Acquire(context.Background(), lockReq(root, "job"))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: %v, want ErrLocked", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("busy answer took %v", el)
	}
	children, _, err := raw(t).Children(root)
	if err != nil || len(children) != 1 {
		t.Fatalf("children of %s: %v %v, want only the holder's", root, children, err)
	}
}

func TestForeignHolderIsRespected(t *testing.T) {
	// A node made by another client (the original zk-flock stores
	// hostname+uuid as plain text) is a held lock.
	root := uniqueRoot(t)
	c := raw(t)
	if _, err := c.Create(root, []byte("Rootnode"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(root+"/job", []byte("oldhost1b2c3d"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	s := connect(t, srv.Addrs(), 4*time.Second)
	if _, err := s.Acquire(context.Background(), lockReq(root, "job")); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire over a foreign node: %v, want ErrLocked", err)
	}
}

func TestWaitGetsLockWhenReleased(t *testing.T) {
	root := uniqueRoot(t)
	a := connect(t, srv.Addrs(), 4*time.Second)
	b := connect(t, srv.Addrs(), 4*time.Second)
	la, err := a.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		a.Close()
	}()
	req := lockReq(root, "job")
	req.Wait = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	lb, err := b.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("waiter got the lock after %v, want about 300ms", el)
	}
	if lb.Token() <= la.Token() {
		t.Fatalf("token did not increase: %d then %d", la.Token(), lb.Token())
	}
}

func TestWaitRunsOut(t *testing.T) {
	root := uniqueRoot(t)
	a := connect(t, srv.Addrs(), 4*time.Second)
	b := connect(t, srv.Addrs(), 4*time.Second)
	if _, err := a.Acquire(context.Background(), lockReq(root, "job")); err != nil {
		t.Fatal(err)
	}
	req := lockReq(root, "job")
	req.Wait = true
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Acquire(ctx, req)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire after the wait ran out: %v, want ErrLocked", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 1500*time.Millisecond {
		t.Fatalf("wait ended after %v, want 300ms", el)
	}
	// A wait that ran out leaves nothing of b's behind: no lock node, and
	// no waiter node in the queue (only its container, which ZooKeeper
	// removes when empty).
	c := raw(t)
	children, _, _ := c.Children(root)
	if len(children) != 2 || children[0] != QueueDir && children[1] != QueueDir {
		t.Fatalf("children after the wait: %v, want the lock and %s", children, QueueDir)
	}
	waitEmpty(t, c, root+"/"+QueueDir+"/job")
}

// waitEmpty waits until dir has no children.
func waitEmpty(t *testing.T, c *zk.Conn, dir string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		children, _, err := c.Children(dir)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			t.Fatal(err)
		}
		if len(children) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %v", dir, children)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQueueIsFIFOAndWakesOne: waiters get the lock in the order they
// queued, and each release wakes only the head of the queue.
func TestQueueIsFIFOAndWakesOne(t *testing.T) {
	root := uniqueRoot(t)
	holder := connect(t, srv.Addrs(), 4*time.Second)
	lh, err := holder.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	c := raw(t)
	const n = 5
	order := make(chan int, n)
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		s := connect(t, srv.Addrs(), 4*time.Second)
		go func() {
			req := lockReq(root, "job")
			req.Wait = true
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			l, err := s.Acquire(ctx, req)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				order <- -1
				return
			}
			order <- i
			<-release
			l.Release(context.Background())
		}()
		// Queue them one after the other.
		deadline := time.Now().Add(2 * time.Second)
		for {
			waiters, _, _ := c.Children(root + "/" + QueueDir + "/job")
			if len(waiters) == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiter %d did not queue: %v", i, waiters)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Only the head watches the lock node: one watch, whatever n is.
	wchc, err := testzk.FourLetter(srv.Addrs()[0], "wchp")
	if err != nil {
		t.Fatal(err)
	}
	if lockWatchers := watchersOf(wchc, root+"/job"); lockWatchers > 2 {
		t.Fatalf("%d sessions watch the lock node, want only the holder's and the head's:\n%s", lockWatchers, wchc)
	}
	lh.Release(context.Background())
	for want := 0; want < n; want++ {
		select {
		case got := <-order:
			if got != want {
				t.Fatalf("waiter %d got the lock, want %d (first come, first served)", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("waiter %d never got the lock", want)
		}
		release <- struct{}{}
	}
	waitEmpty(t, c, root+"/"+QueueDir+"/job")
}

// watchersOf counts the sessions that the wchp four-letter word lists as
// watching p.
func watchersOf(wchp, p string) int {
	n, in := 0, false
	for _, line := range strings.Split(wchp, "\n") {
		switch {
		case strings.HasPrefix(line, "/"):
			in = line == p
		case in && strings.HasPrefix(strings.TrimSpace(line), "0x"):
			n++
		}
	}
	return n
}

func TestSemaphoreSlots(t *testing.T) {
	root := uniqueRoot(t)
	req := lockReq(root, "sem")
	req.Slots = 2
	var leases []*Lease
	for i := 0; i < 2; i++ {
		s := connect(t, srv.Addrs(), 4*time.Second)
		l, err := s.Acquire(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if l.Slot() != i || l.Path() != fmt.Sprintf("%s/sem_%d", root, i) {
			t.Fatalf("holder %d got slot %d (%s)", i, l.Slot(), l.Path())
		}
		leases = append(leases, l)
	}
	c := connect(t, srv.Addrs(), 4*time.Second)
	if _, err := c.Acquire(context.Background(), req); !errors.Is(err, ErrLocked) {
		t.Fatalf("third holder of 2 slots: %v, want ErrLocked", err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		leases[1].Release(context.Background())
	}()
	req.Wait = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := c.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if l.Slot() != 1 {
		t.Fatalf("waiter got slot %d, want the freed slot 1", l.Slot())
	}
}

// TestSemaphoreAndLockOfOneNameQueueApart: "job" and "-n 2 job" are two
// locks (job; job_0 and job_1). A waiter for the one, at the head of its
// queue, must not hold up a waiter for the other whose lock frees.
func TestSemaphoreAndLockOfOneNameQueueApart(t *testing.T) {
	root := uniqueRoot(t)
	plain := lockReq(root, "job")
	sem := lockReq(root, "job")
	sem.Slots = 2
	hold := func(req Request) *Lease {
		l, err := connect(t, srv.Addrs(), 4*time.Second).Acquire(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	hold(plain)
	slots := []*Lease{hold(sem), hold(sem)}
	// Queue a waiter for the plain lock first, then one for the slots.
	c := raw(t)
	acquire := func(req Request) <-chan error {
		s := connect(t, srv.Addrs(), 4*time.Second)
		done := make(chan error, 1)
		go func() {
			req.Wait = true
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := s.Acquire(ctx, req)
			done <- err
		}()
		return done
	}
	plainDone := acquire(plain)
	waitFor(t, c, path.Join(root, QueueDir, "job"), 1)
	semDone := acquire(sem)
	waitFor(t, c, path.Join(root, SlotQueueDir, "job"), 1)

	slots[0].Release(context.Background())
	select {
	case err := <-semDone:
		if err != nil {
			t.Fatalf("semaphore waiter: %v", err)
		}
	case err := <-plainDone:
		t.Fatalf("the plain lock's waiter returned (%v); it is still held", err)
	case <-time.After(5 * time.Second):
		t.Fatal("a freed slot did not go to its waiter while a waiter for the plain lock of the same name queued")
	}
}

// waitFor waits until dir holds n waiters.
func waitFor(t *testing.T, c *zk.Conn, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		waiters, _, _ := c.Children(dir)
		if len(waiters) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %v, want %d waiters", dir, waiters, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLeaseLostWhenNodeDeleted(t *testing.T) {
	root := uniqueRoot(t)
	s := connect(t, srv.Addrs(), 4*time.Second)
	l, err := s.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	if err := raw(t).Delete(root+"/job", -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("lease not lost 2s after its node was deleted")
	}
	if !errors.Is(l.Err(), ErrLockLost) {
		t.Fatalf("Err = %v, want ErrLockLost", l.Err())
	}
	if react := time.Since(deleted); react > 500*time.Millisecond {
		t.Fatalf("reacted after %v", react)
	}
	if !l.KillBy().Before(time.Now()) {
		t.Fatalf("KillBy %v is in the future: a lost lock must be let go at once", time.Until(l.KillBy()))
	}
}

func TestNegotiatedTimeoutIsUsed(t *testing.T) {
	// The server caps sessions at 20 ticks = 4 s; asking for 30 s must not
	// make us trust the session for 30 s.
	s := connect(t, srv.Addrs(), 30*time.Second)
	if got := s.Timeout(); got != 4*time.Second {
		t.Fatalf("Timeout() = %v, want the negotiated 4s", got)
	}
}

func TestUnreachable(t *testing.T) {
	start := time.Now()
	_, err := Connect(context.Background(), Options{Servers: []string{"127.0.0.1:1"}, SessionTimeout: time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Connect to a closed port: %v, want ErrUnreachable", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("gave up after %v, want about the 1s timeout", el)
	}
}

// TestPartitionFencesBeforeExpiry is the self-fencing promise at the
// library level: a holder cut off from ZooKeeper reports Done, with a
// KillBy that passes before another session can take the lock.
func TestPartitionFencesBeforeExpiry(t *testing.T) {
	root := uniqueRoot(t)
	p := newProxy(t)
	const T = 2 * time.Second
	a := connect(t, []string{p.Addr()}, T)
	req := lockReq(root, "job")
	req.Margin, req.Lead = 200*time.Millisecond, 300*time.Millisecond
	la, err := a.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b := connect(t, srv.Addrs(), 4*time.Second)
	got := make(chan time.Time, 1)
	go func() {
		wreq := lockReq(root, "job")
		wreq.Wait = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := b.Acquire(ctx, wreq); err != nil {
			t.Errorf("waiter: %v", err)
			close(got)
			return
		}
		got <- time.Now()
	}()

	p.Hold(faultproxy.Both)
	var done time.Time
	select {
	case <-la.Done():
		done = time.Now()
	case <-time.After(2 * T):
		t.Fatal("partitioned holder never reported Done")
	}
	killBy := la.KillBy()
	if !errors.Is(la.Err(), ErrSessionLost) {
		t.Fatalf("Err = %v, want ErrSessionLost", la.Err())
	}
	if lead := killBy.Sub(done); lead < 250*time.Millisecond {
		t.Fatalf("Done came only %v before KillBy, want the 300ms lead", lead)
	}
	taken, ok := <-got
	if !ok {
		return
	}
	if !taken.After(killBy) {
		t.Fatalf("another session took the lock %v before the holder's KillBy", killBy.Sub(taken))
	}
	t.Logf("Done %v before KillBy; lock taken over %v after KillBy", killBy.Sub(done), taken.Sub(killBy))
}

// TestTimeoutCutBringsDeadlineForward: when a server grants a shorter
// session timeout than before (a reconnect to a server with a lower
// maxSessionTimeout, in a rolling change of the ensemble's settings), a
// lease's deadline comes earlier at once: partitioned just after, the
// holder is told to stop Lead before the new, earlier KillBy.
func TestTimeoutCutBringsDeadlineForward(t *testing.T) {
	root := uniqueRoot(t)
	p := newProxy(t)
	a := connect(t, []string{p.Addr()}, 4*time.Second)
	req := lockReq(root, "job")
	req.Margin, req.Lead = 100*time.Millisecond, 300*time.Millisecond
	la, err := a.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the lease's timer set for T = 4 s
	const cutTo = 2 * time.Second
	a.noteNegotiated(cutTo) // as the granted timeout of a new connection
	if got := a.Timeout(); got != cutTo {
		t.Fatalf("Timeout() = %v after the cut, want %v", got, cutTo)
	}
	held := time.Now()
	p.Hold(faultproxy.Both)
	var done time.Time
	select {
	case <-la.Done():
		done = time.Now()
	case <-time.After(8 * time.Second):
		t.Fatal("partitioned holder never reported Done")
	}
	killBy := la.KillBy()
	if lead := killBy.Sub(done); lead < 250*time.Millisecond {
		t.Errorf("Done came %v before KillBy, want the 300ms lead", lead)
	}
	// The server may expire the session cutTo after its last touch,
	// before held.
	if d := killBy.Sub(held); d >= cutTo {
		t.Errorf("KillBy %v after the partition began, want less than the new %v timeout", d, cutTo)
	}
	t.Logf("partition at 0: Done at %v, KillBy at %v", done.Sub(held), killBy.Sub(held))
}

// TestShortPartitionKeepsLease: a hiccup well inside the session timeout
// must not cost the holder its lock.
func TestShortPartitionKeepsLease(t *testing.T) {
	root := uniqueRoot(t)
	p := newProxy(t)
	const T = 4 * time.Second
	a := connect(t, []string{p.Addr()}, T)
	la, err := a.Acquire(context.Background(), lockReq(root, "job"))
	if err != nil {
		t.Fatal(err)
	}
	p.Hold(faultproxy.Both)
	time.Sleep(T / 8)
	p.Release(faultproxy.Both)
	time.Sleep(T / 2)
	select {
	case <-la.Done():
		t.Fatalf("lease lost after a %v partition: %v", T/8, la.Err())
	default:
	}
	if age := time.Since(a.LastOK()); age > T/4 {
		t.Fatalf("LastOK is %v old after the partition healed", age)
	}
}

// TestLeaseAfterReconnect: a waiter cut off for most of its session
// timeout (no server reachable: no frame goes out) that takes the freed
// lock as soon as it reconnects keeps its lease. The reconnect restarted
// the session's clock at the leader; the lease must start from it, not
// from the last frame before the outage, which would give it up within a
// second, killing a command that had just started.
func TestLeaseAfterReconnect(t *testing.T) {
	root := uniqueRoot(t)
	const T = 4 * time.Second // the test server's largest
	var (
		down atomic.Bool
		mu   sync.Mutex
		last net.Conn
	)
	w, err := Connect(context.Background(), Options{
		Servers:        srv.Addrs()[:1],
		SessionTimeout: T,
		// While down, a dial waits: no connect request goes out.
		Dialer: func(network, addr string, timeout time.Duration) (net.Conn, error) {
			for down.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			c, err := net.DialTimeout(network, addr, timeout)
			mu.Lock()
			last = c
			mu.Unlock()
			return c, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	h := connect(t, srv.Addrs(), T)
	req := lockReq(root, "job")
	req.Margin, req.Lead = 200*time.Millisecond, 200*time.Millisecond
	lh, err := h.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	wreq := req
	wreq.Wait = true
	ctx, cancel := context.WithTimeout(context.Background(), 3*T)
	defer cancel()
	got := make(chan *Lease, 1)
	go func() {
		l, err := w.Acquire(ctx, wreq)
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		got <- l
	}()
	c := raw(t)
	testzk.WaitFor(t, 2*time.Second, "the waiter to queue", func() bool {
		waiters, _, _ := c.Children(root + "/" + QueueDir + "/job")
		return len(waiters) == 1
	})
	time.Sleep(T / 8) // a heartbeat or two while queued

	// The outage: the waiter's connection goes and no dial succeeds for
	// 0.7 T; the holder lets go meanwhile.
	down.Store(true)
	mu.Lock()
	last.Close()
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	if err := lh.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(7*T/10 - 100*time.Millisecond)
	down.Store(false)

	var l *Lease
	select {
	case l = <-got:
	case <-time.After(T):
		t.Fatal("the waiter did not take the freed lock after reconnecting")
	}
	if l == nil {
		t.FailNow()
	}
	took := time.Now()
	// Before the fix the lease gave up some 0.8 s after it began (LastOK
	// from the last frame before the outage); a healthy lease holds.
	select {
	case <-l.Done():
		t.Fatalf("lease lost %v after the lock was taken on reconnecting: %v", time.Since(took).Round(time.Millisecond), l.Err())
	case <-time.After(T / 2):
	}
	if age := time.Since(w.LastOK()); age > T/4 {
		t.Fatalf("LastOK is %v old, %v after the reconnect", age, time.Since(took).Round(time.Millisecond))
	}
}

func TestCancelledAcquireLeavesNothing(t *testing.T) {
	root := uniqueRoot(t)
	s := connect(t, srv.Addrs(), 4*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Acquire(ctx, lockReq(root, "job")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a cancelled context: %v", err)
	}
	// Whatever the cancelled create did is undone in the background.
	deadline := time.Now().Add(2 * time.Second)
	for {
		ok, _, err := raw(t).Exists(root + "/job")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a cancelled Acquire left its node behind")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCreateAnswerLost: the create reaches the server but its answer is
// lost with the connection. After reconnecting, Acquire must find the node
// it made (ours, same session) rather than fail or leave it behind.
func TestCreateAnswerLost(t *testing.T) {
	root := uniqueRoot(t)
	p := newProxy(t)
	const T = 2 * time.Second
	s := connect(t, []string{p.Addr()}, T)
	c := raw(t)
	if _, err := c.Create(root, RootData, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	p.Hold(faultproxy.Down) // requests go through, answers do not
	got := make(chan error, 1)
	var lease *Lease
	go func() {
		var err error
		lease, err = s.Acquire(context.Background(), lockReq(root, "job"))
		got <- err
	}()
	// The create is applied although its answer is held.
	deadline := time.Now().Add(T)
	for {
		ok, stat, err := c.Exists(root + "/job")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if stat.EphemeralOwner != s.ID() {
				t.Fatalf("node owned by %#x, want our session %#x", stat.EphemeralOwner, s.ID())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the create never reached the server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The client gives up on the connection (no answer for 2T/3), and
	// reconnects once answers flow again.
	p.Reset()
	p.Release(faultproxy.Down)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Acquire after a lost create answer: %v", err)
		}
	case <-time.After(3 * T):
		t.Fatal("Acquire never returned")
	}
	if lease.Path() != root+"/job" {
		t.Fatalf("lease on %s", lease.Path())
	}
	children, _, err := c.Children(root)
	if err != nil || len(children) != 1 {
		t.Fatalf("children %v %v, want just the lock", children, err)
	}
	// Found through a sync and a read, not the create's answer, the lease
	// still has a fresh base for its deadline, and holds.
	time.Sleep(T / 2)
	select {
	case <-lease.Done():
		t.Fatalf("lease given up after a lost create answer: %v", lease.Err())
	default:
	}
}

func TestHostListPausesOnlyAfterAFullRound(t *testing.T) {
	for _, n := range []int{1, 3} {
		var p hostList
		servers := []string{"a:1", "b:2", "c:3"}[:n]
		if err := p.Init(servers); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i := 0; i < n; i++ { // the first round, at start or after a loss
			s, pause := p.Next()
			if pause {
				t.Fatalf("%d servers: pause before attempt %d of the first round", n, i+1)
			}
			seen[s] = true
		}
		if len(seen) != n {
			t.Fatalf("%d servers: first round tried %v", n, seen)
		}
		if _, pause := p.Next(); !pause {
			t.Fatalf("%d servers: no pause after a whole failed round", n)
		}
		p.Connected()
		if _, pause := p.Next(); pause {
			t.Fatalf("%d servers: pause before the first reconnect attempt", n)
		}
	}
}

// TestResetReconnectsAtOnce: a reset connection to a lone server is
// re-established within a fraction of a second, not after a pause.
func TestResetReconnectsAtOnce(t *testing.T) {
	p := newProxy(t)
	s := connect(t, []string{p.Addr()}, 4*time.Second)
	root := uniqueRoot(t)
	if _, err := s.Acquire(context.Background(), lockReq(root, "job")); err != nil {
		t.Fatal(err)
	}
	p.Reset()
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	for s.LastOK().Before(start) {
		if time.Now().After(deadline) {
			t.Fatal("no answer within 2s of a connection reset")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if el := time.Since(start); el > 700*time.Millisecond {
		t.Fatalf("reconnected %v after the reset, want well under the library's 1s pause", el)
	}
}

// TestSilentEnsembleEndsTheSession: with every server silent, requests
// must not hang forever (the library retries without end, learning of an
// expiry only from a server): after a session timeout of silence the
// session is given up, and an Acquire in progress fails with
// ErrSessionLost.
func TestSilentEnsembleEndsTheSession(t *testing.T) {
	p := newProxy(t)
	const T = 2 * time.Second
	s := connect(t, []string{p.Addr()}, T)
	p.Hold(faultproxy.Both)
	start := time.Now()
	_, err := s.Acquire(context.Background(), lockReq(uniqueRoot(t), "job"))
	if !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Acquire against a silent ensemble: %v, want ErrSessionLost", err)
	}
	if el := time.Since(start); el < T-T/4 || el > 2*T {
		t.Fatalf("gave up after %v, want about the %v session timeout", el, T)
	}
}

// TestFrozenServerIsLeftInTime: when the server a holder is connected to
// goes silent, the session moves to another server before the lease gives
// up (the client library alone would wait two thirds of T, too long).
func TestFrozenServerIsLeftInTime(t *testing.T) {
	var proxies []*faultproxy.Proxy
	for i := 0; i < 2; i++ { // two routes to the one server stand in for two servers
		p := newProxy(t)
		proxies = append(proxies, p)
	}
	const T = 3 * time.Second
	s := connect(t, []string{proxies[0].Addr(), proxies[1].Addr()}, T)
	req := lockReq(uniqueRoot(t), "job")
	req.Margin, req.Lead = 300*time.Millisecond, 750*time.Millisecond
	l, err := s.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	frozen := proxies[0]
	if proxies[1].Active() > 0 {
		frozen = proxies[1]
	}
	frozen.Hold(faultproxy.Both)
	time.Sleep(3 * T / 2)
	select {
	case <-l.Done():
		t.Fatalf("lease lost although another route was up: %v", l.Err())
	default:
	}
	if age := time.Since(s.LastOK()); age > T/3 {
		t.Fatalf("no answer for %v: the session did not move", age)
	}
}

// TestHeartbeatFollowsGrantedTimeout: asking for far more than the server
// grants must not make heartbeats too rare to keep the lease.
func TestHeartbeatFollowsGrantedTimeout(t *testing.T) {
	s := connect(t, srv.Addrs(), 60*time.Second) // the server grants 4 s
	req := lockReq(uniqueRoot(t), "job")
	req.Margin, req.Lead = 400*time.Millisecond, time.Second
	l, err := s.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	select {
	case <-l.Done():
		t.Fatalf("lease lost with no fault: %v", l.Err())
	default:
	}
	if age := time.Since(s.LastOK()); age > time.Second {
		t.Fatalf("last answer %v ago; heartbeats every 6 s (a tenth of the requested 60 s)?", age)
	}
}

// TestLeaderSilenceFences: a follower answers reads on its own, and goes on
// answering them while the leader, which alone expires sessions, hears
// nothing of ours (cut off from it, or the leader frozen) until the
// follower gives up on the leader, syncLimit ticks later. The lease counts
// only answers through the leader: with the leader frozen it fences within
// its budget, though the follower answers every read.
func TestLeaderSilenceFences(t *testing.T) {
	// The follower waits 25 ticks (5 s) for a silent leader.
	zkc := testzk.New(t, testzk.Options{Servers: 3, SyncLimit: 25})
	ldr, err := zkc.WaitLeader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var follower *testzk.Server
	for _, srv := range zkc.Servers() {
		if srv != ldr {
			follower = srv
			break
		}
	}
	const T = 2 * time.Second
	s := connect(t, []string{follower.Addr()}, T)
	req := lockReq(uniqueRoot(t), "job")
	req.Margin, req.Lead = 200*time.Millisecond, 300*time.Millisecond
	l, err := s.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(T / 2) // heartbeats through the leader
	if age := time.Since(s.LastOK()); age > T/5 {
		t.Fatalf("no answer through the leader for %v before the fault", age)
	}
	select {
	case <-l.Done():
		t.Fatalf("lease lost before the fault: %v", l.Err())
	default:
	}

	if err := ldr.Pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	defer ldr.Resume()
	before := s.LastOK()
	if ok, _, err := s.conn.Exists(l.Path()); err != nil || !ok {
		t.Fatalf("the follower does not answer a read with the leader frozen (%v, %v): the test shows nothing", ok, err)
	}
	if s.LastOK() != before {
		t.Error("a read the follower answered alone moved LastOK")
	}
	select {
	case <-l.Done():
		if d := time.Since(paused); d > s.Budget() {
			t.Errorf("lease gave up %v after the leader froze, want within its budget %v", d, s.Budget())
		}
	case <-time.After(2 * T):
		t.Fatalf("lease still held %v after the leader froze: the follower's answers were taken for the leader's", 2*T)
	}
}

// silentListener listens on a loopback port, accepts every connection and
// never answers (a frozen server, or its JVM in a long pause), until the
// test ends. It returns the address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

// TestSilentServerIsSkipped: a server that accepts connections and never
// answers (frozen, or its JVM in a long pause) costs a connect a short wait,
// not the whole connect timeout: the next server is tried.
func TestSilentServerIsSkipped(t *testing.T) {
	silent := silentListener(t)
	const T = 2 * time.Second
	for i := range 4 {
		servers := []string{silent, srv.Addrs()[0]}
		if i%2 == 1 {
			servers[0], servers[1] = servers[1], servers[0]
		}
		start := time.Now()
		s, err := Connect(context.Background(), Options{Servers: servers, SessionTimeout: T})
		if err != nil {
			t.Fatalf("connect %d with one silent server of two: %v", i, err)
		}
		s.Close()
		if d := time.Since(start); d > T/2 {
			t.Errorf("connect %d took %v: the silent server held it up", i, d)
		}
	}
}

// TestCredit: an answer through the leader credits its send time only if
// we wrote often enough before it, or the connection it came on was set up
// after t0 − T/4; else no more than the session is sure to live after the
// last frame the leader must have heard of.
func TestCredit(t *testing.T) {
	const T = 2 * time.Second
	const none = -1 // no frame on the connection current at t0
	base := time.Now()
	at := func(d time.Duration) time.Time { return base.Add(d) }
	for _, tc := range []struct {
		name    string
		writes  []time.Duration // after base
		connect time.Duration   // the connect request of the connection current at t0, after base
		t0      time.Duration
		want    time.Duration // LastOK after base
	}{
		{"heartbeats every interval", []time.Duration{0, 200, 400, 600, 800, 1000}, 0, 1000, 1000},
		{"young session: nothing before t0 − T/4", []time.Duration{900, 1000}, 900, 1000, 1000},
		// A waiter quiet for T/3 (library pings only), then its create:
		// the leader may have heard last of the ping at 0.
		{"quiet wait, then a create", []time.Duration{0, 667, 1334, 1400}, 0, 1400, 667 + 500 + 200},
		{"quiet wait, nothing since long", []time.Duration{0, 1400}, 0, 1400, 0 + 500 + 200},
		// Reconnected (after failed tries on other servers) just before
		// the create: the new connection's connect request restarted the
		// session's clock at the leader.
		{"reconnected after t0 − T/4", []time.Duration{0, 200, 1100, 1150, 1300, 1400}, 1300, 1400, 1400},
		{"reconnected just before t0 − T/4", []time.Duration{0, 200, 850, 1400}, 850, 1400, 1400},
		{"reconnected before, quiet since", []time.Duration{0, 600, 1400}, 600, 1400, 600 + 500 + 200},
		// The request waited for a connection dialed after t0.
		{"answered on a later connection", []time.Duration{0, 1450, 1500}, none, 1400, 1400},
	} {
		s := &Session{requested: T}
		for _, w := range tc.writes {
			s.writes = append(s.writes, at(w*time.Millisecond))
		}
		conn := &sniffConn{}
		r := at(tc.connect * time.Millisecond)
		if tc.connect != none {
			conn.first.Store(&r)
		}
		t0 := at(tc.t0 * time.Millisecond)
		s.credit(t0, conn)
		if got := s.LastOK().Sub(base); got != tc.want*time.Millisecond {
			t.Errorf("%s: LastOK at %v, want %v", tc.name, got, tc.want*time.Millisecond)
		}
		// The promise: LastOK + Budget is no later than T after the
		// newest frame at or before t0 − T/4, or after the connect
		// request of the connection that answered, whichever is later:
		// the leader restarted the session's clock at neither before.
		var w time.Time
		for _, x := range s.writes {
			if !x.After(t0.Add(-T / 4)) {
				w = x
			}
		}
		if tc.connect == none {
			w = t0 // the connection that answered was dialed after t0
		} else if r.After(w) {
			w = r
		}
		if s.LastOK().Add(s.Budget()).After(w.Add(T)) {
			t.Errorf("%s: LastOK + Budget = %v after w + T = %v", tc.name, s.LastOK().Add(s.Budget()).Sub(base), w.Add(T).Sub(base))
		}
	}
}

// TestNewcomerQueuesBehindWaiters: a waiter that arrives while others
// queue goes behind them, even when the lock is free at that moment, as it
// is between a release and the head of the queue taking it.
func TestNewcomerQueuesBehindWaiters(t *testing.T) {
	root := uniqueRoot(t)
	c := raw(t)
	dir := root + "/" + QueueDir + "/job"
	for _, p := range []string{root, path.Dir(dir), dir} {
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// A queued waiter that has not yet taken the free lock.
	head, err := c.Create(dir+"/"+waiterPrefix+"0123456789abcdef-", nil, zk.FlagEphemeralSequential, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	s := connect(t, srv.Addrs(), 4*time.Second)
	req := lockReq(root, "job")
	req.Wait = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := acquireAsync(ctx, s, req)
	select {
	case err := <-got:
		t.Fatalf("the newcomer took the free lock ahead of the queued waiter (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	if waiters, _, err := c.Children(dir); err != nil || len(waiters) != 2 {
		t.Fatalf("queue %v (%v), want the head and the newcomer behind it", waiters, err)
	}
	if ok, _, _ := c.Exists(root + "/job"); ok {
		t.Fatal("the lock node exists: the newcomer created it")
	}
	if err := c.Delete(head, -1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("after the head left: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the newcomer never took the lock after the head left")
	}
}

// TestWaitEndsDisconnected: a wait that runs out while no server answers
// the session ends with connection trouble, not "busy": the lock may have
// been free all along.
func TestWaitEndsDisconnected(t *testing.T) {
	root := uniqueRoot(t)
	a := connect(t, srv.Addrs(), 4*time.Second)
	if _, err := a.Acquire(context.Background(), lockReq(root, "job")); err != nil {
		t.Fatal(err)
	}
	p := newProxy(t)
	b := connect(t, []string{p.Addr()}, 4*time.Second)
	req := lockReq(root, "job")
	req.Wait = true
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	got := acquireAsync(ctx, b, req)
	c := raw(t)
	deadline := time.Now().Add(time.Second)
	for {
		waiters, _, _ := c.Children(root + "/" + QueueDir + "/job")
		if len(waiters) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not queue")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Hold(faultproxy.Both)
	p.Reset()
	err := <-got
	if errors.Is(err, ErrLocked) || !Transient(err) {
		t.Fatalf("wait ended while disconnected: %v, want connection trouble, not ErrLocked", err)
	}
	p.Release(faultproxy.Both)
}

// TestQueuedSeesWaiters: a lease reports a client queued for its lock
// (for a lock and for a semaphore's slots), whether the queue's node is
// new, empty or already full, and a holder that came through the queue
// does not count itself.
func TestQueuedSeesWaiters(t *testing.T) {
	for _, slots := range []int{0, 1} {
		t.Run(fmt.Sprintf("slots=%d", slots), func(t *testing.T) {
			root := uniqueRoot(t)
			c := raw(t)
			req := lockReq(root, "job")
			req.Slots = slots
			wreq := req
			wreq.Wait = true
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			wait := func() <-chan *Lease {
				got := make(chan *Lease, 1)
				s := connect(t, srv.Addrs(), 4*time.Second)
				go func() {
					l, err := s.Acquire(ctx, wreq)
					if err != nil && ctx.Err() == nil {
						t.Errorf("waiter: %v", err)
					}
					got <- l
				}()
				return got
			}

			// handOver closes from's session and returns the lease the
			// waiter to gets then.
			handOver := func(from *Lease, to <-chan *Lease) *Lease {
				from.s.Close()
				l := <-to
				if l == nil {
					t.FailNow()
				}
				return l
			}

			a, err := connect(t, srv.Addrs(), 4*time.Second).Acquire(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // the watch is set
			if a.Queued() {
				t.Fatal("Queued with nobody queued (no queue node yet)")
			}
			b := wait()
			testzk.WaitFor(t, 5*time.Second, "the holder to see the waiter queue", a.Queued)

			// b takes over through the queue, where nobody else waits.
			lb := handOver(a, b)
			waitFor(t, c, queueDir(req), 0)
			time.Sleep(200 * time.Millisecond)
			if lb.Queued() {
				t.Fatal("a holder that came through the queue counts itself as queued")
			}
			// The queue's node is there, empty: a newcomer is still seen.
			d := wait()
			testzk.WaitFor(t, 5*time.Second, "the holder to see a waiter join the empty queue", lb.Queued)

			// A holder that takes the lock while others queue sees them
			// at once.
			ld := handOver(lb, d)
			e := wait()
			waitFor(t, c, queueDir(req), 1)
			le := handOver(ld, e)
			_ = wait()
			waitFor(t, c, queueDir(req), 1)
			testzk.WaitFor(t, 5*time.Second, "the holder to see the waiter", le.Queued)
		})
	}
}

// acquireAsync runs s.Acquire(ctx, req) on a goroutine of its own and
// returns the channel its error comes on.
func acquireAsync(ctx context.Context, s *Session, req Request) <-chan error {
	got := make(chan error, 1)
	go func() {
		_, err := s.Acquire(ctx, req)
		got <- err
	}()
	return got
}
