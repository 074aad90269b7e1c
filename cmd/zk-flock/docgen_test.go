package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/zk-flock/zk-flock/internal/config"
)

// visibleFlags returns the flags of newFlagSet, split by whether they are
// hidden, straight from the FlagSet.
func visibleFlags(t *testing.T) (visible, hidden []*pflag.Flag) {
	t.Helper()
	var o options
	newFlagSet(&o).VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			hidden = append(hidden, f)
		} else {
			visible = append(visible, f)
		}
	})
	if len(visible) < 15 || len(hidden) == 0 {
		t.Fatalf("newFlagSet: %d visible and %d hidden flags, want at least 15 and 1", len(visible), len(hidden))
	}
	return visible, hidden
}

func gen(t *testing.T, what string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"--generate", what}, &out, &errb); code != ExitOK || errb.Len() > 0 || out.Len() == 0 {
		t.Fatalf("zk-flock --generate %s: exit %d, stderr %q, %d bytes out", what, code, errb.String(), out.Len())
	}
	return out.String()
}

// section returns the man page's section NAME, up to the next .SH.
func section(t *testing.T, man, name string) string {
	t.Helper()
	_, s, ok := strings.Cut(man, "\n.SH "+name+"\n")
	if !ok {
		t.Fatalf("man page has no section %s", name)
	}
	s, _, _ = strings.Cut(s, "\n.SH ")
	return s
}

func TestManPage(t *testing.T) {
	man := gen(t, "man")
	for _, s := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"} {
		section(t, man, s)
	}
	visible, hidden := visibleFlags(t)
	opts := section(t, man, "OPTIONS")
	for _, f := range visible {
		long := `\fB\-\-` + roff(f.Name) + `\fR`
		if !strings.Contains(opts, long) {
			t.Errorf("OPTIONS does not list --%s", f.Name)
		}
		if f.Shorthand != "" && !strings.Contains(opts, `\fB\-`+f.Shorthand+`\fR, `+long) {
			t.Errorf("OPTIONS does not give -%s for --%s", f.Shorthand, f.Name)
		}
	}
	for _, f := range hidden {
		if strings.Contains(man, `\-\-`+roff(f.Name)) {
			t.Errorf("the man page mentions the hidden --%s", f.Name)
		}
	}
	for _, want := range []string{`(default: /etc/distributed\-flock.json)`, `(default: 5)`, `(default: TERM)`} {
		if !strings.Contains(opts, want) {
			t.Errorf("OPTIONS lacks the default %s", want)
		}
	}
	exit := section(t, man, "EXIT STATUS")
	for _, e := range exitStatuses {
		if !strings.Contains(exit, ".B "+roff(e.status)+"\n"+roff(e.meaning)) {
			t.Errorf("EXIT STATUS lacks %q", e.status)
		}
	}
	env := section(t, man, "ENVIRONMENT")
	for _, v := range []string{envToken, envLock, envSlot} {
		if !strings.Contains(env, ".B "+v+"\n") {
			t.Errorf("ENVIRONMENT lacks %s", v)
		}
	}
	files := section(t, man, "FILES")
	if !strings.Contains(files, `/etc/distributed\-flock.json`) {
		t.Errorf("FILES lacks the configuration file")
	}
	// Every key the configuration file takes is described.
	for _, k := range config.Keys {
		if !slices.ContainsFunc(configKeys, func(c struct{ key, meaning string }) bool {
			return c.key == k || strings.HasPrefix(c.key, k+".")
		}) {
			t.Errorf("the man page's FILES does not describe the configuration key %q", k)
		}
	}
	// Text lines: nothing outside ASCII (groff reads Latin-1), no line
	// that roff would take for a request by mistake.
	for i, l := range strings.Split(man, "\n") {
		if strings.IndexFunc(l, func(r rune) bool { return r > 127 }) >= 0 {
			t.Errorf("line %d is not ASCII: %q", i+1, l)
		}
	}
}

func TestManDetailsNameFlags(t *testing.T) {
	var o options
	fs := newFlagSet(&o)
	for name := range manDetails {
		if f := fs.Lookup(name); f == nil || f.Hidden {
			t.Errorf("manDetails[%q]: no such visible flag", name)
		}
	}
}

// TestManRenders: groff and man(1) render the page with every warning on,
// and say nothing.
func TestManRenders(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is not installed (apt-get install groff-base)")
	}
	page := filepath.Join(t.TempDir(), "zk-flock.1")
	if err := os.WriteFile(page, []byte(gen(t, "man")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmds := [][]string{{"groff", "-man", "-Tutf8", "-ww", "-z", page}}
	if _, err := exec.LookPath("man"); err == nil {
		cmds = append(cmds, []string{"man", "--warnings=w", "-l", page})
	}
	for _, args := range cmds {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if args[0] == "man" && !strings.Contains(stdout.String(), "EXIT STATUS") {
			t.Errorf("man -l: no EXIT STATUS in\n%s", stdout.String())
		}
	}
}

func TestCompletionsListEveryFlag(t *testing.T) {
	visible, hidden := visibleFlags(t)
	for _, shell := range []string{"bash", "zsh"} {
		script := gen(t, shell)
		for _, f := range visible {
			names := []string{"--" + f.Name}
			if f.Shorthand != "" {
				names = append(names, "-"+f.Shorthand)
			}
			for _, n := range names {
				if !strings.Contains(script, n) {
					t.Errorf("%s completion lacks %s", shell, n)
				}
			}
		}
		var code []string // the script without its comments
		for l := range strings.SplitSeq(script, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				code = append(code, l)
			}
		}
		for _, f := range hidden {
			if strings.Contains(strings.Join(code, "\n"), "--"+f.Name) {
				t.Errorf("%s completion offers the hidden --%s", shell, f.Name)
			}
		}
	}
}

// TestBashCompletion runs the bash completion the way bash does, without
// the bash-completion package.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "zk-flock.bash")
	if err := os.WriteFile(script, []byte(gen(t, "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// complete returns what bash would offer for words, the last one being
	// completed.
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := `. "$1" && COMP_WORDS=(` + strings.Join(quoted, " ") + `) && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _zk_flock && printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog, "bash", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("complete %q: %v\n%s", words, err, out)
		}
		var got []string
		for s := bufio.NewScanner(bytes.NewReader(out)); s.Scan(); {
			if s.Text() != "" {
				got = append(got, s.Text())
			}
		}
		return got
	}
	tests := []struct {
		words []string
		want  []string // all offered
		none  bool     // nothing offered
	}{
		{words: []string{"zk-flock", "--con"}, want: []string{"--confpath"}},
		{words: []string{"zk-flock", "--max"}, want: []string{"--maxla", "--max-runtime"}},
		{words: []string{"zk-flock", "-p", "KI"}, want: []string{"KILL"}},
		{words: []string{"zk-flock", "--pdeathsig", "=", "te"}, want: []string{"TERM"}},
		{words: []string{"zk-flock", "-c", "con"}, want: []string{"conf.json"}},
		{words: []string{"zk-flock", "--metrics-file", "=", ""}, want: []string{"conf.json"}},
		{words: []string{"zk-flock", "-w", ""}, none: true},
		{words: []string{"zk-flock", ""}, none: true}, // LOCKNAME: free text
		{words: []string{"zk-flock", "-w", "5", "mylock", "bas"}, want: []string{"bash"}},
		{words: []string{"zk-flock", "-c", "x.json", "mylock", "--", "bas"}, want: []string{"bash"}},
		{words: []string{"zk-flock", "mylock", "--", "ls", "con"}, want: []string{"conf.json"}},
		{words: []string{"zk-flock", "--", "mylock", "bas"}, want: []string{"bash"}},
		{words: []string{"zk-flock", "mylock", "--gra"}, want: []string{"--grace"}},
	}
	for _, tt := range tests {
		got := complete(tt.words...)
		if tt.none && len(got) > 0 {
			t.Errorf("complete %q = %q, want nothing", tt.words, got)
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("complete %q = %q, want %q among them", tt.words, got, w)
			}
		}
	}
}

func TestZshCompletionParses(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh")
	}
	script := filepath.Join(t.TempDir(), "_zk-flock")
	if err := os.WriteFile(script, []byte(gen(t, "zsh")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}

func TestGenerateFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--generate", "fish"}, &out, &errb); code != ExitUsage || out.Len() > 0 || !strings.Contains(errb.String(), "want man, bash or zsh") {
		t.Errorf("--generate fish: exit %d, stdout %q, stderr %q; want %d and one line", code, out.String(), errb.String(), ExitUsage)
	}
	out.Reset()
	printUsage(&out)
	if strings.Contains(out.String(), "generate") {
		t.Errorf("--help mentions the hidden --generate:\n%s", out.String())
	}
}

// exampleConfigSHA256 pins packaging/distributed-flock.json, the package's
// conffile. dpkg keeps a host's edited copy on upgrade without asking only
// while the packaged example does not change; changed, it would prompt on
// every host whose copy was edited, and fail without a terminal. Change it
// only with a preinst that handles that (see packaging/README.md).
const exampleConfigSHA256 = "a2d9467e72a0ceb1462cb4d13e628f55061c5836273317ccbfe1994c96609507"

func TestPackagedExampleConfig(t *testing.T) {
	const path = "../../packaging/distributed-flock.json"
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the packaged example configuration does not load: %v", err)
	}
	if len(cfg.Hosts) == 0 || cfg.AppID == "" {
		t.Errorf("example configuration: %+v", cfg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != exampleConfigSHA256 {
		t.Errorf("%s changed (sha256 %x): see exampleConfigSHA256 before changing a conffile", path, sum)
	}
}

// TestSystemdExample: the example service's ExecStart is a valid zk-flock
// command line, and systemd waits for zk-flock's own stop (grace) before
// it kills.
func TestSystemdExample(t *testing.T) {
	b, err := os.ReadFile("../../packaging/examples/zk-flock-example.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keys[k] = v
		}
	}
	argv, err := splitCommand(keys["ExecStart"]) // systemd quotes as a shell does, for this line
	if err != nil || len(argv) < 3 || argv[0] != "/usr/bin/zk-flock" {
		t.Fatalf("ExecStart=%s: want /usr/bin/zk-flock ...", keys["ExecStart"])
	}
	o, err := parseArgs(argv[1:])
	if err != nil {
		t.Fatalf("ExecStart=%s: %v", keys["ExecStart"], err)
	}
	if o.wait == 0 || o.minLock <= o.wait {
		t.Errorf("ExecStart=%s: want -w, and -l above it so that a quick job does not run twice", keys["ExecStart"])
	}
	if keys["Type"] != "oneshot" || keys["KillMode"] != "mixed" {
		t.Errorf("want Type=oneshot and KillMode=mixed, got %q, %q", keys["Type"], keys["KillMode"])
	}
	stop, err := time.ParseDuration(keys["TimeoutStopSec"] + "s")
	if err != nil || stop <= 2*o.grace {
		t.Errorf("TimeoutStopSec=%s: want well above --grace %v", keys["TimeoutStopSec"], o.grace)
	}
}
