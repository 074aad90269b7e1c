package main

import (
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/config"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(*options) bool
	}{
		{"one command string", []string{"L", "sh -c 'echo \"a b\"'"}, func(o *options) bool {
			return o.lock == "L" && reflect.DeepEqual(o.argv, []string{"sh", "-c", `echo "a b"`})
		}},
		{"exec form", []string{"-w", "1.5", "L", "--", "prog", "-x", "a b"}, func(o *options) bool {
			return o.wait == 1500*time.Millisecond && reflect.DeepEqual(o.argv, []string{"prog", "-x", "a b"}) && o.command == "prog -x 'a b'"
		}},
		{"dash before lock", []string{"--", "L", "echo hi"}, func(o *options) bool {
			return o.lock == "L" && reflect.DeepEqual(o.argv, []string{"echo", "hi"})
		}},
		{"options after positionals", []string{"L", "true", "-l", "0", "-x", "3", "-n", "2", "--pdeathsig", "KILL"}, func(o *options) bool {
			return o.minLock == 0 && o.exitCode == 3 && o.slots == 2 && o.pdeathsig == syscall.SIGKILL
		}},
		{"defaults", []string{"L", "true"}, func(o *options) bool {
			return o.confPath == "/etc/distributed-flock.json" && o.minLock == 5*time.Second && o.pdeathsig == syscall.SIGTERM &&
				o.exitCode == 0 && o.wait == 0 && o.slots == 0 && !o.maxLASet && o.grace == config.DefaultGrace
		}},
		{"long options", []string{"--confpath", "c.json", "--daemonize", "--maxla", "2.5", "--sleep", "--wait", "500ms", "--exitcode", "9", "--minlocktime", "0.25", "L", "x"}, func(o *options) bool {
			return o.confPath == "c.json" && o.daemonize && o.maxLA == 2.5 && o.maxLASet && o.sleep && o.wait == 500*time.Millisecond && o.exitCode == 9 && o.minLock == 250*time.Millisecond
		}},
		{"signal forms", []string{"-p", "sigusr1", "L", "x"}, func(o *options) bool { return o.pdeathsig == syscall.SIGUSR1 }},
		{"signal number", []string{"-p", "9", "L", "x"}, func(o *options) bool { return o.pdeathsig == syscall.SIGKILL }},
		{"real-time signal number", []string{"-p", "34", "L", "x"}, func(o *options) bool { return o.pdeathsig == 34 }},
		{"real-time signal name", []string{"-p", "SIGRTMIN+1", "L", "x"}, func(o *options) bool { return o.pdeathsig == 35 }},
		{"real-time signal from the top", []string{"-p", "rtmax-2", "L", "x"}, func(o *options) bool { return o.pdeathsig == 62 }},
		{"sleep turned off", []string{"--sleep=false", "L", "x"}, func(o *options) bool { return !o.sleep && o.sleepSet }},
		{"status", []string{"--status", "L", "-n", "3", "--json"}, func(o *options) bool { return o.status && o.json && o.lock == "L" && o.slots == 3 }},
		{"list", []string{"--list"}, func(o *options) bool { return o.list }},
		{"unicode lock", []string{"блокировка", "true"}, func(o *options) bool { return o.lock == "блокировка" }},
		{"-n 0 is a plain lock, as the original's default", []string{"-n", "0", "L", "x"}, func(o *options) bool { return o.slots == 0 }},
		{"-p 0: no parent-death signal, as the original's", []string{"-p", "0", "L", "x"}, func(o *options) bool { return o.pdeathsig == 0 }},
		{"abbreviated long options, as the original's parser took them", []string{"--conf", "c.json", "--dae", "--max=2", "--sl", "--wa", "1", "--exit", "3", "--min", "0", "--pdeath", "KILL", "--marg", "0.5", "L", "x"}, func(o *options) bool {
			return o.confPath == "c.json" && o.daemonize && o.maxLA == 2 && o.sleep && o.wait == time.Second && o.exitCode == 3 && o.minLock == 0 && o.pdeathsig == syscall.SIGKILL && o.margin == 500*time.Millisecond
		}},
		{"an option's argument that looks like an option", []string{"-c", "--conf", "--metrics-file", "--wa", "L", "x"}, func(o *options) bool {
			return o.confPath == "--conf" && o.metrics == "--wa" && o.wait == 0 && o.lock == "L"
		}},
		{"a prefix of one of the original's options names it", []string{"--ma", "1", "L", "x"}, func(o *options) bool { return o.maxLA == 1 && o.maxRun == 0 }},
		{"nothing after -- is expanded", []string{"L", "--", "prog", "--conf"}, func(o *options) bool {
			return reflect.DeepEqual(o.argv, []string{"prog", "--conf"}) && o.confPath == "/etc/distributed-flock.json"
		}},
		{"bundled shorthands with an argument", []string{"-sl", "0", "L", "--", "prog", "--wa"}, func(o *options) bool {
			return o.sleep && o.minLock == 0 && reflect.DeepEqual(o.argv, []string{"prog", "--wa"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			if !tt.want(o) {
				t.Fatalf("parseArgs(%q) = %+v", tt.args, o)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		msg  string
	}{
		{nil, "got 0"},
		{[]string{"L"}, "got 1"},
		{[]string{"L", "a", "b"}, "got 3"},
		{[]string{"L", ""}, "COMMAND is empty"},
		{[]string{"L", "echo 'x"}, "no closing quotation"},
		{[]string{"L", `echo "x`}, "no closing quotation"},
		{[]string{"L", `echo x\`}, "no escaped character"},
		{[]string{"L", `echo "x\`}, "no escaped character"},
		{[]string{"-w", "-1", "L", "x"}, "must not be negative"},
		{[]string{"-w", "soon", "L", "x"}, "want a number of seconds"},
		{[]string{"-l", "NaN", "L", "x"}, "want a number of seconds"},
		{[]string{"-n", "-1", "L", "x"}, "0: a plain lock"},
		{[]string{"--m", "1", "L", "x"}, "--m is ambiguous: --maxla, --minlocktime, --margin, --max-runtime, --metrics-file"},
		{[]string{"L", "--", ""}, "PROG is empty"},
		{[]string{"-x", "256", "L", "x"}, "0-255"},
		{[]string{"-x", "-1", "L", "x"}, "0-255"},
		{[]string{"-p", "FOO", "L", "x"}, "unknown signal"},
		{[]string{"-p", "99", "L", "x"}, "unknown signal"},
		{[]string{"-p", "33", "L", "x"}, "unknown signal"},
		{[]string{"-p", "RTMIN+31", "L", "x"}, "unknown signal"},
		{[]string{"-p", "RTMIN-1", "L", "x"}, "unknown signal"},
		{[]string{"--margin", "0.001", "L", "x"}, "unsafe"},
		{[]string{"--frobnicate", "L", "x"}, "unknown flag"},
		{[]string{"L", "--"}, "LOCKNAME -- PROG"},
		{[]string{"L", "x", "--", "y"}, "only LOCKNAME may stand before --"},
		{[]string{"--status"}, "one LOCKNAME"},
		{[]string{"--list", "L"}, "no arguments"},
		{[]string{"--json", "L", "x"}, "--json goes with"},
		{[]string{"--status", "-w", "5", "L"}, "--wait does not go with --status"},
		{[]string{"--list", "-d"}, "--daemonize does not go with --status or --list"},
		{[]string{"--status", "L", "--max-runtime", "1"}, "--max-runtime does not go with"},
		{[]string{"--list", "-n", "2"}, "--semaphore does not go with --list"},
		{[]string{"--max-runtime", "1e-12", "L", "x"}, "below a millisecond"},
		{[]string{"-w", "1ns", "L", "x"}, "below a millisecond"},
		{[]string{"--status", "--list", "L"}, "exclude each other"},
	}
	for _, tt := range tests {
		_, err := parseArgs(tt.args)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("parseArgs(%q) = %v, want a usage error containing %q", tt.args, err, tt.msg)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("parseArgs(%q): message spans lines: %q", tt.args, err)
		}
	}
}

// TestSplitCommandAsTheOriginal: COMMAND is split into the words the
// original's shlex.split made of it. The expected words and errors are
// Python 3's shlex.split on the same strings (30,000 random strings of
// quotes, backslashes, blanks, # and $ agreed too, in a one-off run).
func TestSplitCommandAsTheOriginal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string // Python's message, lower-cased; ours says the same
	}{
		{`/x "a\nb" "e\tf" "a\.b"`, []string{`/x`, `a\nb`, `e\tf`, `a\.b`}, ""},
		{`grep -c "a\.b" f`, []string{`grep`, `-c`, `a\.b`, `f`}, ""},
		{`/x a #b c`, []string{`/x`, `a`, `#b`, `c`}, ""},
		{`#x`, []string{`#x`}, ""},
		{`"x\$y"`, []string{`x\$y`}, ""},
		{`a\ b 'c d' \"q\"`, []string{`a b`, `c d`, `"q"`}, ""},
		{`a"b c"d`, []string{`ab cd`}, ""},
		{`''`, []string{``}, ""},
		{`""`, []string{``}, ""},
		{`"a\"b\\c"`, []string{`a"b\c`}, ""},
		{`it'\''s`, nil, `no closing quotation`},
		{"a\tb\nc\rd", []string{`a`, `b`, `c`, `d`}, ""},
		{`\#x`, []string{`#x`}, ""},
		{`"\'"`, []string{`\'`}, ""},
		{`'\'`, []string{`\`}, ""},
		{`x ""y" "`, []string{`x`, `y `}, ""},
		{`  `, []string{}, ""},
		{`a\\b`, []string{`a\b`}, ""},
		{`"\\\\"`, []string{`\\`}, ""},
		{`é "ü"`, []string{`é`, `ü`}, ""},
		{`echo 'x`, nil, `no closing quotation`},
		{`echo "x`, nil, `no closing quotation`},
		{`echo x\`, nil, `no escaped character`},
		{`echo "x\`, nil, `no escaped character`},
	} {
		got, err := splitCommand(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(tc.err, ".")) {
				t.Errorf("splitCommand(%q) = %q, %v; want the error %q", tc.in, got, err, tc.err)
			}
		case err != nil || len(got)+len(tc.want) > 0 && !reflect.DeepEqual(got, tc.want):
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
