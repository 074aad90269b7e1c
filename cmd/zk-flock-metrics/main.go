// Command zk-flock-metrics writes one zk-flock run's metrics, atomically, as
// a Prometheus textfile for node_exporter's textfile collector. zk-flock
// runs it on exit when --metrics-file (or metrics_file) is set:
//
//	zk-flock-metrics PATH < run.json
//
// with the run as JSON on standard input (see internal/metrics.Run). It is
// a separate program so that zk-flock itself does not link the Prometheus
// client, whose initialisation every run would pay.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zk-flock/zk-flock/internal/metrics"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1  // the file could not be written
	exitUsage = 64 // bad arguments or input
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stderr))
}

func run(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintf(stderr, "%s: usage: %s PATH < run.json (zk-flock runs it for --metrics-file)\n", metrics.HelperName, metrics.HelperName)
		return exitUsage
	}
	var r metrics.Run
	dec := json.NewDecoder(io.LimitReader(stdin, 1<<16))
	if err := dec.Decode(&r); err != nil {
		fmt.Fprintf(stderr, "%s: reading the run from standard input: %v\n", metrics.HelperName, err)
		return exitUsage
	}
	if err := r.Check(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", metrics.HelperName, err)
		return exitUsage
	}
	if err := write(args[0], r); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", metrics.HelperName, err)
		return exitError
	}
	return exitOK
}

// write writes r to path in the Prometheus text format with the Prometheus
// client's textfile writer: a temporary file renamed into place, so that
// the collector never reads half a file. Every outcome is written, 1 for
// this run's and 0 for the others, so that alerts can match on a stable
// set of series.
func write(path string, r metrics.Run) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append([]string{"lock"}, labels...))
		reg.MustRegister(g)
		return g
	}
	outcome := gauge("zk_flock_last_outcome", "Outcome of the last run: 1 for the outcome it had, 0 for the others.", "outcome")
	for _, o := range metrics.Outcomes {
		v := 0.0
		if o == r.Outcome {
			v = 1
		}
		outcome.WithLabelValues(r.Lock, o).Set(v)
	}
	gauge("zk_flock_last_exit_status", "Exit status of zk-flock's last run.").WithLabelValues(r.Lock).Set(float64(r.Status))
	gauge("zk_flock_last_wait_seconds", "Time the last run spent getting (or failing to get) the lock.").WithLabelValues(r.Lock).Set(r.Wait)
	gauge("zk_flock_last_run_duration_seconds", "Run time of the last run's command; 0 if it did not run.").WithLabelValues(r.Lock).Set(r.Run)
	gauge("zk_flock_last_run_timestamp_seconds", "When the last run ended, in seconds since the epoch.").WithLabelValues(r.Lock).Set(r.End)
	err := prometheus.WriteToTextfile(path, reg)
	// Its errors name the temporary file, which the user never heard of.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("write %s: %w", path, pe.Err)
	}
	return err
}
