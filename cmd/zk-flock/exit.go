package main

// Exit statuses of zk-flock itself. Besides these, zk-flock exits with the
// child's own status, 128+N when the child was killed by signal N, and the
// -x status when the lock is busy.
const (
	// ExitOK: the command ran and exited 0, or -d detached successfully.
	ExitOK = 0
	// ExitLoad: the load average is above maxla, as the original (1).
	ExitLoad = 1
	// ExitUsage: bad flags or arguments (sysexits EX_USAGE).
	ExitUsage = 64
	// ExitUnavailable: no ZooKeeper server reachable, or credentials
	// refused (sysexits EX_UNAVAILABLE).
	ExitUnavailable = 69
	// ExitInternal: an unexpected failure of zk-flock itself (EX_SOFTWARE).
	ExitInternal = 70
	// ExitLockLost: the lock was lost, or might have been, while the
	// command ran, or what it left running in its group after it exited;
	// they were killed (sysexits EX_TEMPFAIL: retry). Also when it was
	// lost as it was taken, before the command started.
	ExitLockLost = 75
	// ExitConfig: the configuration file is missing, unreadable or invalid
	// (sysexits EX_CONFIG).
	ExitConfig = 78
	// ExitTimeout: --max-runtime ran out and the command was stopped, as
	// timeout(1) reports it.
	ExitTimeout = 124
	// ExitCannotExec: the command was found but cannot be executed (as
	// POSIX shells report it).
	ExitCannotExec = 126
	// ExitNotFound: the command was not found (as POSIX shells report it).
	ExitNotFound = 127
	// ExitSignalBase: the child was killed by signal N: 128+N, as shells
	// report it; zk-flock interrupted before the child started exits the
	// same way for the signal it got.
	ExitSignalBase = 128
)
