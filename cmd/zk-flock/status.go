package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zk-flock/zk-flock/internal/config"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

// Exit statuses of --status.
const (
	// ExitHeld: --status found the lock (or a slot of it) held.
	ExitHeld = 0
	// ExitFree: --status found the lock (every slot) free.
	ExitFree = 1
)

// lockStatus is one line of --status and --list, and one object of their
// --json output.
type lockStatus struct {
	Lock    string  `json:"lock"`
	Node    string  `json:"node"`
	Slot    *int    `json:"slot,omitempty"`
	State   string  `json:"state"`            // "held" or "free"
	Client  string  `json:"client,omitempty"` // "zk-flock"; "original" for a non-JSON holder; "unknown" for a node we may not read
	Holder  *holder `json:"holder,omitempty"`
	Raw     string  `json:"raw,omitempty"` // the node's data when it is not zk-flock's JSON
	Since   string  `json:"since,omitempty"`
	HeldFor float64 `json:"held_for_seconds,omitempty"`
	Token   int64   `json:"token,omitempty"`
	Session string  `json:"session,omitempty"` // "persistent" for a node no session owns
	Waiting int     `json:"waiting"`
}

// status runs --status and --list: it reads the lock nodes, prints them and
// returns the exit status.
func status(o *options, cfg config.Config, stdout, stderr io.Writer) int {
	j := &job{o: o, cfg: cfg, log: discardLogger(), stderr: stderr}
	ctx := context.Background()
	sess, err := zklock.Connect(ctx, j.sessionOptions())
	if err != nil {
		return j.fail(ExitUnavailable, "%v", err)
	}
	defer sess.Close()
	root := "/" + cfg.AppID
	var infos []zklock.NodeInfo
	if o.list {
		infos, err = sess.List(ctx, root)
	} else {
		infos, err = sess.Inspect(ctx, root, o.lock, o.slots)
	}
	if err != nil {
		return j.fail(ExitUnavailable, "%v", err)
	}

	now := time.Now()
	rows := make([]lockStatus, len(infos))
	held := false
	for i, in := range infos {
		rows[i] = describe(in, o, now)
		held = held || in.Held
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return j.fail(ExitInternal, "write status: %v", err)
		}
	} else {
		printStatus(stdout, rows)
	}
	switch {
	case o.list:
		return ExitOK
	case held:
		return ExitHeld
	}
	return ExitFree
}

// describe turns a lock node into a status row.
func describe(in zklock.NodeInfo, o *options, now time.Time) lockStatus {
	r := lockStatus{Lock: in.Name, Node: in.Path, State: "free", Waiting: in.Waiters}
	if !o.list {
		r.Lock = o.lock
		if o.slots > 0 {
			slot, _ := strconv.Atoi(in.Name[strings.LastIndexByte(in.Name, '_')+1:])
			r.Slot = &slot
		}
	}
	if !in.Held {
		return r
	}
	r.State = "held"
	r.Since = in.Since.UTC().Format(time.RFC3339)
	// Whole milliseconds, divided once: no 1.7229999999999999 in JSON.
	r.HeldFor = float64(now.Sub(in.Since).Round(time.Millisecond).Milliseconds()) / 1000
	r.Token = in.Token
	r.Session = fmt.Sprintf("0x%x", in.Session)
	if in.Session == 0 {
		// Not ephemeral: no session's end will free it; someone must
		// delete it.
		r.Session = "persistent"
	}
	var h holder
	switch {
	case in.Unreadable:
		r.Client = "unknown" // its ACL does not let us read its data
	case json.Unmarshal(in.Data, &h) == nil && h.Host != "":
		r.Client, r.Holder = "zk-flock", &h
	default:
		// The original stored hostname followed by a UUID, as plain text.
		r.Client, r.Raw = "original", string(in.Data)
	}
	return r
}

// maxHolderColumn caps the HOLDER column of --status and --list, in bytes.
const maxHolderColumn = 80

// printStatus writes rows as an aligned table.
func printStatus(w io.Writer, rows []lockStatus) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no locks")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tHOLDER\tPID\tSINCE\tFOR\tTOKEN\tSESSION\tWAITING\tCOMMAND")
	for _, r := range rows {
		if r.State == "free" {
			fmt.Fprintf(tw, "%s\tfree\t-\t-\t-\t-\t-\t-\t%d\t-\n", printable(r.Node), r.Waiting)
			continue
		}
		// HOLDER, a column in the middle, sets every row's width:
		// whatever anyone wrote in a node, it is cut to keep the table
		// a table (--json has it whole). COMMAND, the last column,
		// widens its own row only.
		host, pid, cmd := truncate(printable(r.Raw), maxHolderColumn)+" (original client)", "-", "-"
		switch {
		case r.Client == "original" && r.Raw == "":
			host = "(original client, no data)"
		case r.Client == "unknown":
			host = "(node not readable: no READ permission)"
		case r.Holder != nil:
			host, pid, cmd = truncate(printable(r.Holder.Host), maxHolderColumn), strconv.Itoa(r.Holder.PID), printable(r.Holder.Command)
		}
		fmt.Fprintf(tw, "%s\theld\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n",
			printable(r.Node), host, pid, r.Since, time.Duration(r.HeldFor*float64(time.Second)).Round(time.Second), r.Token, r.Session, r.Waiting, cmd)
	}
	tw.Flush()
}

// discardLogger logs nowhere: --status and --list report on stdout and
// stderr only.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
