package zklock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// QueueDir is the child of an application root under which waiters queue:
// Root/QueueDir/Name/ holds one ephemeral-sequential node per waiter. Lock
// names starting with "." followed by "zk-flock" are reserved for it.
//
// The lock itself stays the fixed node Root/Name, so that clients that do
// not queue (the original zk-flock, zk-flock without -w) still exclude each
// other and us. Only waiters queue, and only the waiter at the head of the
// queue watches the lock: a release wakes exactly one waiter, whatever the
// number of waiters, and queued waiters are served first come, first
// served. A client that does not queue may still take a freed lock before
// the head; the head then keeps its place.
const QueueDir = ".zk-flock-queues"

// SlotQueueDir is QueueDir for semaphores (-n): Root/SlotQueueDir/Name/
// queues the waiters for the slots Name_0, Name_1, … A plain lock of the
// same name is another lock, and its waiters must not stand in front of
// the semaphore's (nor theirs in front of its).
const SlotQueueDir = ".zk-flock-slot-queues"

// queueDir is the queue of req's lock.
func queueDir(req Request) string {
	if req.Slots > 0 {
		return path.Join(req.Root, SlotQueueDir, req.Name)
	}
	return path.Join(req.Root, QueueDir, req.Name)
}

// waiterPrefix starts a waiter's node name; a random tag follows, so that
// after a lost connection the waiter can recognise its own node, then the
// sequence number ZooKeeper appends.
const waiterPrefix = "w-"

// queue waits in the queue of req's lock until the lock is taken or ctx
// ends. Its own queue node is deleted when it returns (in the background if
// the session cannot answer, and at worst with the session).
func (s *Session) queue(ctx context.Context, req Request, paths []string) (l *Lease, err error) {
	dir := queueDir(req)
	me, err := s.enqueue(ctx, req.Root, dir, req.Data)
	if err != nil {
		return nil, err
	}
	s.log.Info("lock is busy; queued for it", "queue_node", me)
	// Leaving the queue wakes the next waiter; done in the background so
	// that the command starts without waiting for it. Close waits for it.
	// Then the new holder watches the queue, which no longer counts it.
	s.wg.Add(1)
	defer func() {
		go func() {
			defer s.wg.Done()
			s.dequeue(me)
			if l != nil {
				l.watchQueue()
			}
		}()
	}()
	name := path.Base(me)
	for head := false; ; {
		// Once at the head, always at the head: later waiters queue
		// behind us, so there is no need to look again.
		ahead := ""
		if !head {
			if ahead, err = s.ahead(ctx, dir, name); err != nil {
				if err = s.rideOut(ctx, err); err == nil {
					continue
				}
				return nil, err
			}
		}
		if ahead != "" {
			// Wait for the waiter just ahead to go: only one waiter
			// wakes per departure.
			watches, err := s.watchAll(ctx, []string{path.Join(dir, ahead)})
			if err != nil {
				if err = s.rideOut(ctx, err); err == nil {
					continue
				}
				return nil, err
			}
			if watches != nil {
				if err := s.waitAny(ctx, watches); err != nil {
					return nil, err
				}
			}
			continue
		}
		// At the head: try, and if the lock is held, wait for it.
		head = true
		// The head watches the lock anyway when it is held.
		l, err = s.tryAll(ctx, req, paths, true)
		if err != nil || l != nil {
			return l, err
		}
		watches, err := s.watchAll(ctx, paths)
		if err != nil {
			if err = s.rideOut(ctx, err); err == nil {
				continue
			}
			return nil, err
		}
		if watches != nil {
			if err := s.waitAny(ctx, watches); err != nil {
				return nil, err
			}
		}
	}
}

// rideOut waits out err if it is connection trouble: after a pause it
// returns nil, to try again (the client library reconnects meanwhile, and
// the session, if it lives on, keeps the waiter's place in the queue).
// Otherwise it returns the error to give up with: err itself, ctx's, or the
// session's if it was lost meanwhile.
func (s *Session) rideOut(ctx context.Context, err error) error {
	if !Transient(err) || ctx.Err() != nil {
		return err
	}
	s.log.Debug("waiting out connection trouble", "err", err)
	select {
	case <-time.After(retryPause):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.lost:
		return s.Err()
	}
}

// ahead returns the name of the waiter just ahead of name in dir, or "" if
// name is at the head.
func (s *Session) ahead(ctx context.Context, dir, name string) (string, error) {
	var children []string
	err := s.call(ctx, func() (err error) {
		children, _, err = s.conn.Children(dir)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("list waiters in %s: %w", dir, err)
	}
	sort.Slice(children, func(i, j int) bool { return seq(children[i]) < seq(children[j]) })
	prev := ""
	for _, c := range children {
		if c == name {
			return prev, nil
		}
		if strings.HasPrefix(c, waiterPrefix) {
			prev = c
		}
	}
	// Our node is gone, which only the session's end or another client
	// can do; the session's end is reported by call.
	return "", fmt.Errorf("%w: waiter node %s/%s was deleted by someone else", ErrLockLost, dir, name)
}

// seq is the sequence number ZooKeeper appended to a waiter's node name:
// its last ten characters, which sort as numbers since they are padded.
func seq(name string) string {
	if len(name) < 10 {
		return name
	}
	return name[len(name)-10:]
}

// enqueue creates our waiter node in dir, creating root and the queue's
// container nodes as needed, and returns its path. A create whose outcome
// is unknown is resolved by finding our random tag among the waiters.
func (s *Session) enqueue(ctx context.Context, root, dir string, data []byte) (string, error) {
	var tag [8]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return "", err
	}
	prefix := waiterPrefix + hex.EncodeToString(tag[:]) + "-"
	for {
		var created string
		done := s.start(func() (err error) {
			created, err = s.conn.Create(path.Join(dir, prefix), data, zk.FlagEphemeralSequential, s.acl)
			return err
		})
		ended, err := s.await(ctx, done, func() { s.cleanupQueued(done, dir, prefix) })
		if ended {
			return "", err
		}
		switch {
		case err == nil:
			return created, nil
		case errors.Is(err, zk.ErrNoNode):
			// The queue's container is missing (ZooKeeper deletes empty
			// containers) or was never made.
			if err := s.ensureQueue(ctx, root, dir); err != nil {
				return "", err
			}
			continue
		case answered(err):
			return "", fmt.Errorf("queue in %s: %w", dir, createErr(path.Join(dir, prefix), err))
		}
		p, err := s.findTagged(ctx, dir, prefix)
		if err != nil {
			return "", err
		}
		if p != "" {
			return p, nil
		}
	}
}

// findTagged returns the path of our waiter node with prefix in dir, or ""
// if there is none, retrying through connection trouble.
func (s *Session) findTagged(ctx context.Context, dir, prefix string) (string, error) {
	for {
		var children []string
		err := s.call(ctx, func() (err error) {
			if _, err := s.conn.Sync(dir); err != nil {
				return err
			}
			children, _, err = s.conn.Children(dir)
			return err
		})
		switch {
		case err == nil:
			for _, c := range children {
				if strings.HasPrefix(c, prefix) {
					return path.Join(dir, c), nil
				}
			}
			return "", nil
		case errors.Is(err, zk.ErrNoNode):
			return "", nil
		case answered(err), ctx.Err() != nil, errors.Is(err, ErrSessionLost), errors.Is(err, ErrClosed):
			return "", err
		}
		select {
		case <-time.After(retryPause):
		case <-ctx.Done():
			return "", ctx.Err()
		case <-s.lost:
			return "", s.Err()
		}
	}
}

// cleanupQueued deletes, in the background, the waiter node that the
// request behind done may still create. Close waits for it.
func (s *Session) cleanupQueued(done <-chan error, dir, prefix string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := <-done; answered(err) && err != nil {
			return // refused: nothing was created
		}
		if p, err := s.findTagged(context.Background(), dir, prefix); err == nil && p != "" {
			s.dequeue(p)
		}
	}()
}

// dequeue deletes our waiter node p; it goes with the session anyway, so a
// failure is only logged.
func (s *Session) dequeue(p string) {
	err := s.call(context.Background(), func() error { return s.conn.Delete(p, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, ErrClosed) {
		s.log.Debug("could not delete waiter node; it goes with the session", "node", p, "err", err)
	}
}

// ensureQueue creates root (persistent) and the queue's two container
// levels below it.
func (s *Session) ensureQueue(ctx context.Context, root, dir string) error {
	if err := s.ensurePath(ctx, root); err != nil {
		return err
	}
	for _, p := range []string{path.Dir(dir), dir} {
		s.containers.add()
		err := s.call(ctx, func() error {
			defer s.containers.done()
			_, err := s.conn.CreateContainer(p, nil, zk.FlagContainer, s.acl)
			return err
		})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return createErr(p, err)
		}
	}
	return nil
}
