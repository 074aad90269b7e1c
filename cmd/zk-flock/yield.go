package main

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// yieldCPU puts every thread of this process in the SCHED_IDLE class: they
// run only when nothing else on the host wants the CPU. Threads started
// afterwards inherit the class.
//
// zk-flock calls it once it has released a lock that others queue for:
// one of them is about to start its command, maybe on this host, and what
// is left of this run (the answer to the close, the log and the metrics,
// and the exit, where the kernel spends a few hundred microseconds
// unmapping the process) is worth less than the head start. On an idle
// host it changes nothing; on a busy one this run may end later.
func yieldCPU() error {
	tids, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tids {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
		// ESRCH: the thread ended meanwhile.
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && err != unix.ESRCH {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
