package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a run, the values of the outcome label.
const (
	outcomeRan     = "ran"     // the command ran to its end
	outcomeBusy    = "busy"    // the lock was held elsewhere
	outcomeLost    = "lost"    // the lock was lost; the command was killed
	outcomeTimeout = "timeout" // --max-runtime ran out; the command was stopped
	outcomeError   = "error"   // anything else: bad config, ZooKeeper unreachable, ...
)

var outcomes = []string{outcomeRan, outcomeBusy, outcomeLost, outcomeTimeout, outcomeError}

// runMetrics is what one run reports to node_exporter's textfile collector.
type runMetrics struct {
	outcome string
	status  int
	waited  time.Duration // trying and waiting for the lock
	ran     time.Duration // the command's run time
	end     time.Time
}

// writeMetrics writes m for lock to path in the Prometheus text format,
// atomically (a temporary file renamed into place), so that the collector
// never reads half a file. Every outcome is written, 1 for this run's and
// 0 for the others, so that alerts can match on a stable set of series.
func writeMetrics(path, lock string, m runMetrics) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append([]string{"lock"}, labels...))
		reg.MustRegister(g)
		return g
	}
	outcome := gauge("zk_flock_last_outcome", "Outcome of the last run: 1 for the outcome it had, 0 for the others.", "outcome")
	for _, o := range outcomes {
		v := 0.0
		if o == m.outcome {
			v = 1
		}
		outcome.WithLabelValues(lock, o).Set(v)
	}
	gauge("zk_flock_last_exit_status", "Exit status of zk-flock's last run.").WithLabelValues(lock).Set(float64(m.status))
	gauge("zk_flock_last_wait_seconds", "Time the last run spent getting (or failing to get) the lock.").WithLabelValues(lock).Set(m.waited.Seconds())
	gauge("zk_flock_last_run_duration_seconds", "Run time of the last run's command; 0 if it did not run.").WithLabelValues(lock).Set(m.ran.Seconds())
	gauge("zk_flock_last_run_timestamp_seconds", "When the last run ended, in seconds since the epoch.").WithLabelValues(lock).Set(float64(m.end.UnixNano()) / 1e9)
	return prometheus.WriteToTextfile(path, reg)
}
