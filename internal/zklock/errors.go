package zklock

import (
	"errors"

	"github.com/go-zookeeper/zk"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrLocked means every candidate node is held by someone else and the
	// caller did not wait, or its wait ran out.
	ErrLocked = errors.New("zklock: lock is held by another session")

	// ErrUnreachable means no ZooKeeper server gave us a session within the
	// connect timeout.
	ErrUnreachable = errors.New("zklock: no ZooKeeper server reachable")

	// ErrAuthFailed means a server refused the configured credentials.
	ErrAuthFailed = errors.New("zklock: authentication failed")

	// ErrSessionLost means the session is gone or may be gone: the server
	// expired it, the client replaced it with a new one, or no server has
	// answered for so long that it may have expired.
	ErrSessionLost = errors.New("zklock: session lost")

	// ErrLockLost means the lock node was deleted or is owned by another
	// session while we held it.
	ErrLockLost = errors.New("zklock: lock node lost")

	// ErrClosed means the Session was closed by its owner.
	ErrClosed = errors.New("zklock: session closed")
)

// answered reports whether err came back from a ZooKeeper server, as opposed
// to being a local or connection failure. An answered request proves the
// server heard from us at the time the request was sent.
func answered(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, zk.ErrNoNode),
		errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrBadVersion),
		errors.Is(err, zk.ErrNoAuth),
		errors.Is(err, zk.ErrNotEmpty),
		errors.Is(err, zk.ErrNoChildrenForEphemerals),
		errors.Is(err, zk.ErrInvalidACL),
		errors.Is(err, zk.ErrBadArguments),
		errors.Is(err, zk.ErrAPIError):
		return true
	}
	return false
}

// Transient reports whether err is connection trouble that the client
// library recovers from by itself (it reconnects to the same session):
// the request may be tried again.
func Transient(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)
}
