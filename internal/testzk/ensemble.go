package testzk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// startAttempts is how often Start tries with fresh ports when a port was
// taken between choosing it and the JVM binding it: rare, and two such
// races in a row rarer still.
const startAttempts = 3

// ErrNoLeader is returned by Leader when no server claims to lead.
var ErrNoLeader = errors.New("testzk: no leader")

// Cluster is a standalone server or an ensemble, each server with its own
// loopback ports and temporary directory.
type Cluster struct {
	root    string
	keep    bool
	servers []*Server

	stopOnce sync.Once
	stopErr  error
}

// Start starts opts.Servers servers (one standalone server by default) and
// waits until every one serves and, for an ensemble, a leader is elected.
// It gives up after opts.StartTimeout or when ctx ends. On error nothing is
// left running; the error quotes the tail of the failing server's log,
// which is kept on disk. A missing installation is an error wrapping
// ErrNotInstalled.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := CheckInstalled(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		c, err := tryStart(ctx, o)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			return nil, err
		}
	}
}

// tryStart is one attempt of Start, on fresh ports and directories.
func tryStart(ctx context.Context, o Options) (*Cluster, error) {
	root, err := os.MkdirTemp("", "testzk-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	c := &Cluster{root: root, keep: o.KeepDirs}
	perServer := 3 + o.ExtraPorts
	free, err := freePorts(o.Servers * perServer)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	all := make([]Ports, o.Servers)
	for i := range all {
		end := (i + 1) * perServer
		p := free[i*perServer : end : end] // Extra must not reach into the next server's ports
		all[i] = Ports{Client: p[0], Peer: p[1], Election: p[2], Extra: p[3:]}
	}
	for id := 1; id <= o.Servers; id++ {
		s, err := newServer(root, id, all, o)
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(root))
		}
		c.servers = append(c.servers, s)
	}
	if err := c.Start(ctx); err != nil {
		for _, s := range c.servers {
			err = errors.Join(err, s.Kill())
		}
		if errors.Is(err, errPortInUse) {
			return nil, errors.Join(err, os.RemoveAll(root))
		}
		return nil, fmt.Errorf("%w\n(server directories kept in %s)", err, root)
	}
	return c, nil
}

// Start starts every server that is not running, waits until all serve,
// and, for an ensemble, until one leads. Use it to bring back an ensemble
// whose quorum was stopped, where Server.Start would wait forever. On error
// the servers are left running; the error quotes the tails of the failing
// servers' logs.
func (c *Cluster) Start(ctx context.Context) error {
	procs := make([]*process, len(c.servers))
	for i, s := range c.servers {
		p, err := s.launch()
		if err != nil {
			return err
		}
		procs[i] = p
	}
	// Wait for all at once: a server that exits at once (a taken port)
	// must not wait behind one waiting in vain for its quorum.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(c.servers))
	var wg sync.WaitGroup
	for i, s := range c.servers {
		wg.Go(func() {
			if err := s.waitServing(wctx, procs[i]); err != nil {
				errs[i] = err
				cancel()
			}
		})
	}
	wg.Wait()
	if err := firstCause(ctx, errs); err != nil {
		return err
	}
	if len(c.servers) > 1 {
		if _, err := c.WaitLeader(ctx); err != nil {
			return err
		}
	}
	return nil
}

// firstCause returns the errors of servers that failed on their own, not
// because another one's failure cancelled their wait; if ctx itself ended,
// all of them.
func firstCause(ctx context.Context, errs []error) error {
	var own []error
	for _, err := range errs {
		if err != nil && (ctx.Err() != nil || !errors.Is(err, context.Canceled)) {
			own = append(own, err)
		}
	}
	return errors.Join(own...)
}

// Servers returns the servers, ordered by id.
func (c *Cluster) Servers() []*Server {
	return append([]*Server(nil), c.servers...)
}

// Server returns the server with the given 1-based id.
func (c *Cluster) Server(id int) *Server {
	return c.servers[id-1]
}

// Addrs returns every server's client address, "127.0.0.1:port", ordered
// by id, whether running or not.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Dir returns the directory holding every server's directory.
func (c *Cluster) Dir() string { return c.root }

// Leader returns the one server that says it leads, or the standalone
// server. It asks each running, unpaused server once through srvr, and
// returns ErrNoLeader when none leads (e.g. during an election) and an
// error when several claim to.
func (c *Cluster) Leader() (*Server, error) {
	var leaders []*Server
	var errs []error
	for _, s := range c.servers {
		if !s.Running() || s.Paused() {
			continue
		}
		m, err := s.Mode()
		switch {
		case err != nil:
			errs = append(errs, err)
		case m == ModeLeader || m == ModeStandalone:
			leaders = append(leaders, s)
		}
	}
	switch len(leaders) {
	case 1:
		return leaders[0], nil
	case 0:
		return nil, errors.Join(append([]error{ErrNoLeader}, errs...)...)
	default:
		ids := make([]int, len(leaders))
		for i, s := range leaders {
			ids[i] = s.ID()
		}
		return nil, fmt.Errorf("testzk: servers %v all claim to lead", ids)
	}
}

// WaitLeader polls Leader until it finds one or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (*Server, error) {
	for {
		l, err := c.Leader()
		if err == nil {
			return l, nil
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for a leader: %w (last: %v)", ctx.Err(), err)
		}
	}
}

// Stop kills every server with SIGKILL and removes the temporary
// directories, unless Options.KeepDirs. It is safe to call more than once
// and from several goroutines; later calls return the first one's error.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		for _, s := range c.servers {
			errs = append(errs, s.Kill())
		}
		if !c.keep {
			errs = append(errs, os.RemoveAll(c.root))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}
