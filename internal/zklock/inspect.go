package zklock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// NodeInfo describes one lock node: held or free, and by whom.
type NodeInfo struct {
	// Name is the node's name under the app root (the lock name, or
	// LOCK_i for a semaphore slot); Path its full path.
	Name, Path string
	// Held is true when the node exists.
	Held bool
	// Data is the holder's description as stored in the node.
	Data []byte
	// Unreadable is true when the node's ACL does not let this session
	// read its data; the rest (from its stat) is still known.
	Unreadable bool
	// Session is the holder's session ID (the node's ephemeral owner);
	// zero for a persistent node, which no zk-flock creates.
	Session int64
	// Token is the fencing token of the holder: the node's czxid.
	Token int64
	// Since is when the node was created, by the server's clock.
	Since time.Time
	// Waiters is the number of zk-flock waiters queued for the lock.
	Waiters int
}

// Inspect reports on the lock Root/Name, or with slots > 0 on each of its
// slots Root/Name_i, without taking anything. Waiters are counted for the
// lock as a whole and reported on every entry.
func (s *Session) Inspect(ctx context.Context, root, name string, slots int) ([]NodeInfo, error) {
	paths, err := candidates(Request{Root: root, Name: name, Slots: slots})
	if err != nil {
		return nil, err
	}
	waiters, err := s.countWaiters(ctx, queueDir(Request{Root: root, Name: name, Slots: slots}))
	if err != nil {
		return nil, err
	}
	infos := make([]NodeInfo, 0, len(paths))
	for _, p := range paths {
		info, err := s.nodeInfo(ctx, p)
		if err != nil {
			return nil, err
		}
		info.Waiters = waiters
		infos = append(infos, info)
	}
	return infos, nil
}

// List reports on every lock node under root, sorted by name: what the
// original and zk-flock create there, without the wait queues.
func (s *Session) List(ctx context.Context, root string) ([]NodeInfo, error) {
	var children []string
	err := s.call(ctx, func() (err error) {
		children, _, err = s.conn.Children(root)
		return err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	sort.Strings(children)
	infos := make([]NodeInfo, 0, len(children))
	for _, c := range children {
		if c == QueueDir || c == SlotQueueDir {
			continue
		}
		info, err := s.nodeInfo(ctx, path.Join(root, c))
		if err != nil {
			return nil, err
		}
		if !info.Held { // deleted while we looked
			continue
		}
		// The node is a plain lock's, or a semaphore's slot (NAME_i),
		// whose waiters queue under NAME for all the slots: c alone
		// cannot say which (it may be both), so both queues count.
		queues := []string{path.Join(root, QueueDir, c)}
		if i := strings.LastIndexByte(c, '_'); i > 0 {
			if _, err := strconv.Atoi(c[i+1:]); err == nil {
				queues = append(queues, path.Join(root, SlotQueueDir, c[:i]))
			}
		}
		for _, q := range queues {
			n, err := s.countWaiters(ctx, q)
			if err != nil {
				return nil, err
			}
			info.Waiters += n
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// nodeInfo reads one node; a missing node is a free lock.
func (s *Session) nodeInfo(ctx context.Context, p string) (NodeInfo, error) {
	info := NodeInfo{Name: path.Base(p), Path: p}
	var (
		data []byte
		stat *zk.Stat
	)
	err := s.call(ctx, func() (err error) {
		data, stat, err = s.conn.Get(p)
		return err
	})
	if errors.Is(err, zk.ErrNoAuth) {
		// Someone else's node, closed to us: whether it exists, and
		// its stat, need no permission.
		info.Unreadable = true
		err = s.call(ctx, func() (err error) {
			var ok bool
			if ok, stat, err = s.conn.Exists(p); err == nil && !ok {
				err = zk.ErrNoNode
			}
			return err
		})
	}
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return NodeInfo{Name: info.Name, Path: p}, nil
	case err != nil:
		return info, fmt.Errorf("read %s: %w", p, err)
	}
	info.Held = true
	info.Data = data
	info.Session = stat.EphemeralOwner
	info.Token = stat.Czxid
	info.Since = time.UnixMilli(stat.Ctime)
	return info, nil
}

// countWaiters counts the waiter nodes in a queue directory.
func (s *Session) countWaiters(ctx context.Context, dir string) (int, error) {
	var children []string
	err := s.call(ctx, func() (err error) {
		children, _, err = s.conn.Children(dir)
		return err
	})
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("list waiters in %s: %w", dir, err)
	}
	n := 0
	for _, c := range children {
		if strings.HasPrefix(c, waiterPrefix) {
			n++
		}
	}
	return n, nil
}
