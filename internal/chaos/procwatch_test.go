package chaos

import (
	"os/exec"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
)

func TestProcWatchFollowsEscapedDescendants(t *testing.T) {
	w, err := StartProcWatch()
	if err != nil {
		// Not root, or not in the initial network namespace: the harness
		// falls back to end-of-file times, and so does this test's subject.
		t.Skipf("process events connector unavailable: %v", err)
	}
	defer w.Close()
	start := wire.Now()
	// The shell exits at once; a grandchild in a new session lives on.
	cmd := exec.Command("sh", "-c", "(setsid sh -c 'sleep 0.4' &) ; exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	shellDone := wire.Now()
	if _, _, ok := w.TreeDeath(pid, start); ok {
		t.Fatalf("tree of %d reported dead while its setsid grandchild sleeps", pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		death, members, ok := w.TreeDeath(pid, wire.Now())
		if ok {
			if members < 3 {
				t.Errorf("tree has %d members, want at least 3 (shell, subshell, setsid sh, sleep)", members)
			}
			if d := time.Duration(death - shellDone); d < 300*time.Millisecond {
				t.Errorf("tree died %v after the shell, want about 400ms (the grandchild's sleep)", d)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree of %d not dead after 5 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
