package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/zk-flock/zk-flock/internal/testzk"
	"golang.org/x/sys/unix"
)

// machine describes where the bench ran and what it compared.
type machine struct {
	CPUs      int
	Model     string
	Memory    string
	Kernel    string
	Go        string
	ZooKeeper string
	Etcd      string
	Etcdctl   string
	Flock     string
}

func readMachine(e *env) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.Model = procField("/proc/cpuinfo", "model name")
	m.Memory = procField("/proc/meminfo", "MemTotal")
	var kb float64
	if _, err := fmt.Sscanf(m.Memory, "%g kB", &kb); err == nil {
		m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	if mn, err := testzk.Mntr(e.zkAddr); err == nil {
		m.ZooKeeper = mn["zk_version"]
	}
	m.Etcd = firstLine("etcd", "--version")
	m.Etcdctl = firstLine("etcdctl", "version")
	m.Flock = firstLine("flock", "--version")
	return m
}

// procField returns the value of the first "key : value" line of a /proc
// file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}

// firstLine runs a command and returns the first line of its output.
func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// gitDescribe names the commit zk-flock was built from: rev, or the work
// tree.
func gitDescribe(repo, rev string) string {
	args := []string{"describe", "--always", "--dirty"}
	if rev != "" {
		args = []string{"describe", "--always", rev}
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	if rev != "" {
		return strings.TrimSpace(string(out)) + " (git archive of " + rev + ")"
	}
	return strings.TrimSpace(string(out)) + " (work tree)"
}
