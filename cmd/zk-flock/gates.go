package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// loadGates applies maxla and sleep before the lock is tried. It returns
// ok=false with the status to exit with when the command must not run.
func (j *job) loadGates(ctx context.Context) (status int, ok bool) {
	if j.cfg.MaxLA < 0 && !j.cfg.Sleep {
		return 0, true
	}
	la, err := loadAverage()
	if err != nil {
		return j.fail(ExitInternal, "%v", err), false
	}
	if j.cfg.MaxLA >= 0 && la > j.cfg.MaxLA {
		// A normal outcome on a busy host, as "busy" is: logged, not
		// said on stderr, or cron would mail it every time (the
		// original only logged it too).
		j.log.Warn("load average is above maxla; not running the command", "load", la, "maxla", j.cfg.MaxLA, "status", ExitLoad)
		return ExitLoad, false
	}
	if j.cfg.Sleep && la > 0 {
		// SIGTERM during the sleep gives up (see run): handled from now.
		j.startSignals()
		<-j.sigsReady
		d := time.Duration(la * float64(time.Second))
		j.log.Info("sleeping for the load average before trying the lock", "sleep", d)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return -1, false
		}
	}
	return 0, true
}

// loadAverage returns the 1-minute load average from /proc/loadavg.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, fmt.Errorf("read load average: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("read load average: /proc/loadavg is empty")
	}
	la, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("read load average: %w", err)
	}
	return la, nil
}
