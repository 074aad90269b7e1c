// Command child is the command zk-flock runs under the lock in
// zk-flock-bench. It reports to the bench over a Unix socket, with
// CLOCK_MONOTONIC timestamps that the bench compares with its own:
//
//	child SOCKET        report "S pid ppid token t_start", then wait for "x";
//	                    on "x" report "X t_exit" and exit 0
//	child SOCKET group  as above, but first start a grandchild in the same
//	                    process group that holds the socket too, so that the
//	                    bench sees EOF only when the whole group is dead
//	child -measure PROG ARG...
//	                    run PROG (an absolute path) with stdout on /dev/null,
//	                    wait4 for it and print "wall_ns cpu_ns maxrss_kib
//	                    status" on stdout
//
// The bench measures whole processes through -measure rather than from its
// own process: Go forks with CLONE_VM, so a child's ru_maxrss starts at the
// RSS of the process that forked it (the kernel carries the old mm's
// high-water mark across exec). This launcher's RSS is a megabyte or two,
// the bench's with its plotting library tens.
//
// It is a separate, tiny program (no fmt, no net, no plotting library) so
// that its own start-up adds as little as possible to a handoff: t_start is
// read first thing in main, after the Go runtime's own start.
package main

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	t := now()
	if len(os.Args) == 2 && os.Args[1] == "-hold" {
		hold()
	}
	if len(os.Args) > 2 && os.Args[1] == "-measure" {
		measure(os.Args[2:])
	}
	if len(os.Args) < 2 {
		fail("usage: child SOCKET [group]")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket: " + err.Error())
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: os.Args[1]}); err != nil {
		fail("connect " + os.Args[1] + ": " + err.Error())
	}
	if len(os.Args) > 2 && os.Args[2] == "group" {
		// ForkExec dups the socket to fd 3 without close-on-exec.
		_, err := syscall.ForkExec(os.Args[0], []string{os.Args[0], "-hold"}, &syscall.ProcAttr{
			Files: []uintptr{0, 1, 2, uintptr(fd)},
		})
		if err != nil {
			fail("start grandchild: " + err.Error())
		}
	}
	msg := "S " + strconv.Itoa(os.Getpid()) + " " + strconv.Itoa(os.Getppid()) + " " + tokenOr0() + " " + strconv.FormatInt(t, 10) + "\n"
	write(fd, msg)
	var buf [64]byte
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			os.Exit(1) // the bench went away
		}
		for _, c := range buf[:n] {
			if c == 'x' {
				write(fd, "X "+strconv.FormatInt(now(), 10)+"\n")
				os.Exit(0)
			}
		}
	}
}

// measure runs argv, waits for it and prints its cost; it exits 0 whatever
// argv's status (which it prints), 2 if argv could not be run.
func measure(argv []string) {
	null, err := syscall.Open("/dev/null", syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		fail("open /dev/null: " + err.Error())
	}
	t0 := now()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, uintptr(null), 2},
	})
	if err != nil {
		fail("start " + argv[0] + ": " + err.Error())
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	t1 := now()
	if err != nil {
		fail("wait4: " + err.Error())
	}
	status := ws.ExitStatus()
	if ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	cpu := ru.Utime.Nano() + ru.Stime.Nano()
	os.Stdout.WriteString(strconv.FormatInt(t1-t0, 10) + " " + strconv.FormatInt(cpu, 10) + " " +
		strconv.FormatInt(ru.Maxrss, 10) + " " + strconv.Itoa(status) + "\n")
	os.Exit(0)
}

// hold keeps the inherited socket open until the process is killed.
func hold() {
	for {
		syscall.Pause()
	}
}

func tokenOr0() string {
	if t := os.Getenv("ZK_FLOCK_TOKEN"); t != "" {
		return t
	}
	return "0"
}

// now reads CLOCK_MONOTONIC in nanoseconds, the clock the bench reads too.
func now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		fail("clock_gettime: " + err.Error())
	}
	return ts.Nano()
}

func write(fd int, s string) {
	for b := []byte(s); len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fail("write: " + err.Error())
		}
		b = b[n:]
	}
}

func fail(msg string) {
	os.Stderr.WriteString("zk-flock-bench child: " + msg + "\n")
	os.Exit(2)
}
