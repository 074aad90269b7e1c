package main

import (
	"encoding/json"
	"os"
	"time"
)

// holder is what zk-flock stores in the lock node: who holds the lock, for
// operators (and --status). The original stored hostname+UUID as plain
// text; those nodes are still recognised as held.
type holder struct {
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Started string `json:"started"` // RFC 3339, UTC
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
		Command: command,
		Version: version,
	}
	b, err := json.Marshal(h)
	if err != nil { // cannot happen: strings and ints only
		panic(err)
	}
	return b
}
