package chaos

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
)

// Interval is one holder: a worker that zk-flock started under the lock,
// from its first instruction to the death of the last process of its tree.
// Times are CLOCK_MONOTONIC nanoseconds.
type Interval struct {
	ID     int    `json:"id"`
	Lock   string `json:"lock"`  // the lock node, $ZK_FLOCK_LOCK, e.g. /chaos/s_1
	Group  string `json:"group"` // the lock as the clients name it: /chaos/s for a semaphore's slots
	Slots  int    `json:"slots"` // the semaphore's size; 1 for a plain lock
	Token  int64  `json:"token"`
	Client string `json:"client"`
	Run    int64  `json:"run"`
	Pid    int    `json:"pid"`
	Flock  int    `json:"flock_pid"` // zk-flock's pid (the worker's parent)
	Kids   []int  `json:"kids,omitempty"`

	Start int64 `json:"start"`
	Term  int64 `json:"term,omitempty"` // first SIGTERM the worker saw
	Exit  int64 `json:"exit,omitempty"` // the worker said it was exiting by itself
	// Seen is the latest time stamped on a message of the tree: proof that
	// it was running then, whatever the death measurement says.
	Seen int64 `json:"seen"`
	EOF  int64 `json:"eof,omitempty"` // the harness saw the socket's end: no process of the tree holds it
	// Death is when the last process of the tree died: the kernel's exit
	// time when the process connector is available (Exact), else EOF,
	// which can only be late.
	Death   int64 `json:"death,omitempty"`
	Exact   bool  `json:"exact,omitempty"`
	Members int   `json:"members,omitempty"` // processes of the tree (connector)

	Plan    wire.Plan `json:"plan"`
	Episode int       `json:"episode,omitempty"` // the fault episode it was chosen as victim of, 0: none

	writes   int
	rejected int

	done chan struct{} // closed when Death is known
	hub  *hubConn
}

// Alive reports whether the interval's death is not known yet.
func (iv *Interval) Alive() bool { return iv.Death == 0 }

// FlockRun is one zk-flock process started by a client loop.
type FlockRun struct {
	Client  string `json:"client"`
	Seq     int64  `json:"seq"`
	Group   string `json:"group"`
	Pid     int    `json:"pid"`
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
	Status  int    `json:"status"` // exit status; 128+N when killed by signal N
	Session string `json:"session,omitempty"`
	Token   int64  `json:"token,omitempty"`
	Lost    int64  `json:"lost,omitempty"` // "lock lost" logged (monotonic, from the log's wall time)
	LostErr string `json:"lost_err,omitempty"`
	Log     string `json:"log,omitempty"` // kept for runs that lost the lock or failed
}

// Write is one write to the toy resource.
type Write struct {
	Interval int    `json:"interval"`
	Lock     string `json:"lock"`
	Token    int64  `json:"token"`
	Mono     int64  `json:"mono"`
	Accepted bool   `json:"accepted"`
}

// History is everything a chaos run observed.
type History struct {
	mu        sync.Mutex
	intervals []*Interval
	runs      []*FlockRun
	episodes  []*Episode
	resource  *Resource
	changed   chan struct{} // closed and replaced on every change
	victims   map[string][]*victimReq
	planner   func(group string) wire.Plan
	procs     *ProcWatch
}

type victimReq struct {
	plan    wire.Plan
	episode int
	got     chan *Interval
}

// NewHistory returns an empty history. procs may be nil: deaths are then
// end-of-file times.
func NewHistory(procs *ProcWatch, planner func(group string) wire.Plan) *History {
	return &History{
		resource: NewResource(),
		changed:  make(chan struct{}),
		victims:  make(map[string][]*victimReq),
		planner:  planner,
		procs:    procs,
	}
}

// notify wakes the waiters; h.mu is held.
func (h *History) notify() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change.
func (h *History) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// groupOf maps a lock node to the lock its clients name: a semaphore's
// slot node /x/s_1 to /x/s when slots > 1.
func groupOf(lock string, slot int) string {
	if slot < 0 {
		return lock
	}
	if i := strings.LastIndexByte(lock, '_'); i > 0 {
		return lock[:i]
	}
	return lock
}

// ArmVictim makes the next holder of group follow plan; the returned
// channel receives that holder's interval.
func (h *History) ArmVictim(group string, episode int, plan wire.Plan) <-chan *Interval {
	r := &victimReq{plan: plan, episode: episode, got: make(chan *Interval, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.victims[group] = append(h.victims[group], r)
	return r.got
}

// Disarm drops the pending victim requests of group.
func (h *History) Disarm(group string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.victims, group)
}

// started records a worker's Start message and returns its interval and
// plan.
func (h *History) started(m wire.Msg, slots int, hc *hubConn) (*Interval, wire.Plan) {
	iv := &Interval{hub: hc,
		Lock: m.Lock, Group: groupOf(m.Lock, m.Slot), Slots: max(slots, 1), Token: m.Token,
		Client: m.Client, Run: m.Run, Pid: m.Pid, Flock: m.PPid, Start: m.Mono, Seen: m.Mono,
		done: make(chan struct{}),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	iv.ID = len(h.intervals) + 1
	var got chan *Interval
	if q := h.victims[iv.Group]; len(q) > 0 {
		r := q[0]
		h.victims[iv.Group] = q[1:]
		iv.Plan, iv.Episode, got = r.plan, r.episode, r.got
	} else {
		iv.Plan = h.planner(iv.Group)
	}
	h.intervals = append(h.intervals, iv)
	h.notify()
	if got != nil {
		got <- iv
	}
	return iv, iv.Plan
}

// event records a later message of an interval's worker.
func (h *History) event(iv *Interval, m wire.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	iv.Seen = max(iv.Seen, m.Mono)
	switch m.T {
	case wire.TTerm:
		if iv.Term == 0 {
			iv.Term = m.Mono
		}
	case wire.TExit:
		iv.Exit = m.Mono
	case wire.TSpawn:
		iv.Kids = append(iv.Kids, m.Pid)
	case wire.TWrite:
		iv.writes++
		if !h.resource.Write(iv.ID, iv.Lock, m.Token, m.Mono) {
			iv.rejected++
		}
	}
	h.notify()
}

// eof records that no process of the interval's tree holds its socket any
// more, and settles its death.
func (h *History) eof(iv *Interval, at int64) {
	h.mu.Lock()
	iv.EOF = at
	h.mu.Unlock()
	death, members, exact := at, 0, false
	if h.procs != nil {
		// The exit events are sent after the descriptors are closed, and
		// may be read a little after the end of file: wait for them.
		for range 400 {
			if d, n, ok := h.procs.TreeDeath(iv.Pid, iv.Start); ok {
				death, members, exact = d, n, true
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	h.mu.Lock()
	iv.Death, iv.Members, iv.Exact = death, members, exact
	close(iv.done)
	h.notify()
	h.mu.Unlock()
}

// AddRun records a finished zk-flock process.
func (h *History) AddRun(r *FlockRun) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, r)
	h.notify()
}

// AddEpisode records a fault episode and gives it its id.
func (h *History) AddEpisode(e *Episode) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.episodes = append(h.episodes, e)
	e.ID = len(h.episodes)
}

// Snapshot returns copies of everything recorded so far.
func (h *History) Snapshot() Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Snapshot{}
	for _, iv := range h.intervals {
		c := *iv
		c.done, c.hub = nil, nil
		s.Intervals = append(s.Intervals, c)
	}
	for _, r := range h.runs {
		s.Runs = append(s.Runs, *r)
	}
	for _, e := range h.episodes {
		s.Episodes = append(s.Episodes, *e)
	}
	s.Writes = append(s.Writes, h.resource.log...)
	return s
}

// Snapshot is a copy of a History, for the checker and the report.
type Snapshot struct {
	Intervals []Interval `json:"intervals"`
	Runs      []FlockRun `json:"runs"`
	Episodes  []Episode  `json:"episodes"`
	Writes    []Write    `json:"writes"`
}

// NextStart returns the first interval of group that started after t, or
// nil.
func (h *History) NextStart(group string, t int64) *Interval {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best *Interval
	for _, iv := range h.intervals {
		if iv.Group == group && iv.Start > t && (best == nil || iv.Start < best.Start) {
			best = iv
		}
	}
	return best
}

// Holders returns the intervals of group still alive.
func (h *History) Holders(group string) []*Interval {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Interval
	for _, iv := range h.intervals {
		if iv.Group == group && iv.Death == 0 {
			out = append(out, iv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// Alive returns every interval whose death is not known.
func (h *History) Alive() []*Interval {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Interval
	for _, iv := range h.intervals {
		if iv.Death == 0 {
			out = append(out, iv)
		}
	}
	return out
}

// Resource is the toy resource that fences writes with ZK_FLOCK_TOKEN: it
// remembers, per lock node, the highest token it has accepted, and rejects
// a write with a lower one, a stale holder's.
type Resource struct {
	highest map[string]int64
	log     []Write
}

// NewResource returns a resource that has accepted nothing.
func NewResource() *Resource { return &Resource{highest: make(map[string]int64)} }

// Write applies a write by the holder of lock with token, and reports
// whether it was accepted: compare-and-set of the highest token seen.
func (r *Resource) Write(interval int, lock string, token, mono int64) bool {
	ok := token >= r.highest[lock]
	if ok {
		r.highest[lock] = token
	}
	r.log = append(r.log, Write{Interval: interval, Lock: lock, Token: token, Mono: mono, Accepted: ok})
	return ok
}
