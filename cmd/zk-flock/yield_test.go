package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestYieldCPU runs yieldCPU in a child process (it cannot be undone) and
// checks that every thread of it is then in SCHED_IDLE.
func TestYieldCPU(t *testing.T) {
	if os.Getenv("ZK_FLOCK_TEST_YIELD") == "1" {
		if err := yieldCPU(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		tids, _ := os.ReadDir("/proc/self/task")
		for _, d := range tids {
			tid, _ := strconv.Atoi(d.Name())
			attr, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
			fmt.Printf("%d:%d\n", tid, attr.Policy)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestYieldCPU$")
	cmd.Env = append(os.Environ(), "ZK_FLOCK_TEST_YIELD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) < 2 {
		t.Fatalf("child listed %d threads, want several:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, fmt.Sprintf(":%d", unix.SCHED_IDLE)) {
			t.Errorf("thread %s is not in SCHED_IDLE (%d)", l, unix.SCHED_IDLE)
		}
	}
}
