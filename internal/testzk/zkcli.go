package testzk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// zkCliJVMFlags start zkCli's JVM a little faster and stop it leaving
// /tmp/hsperfdata_* files; used unless the caller's environment sets
// JVMFLAGS.
const zkCliJVMFlags = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -XX:-UsePerfData"

// zkCliWaitDelay bounds the wait for zkCli's output after ctx ends and its
// process group is killed.
const zkCliWaitDelay = 5 * time.Second

// watcherBlock is what zkCli's default watcher prints once connected.
var watcherBlock = []string{"", "WATCHER::", "", "WatchedEvent state:SyncConnected type:None path:null"}

// ZkCli runs ZooKeeper's own command-line client, zkCli.sh -server server
// args..., non-interactively: one command such as "get", "/node" or
// "getAcl", "/node". It returns stdout and stderr combined, in order,
// without the connection chatter and SLF4J warnings, so "get /n" returns
// the node's data and a newline. Mind that zkCli prints some results to
// stderr ("Created /n"). A failed command (a missing node: exit status 1; an
// unknown command: 127; no connection) is an error wrapping *exec.ExitError
// and quoting the output's last line, with the output still returned. When
// ctx ends, zkCli and its JVM are killed.
func ZkCli(ctx context.Context, server string, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("zkCli: no command")
	}
	script, err := ZkCliPath()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, script, append([]string{"-server", server}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// zkCli.sh runs java as its child: kill the whole group on cancel.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = zkCliWaitDelay
	if os.Getenv("JVMFLAGS") == "" {
		cmd.Env = append(os.Environ(), "JVMFLAGS="+zkCliJVMFlags)
	}
	err = cmd.Run()
	text := cleanZkCli(out.String(), server)
	if err != nil {
		return text, fmt.Errorf("zkCli %s: %w: %s", strings.Join(args, " "), err, lastLine(text))
	}
	return text, nil
}

// cleanZkCli drops from zkCli's output the SLF4J warnings, the
// "Connecting to" line and the watcher's first event.
func cleanZkCli(out, server string) string {
	var lines []string
	for l := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(l, "SLF4J: ") {
			lines = append(lines, l)
		}
	}
	if i := slices.Index(lines, "Connecting to "+server); i >= 0 {
		lines = slices.Delete(lines, i, i+1)
	}
	for i := 0; i+len(watcherBlock) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(watcherBlock)], watcherBlock) {
			lines = slices.Delete(lines, i, i+len(watcherBlock))
			break
		}
	}
	return strings.Join(lines, "\n")
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
