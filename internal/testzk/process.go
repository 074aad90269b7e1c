package testzk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// process is one run of a server's JVM.
type process struct {
	proc *os.Process
	done chan struct{} // closed by the waiting goroutine once the JVM is reaped
	err  error         // from Wait; read only after done is closed
}

// launch starts argv with its output appended to log. The JVM gets SIGKILL
// when the test process dies, and runs in its own process group so that a
// ^C to the terminal's group reaches only the test process.
//
// The goroutine launch starts owns the JVM: it forks it, waits for it, and
// returns when it has exited, which Server.Kill and Server.Stop bring about.
func launch(argv []string, dir string, log *os.File) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits, not
		// the process, and the Go runtime ends a thread whenever a goroutine
		// exits while locked to it. Own the forking thread until the JVM is
		// gone, so no other goroutine can take it down with it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Stdout = log
		cmd.Stderr = log
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.proc = cmd.Process
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return p, nil
}

// exited reports whether the JVM has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the JVM has already exited.
func (p *process) signal(sig os.Signal) error {
	if p.exited() {
		return nil
	}
	// os.Process uses a pidfd, so a reaped and reused pid is never hit.
	if err := p.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send %v to pid %d: %w", sig, p.proc.Pid, err)
	}
	return nil
}
