package supervise

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Polling. The direct child's exit is an event (its reaper closes Exited);
// the end of the rest of the tree is not, so the monitor polls for it once
// the child has exited. A poll is a few cheap syscalls (wait4, kill with
// signal 0); a full scan of /proc (about 10 µs per process on the machine)
// is made only when the cheap checks cannot answer, as noted below.
const (
	// killPollMin is the first poll interval after SIGKILL. The kernel tears
	// a killed process down within microseconds to a scheduler tick, so the
	// tree is normally gone at the first or second poll; 2 ms notices that
	// within about one tick. Each of these polls repeats the SIGKILL and
	// the scan for escaped processes while anything remains.
	killPollMin = 2 * time.Millisecond

	// killPollMax caps the doubling of the interval after SIGKILL. What
	// outlives SIGKILL for 50 ms is stuck in the kernel (uninterruptible
	// sleep, say on NFS); polling faster would not make it die sooner, and
	// every such poll scans /proc.
	killPollMax = 50 * time.Millisecond

	// termPollMin is the first poll interval after SIGTERM: a tree that
	// handles SIGTERM is often gone within milliseconds, and the lock
	// should be released as soon as it is.
	termPollMin = 2 * time.Millisecond

	// termPollMax caps the doubling of the interval after SIGTERM: a tree
	// that takes seconds to shut down is noticed gone within 0.1 s, for at
	// most ten cheap polls a second.
	termPollMax = 100 * time.Millisecond

	// idlePoll is the poll interval when the child has exited but left
	// processes in its group and no one has asked to stop them (no
	// StopTreeOnExit, no Stop yet): 0.1 s bounds how late TreeDone is
	// after the last one ends, at ten cheap polls a second.
	idlePoll = 100 * time.Millisecond

	// zombieScanMin and zombieScanMax space out the full scans that tell
	// a group of zombies only (members whose parent, often a PID 1 that
	// does not reap, never waits for them) from a live group: kill(-pgid,
	// 0) succeeds on zombies. The first scan comes 10 ms after the group
	// was first seen alive and the interval doubles up to 1 s, so that a
	// long-lived group costs at most one scan a second.
	zombieScanMin = 10 * time.Millisecond
	zombieScanMax = time.Second
)

// never stands for "no timeout" where a duration is needed.
const never = time.Duration(1<<63 - 1)

type phase int

const (
	running  phase = iota // no stop asked for
	stopping              // SIGTERM sent, waiting for the deadline
	killing               // SIGKILL sent
)

// pollIntervals returns the first and the longest poll interval of a phase.
func pollIntervals(ph phase) (first, most time.Duration) {
	switch ph {
	case stopping:
		return termPollMin, termPollMax
	case killing:
		return killPollMin, killPollMax
	}
	return idlePoll, idlePoll
}

// monitor carries out Stop and Kill and closes TreeDone when the tree is
// gone. It owns c.tracked and the zombie scan state.
func (c *Child) monitor() {
	defer c.finish()
	var (
		exited   = c.exited // nil once the child has been reaped
		ph       = running
		deadline time.Time
		poll     time.Duration // current poll interval
		pollPh   = running     // the phase poll was set for
		timer    = time.NewTimer(never)
		seenExit bool // the child's exit has been acted on (StopTreeOnExit)
	)
	defer timer.Stop()
	for {
		now := time.Now()
		killedNow := false
		// The request is read before the exit is looked at: a stop asked
		// for after the exit (as a caller that waits for Exited does) is
		// then always seen with the exit, and the tree checked, before
		// any signal is sent.
		stop, want := c.request()
		if exited != nil {
			select {
			case <-exited:
				exited = nil
			default:
			}
		}
		if exited == nil && !seenExit {
			seenExit = true
			// Usually nothing is left: done, without the stop below
			// (with no grace, a SIGKILL to an empty group, and a warning).
			if c.treeGone(now) {
				return
			}
			c.mu.Lock()
			c.outlived = true
			c.mu.Unlock()
			if c.stopOnExit {
				c.setStop(now.Add(c.exitGrace))
				stop, want = c.request()
			}
		}
		if stop && ph != killing {
			deadline = want
			if !deadline.After(now) { // first, before anything slower
				c.killStep(true)
				ph, killedNow = killing, true
			}
		}
		if exited == nil && c.treeGone(now) {
			return
		}
		switch {
		case stop && ph == running: // and the tree is not gone: no SIGTERM for nothing
			c.termStep(deadline)
			ph = stopping
		case ph == killing && !killedNow:
			c.killStep(false) // again: whatever is left, and new orphans
		}
		// Poll once the child has exited, for the rest of the tree; and
		// after SIGKILL in any case, to kill what a process forked while
		// being killed, even while the child itself lingers in the kernel.
		polling := exited == nil || ph == killing
		if polling {
			first, most := pollIntervals(ph)
			if pollPh != ph || poll == 0 {
				pollPh, poll = ph, first
			} else {
				poll = min(2*poll, most)
			}
		}

		wait := never
		if ph == stopping {
			wait = deadline.Sub(now)
		}
		if polling {
			wait = min(wait, poll)
		}
		timer.Reset(wait)
		select {
		case <-exited:
			exited = nil
		case <-c.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// finish marks the tree gone and closes TreeDone.
func (c *Child) finish() {
	registry.Lock()
	delete(registry.children, c.pid)
	registry.Unlock()
	c.mu.Lock()
	c.groupGone = true
	c.mu.Unlock()
	c.log.Debug("process tree gone")
	close(c.treeDone)
}

// termStep sends SIGTERM, then SIGCONT, to the group, the direct child and
// the tree's processes found outside the group.
func (c *Child) termStep(deadline time.Time) {
	c.zombieScanSoon()
	esc := c.escapees()
	c.signalGroup(unix.SIGTERM)
	c.signalEach(esc, unix.SIGTERM)
	c.signalGroup(unix.SIGCONT)
	c.signalEach(esc, unix.SIGCONT)
	c.log.Info("stopping process tree: sent SIGTERM", "pgid", c.pid, "outside_group", len(esc),
		"kill_in", time.Until(deadline).Round(time.Millisecond))
}

// killStep sends SIGKILL to the group, the direct child and the tree's
// processes found outside the group.
//
// With a subreaper, the group is killed first: every process orphaned by
// that comes to us and is found by the scan that follows, or by the next
// one. Without, an escaped process is found only through its parent, so the
// group is frozen with SIGSTOP first (a stopped process cannot fork, and
// the links from the group to the escaped processes stay intact while we
// scan), and killed after the scan; the group then stops running within
// microseconds all the same.
func (c *Child) killStep(first bool) {
	c.zombieScanSoon()
	if c.subreaper {
		c.signalGroup(unix.SIGKILL)
	} else {
		c.signalGroup(unix.SIGSTOP)
	}
	esc := c.escapees()
	c.signalEach(esc, unix.SIGKILL)
	if !c.subreaper {
		c.signalGroup(unix.SIGKILL)
	}
	if first {
		c.log.Warn("killing process tree: sent SIGKILL", "pgid", c.pid, "outside_group", len(esc))
	} else if len(esc) > 0 {
		c.log.Debug("killing processes of the tree outside its group", "count", len(esc))
	}
}

// signalGroup sends sig to the process group, unless it is known empty,
// and to the direct child (which might have moved to another group of the
// session), unless reaped. Errors are ignored: it
// is ESRCH when they are gone, or EPERM for a member that changed its user
// id, which nothing here could kill anyway.
func (c *Child) signalGroup(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inGroup := false
	if !c.groupGone { // else the id is free, and might become another group's
		inGroup = unix.Kill(-c.pid, sig) == nil
	}
	// The child itself, if it left its group. Not otherwise: a second
	// SIGTERM means "quit now, skip the clean shutdown" to many programs.
	if !c.reaped {
		if pg, err := unix.Getpgid(c.pid); err == nil && (pg != c.pid || !inGroup) {
			_ = unix.Kill(c.pid, sig)
		}
	}
}

// signalEach sends sig to each of ps (read by a scan a moment ago: a pid is
// not reused that fast, after pid_max others). Errors are ignored as in
// signalGroup.
func (c *Child) signalEach(ps []proc, sig syscall.Signal) {
	for _, p := range ps {
		_ = unix.Kill(p.pid, sig)
	}
}

// escapees scans /proc and returns the processes of the tree outside the
// process group, adding them to c.tracked. The tree is whatever descends
// from the direct child, from a member of the group, from a process
// tracked before, or (with a subreaper) from an orphan adopted by this
// process since Start. On a scan error it returns the tracked processes
// still alive, so they are signalled all the same.
func (c *Child) escapees() []proc {
	if c.subreaper {
		registry.RLock()
		defer registry.RUnlock()
	}
	procs, err := scanProcs()
	if err != nil {
		c.log.Warn("cannot list processes", "err", err)
		return c.trackedProcs()
	}
	c.zombiesOnly = groupZombiesOnly(procs, c.pid)
	c.mu.Lock()
	inGroup := !c.groupGone // else a process with pgrp == c.pid is in someone else's group
	c.mu.Unlock()
	self, selfPgrp := os.Getpid(), unix.Getpgrp()
	children := make(map[int][]int, len(procs)) // ppid → indexes in procs
	var queue []int
	for i, p := range procs {
		children[p.ppid] = append(children[p.ppid], i)
		if p.pid == c.pid || (inGroup && p.pgrp == c.pid) || c.isTracked(p) ||
			(c.subreaper && c.adoptedLocked(p, self, selfPgrp)) {
			queue = append(queue, i)
		}
	}
	seen := make(map[int]bool, len(queue))
	for _, i := range queue {
		seen[i] = true
	}
	var esc []proc
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		p := procs[i]
		if p.pgrp != c.pid && p.pid != c.pid && !p.dead() {
			if !c.isTracked(p) {
				c.log.Info("found process of the tree outside its group", "escaped_pid", p.pid, "escaped_pgid", p.pgrp)
			}
			c.tracked[p.pid] = p.start
			esc = append(esc, p)
		}
		for _, k := range children[p.pid] {
			if !seen[k] {
				seen[k] = true
				queue = append(queue, k)
			}
		}
	}
	return esc
}

func (c *Child) isTracked(p proc) bool {
	s, ok := c.tracked[p.pid]
	return ok && s == p.start
}

// trackedProcs returns the tracked processes still alive.
func (c *Child) trackedProcs() []proc {
	buf := make([]byte, statBufSize)
	var ps []proc
	for pid, start := range c.tracked {
		if p, err := readStat(pid, buf); err == nil && p.start == start && !p.dead() {
			ps = append(ps, p)
		}
	}
	return ps
}

// adoptedLocked reports whether p is an orphan of the tree adopted by this
// process (a subreaper): a child of ours that is not a Child's direct child,
// not in this process's own group (where plain children of this process,
// started by other code, live), not in another Child's group, and not one of
// our children from before Start. The caller holds registry's read lock.
func (c *Child) adoptedLocked(p proc, self, selfPgrp int) bool {
	if p.ppid != self || p.pgrp == selfPgrp {
		return false
	}
	if _, ok := registry.children[p.pid]; ok {
		return false
	}
	if other, ok := registry.children[p.pgrp]; ok && other != c {
		return false
	}
	if s, ok := c.before[p.pid]; ok && s == p.start {
		return false
	}
	return true
}

// treeGone reports whether nothing of the tree remains, reaping what is
// ours on the way. It is called only once the direct child has been
// reaped: before that, wait4(-pgid) could take the direct child's status
// from its reaper.
func (c *Child) treeGone(now time.Time) bool {
	c.reapGroup()
	if !c.groupEmpty(now) {
		return false
	}
	if c.trackedAlive() {
		return false
	}
	if c.subreaper && c.adoptOrphans() {
		return false
	}
	return true
}

// reapGroup reaps the zombies of the group that are our children: orphans
// adopted as subreaper (or as PID 1). A zombie still counts for kill(-pgid),
// so the group can look empty only once they are reaped.
func (c *Child) reapGroup() {
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-c.pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: none of ours in the group
			return
		}
		c.log.Debug("reaped orphan of the group", "orphan_pid", pid, "status", statusOf(ws).String())
	}
}

// groupEmpty reports whether the process group has no live member: none
// at all (kill(-pgid, 0) fails with ESRCH), or only zombies that someone
// else has to reap, which two full scans in a row must show (a process
// forked during one scan might be missed by it, not by the next); the scan
// of the last killStep counts as the first.
func (c *Child) groupEmpty(now time.Time) bool {
	err := unix.Kill(-c.pid, 0)
	if err == unix.ESRCH {
		c.setGroupGone()
		return true
	}
	if c.zombieScanStep == 0 {
		c.zombieScanStep = zombieScanMin
		c.zombieScanAt = now.Add(c.zombieScanStep)
		return false
	}
	if now.Before(c.zombieScanAt) {
		return false
	}
	c.zombieScanStep = min(2*c.zombieScanStep, zombieScanMax)
	c.zombieScanAt = now.Add(c.zombieScanStep)
	if !c.zombiesOnly && !c.scanZombiesOnly() { // no earlier scan to confirm
		return false
	}
	if !c.scanZombiesOnly() {
		return false
	}
	c.log.Debug("process group holds only zombies that their parent does not reap; counting it gone")
	c.setGroupGone()
	return true
}

// zombieScanSoon makes the next groupEmpty scan for zombies at once if the
// group is still there, and back off from there: after a signal, the group
// may be down to zombies within milliseconds.
func (c *Child) zombieScanSoon() {
	c.zombieScanStep = zombieScanMin
	c.zombieScanAt = time.Time{}
}

// scanZombiesOnly scans /proc and reports whether the group has no live
// member (c.zombiesOnly).
func (c *Child) scanZombiesOnly() bool {
	procs, err := scanProcs()
	c.zombiesOnly = err == nil && groupZombiesOnly(procs, c.pid)
	return c.zombiesOnly
}

func groupZombiesOnly(procs []proc, pgid int) bool {
	for _, p := range procs {
		if p.pgrp == pgid && !p.dead() {
			return false
		}
	}
	return true
}

func (c *Child) setGroupGone() {
	c.mu.Lock()
	c.groupGone = true
	c.mu.Unlock()
}

// trackedAlive checks the tracked processes (the tree's, outside the
// group): those gone, replaced by another process of the same pid, or
// zombies are forgotten, after reaping those that are ours.
func (c *Child) trackedAlive() bool {
	if len(c.tracked) == 0 { // the usual case
		return false
	}
	buf := make([]byte, statBufSize)
	self := os.Getpid()
	alive := false
	for pid, start := range c.tracked {
		p, err := readStat(pid, buf)
		if err != nil || p.start != start {
			delete(c.tracked, pid)
			continue
		}
		if p.ppid == self && c.reap(pid) {
			delete(c.tracked, pid)
			continue
		}
		// A zombie not ours (or that we could not reap) will never run.
		if p.dead() {
			delete(c.tracked, pid)
			continue
		}
		alive = true
	}
	return alive
}

// reap reaps pid, a child of ours, if it has exited, and reports whether
// it did. It is false for a child still running and on ECHILD (not ours
// after all, or reaped by other code).
func (c *Child) reap(pid int) bool {
	var ws unix.WaitStatus
	for {
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err == nil && wpid == pid {
			c.log.Debug("reaped orphan", "orphan_pid", pid, "status", statusOf(ws).String())
			return true
		}
		return false
	}
}

// adoptOrphans scans for orphans of the tree that this process adopted,
// reaps those that have exited and tracks the others. It reports whether
// it found any, even one it just reaped: a process that an orphan left
// behind when it exited may have been read before it came to us, so only a
// scan that finds none at all proves that none remain. (A zombie that
// wait4 refuses us is not counted: it will never run, and would be found
// again forever.)
//
// When this process has no child at all, there is no orphan, nor any other
// process of the tree (see hasChildren), and no scan is made: the usual
// case, a command that ends leaving nothing behind.
func (c *Child) adoptOrphans() bool {
	if !hasChildren() {
		return false
	}
	registry.RLock()
	procs, err := scanProcs()
	if err != nil {
		registry.RUnlock()
		c.log.Warn("cannot list processes", "err", err)
		return true // unknown; try again at the next poll
	}
	self, selfPgrp := os.Getpid(), unix.Getpgrp()
	var orphans []proc
	for _, p := range procs {
		if c.adoptedLocked(p, self, selfPgrp) {
			orphans = append(orphans, p)
		}
	}
	registry.RUnlock()
	found := false
	for _, p := range orphans {
		switch {
		case c.reap(p.pid):
			found = true
		case !p.dead():
			c.tracked[p.pid] = p.start
			found = true
		}
	}
	return found
}
