package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseArgs feeds parseArgs command lines: the input split at '\x1f'
// into arguments. parseArgs must never panic, and must either return a
// usage error of one line (run prints it as one line, exit 64), or options
// with a lock and a non-empty command (or --help, --version, --status,
// --list).
func FuzzParseArgs(f *testing.F) {
	for _, args := range [][]string{
		{"L", "true"},
		{"L", "sh -c 'echo \"a b\"'"},
		{"L", "echo 'unbalanced"},
		{"L", `echo "unbalanced`},
		{"L", `echo trailing\`},
		{"L", ""},
		{"L", "   "},
		{"L", "# only a comment"},
		{"-w", "1.5", "L", "--", "prog", "-x", "a b"},
		{"--", "L", "echo hi"},
		{"-n", "3", "-x", "300", "L", "x"},
		{"-n", "0", "L", "x"},
		{"-n", "99999999999999999999", "L", "x"},
		{"-p", "NOPE", "L", "x"},
		{"-w", "NaN", "L", "x"},
		{"-w", "-1", "L", "x"},
		{"-m", "nan", "L", "x"},
		{"--margin", "0.01", "L", "x"},
		{"--status", "L", "--json"},
		{"--list", "extra"},
		{"-c"},
		{"--confpath=\x00", "L", "x"},
		{"\x00", "\x00"},
		{"блокировка", "echo привет"},
		{"L", "--", ""},
		{"-x", "-1", "L", "x"},
		{"--bogus", "L", "x"},
		{"L", "x", "y", "z"},
		{"-", "x"},
		{"--help"},
		{"--version", "L"},
	} {
		f.Add(strings.Join(args, "\x1f"))
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x1f")
		o, err := parseArgs(args)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseArgs(%q): %T %v, want a *usageError", args, err, err)
			}
			if printable(err.Error()) != err.Error() {
				t.Fatalf("parseArgs(%q): error holds a control character or line break: %q", args, err)
			}
			return
		}
		if o == nil {
			t.Fatalf("parseArgs(%q): nil options and nil error", args)
		}
		if o.help || o.version || o.status || o.list || (o.lock == "" && o.argv == nil) {
			return // nothing to run (a hidden packaging option, say)
		}
		if len(o.argv) == 0 {
			t.Fatalf("parseArgs(%q): lock %q with no command", args, o.lock)
		}
		if o.exitCode < 0 || o.exitCode > 255 || o.slots < 0 || o.wait < 0 || o.minLock < 0 || o.grace < 0 {
			t.Fatalf("parseArgs(%q): out-of-range options %+v", args, o)
		}
	})
}

// FuzzSplitCommand checks the COMMAND string's word splitting: no panic,
// and the quoted form zk-flock logs (shellJoin) splits back into the same
// words, so that a logged command can be pasted into a shell.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{
		"true", "sh -c 'echo \"a b\"'", `a\ b "c d" 'e f'`, `'it'\''s'`, `"$HOME" \$x`,
		"echo 'unbalanced", `echo "unbalanced`, `trailing\`, "", " \t\n", "a#b #c", "x\x00y", "\xff",
		"многоязычный 'аргумент'", `""`, `''`, `"a\"b"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		o, err := parseArgs([]string{"L", cmd})
		if err != nil {
			if printable(err.Error()) != err.Error() {
				t.Fatalf("COMMAND %q: error holds a control character or line break: %q", cmd, err)
			}
			return
		}
		if o.help || o.version || o.status || o.list || o.generate != "" {
			return // COMMAND was taken for an option, as in "zk-flock L -h"
		}
		if len(o.argv) == 0 {
			t.Fatalf("COMMAND %q: accepted with no words", cmd)
		}
		joined := shellJoin(o.argv)
		again, err := splitCommand(joined)
		if err != nil || !reflect.DeepEqual(again, o.argv) {
			t.Fatalf("COMMAND %q: words %q, joined %q, split again %q (%v)", cmd, o.argv, joined, again, err)
		}
	})
}
