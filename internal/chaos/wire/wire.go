// Package wire is the line protocol between the chaos harness and the
// worker program that zk-flock runs under the lock: one JSON object per
// line over a Unix stream socket.
//
// The worker reads CLOCK_MONOTONIC first thing, connects to the harness
// (path in $ZK_FLOCK_CHAOS_SOCK) and sends a Start message; the harness
// answers with one Plan saying how the worker behaves. From then on the
// worker reports Term (SIGTERM received), Spawn (a grandchild started),
// Write (a write to the harness's fenced toy resource) and Exit (about to
// exit by itself); the harness may send one Command ("exit").
//
// Every process of the worker's tree holds the socket open (grandchildren
// inherit it), so the harness sees end-of-file only once the whole tree is
// dead.
package wire

import "golang.org/x/sys/unix"

// Environment variables the harness gives zk-flock, which passes them on
// to the worker.
const (
	EnvSock    = "ZK_FLOCK_CHAOS_SOCK"    // the harness's Unix socket
	EnvClient  = "ZK_FLOCK_CHAOS_CLIENT"  // the client loop's name, e.g. "c3"
	EnvRun     = "ZK_FLOCK_CHAOS_RUN"     // the client loop's run number
	EnvMaxLife = "ZK_FLOCK_CHAOS_MAXLIFE" // seconds a worker or grandchild lives at most
)

// Message types, in the T field.
const (
	TStart = "start"
	TSpawn = "spawn"
	TTerm  = "term"
	TWrite = "write"
	TExit  = "exit"
	TError = "error"
)

// Msg is a worker's message. Mono is CLOCK_MONOTONIC in nanoseconds: the
// clock is system-wide, so the harness compares it with its own readings.
type Msg struct {
	T      string `json:"t"`
	Mono   int64  `json:"mono"`
	Pid    int    `json:"pid,omitempty"`
	PPid   int    `json:"ppid,omitempty"`   // start: zk-flock's pid
	Client string `json:"client,omitempty"` // start
	Run    int64  `json:"run,omitempty"`    // start
	Lock   string `json:"lock,omitempty"`   // start: $ZK_FLOCK_LOCK
	Token  int64  `json:"token,omitempty"`  // start, write: $ZK_FLOCK_TOKEN
	Slot   int    `json:"slot,omitempty"`   // start: $ZK_FLOCK_SLOT, -1 without
	Seq    int64  `json:"seq,omitempty"`    // write
	Setsid bool   `json:"setsid,omitempty"` // spawn: the grandchild left the session
	Err    string `json:"err,omitempty"`    // error
}

// Plan is the harness's answer to Start: how the worker behaves.
type Plan struct {
	// HoldMs is how long the worker runs before it exits by itself; 0 with
	// Forever: until told to exit, killed, or MaxLife.
	HoldMs  int64 `json:"hold_ms"`
	Forever bool  `json:"forever,omitempty"`
	// Stubborn workers ignore SIGTERM (they report it all the same).
	Stubborn bool `json:"stubborn,omitempty"`
	// Grandchildren is how many grandchildren stay in the process group;
	// StubbornKids makes them ignore SIGTERM; Setsid adds one that leaves
	// the group and the session (setsid), which only zk-flock's subreaper
	// sweep can find.
	Grandchildren int  `json:"grandchildren,omitempty"`
	StubbornKids  bool `json:"stubborn_kids,omitempty"`
	Setsid        bool `json:"setsid,omitempty"`
	// Leave makes a worker that exits by itself leave its grandchildren
	// running: zk-flock must stop them before it lets the lock go.
	Leave bool `json:"leave,omitempty"`
	// WriteMs is the period of writes to the toy resource; 0: none.
	WriteMs int64 `json:"write_ms,omitempty"`
}

// Command is a harness's later order to the worker.
type Command struct {
	Cmd string `json:"cmd"` // "exit"
}

// Now reads CLOCK_MONOTONIC in nanoseconds.
func Now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot happen on Linux
	}
	return ts.Nano()
}
