package zklock

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Auth is one set of credentials added to the session before any node is
// touched, e.g. Scheme "digest", Data "user:password".
type Auth struct {
	Scheme string
	Data   []byte
}

// Dialer opens a connection to one ZooKeeper server. The client library
// calls it for every (re)connect.
type Dialer func(network, address string, timeout time.Duration) (net.Conn, error)

// Printfer receives the ZooKeeper client library's own messages.
type Printfer interface {
	Printf(format string, args ...any)
}

// Options configures Connect.
type Options struct {
	// Servers are "host:port" addresses of the ensemble.
	Servers []string
	// SessionTimeout is the session timeout requested from ZooKeeper. The
	// server may negotiate a shorter one; Session.Timeout reports it.
	SessionTimeout time.Duration
	// ConnectTimeout bounds Connect, including authentication. Zero means
	// SessionTimeout.
	ConnectTimeout time.Duration
	// Auth credentials are added, in order, before Connect returns.
	Auth []Auth
	// Logger receives zklock's own messages. Nil discards them.
	Logger *slog.Logger
	// ClientLogger receives the client library's messages; ClientLogInfo
	// adds its informational ones (connected, authenticated) to its errors.
	// Nil discards them.
	ClientLogger  Printfer
	ClientLogInfo bool
	// Dialer replaces net.DialTimeout.
	Dialer Dialer
	// TLS, when set, makes every connection TLS (to the servers'
	// secureClientPort), over Dialer's connections. The servers' host names
	// are kept as given, not resolved up front, and the certificate is
	// verified against them unless TLS.ServerName is set.
	TLS *tls.Config
	// ACL is the ACL of every node the session creates; ACLCreator needs
	// Auth. Existing nodes keep theirs.
	ACL ACLMode
	// HeartbeatInterval is how often the session proves to itself that a
	// server still hears it. Zero means a tenth of the session timeout.
	HeartbeatInterval time.Duration
}

// Session is one ZooKeeper session: a connection that reconnects to any
// server of the ensemble within the session timeout, and a clock of when a
// server last answered, from which holders derive how long the session can
// still be trusted.
//
// A Session never silently becomes a new session: when the server expires
// it, or the client library replaces it, the Session is lost for good and
// Lost is closed.
type Session struct {
	conn      *zk.Conn
	log       *slog.Logger
	requested time.Duration
	beat      time.Duration
	dialer    Dialer
	acl       []zk.ACL // of every node we create
	aclMode   ACLMode

	rootChecked atomic.Bool   // noteRootACL has run
	rootACLDone chan struct{} // closed when noteRootACL's check is over

	id           atomic.Int64              // our session ID, set once on first connect
	connID       atomic.Int64              // session ID a server granted on the newest connection
	negotiatedMs atomic.Int64              // shortest timeout any server negotiated
	lastDialErr  atomic.Pointer[error]     // why the newest connection failed
	epoch        time.Time                 // when Connect began (monotonic)
	heard        atomic.Int64              // time after epoch of the newest byte from a server
	current      atomic.Pointer[sniffConn] // the newest connection
	wrote        chan struct{}             // signalled (buffered 1) after every frame written; see startPipelined
	rereads      atomic.Int64              // pipelined reads that could not stand in for a second round trip
	servers      int                       // how many servers were given

	mu     sync.Mutex
	lastOK time.Time     // see LastOK
	writes []time.Time   // when frames went out, oldest first, for credit; the last 2T or so
	probe  *probe        // what the heartbeat checks, set while a lease is held
	err    error         // why the session was lost
	cut    chan struct{} // closed, and replaced, when a server negotiates a shorter timeout

	ready     chan struct{} // closed on first session establishment
	readyOnce sync.Once
	lost      chan struct{} // closed when the session is gone for good
	lostOnce  sync.Once
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // heartbeat and background cleanups
	// containers counts CreateContainer requests in flight. go-zookeeper
	// v1.0.4's CreateContainer, unlike Create, reads its response even
	// when Close interrupted it, racing with the late reply's decoding; so
	// the connection is closed only once they are done.
	containers inFlight
}

// probe is a heartbeat target: a node whose existence and owner a lease
// checks with every heartbeat.
type probe struct {
	path  string
	check func(exists bool, stat *zk.Stat)
}

// discardPrintf drops the client library's messages.
type discardPrintf struct{}

func (discardPrintf) Printf(string, ...any) {}

// Connect opens a session to one of opts.Servers and adds opts.Auth. It
// gives up with ErrUnreachable when no server grants a session within the
// connect timeout or ctx ends, and with ErrAuthFailed when credentials are
// refused; in both cases nothing is left open.
func Connect(ctx context.Context, opts Options) (*Session, error) {
	if len(opts.Servers) == 0 {
		return nil, fmt.Errorf("%w: no servers given", ErrUnreachable)
	}
	if opts.SessionTimeout <= 0 {
		return nil, errors.New("zklock: session timeout must be positive")
	}
	acl, err := aclFor(opts.ACL, opts.Auth)
	if err != nil {
		return nil, err
	}
	s := &Session{
		log:         opts.Logger,
		requested:   opts.SessionTimeout,
		beat:        opts.HeartbeatInterval,
		dialer:      opts.Dialer,
		acl:         acl,
		aclMode:     opts.ACL,
		ready:       make(chan struct{}),
		cut:         make(chan struct{}),
		lost:        make(chan struct{}),
		closed:      make(chan struct{}),
		wrote:       make(chan struct{}, 1),
		rootACLDone: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.dialer == nil {
		s.dialer = net.DialTimeout
	}
	if opts.TLS != nil {
		s.dialer = tlsDialer(opts.TLS, s.dialer, s.tlsHandshakeTimeout)
	}
	var clientLog Printfer = discardPrintf{}
	if opts.ClientLogger != nil {
		clientLog = opts.ClientLogger
	}
	connectTimeout := opts.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = opts.SessionTimeout
	}

	s.epoch = time.Now()
	s.servers = len(opts.Servers)
	conn, _, err := zk.Connect(opts.Servers, opts.SessionTimeout,
		zk.WithDialer(s.dial),
		zk.WithHostProvider(&hostList{}),
		zk.WithEventCallback(s.onEvent),
		zk.WithLogger(clientLog),
		zk.WithLogInfo(opts.ClientLogInfo),
		// Lock nodes are tiny; a server that sends more than ZooKeeper's
		// own 1 MiB packet limit is broken or hostile.
		zk.WithMaxBufferSize(1<<20),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, strings.Join(opts.Servers, ","), err)
	}
	s.conn = conn
	s.wg.Add(1)
	go func() { // closes the connection once the session is lost
		defer s.wg.Done()
		<-s.lost
		s.containers.waitAtMost(s.Timeout())
		conn.Close()
	}()

	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	select {
	case <-s.ready:
	case <-s.lost:
		s.Close()
		return nil, s.Err()
	case <-ctx.Done():
		why := "no session granted"
		if e := s.lastDialErr.Load(); e != nil {
			why = (*e).Error()
		}
		s.Close()
		return nil, fmt.Errorf("%w: %s within %v: %s", ErrUnreachable, strings.Join(opts.Servers, ","), connectTimeout, why)
	}
	// readyOnce has run in the callback; its write of id happens before
	// close(ready), which we have observed.
	s.log.Debug("session established", "session", s.IDString(), "timeout", s.Timeout())

	for _, a := range opts.Auth {
		if err := s.call(ctx, func() error { return conn.AddAuth(a.Scheme, a.Data) }); err != nil {
			s.Close()
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: adding %s credentials timed out", ErrUnreachable, a.Scheme)
			}
			// Never echo a.Data: it holds the password.
			return nil, fmt.Errorf("%w: scheme %q: %v", ErrAuthFailed, a.Scheme, err)
		}
	}

	s.wg.Add(2)
	go s.heartbeat()
	go s.watchdog()
	return s, nil
}

// watchdog gives the session up when no server has sent it anything for a
// whole session timeout: the ensemble may have expired it meanwhile, and
// the client library, which learns of an expiry only from a server, would
// otherwise retry forever, leaving every request of ours hanging.
func (s *Session) watchdog() {
	defer s.wg.Done()
	t := time.NewTimer(s.interval() / 4)
	defer t.Stop()
	var dropped *sniffConn
	for {
		select {
		case <-s.lost:
			return
		case <-t.C:
		}
		t.Reset(s.interval() / 4)
		heard := s.epoch.Add(time.Duration(s.heard.Load()))
		silence := time.Since(heard)
		if silence > s.Timeout() {
			s.fail(fmt.Errorf("%w: no ZooKeeper server has answered for %v (session timeout %v); it may have expired",
				ErrSessionLost, silence.Round(time.Millisecond), s.Timeout()))
			return
		}
		// While a lease is held, a heartbeat goes out every interval,
		// and a server answers a session's requests in order: a
		// heartbeat's sync, which the leader must answer, holds back
		// every answer behind it. Two intervals without a byte mean this
		// server is frozen, or cut off from the leader (which a follower
		// notices only after syncLimit ticks). The client library would
		// wait two thirds of T before trying another server, too late
		// for the lease, which gives up at about a third of T; so drop
		// the connection now, once. (Silence, not the age of the last
		// answer through the leader: on a slow link that age grows with
		// the round trip while the server is fine.)
		s.mu.Lock()
		holding := s.probe != nil
		s.mu.Unlock()
		c := s.current.Load()
		if c != nil {
			// A connection is not silent before it was made: the one
			// just made in place of a dropped one has its own time.
			silence = min(silence, time.Since(c.dialed))
		}
		if holding && silence > 2*s.interval() && c != nil && c != dropped {
			dropped = c
			s.log.Warn("ZooKeeper server silent, or cut off from the leader; reconnecting to another",
				"server", c.RemoteAddr().String(), "silence", silence.Round(time.Millisecond))
			c.Conn.Close()
		}
	}
}

// dial wraps the configured dialer so that every new connection reports the
// session timeout its server negotiated, and gives up on a server that
// accepts the connection but does not answer it in time.
func (s *Session) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := s.dialer(network, addr, timeout)
	if err != nil {
		s.lastDialErr.Store(&err)
		return nil, err
	}
	now := time.Now()
	sc := &sniffConn{Conn: c, s: s, dialed: now, answerBy: now.Add(s.handshakeTimeout())}
	s.current.Store(sc)
	return sc, nil
}

// handshakeTimeout bounds the wait for a server's connect response. A
// frozen server (paused, swapping, a JVM in a long collection) accepts
// connections in its kernel and never answers; the client library would
// wait many session timeouts for it, so one frozen server of three failed
// every connect that tried it first, and a holder reconnecting to it would
// lose its lease. A healthy server answers in milliseconds: each server
// gets its share of the timeout, at most a fifth of it, at least 250 ms.
// (Over TLS, the handshake before it is the dialer's, and bounded there by
// tlsHandshakeTimeout: a frozen TLS server costs that much.)
func (s *Session) handshakeTimeout() time.Duration {
	t := s.Timeout()
	return max(250*time.Millisecond, min(t/time.Duration(max(s.servers, 1)), t/5))
}

// sniffConn reads the connect response, the first frame a server sends on a
// new connection: int32 length, int32 protocol version, int32 negotiated
// timeout in milliseconds, int64 session ID, password. The client library
// keeps the timeout to itself, and a negotiated timeout shorter than the one
// requested would make every deadline computed from the requested one
// unsafe.
type sniffConn struct {
	net.Conn
	s   *Session
	got int
	hdr [20]byte
	// dialed is when the connection was made; answerBy, when the connect
	// response must have come.
	dialed, answerBy time.Time
	// first is when the connect request, the connection's first frame,
	// was written; nil before.
	first atomic.Pointer[time.Time]
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if c.got < len(c.hdr) {
		// The client library sets a deadline of many session timeouts.
		_ = c.Conn.SetReadDeadline(c.answerBy)
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.s.heard.Store(int64(time.Since(c.s.epoch)))
	}
	if err != nil && c.got < len(c.hdr) {
		// Closed before the connect response: a TLS server refusing our
		// certificate, or a plain client on a TLS port. Say so if the
		// connect fails.
		why := fmt.Errorf("%s closed the connection before granting a session: %w", c.RemoteAddr(), err)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			why = fmt.Errorf("%s did not grant a session within %v", c.RemoteAddr(), c.answerBy.Sub(c.dialed).Round(time.Millisecond))
		}
		c.s.lastDialErr.Store(&why)
	}
	if c.got < len(c.hdr) && n > 0 {
		c.got += copy(c.hdr[c.got:], p[:n])
		if c.got == len(c.hdr) {
			c.s.noteNegotiated(time.Duration(int32(binary.BigEndian.Uint32(c.hdr[8:12]))) * time.Millisecond)
			c.s.connID.Store(int64(binary.BigEndian.Uint64(c.hdr[12:20])))
		}
	}
	return n, err
}

// Write sends one frame: the client library writes each request whole.
func (c *sniffConn) Write(p []byte) (int, error) {
	if c.got < len(c.hdr) {
		// The connect request. (A TLS handshake happened in the dialer,
		// bounded there.)
		_ = c.Conn.SetWriteDeadline(c.answerBy)
		now := time.Now()
		c.first.CompareAndSwap(nil, &now)
	}
	c.s.wroteFrame()
	n, err := c.Conn.Write(p)
	select {
	case c.s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *Session) noteNegotiated(t time.Duration) {
	if t <= 0 { // an expired session's response carries no timeout
		return
	}
	ms := t.Milliseconds()
	for {
		old := s.negotiatedMs.Load()
		if old != 0 && old <= ms {
			return
		}
		if s.negotiatedMs.CompareAndSwap(old, ms) {
			s.mu.Lock()
			close(s.cut)
			s.cut = make(chan struct{})
			s.mu.Unlock()
			return
		}
	}
}

// timeoutCut returns a channel closed when a server next negotiates a
// timeout shorter than any before: Budget shrinks then, and a deadline
// computed from it comes earlier.
func (s *Session) timeoutCut() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// onEvent runs on the client library's goroutine for every event and must
// not block.
func (s *Session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		id := s.connID.Load()
		first := false
		s.readyOnce.Do(func() {
			s.id.Store(id)
			first = true
			close(s.ready)
		})
		if !first {
			if id != s.id.Load() {
				s.fail(fmt.Errorf("%w: the client replaced session %#x with %#x", ErrSessionLost, s.id.Load(), id))
				return
			}
			s.log.Info("reconnected", "server", ev.Server, "session", s.IDString())
		}
	case zk.StateExpired:
		s.fail(fmt.Errorf("%w: session %s expired by the server", ErrSessionLost, s.IDString()))
	case zk.StateAuthFailed:
		s.fail(fmt.Errorf("%w: server %s refused the credentials", ErrAuthFailed, ev.Server))
	case zk.StateDisconnected:
		if isClosed(s.closed) || !isClosed(s.ready) {
			return // our own Close, or still connecting
		}
		s.log.Warn("disconnected from ZooKeeper", "server", ev.Server, "session", s.IDString())
	}
}

// fail marks the session lost for good with err; a goroutine started by
// Connect then closes the connection (Close blocks, and fail may run on the
// client library's goroutine, before zk.Connect has even returned).
func (s *Session) fail(err error) {
	s.lostOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.lost)
		if !isClosed(s.closed) {
			s.log.Error("ZooKeeper session lost", "err", err)
		}
	})
}

// ID returns the session ID.
func (s *Session) ID() int64 { return s.id.Load() }

// IDString formats the session ID as ZooKeeper's own tools print it.
func (s *Session) IDString() string { return fmt.Sprintf("0x%x", s.ID()) }

// Timeout returns the session timeout: the shortest one any server
// negotiated, never longer than the one requested.
func (s *Session) Timeout() time.Duration {
	if ms := s.negotiatedMs.Load(); ms > 0 && time.Duration(ms)*time.Millisecond < s.requested {
		return time.Duration(ms) * time.Millisecond
	}
	return s.requested
}

// LastOK returns the send time (monotonic) of the newest request of this
// session answered through the ensemble's leader (a create, a sync), or
// earlier if we had been quiet before it (see credit). Reads do not count:
// a follower answers them on its own, and one cut off from the leader goes
// on answering them for up to syncLimit ticks, while the leader, which
// alone expires sessions, hears nothing of ours and expires the session
// after Timeout.
//
// The server cannot expire the session before LastOK plus Budget.
func (s *Session) LastOK() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastOK
}

// Budget is how long after LastOK the session is sure to live: Timeout,
// less the time the leader may take to hear that a follower saw us.
//
// A follower does not pass each request's touch of the session on to the
// leader; it sends the sessions it has seen in its answer to the leader's
// ping, every half tick, at most Timeout/4 (servers grant at least two
// ticks: minSessionTimeout, unless an operator lowered it). credit sets
// LastOK so that the leader's clock for the session restarted no earlier
// than half a tick plus an interval before it.
func (s *Session) Budget() time.Duration {
	t := s.Timeout()
	return t - t/4 - s.interval()
}

// Lost is closed when the session is gone for good; Err then says why.
func (s *Session) Lost() <-chan struct{} { return s.lost }

// Err returns why the session was lost, or nil.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the session: the server deletes its ephemeral nodes at once.
// If no server is reachable they go when the session expires. Close is
// idempotent and waits for the session's goroutines.
func (s *Session) Close() {
	s.closeOnce.Do(func() {
		close(s.closed) // from here on, trouble is our own doing
		s.waitRootACL()
		// The close request frees the session's locks for the next
		// holder: it goes out first, before the session's goroutines are
		// woken to stop (which fail does; the one that would close the
		// connection then finds it closed).
		if s.containers.none() {
			s.conn.Close()
		}
		s.fail(ErrClosed)
		s.wg.Wait()
	})
}

// call runs op, one blocking request of the client library, and returns its
// error; or ctx's error, or the session's, if those come first, in which
// case op finishes in the background and its results must not be read.
func (s *Session) call(ctx context.Context, op func() error) error {
	select {
	case err := <-s.start(op):
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.lost:
		return s.Err()
	}
}

// start runs op, one blocking request of the client library, on its own
// goroutine and returns a channel with its error.
func (s *Session) start(op func() error) <-chan error {
	return s.run(op, false)
}

// startLeader is start for a request that only the leader answers (a
// create, a sync): its success moves LastOK.
func (s *Session) startLeader(op func() error) <-chan error {
	return s.run(op, true)
}

func (s *Session) run(op func() error, leader bool) <-chan error {
	conn, t0 := s.current.Load(), time.Now()
	done := make(chan error, 1)
	go func() {
		err := op()
		s.observe(t0, conn, err, leader)
		done <- err
	}()
	return done
}

// pipelineWait bounds how long startPipelined waits for the first request
// to be written before it sends the second anyway.
const pipelineWait = 5 * time.Millisecond

// startPipelined starts first, a request only the leader answers (see
// startLeader), and, as soon as the client library has written first's
// request, second: both reach the server back to back and are
// answered in one round trip instead of two. A server answers a session's
// requests in order, so second normally sees what first did; but another
// frame written meanwhile (a ping, a concurrent request) lets second go
// early, so callers must check that it did see it.
func (s *Session) startPipelined(first, second func() error) (firstDone, secondDone <-chan error) {
	select {
	case <-s.wrote: // a stale signal, from a frame written before
	default:
	}
	firstDone = s.startLeader(first)
	t := time.NewTimer(pipelineWait)
	select {
	case <-s.wrote:
	case <-t.C:
	case <-s.lost:
	}
	t.Stop()
	return firstDone, s.start(second)
}

// observe records that a request sent at t0, when conn was the newest
// connection, came back with err. An answer in another session means the
// library has replaced ours; a success of a request the leader answered
// (leader) moves LastOK forward.
func (s *Session) observe(t0 time.Time, conn *sniffConn, err error, leader bool) {
	if !answered(err) {
		return
	}
	if id := s.conn.SessionID(); id != s.ID() {
		s.fail(fmt.Errorf("%w: the client replaced session %#x with %#x", ErrSessionLost, s.ID(), id))
		return
	}
	if leader {
		// An error answer (a create that found the node) came through
		// the leader too.
		s.credit(t0, conn)
	}
}

// credit moves LastOK for an answer through the leader to a request sent
// at t0. The answer proves the follower's link to the leader was up, so
// every answer the follower gave the leader's pings before t0 got there;
// the one given within a half tick (≤ T/4) after our newest frame written
// by t0 − T/4 touched the session: the leader's clock for it restarted no
// earlier than that frame, w. The session lives at least until w + T.
// LastOK is t0 when we wrote often enough (w ≥ t0 − T/4 − interval, the
// heartbeat's case), else earlier, so that LastOK + Budget ≤ w + T always:
// after a quiet wait in the queue, after a stalled heartbeat.
//
// Unless the connection came up after cut. conn was the newest connection
// at t0; the request went out on it or on one dialed later, whose connect
// request, its first frame, went out at r or later. The leader touched the
// session after r and before it answered anything sent on that
// connection: a new session it creates; for a resumed one, the server
// reads the connect request (after r), sends the leader a revalidation,
// and forwards our requests behind it on the same ordered link, and the
// leader touches the session as it reads that. (A follower matches
// revalidation answers by session alone, so the answer that let the
// connection in may be an abandoned earlier attempt's; the touch that
// counts is still this connection's own.) The leader of the server that
// answered is that leader or a later one, and a new leader restarts every
// session's clock when it takes over. So the session lives at least until
// r + T, and with r after cut, t0 + Budget < r + T: LastOK is t0, whatever
// came before. A session younger than T/4 is one such case; a waiter that
// reconnects and at once takes the lock, another (before, its lease began
// with the last frame of the connection that went, and could give up at
// once).
func (s *Session) credit(t0 time.Time, conn *sniffConn) {
	t := s.Timeout()
	cut := t0.Add(-t / 4)
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := t0
	fresh := false
	if conn != nil {
		// No frame on conn yet, after the answer: the answer came on
		// a connection dialed later.
		r := conn.first.Load()
		fresh = r == nil || r.After(cut)
	}
	if i := sort.Search(len(s.writes), func(i int) bool { return s.writes[i].After(cut) }); i > 0 && !fresh {
		ok = minTime(t0, s.writes[i-1].Add(t/4+s.interval()))
	}
	if ok.After(s.lastOK) {
		s.lastOK = ok
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// quietFor returns how long ago the newest frame went out.
func (s *Session) quietFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.writes) == 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Since(s.writes[len(s.writes)-1])
}

// wroteFrame records that a frame went out now, for credit.
func (s *Session) wroteFrame() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Keep 2T: credit looks back T/4 from answers that come well within
	// T (a session silent for T is given up).
	if horizon := now.Add(-2 * s.Timeout()); len(s.writes) > 64 && s.writes[0].Before(horizon) {
		i := sort.Search(len(s.writes), func(i int) bool { return !s.writes[i].Before(horizon) })
		// Keep the newest frame before the horizon: it may still be the
		// one credit needs.
		s.writes = append(s.writes[:0], s.writes[max(i-1, 0):]...)
	}
	s.writes = append(s.writes, now)
}

// interval is the heartbeat's: as configured, else a tenth of the session
// timeout the servers granted (not the one requested, which may be many
// times longer).
func (s *Session) interval() time.Duration {
	if s.beat > 0 {
		return s.beat
	}
	return max(s.Timeout()/10, time.Millisecond)
}

// heartbeat keeps LastOK fresh while a lease is held: every interval, a
// sync, which the leader answers, and right behind it a read of the
// lease's node, which must still be there and still ours. One heartbeat is
// in flight at a time.
func (s *Session) heartbeat() {
	defer s.wg.Done()
	t := time.NewTimer(s.interval())
	defer t.Stop()
	for {
		select {
		case <-s.lost:
			return
		case <-t.C:
		}
		t.Reset(s.interval())
		s.mu.Lock()
		p := s.probe
		s.mu.Unlock()
		if p == nil {
			// Nothing held, nothing to fence; but a waiter may take
			// the lock any moment, and a lease is only as fresh as the
			// frames written before it (see credit): the client
			// library pings only every third of T, so touch the
			// session every interval unless something else went out.
			if s.quietFor() >= s.interval()/2 {
				_ = s.call(context.Background(), func() error {
					_, _, err := s.conn.Exists("/")
					return err
				})
			}
			continue
		}
		var (
			exists bool
			stat   *zk.Stat
		)
		synced, read := s.startPipelined(func() error {
			_, err := s.conn.Sync(p.path)
			if errors.Is(err, zk.ErrNoNode) {
				return nil // answered: the node's absence is the read's to report
			}
			return err
		}, func() (err error) {
			exists, stat, err = s.conn.Exists(p.path)
			return err
		})
		err := s.await2(synced, read)
		if err != nil {
			if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrSessionLost) && !isClosed(s.closed) {
				s.log.Debug("heartbeat failed", "err", err)
			}
			if !answered(err) {
				// The connection went: try again as soon as the
				// library has a new one (it holds requests until
				// then), not an interval later, when the lease may
				// already have given up.
				t.Reset(retryPause)
			}
			continue
		}
		p.check(exists, stat)
	}
}

// await2 waits for both requests of a pipelined pair and returns the
// first error, or the session's if it ends first.
func (s *Session) await2(a, b <-chan error) error {
	var errs [2]error
	for i, ch := range []<-chan error{a, b} {
		select {
		case errs[i] = <-ch:
		case <-s.lost:
			return s.Err()
		}
	}
	return cmp.Or(errs[0], errs[1])
}

// setProbe makes the heartbeat check p (nil: just the root).
func (s *Session) setProbe(p *probe) {
	s.mu.Lock()
	s.probe = p
	s.mu.Unlock()
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// inFlight counts requests in flight.
type inFlight struct {
	n  atomic.Int32
	wg sync.WaitGroup
}

func (f *inFlight) add()  { f.n.Add(1); f.wg.Add(1) }
func (f *inFlight) done() { f.n.Add(-1); f.wg.Done() }

// none reports whether no request is in flight.
func (f *inFlight) none() bool { return f.n.Load() == 0 }

// waitAtMost waits until no request is in flight, but no longer than d: a
// request cut off from every server ends when the client library gives up
// on the connection, well within the session timeout.
func (f *inFlight) waitAtMost(d time.Duration) {
	if f.none() {
		return
	}
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
