package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/testzk"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

// TestE2EBadInput: every bad input gets its documented exit status and
// exactly one line on stderr, prints nothing on stdout, does not run the
// command and creates nothing in ZooKeeper.
func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	e2e(t)
	closedPort := testzk.RefusingPort(t)
	notExec := t.TempDir() + "/script.sh"
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\ntrue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := func(key string, v any) func(map[string]any) {
		return func(c map[string]any) { c[key] = v }
	}
	del := func(key string) func(map[string]any) {
		return func(c map[string]any) { delete(c, key) }
	}
	const touchMarker = "touch MARKER"
	for _, tc := range []struct {
		name string
		edit func(map[string]any) // of the configuration
		conf string               // the configuration's text instead, APP for the app_id
		args []string             // after -c CONF -l 0; CONF is replaced by the configuration's path
		want int
		subs []string // in the stderr line
		max  time.Duration
	}{
		{name: "missing config file", args: []string{"-c", "/nonexistent/dir/flock.json", "L", touchMarker},
			want: ExitConfig, subs: []string{"/nonexistent/dir/flock.json"}},
		{name: "config is a directory", args: []string{"-c", "DIR", "L", touchMarker},
			want: ExitConfig, subs: []string{"DIR"}},
		{name: "config path with a newline and an escape", args: []string{"-c", "/nonexistent/\x1b[31m\nfake: line", "L", touchMarker},
			want: ExitConfig, subs: []string{`/nonexistent/\x1b[31m\nfake: line`}},
		{name: "TLS CA file is /dev/zero", edit: set("tls", map[string]any{"ca_file": "/dev/zero"}),
			want: ExitConfig, subs: []string{"tls.ca_file", "larger than"}},
		{name: "invalid JSON", conf: "{\n  \"host\": [\"127.0.0.1:2181\"],\n  \"timeout\": 5,,\n  \"app_id\": \"APP\"\n}\n",
			want: ExitConfig, subs: []string{"line 3", "column"}},
		{name: "comments as in the seed README", conf: "{\n  \"host\": [\"127.0.0.1:2181\"],\n  \"timeout\": 5,\n  \"app_id\": \"APP\",\n  \"sleep\": \"ON\",    //ON or OFF - Default OFF\n  \"maxla\": 30\n}\n",
			want: ExitConfig, subs: []string{"line 5", "column"}},
		{name: "empty file", conf: "", want: ExitConfig},
		{name: "missing host", edit: del("host"), want: ExitConfig, subs: []string{`"host"`}},
		{name: "missing app_id", edit: del("app_id"), want: ExitConfig, subs: []string{`"app_id"`}},
		{name: "missing timeout", edit: del("timeout"), want: ExitConfig, subs: []string{`"timeout"`}},
		{name: "timeout a string", edit: set("timeout", "5"), want: ExitConfig, subs: []string{`"timeout"`}},
		{name: "host a string", edit: set("host", "h:1"), want: ExitConfig, subs: []string{`"host"`}},
		{name: "maxla a string", edit: set("maxla", "x"), want: ExitConfig, subs: []string{`"maxla"`}},
		{name: "app_id a number", edit: set("app_id", 7), want: ExitConfig, subs: []string{`"app_id"`}},
		{name: "empty host list", edit: set("host", []string{}), want: ExitConfig, subs: []string{`"host"`}},
		{name: "port out of range", edit: set("host", []string{"h:99999"}), want: ExitConfig, subs: []string{`"host"`, "99999"}},
		{name: "empty host name", edit: set("host", []string{":2181"}), want: ExitConfig, subs: []string{`"host"`}},
		{name: "bad level", edit: set("logger", map[string]any{"level": "LOUD"}), want: ExitConfig, subs: []string{`"logger.level"`}},
		{name: "ZooKeeper unreachable", edit: func(c map[string]any) {
			c["host"] = []string{"127.0.0.1:" + strconv.Itoa(closedPort)}
			c["timeout"] = 1
		}, want: ExitUnavailable, subs: []string{"127.0.0.1:" + strconv.Itoa(closedPort)}, max: 2500 * time.Millisecond},
		{name: "empty lock name", args: []string{"", touchMarker}, want: ExitUsage},
		{name: "lock name with slash", args: []string{"a/b", touchMarker}, want: ExitUsage, subs: []string{"a/b"}},
		{name: "lock name dot", args: []string{".", touchMarker}, want: ExitUsage},
		{name: "lock name dotdot", args: []string{"..", touchMarker}, want: ExitUsage},
		{name: "lock name of the wait queues", args: []string{zklock.QueueDir, touchMarker}, want: ExitUsage},
		{name: "lock name with a tab", args: []string{"a\tb", touchMarker}, want: ExitUsage},
		{name: "-w -1", args: []string{"-w", "-1", "L", touchMarker}, want: ExitUsage, subs: []string{"--help"}},
		{name: "-w not a number", args: []string{"-w", "soon", "L", touchMarker}, want: ExitUsage},
		{name: "-n -1", args: []string{"-n", "-1", "L", touchMarker}, want: ExitUsage},
		{name: "ambiguous long option", args: []string{"--m", "1", "L", touchMarker}, want: ExitUsage, subs: []string{"--m is ambiguous"}},
		{name: "empty PROG", args: []string{"L", "--", ""}, want: ExitUsage, subs: []string{"PROG is empty"}},
		{name: "-p FOO", args: []string{"-p", "FOO", "L", touchMarker}, want: ExitUsage, subs: []string{"FOO"}},
		{name: "-x 256", args: []string{"-x", "256", "L", touchMarker}, want: ExitUsage, subs: []string{"256"}},
		{name: "-x -1", args: []string{"-x", "-1", "L", touchMarker}, want: ExitUsage},
		{name: "-m not a number", args: []string{"-m", "high", "L", touchMarker}, want: ExitUsage},
		{name: "unknown flag", args: []string{"--frobnicate", "L", touchMarker}, want: ExitUsage, subs: []string{"frobnicate"}},
		{name: "no arguments", args: []string{}, want: ExitUsage},
		{name: "only LOCKNAME", args: []string{"L"}, want: ExitUsage},
		{name: "three arguments without --", args: []string{"L", "touch", "MARKER"}, want: ExitUsage},
		{name: "nothing after --", args: []string{"L", "--"}, want: ExitUsage},
		{name: "empty command", args: []string{"L", "  "}, want: ExitUsage},
		{name: "command not found", args: []string{"L", "no-such-command-zkflock MARKER"}, want: ExitNotFound, subs: []string{"no-such-command-zkflock"}},
		{name: "command path not found", args: []string{"L", "/nonexistent/bin/cmd"}, want: ExitNotFound, subs: []string{"/nonexistent/bin/cmd"}},
		{name: "command not executable", args: []string{"L", notExec}, want: ExitCannotExec, subs: []string{notExec}},
		{name: "command is a directory", args: []string{"L", "--", "DIR"}, want: ExitCannotExec},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.edit != nil {
				e = newEnv(t, tc.edit)
			}
			if tc.conf != "" || tc.name == "empty file" {
				e.writeConf(strings.ReplaceAll(tc.conf, "APP", e.app))
			}
			marker := e.path("marker")
			args := append([]string{"-c", e.conf, "-l", "0"}, tc.args...)
			if tc.args == nil {
				args = append(args, "L", touchMarker)
			}
			for i, a := range args {
				a = strings.ReplaceAll(a, "MARKER", marker)
				if a == "DIR" {
					a = e.dir
				}
				args[i] = a
			}
			r := startRaw(t, args...).wait()
			subs := []string{"zk-flock: "}
			for _, s := range tc.subs {
				if s == "DIR" {
					s = e.dir
				}
				subs = append(subs, s)
			}
			if r.code != tc.want {
				t.Errorf("want exit %d, got %v", tc.want, r)
			}
			oneStderrLine(t, tc.name, r, subs...)
			if max := orDefault(tc.max, 1500*time.Millisecond); r.dur > max {
				t.Errorf("took %v, want under %v", r.dur, max)
			}
			if fileExists(marker) {
				t.Error("the command ran")
			}
			if exists(t, e.checker(), e.root) {
				t.Errorf("%s was created in ZooKeeper", e.root)
			}
		})
	}
}

// orDefault returns a if it is set, else b.
func orDefault(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// TestE2EAuthFailed: a scheme ZooKeeper does not know is refused: exit 69
// with one line, nothing created.
func TestE2EAuthFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c map[string]any) { c["auth"] = map[string]any{"scheme": "nosuchscheme", "data": "x"} })
	marker := e.path("marker")
	r := e.run("L", "touch "+marker)
	if r.code != ExitUnavailable {
		t.Errorf("unknown auth scheme: want exit %d, got %v", ExitUnavailable, r)
	}
	oneStderrLine(t, "unknown auth scheme", r, "nosuchscheme")
	if strings.Contains(r.stderr, `"x"`) {
		t.Errorf("the credentials are echoed: %q", r.stderr)
	}
	if fileExists(marker) {
		t.Error("the command ran")
	}
	if exists(t, e.checker(), e.root) {
		t.Errorf("%s was created in ZooKeeper", e.root)
	}

	// Digest credentials are accepted: ZooKeeper checks them only against
	// ACLs (which security_e2e_test.go covers).
	e = newEnv(t, func(c map[string]any) { c["auth"] = map[string]any{"scheme": "digest", "data": "noxiouz:password"} })
	if r := e.run("L", "true"); r.code != 0 || r.stderr != "" {
		t.Errorf("digest auth: want exit 0 and nothing on stderr, got %v", r)
	}
}

// TestE2ECyrillicLockName: any script is fine in a lock name.
func TestE2ECyrillicLockName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	release := e.path("release")
	p := e.start("блокировка", `sh -c 'echo "$ZK_FLOCK_LOCK"; `+waitRelease(release)+`'`)
	waitNode(t, zc, e.node("блокировка"))
	touch(t, release)
	r := p.waitTimeout(10 * time.Second)
	if r.code != 0 || r.stdout != e.node("блокировка")+"\n" {
		t.Errorf("want exit 0 and ZK_FLOCK_LOCK=%s, got %v", e.node("блокировка"), r)
	}
}
