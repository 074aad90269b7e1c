// Package metrics hands one zk-flock run's figures to zk-flock-metrics, the
// helper program that writes them as a Prometheus textfile for
// node_exporter's textfile collector.
//
// The writing is a separate program so that zk-flock itself does not link
// the Prometheus client: with the protobuf, YAML and procfs packages it
// pulls in, its initialisation costs every run over a millisecond and a
// few MiB, metrics or not. The helper runs only when metrics are asked
// for, after the lock has been released.
package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Outcomes of a run, the values of the outcome label.
const (
	OutcomeRan     = "ran"     // the command ran to its end
	OutcomeBusy    = "busy"    // the lock was held elsewhere
	OutcomeLost    = "lost"    // the lock was lost; the command was killed
	OutcomeTimeout = "timeout" // --max-runtime ran out; the command was stopped
	OutcomeStopped = "stopped" // zk-flock was told to stop (SIGTERM, SIGINT)
	OutcomeError   = "error"   // anything else: bad config, ZooKeeper unreachable, ...
)

// Outcomes lists every outcome, in the order they are written.
var Outcomes = []string{OutcomeRan, OutcomeBusy, OutcomeLost, OutcomeTimeout, OutcomeStopped, OutcomeError}

// Run is one run's figures, as zk-flock sends them to the helper (JSON on
// its standard input).
type Run struct {
	Lock    string  `json:"lock"`
	Outcome string  `json:"outcome"`
	Status  int     `json:"status"`           // zk-flock's exit status
	Wait    float64 `json:"wait_seconds"`     // getting, or failing to get, the lock
	Run     float64 `json:"run_seconds"`      // the command's run time; 0 if it did not run
	End     float64 `json:"end_unix_seconds"` // when the run ended
}

// Check reports what is wrong with r, if anything.
func (r Run) Check() error {
	if r.Lock == "" {
		return errors.New("no lock name")
	}
	for _, o := range Outcomes {
		if r.Outcome == o {
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q", r.Outcome)
}

// HelperName is the helper program's file name.
const HelperName = "zk-flock-metrics"

// LibDir is where the Debian package installs the helper.
const LibDir = "/usr/lib/zk-flock"

// FindHelper returns the helper beside the executable self (a build tree,
// go install) or else in LibDir (the Debian package).
func FindHelper(self string) (string, error) {
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	tried := []string{filepath.Dir(self), LibDir}
	for _, dir := range tried {
		p := filepath.Join(dir, HelperName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", HelperName, strings.Join(tried, " or "))
}

// helperTimeout bounds a helper run: it writes one small file.
const helperTimeout = 10 * time.Second

// Write runs helper to write r to path. Its error names what went wrong in
// one line, the helper's own message when it has one. The helper is killed
// when ctx ends, or after helperTimeout.
func Write(ctx context.Context, helper, path string, r Run) error {
	in, err := json.Marshal(r)
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, helper, path)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = &stderr
	// Once the helper is killed, whatever it left holding its stderr is
	// not waited for long.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		msg = strings.TrimPrefix(msg, HelperName+": ")
		switch {
		case parent.Err() != nil:
			return fmt.Errorf("%s interrupted", helper)
		case ctx.Err() != nil:
			return fmt.Errorf("%s did not finish within %v", helper, helperTimeout)
		case msg == "":
			return fmt.Errorf("%s: %w", helper, err)
		}
		return errors.New(msg)
	}
	return nil
}
