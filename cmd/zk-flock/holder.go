package main

import (
	"encoding/json"
	"os"
	"time"
	"unicode/utf8"
)

// maxHolderCommand caps the command line kept in the lock node. The node
// only tells operators who holds the lock; a command line of a megabyte
// would make the create larger than the server accepts (jute.maxbuffer,
// 1 MiB by default), which it answers by dropping the connection, again
// at every retry.
const maxHolderCommand = 4096

// holder is what zk-flock stores in the lock node: who holds the lock, for
// operators (and --status). The original stored hostname+UUID as plain
// text; those nodes are still recognised as held.
type holder struct {
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Started string `json:"started"` // when this zk-flock set out for the lock, before any -s sleep or -w wait (RFC 3339, UTC); the node's ctime says when it took it
	Command string `json:"command"`
	Version string `json:"version"`
}

// holderData encodes this process as the lock holder.
func holderData(command string) []byte {
	host, _ := os.Hostname()
	h := holder{
		Host:    host,
		PID:     os.Getpid(),
		Started: time.Now().UTC().Format(time.RFC3339Nano),
		Command: truncate(command, maxHolderCommand),
		Version: version,
	}
	b, err := json.Marshal(h)
	if err != nil { // cannot happen: strings and ints only
		panic(err)
	}
	return b
}

// truncate cuts s to at most n bytes, at a character boundary, marking the
// cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
