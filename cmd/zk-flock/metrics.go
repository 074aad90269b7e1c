package main

import (
	"context"
	"os"
	"time"

	"github.com/zk-flock/zk-flock/internal/metrics"
)

// runMetrics is what one run reports to node_exporter's textfile collector.
type runMetrics struct {
	outcome string // one of metrics.Outcomes
	status  int
	waited  time.Duration // trying and waiting for the lock
	ran     time.Duration // the command's run time
	end     time.Time
}

// writeMetrics writes m for lock to path in the Prometheus text format,
// atomically, through the zk-flock-metrics helper (see internal/metrics).
func writeMetrics(ctx context.Context, path, lock string, m runMetrics) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	helper, err := metrics.FindHelper(self)
	if err != nil {
		return err
	}
	return metrics.Write(ctx, helper, path, metrics.Run{
		Lock:    lock,
		Outcome: m.outcome,
		Status:  m.status,
		Wait:    m.waited.Seconds(),
		Run:     m.ran.Seconds(),
		End:     float64(m.end.UnixNano()) / 1e9,
	})
}
