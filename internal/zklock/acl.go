package zklock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/go-zookeeper/zk"
)

// ACLMode says which ACL zklock gives the nodes it creates: the
// application root and its missing ancestors, the lock nodes, the wait
// queue's containers and the waiters' nodes. Nodes that already exist keep
// their ACL: zklock never changes one.
type ACLMode int

const (
	// ACLWorld lets anyone do anything with the nodes (world:anyone, all
	// permissions): what the original zk-flock gave every node, with or
	// without credentials. Anyone who can reach the ensemble can delete a
	// held lock node, or take locks in the namespace.
	ACLWorld ACLMode = iota
	// ACLCreator gives the session's authenticated identities (the digest
	// user of Options.Auth, and a client certificate's identity when the
	// server maps one) every permission, and everyone else READ only.
	//
	// ZooKeeper checks CREATE and DELETE on the parent, so an application
	// root made with this ACL stops every other identity, and unauthenticated
	// clients, from deleting our lock nodes or creating locks in the
	// namespace (NoAuth). READ for everyone keeps the lock observable: who
	// holds it (--status, zkCli get) and the waiters' checks work without
	// credentials. The data readable that way is the holder's host, pid,
	// start time and command line. It needs at least one Options.Auth.
	ACLCreator
)

// String returns the mode's configuration name, "world" or "creator".
func (m ACLMode) String() string {
	switch m {
	case ACLWorld:
		return "world"
	case ACLCreator:
		return "creator"
	}
	return fmt.Sprintf("ACLMode(%d)", int(m))
}

// worldACL is what the original zk-flock gave every node: anyone may do
// anything. Mixed fleets need it.
var worldACL = zk.WorldACL(zk.PermAll)

// creatorACL: every permission for the identities the session has
// authenticated as ("auth" scheme, empty id: the server substitutes them),
// READ for everyone.
var creatorACL = []zk.ACL{
	{Perms: zk.PermAll, Scheme: "auth", ID: ""},
	{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
}

// ErrNoIdentity is returned by Connect when ACLCreator is asked for without
// credentials: an ACL for "the creator" needs an identity to name.
var ErrNoIdentity = errors.New("zklock: the creator ACL needs credentials (Options.Auth)")

// aclFor returns the node ACL of mode m.
func aclFor(m ACLMode, auth []Auth) ([]zk.ACL, error) {
	switch m {
	case ACLWorld:
		return worldACL, nil
	case ACLCreator:
		if len(auth) == 0 {
			return nil, ErrNoIdentity
		}
		return creatorACL, nil
	}
	return nil, fmt.Errorf("zklock: unknown ACL mode %d", int(m))
}

// createErr describes a failed create of node p; a refusal by the parent's
// ACL says so, since "not authenticated" alone misleads when credentials
// were given (they are someone else's than the parent's owner).
func createErr(p string, err error) error {
	if errors.Is(err, zk.ErrNoAuth) {
		return fmt.Errorf("create %s: %w (the ACL of %s does not let these credentials create nodes in it)", p, err, path.Dir(p))
	}
	return fmt.Errorf("create %s: %w", p, err)
}

// noteRootACL warns, once per session and in the background, when the
// creator ACL was asked for but the application root lets others delete
// nodes in it: a root made by the original zk-flock (or by zk-flock with
// the world ACL) keeps its ACL, and then others can still delete our lock
// nodes. It is advice, so it does not delay the lock; Close waits for it
// (rootACLWait at most) before it closes the connection, so that a run
// shorter than its round trip says it too.
func (s *Session) noteRootACL(root string) {
	if s.aclMode != ACLCreator || !s.rootChecked.CompareAndSwap(false, true) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.rootACLDone)
		var acl []zk.ACL
		err := s.call(context.Background(), func() (err error) {
			acl, _, err = s.conn.GetACL(root)
			return err
		})
		if err != nil {
			s.log.Debug("could not read the application root's ACL", "node", root, "err", err)
			return
		}
		if openToOthers(acl) {
			s.log.Warn("the application root lets anyone delete lock nodes in it (made by the original zk-flock, or with acl \"world\"?); zk-flock does not change existing ACLs",
				"node", root, "acl", formatACL(acl))
		}
	}()
}

// rootACLWait bounds how long Close waits for noteRootACL's answer: a
// round trip, normally well under a millisecond; more only when the
// server is in trouble, when the advice is not worth holding the release.
const rootACLWait = 100 * time.Millisecond

// waitRootACL waits, for rootACLWait at most, for noteRootACL to finish if
// it started.
func (s *Session) waitRootACL() {
	if !s.rootChecked.Load() {
		return
	}
	t := time.NewTimer(rootACLWait)
	defer t.Stop()
	select {
	case <-s.rootACLDone:
	case <-t.C:
	}
}

// openToOthers reports whether acl grants CREATE or DELETE (on the node's
// children) to everyone, or to every client that comes from some address
// or presents some identity other than a digest user or certificate:
// "world:anyone" and "ip:" entries.
func openToOthers(acl []zk.ACL) bool {
	for _, a := range acl {
		if a.Perms&(zk.PermCreate|zk.PermDelete) == 0 {
			continue
		}
		if a.Scheme == "world" || a.Scheme == "ip" {
			return true
		}
	}
	return false
}

// formatACL renders acl as zkCli's getAcl does, one "scheme:id:perms" per
// entry, joined by commas; perms as the letters cdrwa.
func formatACL(acl []zk.ACL) string {
	out := ""
	for i, a := range acl {
		if i > 0 {
			out += ","
		}
		out += a.Scheme + ":" + a.ID + ":" + permString(a.Perms)
	}
	return out
}

func permString(p int32) string {
	s := ""
	for _, f := range []struct {
		bit int32
		c   string
	}{{zk.PermCreate, "c"}, {zk.PermDelete, "d"}, {zk.PermRead, "r"}, {zk.PermWrite, "w"}, {zk.PermAdmin, "a"}} {
		if p&f.bit != 0 {
			s += f.c
		}
	}
	return s
}
