package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// commit is stamped at build time too (-X main.commit=0123456789ab), for
// builds without VCS information (-buildvcs=false, or outside the repository).
var commit = ""

// versionString says which build this is: version, VCS commit, Go version.
func versionString() string {
	rev := commit
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("zk-flock %s (commit %s, %s)", version, cmp.Or(rev, "unknown"), runtime.Version())
}

const usageHead = `Usage: zk-flock [options] LOCKNAME COMMAND
       zk-flock [options] LOCKNAME -- PROGRAM [ARG...]
       zk-flock [-c FILE] [-n N] [--json] --status LOCKNAME
       zk-flock [-c FILE] [--json] --list

Runs COMMAND on this host only while it holds the ZooKeeper lock LOCKNAME
(/<app_id>/LOCKNAME; with -n N, one of /<app_id>/LOCKNAME_0 … _N-1), so that
across a fleet at most one copy (N copies) runs at once. COMMAND is one
argument, split into words as the original did (Python's shlex.split: shell
quoting, no comments; no shell is run); after
--, the words are used as they are. Options may stand anywhere; long ones
may be shortened to a unique prefix (--conf).

Options:
`

const usageTail = `
The command gets ZK_FLOCK_TOKEN (fencing token: increases with every new
holder), ZK_FLOCK_LOCK (the lock node) and, with -n, ZK_FLOCK_SLOT.
Signals: SIGTERM and SIGINT stop the command (SIGTERM to its process group,
SIGKILL after the grace period); SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are
forwarded to it; SIGTSTP (Ctrl-Z) is refused: zk-flock must run to keep
the lock. SIGTTIN and SIGTTOU are ignored, by the command too: it is never
in the terminal's foreground, and most reads from the terminal fail (EIO).

Exit status:
`

// exitStatuses is the exit status table of --help and of the man page.
var exitStatuses = []struct{ status, meaning string }{
	{"the command's own", "the command ran; 128+N if it was killed by signal N"},
	{"-x STATUS (0)", "the lock is busy (after -w, still busy)"},
	{"1", "the load average is above maxla"},
	{"64", "bad options or arguments"},
	{"69", "ZooKeeper unreachable, or credentials refused"},
	{"70", "internal error"},
	{"75", "the lock was lost: the command was killed, or not started"},
	{"78", "configuration file missing, unreadable or invalid"},
	{"124", "--max-runtime ran out; the command was stopped"},
	{"126", "the command cannot be executed"},
	{"127", "the command was not found"},
	{"128+N", "zk-flock got signal N before the command started"},
}

// statusExits says how --status and --list exit.
const statusExits = "--status exits 0 when the lock is held, 1 when it is free; --list exits 0."

// printUsage writes --help.
func printUsage(w io.Writer) {
	var o options
	fs := newFlagSet(&o)
	fmt.Fprint(w, usageHead)
	fmt.Fprint(w, fs.FlagUsages())
	fmt.Fprint(w, usageTail)
	for _, e := range exitStatuses {
		fmt.Fprintf(w, "  %-21s %s\n", e.status, e.meaning)
	}
	fmt.Fprintln(w, statusExits)
}
