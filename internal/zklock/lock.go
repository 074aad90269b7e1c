package zklock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// RootData is the data of an application root node that zklock creates; the
// original zk-flock wrote the same.
var RootData = []byte("Rootnode")

// Request says what to lock and how to guard it.
type Request struct {
	// Root is the parent of the lock nodes, "/<app_id>". It is created,
	// with each missing ancestor, as a persistent node holding RootData.
	Root string
	// Name is the lock name. With Slots == 0 the lock is the node
	// Root/Name; with Slots == N > 0 it is a semaphore of N slots, the
	// nodes Root/Name_0 … Root/Name_{N-1}, and the first free one is taken.
	Name  string
	Slots int
	// Data is stored in the lock node to say who holds it.
	Data []byte
	// Wait makes Acquire wait, until ctx ends, for a busy lock instead of
	// failing at once with ErrLocked.
	Wait bool
	// Margin is how long before the session could possibly expire the
	// guarded work must be over (Lease.KillBy). It absorbs clock-rate
	// drift and the time a kill takes to take effect.
	Margin time.Duration
	// Lead is how long before KillBy the lease reports, by closing Done,
	// that it can no longer be trusted: the time the holder needs to stop
	// its work (a grace period).
	Lead time.Duration
}

// Lease is a held lock (or semaphore slot). It watches its node and its
// session and closes Done as soon as the lock is lost, or may be lost
// before the holder can stop: then everything the lock protects must be
// stopped by KillBy.
type Lease struct {
	s      *Session
	path   string
	queue  string // where waiters for the lock queue
	slot   int
	token  int64
	got    time.Time
	margin time.Duration
	lead   time.Duration

	mu     sync.Mutex
	err    error
	killBy time.Time

	queued atomic.Bool // a client queued for the lock since it was taken

	done     chan struct{}
	doneOnce sync.Once
	stop     chan struct{} // closed by Release
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// Path returns the lock node's path.
func (l *Lease) Path() string { return l.path }

// Slot returns the semaphore slot index, or -1 for a plain lock.
func (l *Lease) Slot() int { return l.slot }

// Token returns the fencing token: the zxid that created the lock node.
// ZooKeeper zxids only grow, so a later holder of the same lock always has a
// larger token, and a resource that remembers the largest token it has seen
// can refuse a stale holder.
func (l *Lease) Token() int64 { return l.token }

// Acquired returns when the lock was acquired (monotonic clock).
func (l *Lease) Acquired() time.Time { return l.got }

// Queued reports whether a client has queued for the lock (see
// Request.Wait) since it was taken, as far as the lease has seen: a watch
// on the queue, set queueWatchDelay after the lock was taken, reports the
// first to come within a round trip. Whoever came may have left since.
func (l *Lease) Queued() bool { return l.queued.Load() }

// Done is closed when the lock is lost or may be lost by KillBy.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err says why Done was closed: ErrLockLost, ErrSessionLost or ErrClosed.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// KillBy returns the time by which the work the lock protects must have
// stopped. Before Done it is the current deadline, which heartbeats keep
// moving forward: LastOK plus Budget (the session's sure life), minus the
// margin. After Done it is fixed: now, when the lock is
// certainly gone, or the deadline at the time the lease gave up.
func (l *Lease) KillBy() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.killBy
	}
	return l.deadline()
}

// deadline is the latest time the protected work may still run: the server
// cannot expire the session before LastOK + Budget (see Session.Budget),
// and nobody else can get the lock before then.
func (l *Lease) deadline() time.Time {
	return l.s.LastOK().Add(l.s.Budget() - l.margin)
}

// lose closes Done with err; the work must stop by killBy.
func (l *Lease) lose(err error, killBy time.Time) {
	l.doneOnce.Do(func() {
		if isClosed(l.s.closed) {
			err = ErrClosed // whatever happened, the owner has let go
		}
		l.mu.Lock()
		l.err = err
		l.killBy = killBy
		l.mu.Unlock()
		close(l.done)
		if !errors.Is(err, ErrClosed) {
			l.s.log.Error("lock lost", "node", l.path, "err", err,
				"kill_within", time.Until(killBy).Round(time.Millisecond))
		}
	})
}

// check is the heartbeat's probe: the node must exist and be ours.
func (l *Lease) check(exists bool, stat *zk.Stat) {
	switch {
	case !exists:
		l.lose(fmt.Errorf("%w: %s was deleted", ErrLockLost, l.path), time.Now())
	case stat.EphemeralOwner != l.s.ID():
		l.lose(fmt.Errorf("%w: %s is now owned by session %#x", ErrLockLost, l.path, stat.EphemeralOwner), time.Now())
	}
}

// monitor closes Done when the node's watch reports it deleted, when the
// session is lost, or when the leader has not answered for so long that the
// session may expire before the holder could stop (KillBy − Lead).
func (l *Lease) monitor(watch <-chan zk.Event) {
	defer l.wg.Done()
	// The deadline moves later with every answer (the timer then fires
	// early and is set again), and earlier only when a server grants a
	// shorter timeout, on a reconnect: cut says so. Taken first, so that
	// no cut falls between it and the deadline the timer is set for.
	cut := l.s.timeoutCut()
	timer := time.NewTimer(time.Until(l.deadline().Add(-l.lead)))
	defer timer.Stop()
	rewatched := make(chan (<-chan zk.Event), 1)
	for {
		select {
		case <-l.stop:
			return
		case <-cut:
			cut = l.s.timeoutCut()
			timer.Reset(0) // Go 1.23 timers: no stale tick to drain
		case <-l.s.Lost():
			l.lose(l.s.Err(), time.Now())
			return
		case w := <-rewatched:
			watch = w
		case ev, ok := <-watch:
			watch = nil
			switch {
			case !ok || ev.Type == zk.EventNotWatching:
				// The library drops watches only when the session ends.
				l.lose(fmt.Errorf("%w: watch on %s dropped: %v", ErrSessionLost, l.path, ev.Err), time.Now())
				return
			case ev.Type == zk.EventNodeDeleted:
				l.lose(fmt.Errorf("%w: %s was deleted", ErrLockLost, l.path), time.Now())
				return
			default:
				// Data changed: still ours if the owner is still us.
				// Re-arm off this goroutine, which must keep time.
				l.s.log.Warn("lock node changed by someone else", "node", l.path, "event", ev.Type.String())
				l.wg.Add(1)
				go func() {
					defer l.wg.Done()
					w, err := l.rewatch()
					if err != nil {
						l.lose(err, time.Now())
						return
					}
					rewatched <- w
				}()
			}
		case <-timer.C:
			d := l.deadline()
			if !time.Now().Before(d.Add(-l.lead)) {
				l.lose(fmt.Errorf("%w: no answer through the ZooKeeper leader for %v; the session is sure to live only %v after one (timeout %v)",
					ErrSessionLost, time.Since(l.s.LastOK()).Round(time.Millisecond), l.s.Budget().Round(time.Millisecond), l.s.Timeout()), d)
				return
			}
			timer.Reset(time.Until(d.Add(-l.lead)))
		}
	}
}

// queueWatchDelay is how long after taking the lock a lease starts
// watching its queue: the shortest runs (zk-flock L true), where one more
// request in the middle shows most, end before and make none. A waiter is
// rarely queued behind a run that short.
const queueWatchDelay = 10 * time.Millisecond

// watchQueue sets queued once a client queues for the lock, and returns
// then, or when the lease or the session ends, or on an error (Queued then
// stays as it is: it only tells the holder how to leave). From
// queueWatchDelay after the lock was taken, it costs one request, two when
// the queue's node exists but is empty, and leaves one watch on the queue.
func (l *Lease) watchQueue() {
	s := l.s
	t := time.NewTimer(queueWatchDelay)
	select {
	case <-t.C:
	case <-l.stop:
		t.Stop()
		return
	case <-s.lost: // closed too
		t.Stop()
		return
	}
	ctx := context.Background() // call returns when the session ends
	for {
		var (
			exists bool
			stat   *zk.Stat
			w      <-chan zk.Event
		)
		err := s.call(ctx, func() (err error) {
			exists, stat, w, err = s.conn.ExistsW(l.queue)
			return err
		})
		switch {
		case err != nil:
			return
		case exists && stat.NumChildren > 0:
			l.queued.Store(true)
			return
		case exists:
			// An empty queue: a waiter coming adds a child, which only a
			// watch on the children reports.
			var children []string
			err := s.call(ctx, func() (err error) {
				children, _, w, err = s.conn.ChildrenW(l.queue)
				return err
			})
			switch {
			case errors.Is(err, zk.ErrNoNode): // removed meanwhile
				continue
			case err != nil:
				return
			case len(children) > 0:
				l.queued.Store(true)
				return
			}
		}
		select {
		case ev := <-w:
			switch ev.Type {
			case zk.EventNodeCreated, zk.EventNodeChildrenChanged:
				// Only a waiter creates the queue's node, or adds to it.
				l.queued.Store(true)
				return
			case zk.EventNotWatching:
				return
			}
			// Deleted (the server removes an empty queue), or its data
			// changed: look again.
		case <-l.stop:
			return
		case <-s.lost:
			return
		}
	}
}

// rewatch sets a new data watch on the node and checks it is still ours.
func (l *Lease) rewatch() (<-chan zk.Event, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		var (
			stat *zk.Stat
			w    <-chan zk.Event
		)
		err := l.s.call(ctx, func() (err error) {
			_, stat, w, err = l.s.conn.GetW(l.path)
			return err
		})
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return nil, fmt.Errorf("%w: %s was deleted", ErrLockLost, l.path)
		case err == nil && stat.EphemeralOwner != l.s.ID():
			return nil, fmt.Errorf("%w: %s is now owned by session %#x", ErrLockLost, l.path, stat.EphemeralOwner)
		case err == nil:
			return w, nil
		case ctx.Err() != nil:
			return nil, ErrClosed
		case errors.Is(err, ErrSessionLost) || errors.Is(err, ErrClosed):
			return nil, err
		}
		// Connection trouble: the deadline timer guards us meanwhile.
		select {
		case <-time.After(retryPause):
		case <-ctx.Done():
			return nil, ErrClosed
		}
	}
}

// retryPause spaces retries of a request that failed for lack of a
// connection; the client library itself waits for a server meanwhile, so
// this only keeps a retry loop from spinning.
const retryPause = 50 * time.Millisecond

// Release stops watching, deletes the lock node if it is still ours, and
// closes Done with ErrClosed. Closing the Session instead releases every
// lock it holds with one request.
func (l *Lease) Release(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.s.setProbe(nil)
	l.lose(ErrClosed, time.Now())
	return l.s.deleteIfOurs(ctx, l.path)
}

// Acquire takes the lock req describes. Without req.Wait it fails with
// ErrLocked when every candidate node is held. With it, it tries at once
// only if nobody queues, else queues behind earlier waiters (see queue.go),
// and waits on watches until a node is free or ctx ends: ErrLocked when
// ctx's deadline passed (connection trouble, Transient, if no server
// answered the session by then), ctx.Err() when it was cancelled. It never
// leaves a node of its own behind when it fails: a create whose outcome is
// unknown is resolved, and its node deleted, in the background (or by
// Close).
//
// Without req.Wait, the try reads the node in the same round trip as its
// create (see tryCreate), which leaves a watch on a node held by someone
// else: on a session that lives on, each such failed call keeps one until
// the holder lets go.
func (s *Session) Acquire(ctx context.Context, req Request) (*Lease, error) {
	if req.Margin < 0 || req.Lead < 0 {
		return nil, errors.New("zklock: margin and lead must not be negative")
	}
	if b := s.Budget(); req.Margin+req.Lead >= b {
		return nil, fmt.Errorf("zklock: margin %v plus lead %v leave nothing of the %v the session is sure to live after an answer (session timeout %v)", req.Margin, req.Lead, b, s.Timeout())
	}
	paths, err := candidates(req)
	if err != nil {
		return nil, err
	}
	if req.Wait {
		// A waiter must not overtake those already queued: a lock just
		// freed stays free until the head of the queue, woken, takes
		// it, and a newcomer's create would win it. It tries at once
		// only when nobody queues.
		waiting, err := s.countWaiters(ctx, queueDir(req))
		if err != nil {
			return nil, s.waitErr(ctx, err)
		}
		if waiting > 0 {
			l, err := s.queue(ctx, req, paths)
			return l, s.waitErr(ctx, err)
		}
	}
	// A waiter not yet queued must not leave a watch on a held lock: it
	// would be woken by every release, not only at the head of the queue.
	l, err := s.tryAll(ctx, req, paths, !req.Wait)
	switch {
	case err != nil:
		return nil, s.waitErr(ctx, err)
	case l != nil:
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			l.watchQueue()
		}()
		return l, nil
	case !req.Wait:
		return nil, ErrLocked
	}
	l, err = s.queue(ctx, req, paths)
	return l, s.waitErr(ctx, err)
}

// tryAll tries each candidate once and returns a lease on the first one it
// gets, or nil when all are held. With pipelined, see tryCreate.
func (s *Session) tryAll(ctx context.Context, req Request, paths []string, pipelined bool) (*Lease, error) {
	for i, p := range paths {
		stat, watch, err := s.tryCreate(ctx, req.Root, p, req.Data, pipelined)
		if err != nil {
			return nil, err
		}
		if stat != nil {
			slot := -1
			if req.Slots > 0 {
				slot = i
			}
			return s.newLease(p, slot, stat, watch, req), nil
		}
	}
	return nil, nil
}

// watchAll sets an existence watch on every path. It returns nil watches
// if one of them does not exist (it was freed meanwhile).
func (s *Session) watchAll(ctx context.Context, paths []string) ([]<-chan zk.Event, error) {
	watches := make([]<-chan zk.Event, 0, len(paths))
	for _, p := range paths {
		var (
			exists bool
			watch  <-chan zk.Event
		)
		err := s.call(ctx, func() (err error) {
			exists, _, watch, err = s.conn.ExistsW(p)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, nil
		}
		watches = append(watches, watch)
	}
	return watches, nil
}

// waitErr maps the end of a wait to its error when its deadline passed:
// ErrLocked, or connection trouble (Transient) if no server answered the
// session by then. Then the lock may well have been free, and "busy"
// would be a wrong answer.
func (s *Session) waitErr(ctx context.Context, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil {
		return err
	}
	if s.conn.State() != zk.StateHasSession {
		return fmt.Errorf("zklock: the wait ended while no ZooKeeper server answered: %w", zk.ErrNoServer)
	}
	return fmt.Errorf("%w (waited until the deadline)", ErrLocked)
}

// waitAny blocks until one of the watches fires, the session is lost or ctx
// ends.
func (s *Session) waitAny(ctx context.Context, watches []<-chan zk.Event) error {
	var fired <-chan struct{}
	var one <-chan zk.Event
	if len(watches) == 1 {
		// The usual case: wait on the watch itself, one wake-up fewer on
		// the way to taking a freed lock.
		one = watches[0]
	} else {
		ch := make(chan struct{}, len(watches))
		for _, w := range watches {
			go func() {
				// The library closes every watch channel when it fires or
				// when the session ends, so this goroutine always exits.
				<-w
				ch <- struct{}{}
			}()
		}
		fired = ch
	}
	select {
	case <-one:
		return nil
	case <-fired:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.lost:
		return s.Err()
	}
}

// candidates lists the lock nodes req may take.
func candidates(req Request) ([]string, error) {
	if req.Root == "" || req.Root[0] != '/' || req.Name == "" || strings.ContainsRune(req.Name, '/') {
		return nil, fmt.Errorf("zklock: bad lock %q under %q", req.Name, req.Root)
	}
	if req.Slots < 0 {
		return nil, errors.New("zklock: negative slot count")
	}
	if req.Slots == 0 {
		return []string{path.Join(req.Root, req.Name)}, nil
	}
	paths := make([]string, req.Slots)
	for i := range paths {
		paths[i] = path.Join(req.Root, req.Name+"_"+strconv.Itoa(i))
	}
	return paths, nil
}

func (s *Session) newLease(p string, slot int, stat *zk.Stat, watch <-chan zk.Event, req Request) *Lease {
	l := &Lease{
		s:      s,
		path:   p,
		queue:  queueDir(req),
		slot:   slot,
		token:  stat.Czxid,
		got:    time.Now(),
		margin: req.Margin,
		lead:   req.Lead,
		done:   make(chan struct{}),
		stop:   make(chan struct{}),
	}
	s.setProbe(&probe{path: p, check: l.check})
	l.wg.Add(1)
	go l.monitor(watch)
	s.noteRootACL(path.Dir(p))
	s.log.Info("lock acquired", "node", p, "token", l.token, "session", s.IDString(), "timeout", s.Timeout())
	return l
}

// tryCreate tries once to create the ephemeral node p under root. It
// returns the node's stat and a data watch on it when the node is ours, a
// nil stat when someone else holds it, or an error.
//
// Once created, the node must be read for its stat (the token: the client
// library's create does not return it) and watched. With pipelined, that
// read is sent right behind the create rather than after its answer,
// saving a round trip; but if the node is held, the read leaves a watch on
// the holder's node, so only a caller that would watch it anyway, or that
// is about to give up, may ask for it.
func (s *Session) tryCreate(ctx context.Context, root, p string, data []byte, pipelined bool) (*zk.Stat, <-chan zk.Event, error) {
	for {
		var (
			stat  *zk.Stat
			watch <-chan zk.Event
			done  <-chan error
			read  <-chan error
		)
		create := func() error {
			_, err := s.conn.Create(p, data, zk.FlagEphemeral, s.acl)
			return err
		}
		conn := s.current.Load()
		if pipelined {
			done, read = s.startPipelined(create, func() (err error) {
				_, stat, watch, err = s.conn.GetW(p)
				return err
			})
		} else {
			done = s.startLeader(create)
		}
		ended, err := s.await(ctx, done, func() { s.cleanupAfter(done, p) })
		if ended {
			return nil, nil, err
		}
		sync := false
		switch {
		case errors.Is(err, zk.ErrNoNode):
			if err := s.ensurePath(ctx, root); err != nil {
				return nil, nil, err
			}
			continue
		case err == nil && pipelined:
			// Ours. If the wait for the read is abandoned, the node is
			// deleted whatever the read says: it may have gone first.
			ended, rerr := s.await(ctx, read, func() { s.cleanupAfter(settled(nil), p) })
			if ended {
				return nil, nil, rerr
			}
			// sawCreate's reasoning holds on one connection only: across
			// a reconnect, the event that betrays an overtaking read may
			// come late.
			if rerr == nil && s.current.Load() == conn && sawCreate(stat, watch, s.ID()) {
				return stat, watch, nil
			}
			// The read went first or failed: read again, below. After
			// connection trouble, sync first (see the next case).
			s.rereads.Add(1)
			sync = !answered(rerr)
		case err == nil:
			// Ours: read below.
		case errors.Is(err, zk.ErrNodeExists), !answered(err):
			// Taken (perhaps by our own earlier attempt) or unknown: the
			// node's owner says which. After connection trouble, sync
			// first: another server may not have applied our create yet.
			// No watch on a node that is not ours: waiters must not all
			// be woken by its release.
			stat, _, err := s.resolve(ctx, p, !answered(err), false)
			switch {
			case err != nil:
				return nil, nil, err
			case stat == nil: // vanished meanwhile: try again
				continue
			case stat.EphemeralOwner != s.ID():
				return nil, nil, nil
			}
		default:
			return nil, nil, createErr(p, err)
		}
		// The node is ours: read its stat (the token) and watch it.
		st, w, retry, err := s.readOwn(ctx, p, sync)
		if retry {
			continue
		}
		return st, w, err
	}
}

// readOwn reads node p, which this session has just created, with a data
// watch, and checks that it is still ours: one deleted meanwhile (by
// someone else) says retry, one that another session has created since is
// that session's lock, a nil stat.
func (s *Session) readOwn(ctx context.Context, p string, sync bool) (stat *zk.Stat, watch <-chan zk.Event, retry bool, err error) {
	stat, watch, err = s.resolve(ctx, p, sync, true)
	switch {
	case err != nil:
		return nil, nil, false, err
	case stat == nil:
		return nil, nil, true, nil
	case stat.EphemeralOwner != s.ID():
		return nil, nil, false, nil
	}
	return stat, watch, false, nil
}

// settled returns a channel that holds err, for cleanupAfter when the
// request's outcome is already known.
func settled(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	return ch
}

// sawCreate reports whether a read sent right behind a successful create
// of ours saw the node that create made: a node of this session whose
// watch has not fired. A read that overtook the create could only have seen
// an earlier node of ours at the same path, and only if that node was then
// deleted before the create; the server sends that deletion's event before
// the create's answer, so its watch has fired by now.
func sawCreate(stat *zk.Stat, watch <-chan zk.Event, session int64) bool {
	if stat == nil || stat.EphemeralOwner != session {
		return false
	}
	select {
	case <-watch:
		return false
	default:
		return true
	}
}

// resolve reads node p's stat, with a data watch if watch, retrying
// through connection trouble; with sync, after a sync so that a server we
// reconnected to has seen every write of ours. It returns a nil stat if p
// does not exist; if ctx ends first, a node of ours at p is deleted in the
// background.
func (s *Session) resolve(ctx context.Context, p string, sync, watch bool) (*zk.Stat, <-chan zk.Event, error) {
	for {
		var (
			stat *zk.Stat
			w    <-chan zk.Event
		)
		done := s.start(func() (err error) {
			if sync {
				conn, t0 := s.current.Load(), time.Now()
				if _, err := s.conn.Sync(p); err != nil && !errors.Is(err, zk.ErrNoNode) {
					return err
				}
				// Answered through the leader: after a create whose
				// answer was lost, this is what a lease starts from.
				s.credit(t0, conn)
			}
			if watch {
				_, stat, w, err = s.conn.GetW(p)
				return err
			}
			var ok bool
			ok, stat, err = s.conn.Exists(p)
			if err == nil && !ok {
				err = zk.ErrNoNode
			}
			return err
		})
		ended, err := s.await(ctx, done, func() { s.cleanupAfter(done, p) })
		if ended {
			return nil, nil, err
		}
		switch {
		case err == nil:
			return stat, w, nil
		case errors.Is(err, zk.ErrNoNode):
			return nil, nil, nil
		case answered(err):
			return nil, nil, fmt.Errorf("read %s: %w", p, err)
		}
		s.log.Debug("retrying after connection trouble", "node", p, "err", err)
		select {
		case <-time.After(retryPause):
		case <-ctx.Done():
			// As in await: a node of ours at p goes, in the background.
			s.cleanupAfter(settled(nil), p)
			return nil, nil, ctx.Err()
		case <-s.lost:
			return nil, nil, s.Err()
		}
	}
}

// ensurePath creates root and its missing ancestors as persistent nodes.
func (s *Session) ensurePath(ctx context.Context, root string) error {
	parts := strings.Split(strings.Trim(root, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		err := s.call(ctx, func() error {
			_, err := s.conn.Create(p, RootData, 0, s.acl)
			return err
		})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return createErr(p, err)
		}
	}
	return nil
}

// await waits for the request behind done and returns its error. If ctx
// ends first, it calls abandon (which must clean up after the request in
// the background) and returns ctx's error; if the session is lost first,
// its error: whatever the request made dies with the session. ended says
// whether the error is the wait's (true) or the request's own (false).
func (s *Session) await(ctx context.Context, done <-chan error, abandon func()) (ended bool, err error) {
	select {
	case err := <-done:
		return false, err
	case <-ctx.Done():
		abandon()
		return true, ctx.Err()
	case <-s.lost:
		return true, s.Err()
	}
}

// cleanupAfter deletes p, in the background, if the request behind done
// turns out to have created it. Close waits for it.
func (s *Session) cleanupAfter(done <-chan error, p string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := <-done; answered(err) && err != nil {
			return // refused: nothing of ours was created
		}
		// Calls end anyway when the session does, and the node with it.
		err := s.deleteIfOurs(context.Background(), p)
		if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrSessionLost) {
			s.log.Warn("could not delete abandoned lock node; it goes with the session", "node", p, "err", err)
		}
	}()
}

// deleteIfOurs deletes p if this session owns it.
func (s *Session) deleteIfOurs(ctx context.Context, p string) error {
	stat, _, err := s.resolve(ctx, p, true, false)
	if err != nil || stat == nil || stat.EphemeralOwner != s.ID() {
		return err
	}
	err = s.call(ctx, func() error { return s.conn.Delete(p, stat.Version) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return err
}
