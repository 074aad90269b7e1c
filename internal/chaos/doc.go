// Package chaos is zk-flock's fault-injection suite: it proves, with real
// processes, that no two holders of a lock run at once whatever fails.
//
// An Env runs a real 3-server ZooKeeper ensemble on loopback (testzk) and
// client loops, each a "host" that runs the real zk-flock binary again and
// again, reaching every server through a faultproxy of its own, so that a
// fault can be injected for one client only. The command zk-flock runs is
// the worker (internal/chaos/worker): it reads CLOCK_MONOTONIC first thing,
// reports its start, fencing token and pid to the harness's Hub over a Unix
// socket, and behaves as the harness says (holds, ignores SIGTERM, starts
// grandchildren that stay in its group or call setsid, writes to a fenced
// toy Resource).
//
// The death of a holder is the death of the last process of its tree. As
// root, ProcWatch follows every fork and exit on the machine through the
// kernel's process events connector, whose timestamps are CLOCK_MONOTONIC:
// the death is known exactly, however late the harness looks, and whatever
// group, session or parent the processes moved to. Otherwise it is the end
// of file on the worker's socket, which every process of the tree holds:
// late by the harness's scheduling delay, so conservative.
//
// A Scenario injects one kind of fault on a fresh holder (an Episode); the
// History records every holder (Interval), every zk-flock run and every
// episode; Check finds overlapping holders of a lock and fencing tokens that
// did not grow; Analyze turns it all into the figures of
// docs/RELIABILITY.md. Run does the whole thing; cmd/zk-flock-chaos (make
// chaos, make chaos-smoke) and TestChaosSmoke call it.
package chaos
