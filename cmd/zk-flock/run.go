package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zk-flock/zk-flock/internal/config"
	"github.com/zk-flock/zk-flock/internal/logging"
	"github.com/zk-flock/zk-flock/internal/metrics"
	"github.com/zk-flock/zk-flock/internal/supervise"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

// Self-fencing defaults. See docs/RELIABILITY.md.
const (
	// minMargin is the least time by which the command must be dead before
	// the session could expire: the kill itself, a scheduling delay of
	// zk-flock on a loaded host, and clock-rate drift must fit in it.
	minMargin = 50 * time.Millisecond
	// defaultMinMargin and the tenth of the session timeout below are the
	// default margin: 0.5 s for the usual 5 s session.
	defaultMinMargin = 200 * time.Millisecond
)

// Environment variables set for the command.
const (
	envToken = "ZK_FLOCK_TOKEN" // fencing token: the lock node's czxid
	envLock  = "ZK_FLOCK_LOCK"  // the lock node's path
	envSlot  = "ZK_FLOCK_SLOT"  // with -n: the slot index
)

// fenceSignals are the signals zk-flock handles itself: SIGTERM and SIGINT
// stop the command, SIGTSTP is refused (a stopped zk-flock cannot keep its
// session, while the command, in a group of its own, runs on), the others
// are forwarded to it.
var fenceSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGTSTP, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// notice says msg on stderr, whatever the log level, and in the log
// unless that is stderr too.
func (j *job) notice(msg string) {
	say(j.stderr, "%s", msg)
	if !j.logToStderr {
		j.log.Warn(msg)
	}
}

// refuseStop reports a SIGTSTP (Ctrl-Z), which zk-flock does not obey.
func (j *job) refuseStop() {
	j.notice("ignoring SIGTSTP: zk-flock must run to keep the lock; stop the command with SIGTERM or Ctrl-C")
}

// run is zk-flock: it parses args, runs the command under the lock and
// returns the exit status. stdout is only written for --help and --version;
// it belongs to the command otherwise.
func run(args []string, stdout, stderr io.Writer) int {
	// zk-flock's own lines on stderr, and its log when that is stderr, are
	// written by a goroutine of their own: a reader that stops reading
	// (cmd 2>&1 | logger, logger hung) must not hold up the goroutines
	// that kill the command in time.
	if _, ok := stderr.(*logging.Async); !ok {
		a := logging.NewAsync(stderr, nil)
		defer a.Close() // waits at most logging.FlushTimeout
		stderr = a
	}
	o, err := parseArgs(args)
	if err != nil {
		say(stderr, "%v (see zk-flock --help)", err)
		return ExitUsage
	}
	switch {
	case o.help:
		printUsage(stdout)
		return ExitOK
	case o.version:
		fmt.Fprintln(stdout, versionString())
		return ExitOK
	case o.generate != "":
		return generate(o.generate, stdout, stderr)
	}

	if o.status || o.list {
		return inspect(o, stdout, stderr)
	}
	rep := &report{lock: o.lock}
	if o.metricsSet {
		rep.path = o.metrics
	}
	status := runJob(o, rep, stderr)
	rep.write(status, stderr)
	if rep.closeLog != nil {
		rep.closeLog.Close()
	}
	return status
}

// inspect is --status and --list.
func inspect(o *options, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(o.confPath, stderr)
	if err != nil {
		say(stderr, "%v", err)
		return ExitConfig
	}
	if !o.list {
		if err := config.ValidateLockPath(cfg.AppID, o.lock, o.slots); err != nil {
			say(stderr, "%v", err)
			return ExitUsage
		}
	}
	return status(o, cfg, stdout, stderr)
}

// runJob checks the configuration, lock name and command, detaches with -d,
// and runs the job. It fills in rep as it learns where the metrics go and
// how the run went: from the first failure on, every exit is reported.
func runJob(o *options, rep *report, stderr io.Writer) int {
	cfg, err := loadConfig(o.confPath, stderr)
	if err != nil {
		say(stderr, "%v", err)
		return ExitConfig
	}
	applyFlags(o, &cfg)
	if isDaemon() && o.daemonize {
		// The detached copy is about to leave the caller's directory:
		// paths given relative to it must still name the same files
		// (the log is reopened after logrotate).
		if err := absPaths(&cfg); err != nil {
			say(stderr, "daemonize: %v", err)
			return ExitInternal
		}
	}
	rep.path = cfg.MetricsFile

	log, closeLog, err := logging.New(cfg.Logger.Path, cfg.Logger.Level, cfg.Logger.Format, stderr)
	if err != nil {
		say(stderr, "warning: %v", err)
	}
	rep.closeLog = closeLog // closed once the metrics are written
	j := &job{o: o, cfg: cfg, log: log.With("lock", o.lock), stderr: stderr, logToStderr: cfg.Logger.Path == logging.StderrPath,
		outcome: metrics.OutcomeError}
	rep.job = j

	if err := config.ValidateLockPath(cfg.AppID, o.lock, o.slots); err != nil {
		return j.fail(ExitUsage, "%v", err)
	}
	// A typo in the command fails now, before anything touches ZooKeeper.
	if o.path, err = supervise.LookPath(o.argv[0]); err != nil {
		return j.fail(startErrorStatus(err), "%v", err)
	}
	if o.daemonize {
		if !isDaemon() {
			if err := daemonize(); err != nil {
				return j.fail(ExitInternal, "daemonize: %v", err)
			}
			rep.path = "" // the detached copy reports the run
			return ExitOK
		}
		if err := enterDaemon(); err != nil {
			return j.fail(ExitInternal, "daemonize: %v", err)
		}
	}

	// The runtime enables each signal with a round trip to a thread of its
	// own, some 50 µs apiece on a VM, during which zk-flock's one P does
	// not look for network events. So it is done once the first
	// connection to a server is open, while the server sets the session
	// up: done earlier, it delayed noticing that the connection was up,
	// and so the connect request, by as long as it took. It starts at
	// once before anything slower (the -s sleep), and a first dial slower
	// than firstDialWait (a server that does not answer) does not hold it
	// up longer. It is complete before the lock is taken; until then a
	// signal has its default effect, as in the moment before any program
	// installs its handlers. There is no signal.Stop: stopping costs the
	// same round trips, and the process ends when run returns. The lock
	// node's content is built there too, after the handlers: its first
	// JSON encoding costs some 80 µs, which would otherwise come after
	// the session is up, between it and the create.
	sigs := make(chan os.Signal, 8)
	sigsReady := make(chan struct{})
	j.sigStart = make(chan struct{})
	go func() {
		t := time.NewTimer(firstDialWait)
		select {
		case <-j.sigStart:
		case <-t.C:
		}
		t.Stop()
		signal.Notify(sigs, fenceSignals...)
		// Nor must a terminal stop zk-flock: SIGTTOU when it writes to
		// one from the background (stty tostop), SIGTTIN sent by hand.
		// Ignored, as timeout(1) does, and so by the command too (exec
		// keeps ignored signals ignored): in a group of its own, never
		// the terminal's foreground, a command that reads the terminal
		// gets EIO instead of stopping, for ever, with the lock held.
		signal.Ignore(syscall.SIGTTIN, syscall.SIGTTOU)
		// A reader of stderr that has gone away (cmd 2>&1 | logger,
		// restarted) must not kill zk-flock with SIGPIPE between the lock
		// going and the command's group being killed: caught, a write
		// fails with EPIPE instead. The command still starts with the
		// default action (exec resets caught signals).
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		j.nodeData = holderData(o.command)
		close(sigsReady)
	}()
	j.sigs, j.sigsReady = sigs, sigsReady
	return j.run()
}

// report is what --metrics-file gets when zk-flock exits.
type report struct {
	path     string // the metrics file; none if empty
	lock     string
	job      *job      // how the run went; nil if it failed before the log was open
	closeLog io.Closer // the log's, closed after write
}

// write writes the report for a run that ends with status, if a metrics
// file is set. A failure is a warning: the job is done, and failing it for
// its metrics would be worse.
func (r *report) write(status int, stderr io.Writer) {
	if r.path == "" {
		return
	}
	m := runMetrics{outcome: metrics.OutcomeError, status: status, end: time.Now()}
	var sigs <-chan os.Signal // nil before zk-flock handles signals
	if j := r.job; j != nil {
		m.outcome, m.waited, m.ran = j.outcome, j.waited, j.ran
		sigs = j.sigs
	}
	// SIGTERM or SIGINT now cuts the helper short rather than wait for it.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGTERM || sig == syscall.SIGINT {
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	err := writeMetrics(ctx, r.path, r.lock, m)
	cancel()
	if err != nil {
		say(stderr, "warning: metrics not written: %v", err)
		if r.job != nil {
			r.job.log.Warn("metrics not written", "err", err)
		}
	}
}

// applyFlags lets the command line override the configuration file.
func applyFlags(o *options, cfg *config.Config) {
	if o.maxLASet {
		cfg.MaxLA = o.maxLA
	}
	if o.sleepSet {
		cfg.Sleep = o.sleep // --sleep=false turns the file's "ON" off
	}
	if o.graceSet {
		cfg.Grace = o.grace
	}
	if o.marginSet {
		cfg.Margin = o.margin
	}
	if o.maxRunSet {
		cfg.MaxRuntime = o.maxRun
	}
	if o.metricsSet {
		cfg.MetricsFile = o.metrics
	}
}

// job is one run of a command under the lock.
type job struct {
	o      *options
	cfg    config.Config
	log    *slog.Logger
	stderr io.Writer
	// logToStderr: the log is stderr, where fail writes its line anyway.
	logToStderr bool
	sigs        chan os.Signal
	// sigsReady is closed once sigs receives fenceSignals and nodeData,
	// the lock node's content (holderData), is set.
	sigsReady <-chan struct{}
	nodeData  []byte
	// sigStart is closed to start setting the signal handlers up (see
	// runJob and startSignals).
	sigStart     chan struct{}
	sigStartOnce sync.Once

	// For the metrics: how the run ended, how long getting the lock took,
	// and how long the command ran.
	outcome     string
	waited, ran time.Duration
}

// fail reports a failure on stderr and in the log, and returns status.
func (j *job) fail(status int, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	say(j.stderr, "%s", msg)
	if !j.logToStderr {
		j.log.Error(msg, "status", status)
	}
	return status
}

func (j *job) run() int {
	// Until the command runs, SIGTERM and SIGINT abandon the attempt; the
	// other signals are ignored.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var interrupted syscall.Signal
	watching := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-watching:
				return
			case sig := <-j.sigs:
				switch sig {
				case syscall.SIGTERM, syscall.SIGINT:
					interrupted = sig.(syscall.Signal)
					cancel()
					return
				case syscall.SIGTSTP:
					j.refuseStop()
				default:
					j.log.Info("ignoring signal before the command runs", "signal", sig.String())
				}
			}
		}
	}()
	var once sync.Once
	stopWatching := func() {
		once.Do(func() { close(watching) })
		<-watched
	}
	status := j.acquireAndRun(ctx, stopWatching)
	stopWatching() // before reading interrupted
	if interrupted != 0 && status < 0 {
		j.outcome = metrics.OutcomeStopped
		j.log.Info("interrupted before the command ran", "signal", interrupted.String())
		return ExitSignalBase + int(interrupted)
	}
	if status < 0 {
		return ExitInternal
	}
	return status
}

// acquireAndRun passes the load gates, takes the lock and runs the command.
// It calls stopWatching before the command starts, to take over the signals.
// A negative status means "interrupted by a signal before the command ran".
func (j *job) acquireAndRun(ctx context.Context, stopWatching func()) int {
	if status, ok := j.loadGates(ctx); !ok {
		return status
	}

	cmd, status := j.prepare()
	if cmd == nil {
		return status
	}
	sess, lease, status := j.take(ctx)
	if lease == nil {
		return status
	}
	stopWatching()
	if ctx.Err() != nil {
		// SIGTERM or SIGINT came as the lock was taken, and the command
		// has not started: give up as before it.
		j.release(sess, lease)
		return -1
	}
	status = j.supervise(cmd, lease)
	j.release(sess, lease)
	return status
}

// prepare makes the command ready to start the moment the lock is taken:
// resolved and checked (one that cannot run fails now, without taking the
// lock), its environment built. It returns nil and the exit status if the
// command cannot run.
func (j *job) prepare() (*supervise.Prepared, int) {
	// Adopt what the command orphans, so that none of its tree outlives
	// the lock by leaving the process group.
	if err := supervise.EnableSubreaper(); err != nil {
		j.log.Warn("descendants that leave the process group will not be tracked", "err", err)
	}
	cmd, err := supervise.Prepare(supervise.Spec{
		Path:      j.o.path,
		Argv:      j.o.argv,
		Env:       childEnviron(),
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Pdeathsig: j.o.pdeathsig,
		Logger:    j.log,
		// The lock covers the whole job: whatever the command leaves
		// running in its group is stopped before the lock goes.
		StopTreeOnExit: true,
		ExitGrace:      j.cfg.Grace,
	})
	if err != nil {
		return nil, j.fail(startErrorStatus(err), "%v", err)
	}
	return cmd, 0
}

// release closes the session, which frees the lock. When others queue for
// it, zk-flock then waits releaseLinger before it goes on to exit.
func (j *job) release(sess *zklock.Session, lease *zklock.Lease) {
	sess.Close()
	if lease.Queued() {
		j.log.Debug("lock released; clients queue for it: lingering before the exit, so that the next holder starts first", "linger", releaseLinger)
		time.Sleep(releaseLinger)
	}
}

// releaseLinger is how long a holder waits, once the server has answered
// its close, before its exit when others queue for the lock. The next
// holder starts meanwhile (1 ms later on loopback: the server's event, a
// create, a fork and an exec), perhaps on this host, perhaps beside a
// server: the exit, where the kernel spends some 0.4 ms of CPU unmapping
// the process, would compete with it for the CPU. On a 2-CPU host this
// cut handoffs by 0.3–0.5 ms. Only a run with waiters pays it.
const releaseLinger = 3 * time.Millisecond

// take connects and takes the lock. It returns the session and the lease,
// or a nil lease and the exit status (negative: interrupted by a signal).
// With -w, ZooKeeper trouble is waited out too, until the wait ends: no
// server reachable, or the session lost while queued (the client library
// cannot bring an expired session back), is retried with a new session,
// which queues at the back.
func (j *job) take(ctx context.Context) (*zklock.Session, *zklock.Lease, int) {
	waitCtx := ctx
	if j.o.wait > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, j.o.wait)
		defer cancel()
	}
	tried := time.Now()
	defer func() { j.waited = time.Since(tried) }()
	// trouble is the ZooKeeper trouble being waited out, if any.
	var trouble error
	waitOut := func(err error) bool {
		if j.o.wait <= 0 || waitCtx.Err() != nil {
			return false
		}
		if trouble == nil || trouble.Error() != err.Error() {
			j.log.Warn("ZooKeeper trouble while waiting for the lock; trying again with a new session until the wait ends", "err", err)
		}
		trouble = err
		select {
		case <-time.After(troublePause):
		case <-waitCtx.Done():
		}
		return waitCtx.Err() == nil
	}
	for {
		// The first connect has its own timeout; one that waits out
		// trouble ends with the wait.
		cctx := ctx
		if trouble != nil {
			cctx = waitCtx
		}
		sess, err := zklock.Connect(cctx, j.sessionOptions())
		switch {
		case err == nil:
		case errors.Is(err, zklock.ErrUnreachable) && waitOut(err):
			continue
		case ctx.Err() != nil: // a signal, before or during the pause
			return nil, nil, -1
		case trouble != nil && waitCtx.Err() != nil:
			// The wait ran out while ZooKeeper was in trouble.
			return nil, nil, j.fail(ExitUnavailable, "%v (tried again until the %v wait ended)", trouble, j.o.wait)
		default:
			return nil, nil, j.fail(ExitUnavailable, "%v", err)
		}

		margin, lead, err := j.fence(sess.Timeout(), sess.Budget())
		if err != nil {
			sess.Close()
			status := ExitConfig
			if j.o.marginSet {
				status = ExitUsage // --margin, not the file
			}
			return nil, nil, j.fail(status, "%v", err)
		}
		// Signals must be ours before the lock is: from now on, dying of
		// one would leave the lock held until the session expires.
		<-j.sigsReady
		req := zklock.Request{
			Root:   "/" + j.cfg.AppID,
			Name:   j.o.lock,
			Slots:  j.o.slots,
			Data:   j.nodeData,
			Wait:   j.o.wait > 0,
			Margin: margin,
			Lead:   lead,
		}
		j.log.Debug("trying the lock", "root", req.Root, "slots", req.Slots, "wait", j.o.wait)
		lease, err := sess.Acquire(waitCtx, req)
		if err == nil {
			return sess, lease, 0
		}
		sess.Close()
		switch {
		case errors.Is(err, zklock.ErrLocked):
			// Busy is the normal outcome on all hosts but one: nothing
			// on stderr, or cron would mail it every time.
			if j.o.wait > 0 {
				j.log.Info("lock still busy when the wait ended; not running the command", "status", j.o.exitCode, "waited", time.Since(tried).Round(time.Millisecond))
			} else {
				j.log.Info("lock is busy; not running the command", "status", j.o.exitCode)
			}
			j.outcome = metrics.OutcomeBusy
			return nil, nil, j.o.exitCode
		case (errors.Is(err, zklock.ErrSessionLost) || zklock.Transient(err)) && waitOut(err):
			continue
		case ctx.Err() != nil: // a signal, before or during the pause
			return nil, nil, -1
		}
		return nil, nil, j.fail(ExitUnavailable, "lock %s: %v", j.o.lock, err)
	}
}

// troublePause spaces a waiter's new sessions while ZooKeeper is in
// trouble.
const troublePause = time.Second

// sessionOptions builds the ZooKeeper session's options from the config.
func (j *job) sessionOptions() zklock.Options {
	opts := zklock.Options{
		Servers:        j.cfg.Hosts,
		SessionTimeout: j.cfg.Timeout,
		Logger:         j.log,
		Dialer:         j.dial,
	}
	zkLevel, _ := logging.ParseLevel(j.cfg.Logger.ZKLevel)
	opts.ClientLogger = logging.NewPrintf(j.log, zkLevel)
	opts.ClientLogInfo = zkLevel <= slog.LevelInfo
	if a := j.cfg.Auth; a != nil {
		opts.Auth = []zklock.Auth{{Scheme: a.Scheme, Data: []byte(a.Data)}}
	}
	secureOptions(&opts, j.cfg, j.log)
	return opts
}

// firstDialWait bounds how long the signal set-up waits for the first
// connection attempt (see runJob).
const firstDialWait = 20 * time.Millisecond

// startSignals starts setting the signal handlers up now, if that has not
// begun (see runJob). --status and --list set none: their job has no
// sigStart.
func (j *job) startSignals() {
	if j.sigStart != nil {
		j.sigStartOnce.Do(func() { close(j.sigStart) })
	}
}

// dial is the session's dialer, net.DialTimeout; the first connection
// attempt over, the signal handlers are set up while the server answers.
func (j *job) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	j.startSignals()
	return c, err
}

// fence returns the self-fencing margin and the lead (the part of the grace
// period that must fit before the kill deadline) for a session of timeout
// t, sure to live budget after each answer (zklock.Session.Budget).
func (j *job) fence(t, budget time.Duration) (margin, lead time.Duration, err error) {
	margin = j.cfg.Margin
	switch {
	case margin == 0:
		// Clamped for a session of under a second (servers with a
		// tickTime far below the usual 2 s), but never below the least
		// safe margin.
		margin = max(minMargin, min(max(defaultMinMargin, t/10), budget/3))
	case margin < minMargin: // from the config file; the flag is checked when parsed
		return 0, 0, fmt.Errorf("margin %v: below %v is unsafe (the command could outlive the lock)", margin, minMargin)
	}
	// The margin and the grace period's lead must both fit in the budget
	// and leave the rest, at least 5/12 of it, for riding out a lost
	// connection (finding another server takes two intervals of
	// silence): a third of it at most for the margin, a quarter for the
	// lead.
	if margin > budget/3 {
		return 0, 0, fmt.Errorf("margin %v is more than a third of the %v the session is sure to live after each answer (its timeout is %v): the command would be killed at every hiccup", margin, budget.Round(time.Millisecond), t)
	}
	lead = min(j.cfg.Grace, budget/4)
	return margin, lead, nil
}

// supervise runs the prepared command while the lease holds and returns
// the status.
func (j *job) supervise(cmd *supervise.Prepared, lease *zklock.Lease) int {
	env := []string{envToken + "=" + strconv.FormatInt(lease.Token(), 10), envLock + "=" + lease.Path()}
	if lease.Slot() >= 0 {
		env = append(env, envSlot+"="+strconv.Itoa(lease.Slot()))
	}
	// The lease may have ended while the lock was being taken: its node
	// deleted, or an answer so late that the deadline has (nearly) come.
	if closed(lease.Done()) || !time.Now().Before(lease.KillBy()) {
		j.outcome = metrics.OutcomeLost
		why := "the session may expire before the command could be stopped"
		if err := lease.Err(); err != nil {
			why = err.Error()
		}
		return j.fail(ExitLockLost, "lock %s lost before the command started: %s", j.o.lock, why)
	}
	started := time.Now()
	child, err := cmd.Start(env...)
	if err != nil {
		return j.fail(startErrorStatus(err), "%v", err)
	}
	j.log.Info("command started", "child_pid", child.Pid(), "command", j.o.command, "token", lease.Token())

	w := j.watch(child, lease)
	j.ran = time.Since(started)
	st := child.Status()
	if w.lost != nil && w.lostAfterExit && !lossAfterExitMatters(child.Outlived(), w.ended, lease.KillBy()) {
		j.log.Warn("lock lost as the command's process tree ended; nothing of it was left to kill", "err", w.lost, "status", st.ExitCode())
		w.lost = nil
	}
	switch {
	case w.lost != nil && w.lostAfterExit:
		// The command finished, but what it left in its group was still
		// running, under the lock, and is killed now: the job did not end
		// as it would have.
		j.outcome = metrics.OutcomeLost
		j.log.Error("command's leftovers killed: lock lost after the command exited", "err", w.lost, "child_pid", child.Pid(), "status", st.ExitCode())
		say(j.stderr, "lock %s lost, processes the command left running killed (the command itself exited %d): %v", j.o.lock, st.ExitCode(), w.lost)
		return ExitLockLost
	case w.lost != nil:
		j.outcome = metrics.OutcomeLost
		j.log.Error("command killed: lock lost", "err", w.lost, "child_pid", child.Pid())
		say(j.stderr, "lock %s lost, command killed: %v", j.o.lock, w.lost)
		return ExitLockLost
	case w.timedOut:
		j.outcome = metrics.OutcomeTimeout
		j.log.Warn("command stopped: --max-runtime ran out", "max_runtime", j.cfg.MaxRuntime, "status", st.ExitCode())
		j.holdMinimum(lease)
		return ExitTimeout
	}
	j.outcome = metrics.OutcomeRan
	if w.stopped {
		j.outcome = metrics.OutcomeStopped
	}
	j.log.Info("command exited", "status", st.ExitCode())
	j.holdMinimum(lease)
	return st.ExitCode()
}

// lossAfterExitMatters reports whether a lease that ended after the
// command exited cost the job anything: something of the command's tree
// outlived it (and was killed, or ran on without the lock), or the tree
// was seen gone only at or after killBy, the time by which the work had to
// stop. If not, the lease ended between the command's exit and the check
// of its group, which found nothing left, in time: the job ended, under
// the lock, as it would have. (A node deleted or taken, or a session the
// server expired, is learnt of after the fact: killBy is then that moment,
// and the lock may have gone while the command ran.)
func lossAfterExitMatters(outlived bool, ended, killBy time.Time) bool {
	return outlived || !ended.Before(killBy)
}

// watched says why the command's process tree ended.
type watched struct {
	lost          error     // the lease's error, if the lock was or may have been lost while the tree ran
	lostAfterExit bool      // lost after the command exited, while what it left in its group ran
	ended         time.Time // when the whole tree was seen gone
	timedOut      bool      // --max-runtime ran out
	stopped       bool      // zk-flock was told to stop (SIGTERM, SIGINT)
}

// watch waits until the command's whole process tree is gone, stopping it
// when zk-flock is told to stop by SIGTERM or SIGINT, when --max-runtime
// runs out, or when the lease says the lock is or may be lost.
func (j *job) watch(child *supervise.Child, lease *zklock.Lease) (w watched) {
	var (
		leaseDone = lease.Done()
		exited    <-chan struct{} // watched for --max-runtime only
		deadline  <-chan time.Time
	)
	if j.cfg.MaxRuntime > 0 {
		t := time.NewTimer(j.cfg.MaxRuntime)
		defer t.Stop()
		deadline = t.C
		exited = child.Exited()
	}
	for {
		select {
		case <-child.TreeDone():
			w.ended = time.Now()
			return w
		case <-exited:
			// The command is done; what it left in its group is being
			// stopped (StopTreeOnExit) and --max-runtime is over.
			exited, deadline = nil, nil
		case <-deadline:
			deadline, w.timedOut = nil, true
			j.log.Warn("max runtime reached: stopping the command", "max_runtime", j.cfg.MaxRuntime, "grace", j.cfg.Grace)
			child.StopBy(time.Now().Add(j.cfg.Grace))
		case <-leaseDone:
			leaseDone = nil
			// Lost while anything of the command's runs: the command
			// itself, or what it left in its group, which the lock
			// covers as much (StopTreeOnExit is stopping it, perhaps
			// through a long grace). Either dies by the lease's
			// deadline.
			if !closed(child.TreeDone()) {
				w.lost, w.lostAfterExit = lease.Err(), closed(child.Exited())
			}
			child.StopBy(lease.KillBy())
		case sig := <-j.sigs:
			switch {
			case sig == syscall.SIGTSTP:
				j.refuseStop()
			case sig != syscall.SIGTERM && sig != syscall.SIGINT:
				if err := child.Signal(sig.(syscall.Signal)); err != nil {
					j.log.Debug("could not forward signal", "signal", sig.String(), "err", err)
				}
				if sig == syscall.SIGHUP {
					// As a shell does for its stopped jobs on a
					// hangup: a command stopped (an interactive
					// shell that read the terminal) acts on it.
					_ = child.SignalGroup(syscall.SIGCONT)
				}
			case w.stopped:
				j.log.Warn("second stop signal: killing the command now", "signal", sig.String())
				child.Kill()
			default:
				w.stopped = true
				j.log.Info("stopping the command", "signal", sig.String(), "grace", j.cfg.Grace)
				child.StopBy(time.Now().Add(j.cfg.Grace))
			}
		}
	}
}

// closed reports whether ch is closed (or holds a value) now.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// holdMinimum keeps the lock until -l seconds after acquisition, unless
// zk-flock is told to stop or the lock goes meanwhile.
func (j *job) holdMinimum(lease *zklock.Lease) {
	left := time.Until(lease.Acquired().Add(j.o.minLock))
	if left <= 0 {
		return
	}
	j.log.Debug("holding the lock for the minimum time", "left", left)
	t := time.NewTimer(left)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-lease.Done():
			return
		case sig := <-j.sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				return
			case syscall.SIGTSTP:
				j.refuseStop()
			}
		}
	}
}

// startErrorStatus maps a failure to start the command to the shell's
// statuses.
func startErrorStatus(err error) int {
	switch {
	case errors.Is(err, supervise.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, supervise.ErrNotExecutable):
		return ExitCannotExec
	}
	return ExitInternal // fork failed, no memory, ...
}

// childEnviron is zk-flock's environment without its own internal marker
// and without the variables it sets for the command: inherited ones (from
// an outer zk-flock, say) would come first, where getenv finds them, and
// ZK_FLOCK_SLOT would stay when this lock has no slot.
func childEnviron() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case envDaemon, envToken, envLock, envSlot:
			continue
		}
		out = append(out, kv)
	}
	return out
}
