package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/zk-flock/zk-flock/internal/config"
	"golang.org/x/sys/unix"
)

// defaultConfPath is where the original zk-flock reads its configuration.
const defaultConfPath = config.DefaultPath

// options is the parsed command line.
type options struct {
	confPath  string
	daemonize bool
	maxLA     float64
	sleep     bool
	wait      time.Duration
	exitCode  int
	slots     int
	minLock   time.Duration
	pdeathsig syscall.Signal
	grace     time.Duration
	margin    time.Duration
	maxRun    time.Duration
	metrics   string
	help      bool
	version   bool
	status    bool // --status LOCKNAME: show the lock instead of taking it
	list      bool // --list: show every lock under app_id
	json      bool // --status and --list as JSON

	generate string // --generate man|bash|zsh (hidden): the man page or a completion

	// Which of the options that the configuration file can also set were
	// given on the command line (flags win over the file).
	maxLASet, sleepSet, graceSet, marginSet, maxRunSet, metricsSet bool

	lock    string   // LOCKNAME
	argv    []string // the command as words
	path    string   // the executable argv[0] stands for
	command string   // the command as the user gave it, for logs
}

// usageError is a bad command line: exit status ExitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// newFlagSet defines every option on o. It is the one source of truth for
// the flags: --help is generated from it.
func newFlagSet(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("zk-flock", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard) // errors are reported by run, in one line
	fs.StringVarP(&o.confPath, "confpath", "c", defaultConfPath, "configuration `file`")
	fs.BoolVarP(&o.daemonize, "daemonize", "d", false, "detach and run in the background; exits 0 at once")
	fs.Float64VarP(&o.maxLA, "maxla", "m", -1, "do not run when the 1-minute load average is above `LOAD` (negative: no limit; overrides the config's maxla)")
	fs.BoolVarP(&o.sleep, "sleep", "s", false, "before trying the lock, sleep as many seconds as the 1-minute load average")
	fs.VarP(secondsValue{&o.wait}, "wait", "w", "wait up to `SECONDS` for a busy lock (fractions allowed) instead of giving up at once")
	fs.IntVarP(&o.exitCode, "exitcode", "x", 0, "exit `STATUS` (0-255) when the lock is busy")
	fs.IntVarP(&o.slots, "semaphore", "n", 0, "semaphore: hold one of `N` slots LOCKNAME_0 … LOCKNAME_{N-1} (0: a plain lock)")
	o.minLock = 5 * time.Second
	fs.VarP(secondsValue{&o.minLock}, "minlocktime", "l", "hold the lock at least `SECONDS` from acquisition")
	o.pdeathsig = syscall.SIGTERM
	fs.VarP(signalValue{&o.pdeathsig}, "pdeathsig", "p", "`SIGNAL` (number or name) the command gets if zk-flock dies (0: none)")
	o.grace = config.DefaultGrace
	fs.Var(secondsValue{&o.grace}, "grace", "`SECONDS` between SIGTERM and SIGKILL when the command is stopped; 0 kills at once (overrides the config's grace)")
	fs.Var(secondsValue{&o.margin}, "margin", "the command is dead at least `SECONDS` before the ZooKeeper session could expire (default from the config, else a tenth of the session timeout, at least 0.2)")
	fs.Var(secondsValue{&o.maxRun}, "max-runtime", "stop the command (SIGTERM, grace, SIGKILL) after `SECONDS` and exit 124 (default from the config, else no limit)")
	fs.StringVar(&o.metrics, "metrics-file", "", "on exit, write Prometheus metrics to `FILE` (node_exporter textfile collector; default from the config)")
	fs.BoolVar(&o.status, "status", false, "show whether LOCKNAME (each slot, with -n) is free or held, and by whom; exit 0 held, 1 free")
	fs.BoolVar(&o.list, "list", false, "show every lock under app_id and who holds it")
	fs.BoolVar(&o.json, "json", false, "with --status or --list: print JSON")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	fs.BoolVar(&o.version, "version", false, "show the version and exit")
	fs.StringVar(&o.generate, "generate", "", "write the man page or a shell completion (`man|bash|zsh`) to stdout, for packaging")
	_ = fs.MarkHidden("generate") // not for users: --help and the man page leave it out
	return fs
}

// runOnlyFlags are the options of a run, refused with --status and --list.
var runOnlyFlags = []string{"daemonize", "maxla", "sleep", "wait", "exitcode", "minlocktime", "pdeathsig", "grace", "margin", "max-runtime", "metrics-file"}

// parseArgs parses the command line: options anywhere, then LOCKNAME and
// either one COMMAND string, split as a POSIX shell splits words, or, after
// "--", the command's words as they are.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	args, err := expandPrefixes(fs, args)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, usagef("%s", printable(strings.TrimSpace(err.Error())))
	}
	if o.help || o.version || o.generate != "" {
		return o, nil
	}
	o.maxLASet = fs.Changed("maxla")
	o.sleepSet = fs.Changed("sleep")
	o.graceSet = fs.Changed("grace")
	o.marginSet = fs.Changed("margin")
	o.maxRunSet = fs.Changed("max-runtime")
	o.metricsSet = fs.Changed("metrics-file")
	if math.IsNaN(o.maxLA) {
		return nil, usagef("--maxla: not a number")
	}
	if o.exitCode < 0 || o.exitCode > 255 {
		return nil, usagef("--exitcode %d: must be 0-255", o.exitCode)
	}
	if o.slots < 0 {
		// 0 is the original's default: a plain lock.
		return nil, usagef("-n %d: want a number of slots (0: a plain lock)", o.slots)
	}
	if fs.Changed("margin") && o.margin < minMargin {
		return nil, usagef("--margin %v: below %v is unsafe (the command could outlive the lock)", o.margin, minMargin)
	}

	pos := fs.Args()
	dash := fs.ArgsLenAtDash()
	switch {
	case o.status && o.list:
		return nil, usagef("--status and --list exclude each other")
	case o.json && !o.status && !o.list:
		return nil, usagef("--json goes with --status or --list")
	case o.status || o.list:
		// The options of a run would be silently ignored.
		for _, name := range runOnlyFlags {
			if fs.Changed(name) {
				return nil, usagef("--%s does not go with --status or --list", name)
			}
		}
		if o.list && o.slots > 0 {
			return nil, usagef("--semaphore does not go with --list")
		}
	}
	switch {
	case o.status:
		if len(pos) != 1 {
			return nil, usagef("--status wants one LOCKNAME, got %d argument(s)", len(pos))
		}
		o.lock = pos[0]
		return o, nil
	case o.list:
		if len(pos) != 0 {
			return nil, usagef("--list takes no arguments, got %d", len(pos))
		}
		return o, nil
	case dash < 0 || dash == 0 && len(pos) == 2:
		// zk-flock LOCKNAME COMMAND (or: -- LOCKNAME COMMAND)
		if len(pos) != 2 {
			return nil, usagef("want LOCKNAME and COMMAND, got %d argument(s)", len(pos))
		}
		o.lock, o.command = pos[0], pos[1]
		words, err := splitCommand(o.command)
		if err != nil {
			return nil, usagef("COMMAND %q: %v", o.command, err)
		}
		if len(words) == 0 {
			return nil, usagef("COMMAND is empty")
		}
		o.argv = words
	case dash <= 1:
		// zk-flock LOCKNAME -- PROG ARG... (or: -- LOCKNAME PROG ARG...)
		if len(pos) < 2 {
			return nil, usagef("want LOCKNAME -- PROG [ARG...]")
		}
		o.lock, o.argv = pos[0], pos[1:]
		if o.argv[0] == "" {
			return nil, usagef("PROG is empty")
		}
		o.command = shellJoin(o.argv)
	default:
		return nil, usagef("only LOCKNAME may stand before --, got %d arguments", dash)
	}
	return o, nil
}

// originalLongFlags are the original's long options. Its parser (Python's
// optparse) took any unambiguous prefix of one ("--conf"), and scripts may
// rely on that.
var originalLongFlags = []string{"confpath", "daemonize", "maxla", "sleep", "wait", "exitcode", "minlocktime", "pdeathsig", "help"}

// expandPrefixes rewrites abbreviated long options to their full names, as
// the original accepted them: a prefix of exactly one of the original's
// options stands for it even where it is also the prefix of a newer one
// ("--max" is --maxla, not --max-runtime); any other prefix must name one
// option only. Exact names, the arguments of options, and everything after
// "--" are left as they are; an unknown option is left for the flag parser
// to report.
func expandPrefixes(fs *pflag.FlagSet, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...), nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			f := fs.Lookup(name)
			if f == nil {
				full, err := longPrefix(fs, name)
				if err != nil {
					return nil, err
				}
				if f = fs.Lookup(full); f != nil {
					a = "--" + full
					if hasValue {
						a += "=" + value
					}
				}
			}
			out = append(out, a)
			if f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
				i++ // its argument, whatever it looks like
				out = append(out, args[i])
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			out = append(out, a)
			// Shorthands, bundled: the first that takes an argument
			// takes the rest of a, or the next argument.
			for j := 1; j < len(a); j++ {
				f := fs.ShorthandLookup(a[j : j+1])
				if f == nil {
					break
				}
				if f.NoOptDefVal == "" {
					if j == len(a)-1 && i+1 < len(args) {
						i++
						out = append(out, args[i])
					}
					break
				}
			}
		default:
			out = append(out, a)
		}
	}
	return out, nil
}

// longPrefix returns the long option that prefix stands for (see
// expandPrefixes), or "" if none.
func longPrefix(fs *pflag.FlagSet, prefix string) (string, error) {
	if prefix == "" {
		return "", nil
	}
	var orig, all []string
	for _, name := range originalLongFlags {
		if strings.HasPrefix(name, prefix) {
			orig = append(orig, name)
		}
	}
	if len(orig) == 1 {
		return orig[0], nil
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && strings.HasPrefix(f.Name, prefix) {
			all = append(all, "--"+f.Name)
		}
	})
	switch len(all) {
	case 0:
		return "", nil
	case 1:
		return all[0][2:], nil
	}
	return "", usagef("--%s is ambiguous: %s", prefix, strings.Join(all, ", "))
}

// shellJoin quotes argv for display, so that it could be pasted back.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// secondsValue is a duration flag given in seconds ("1.5"), as the
// original's flags are, or as a Go duration ("1500ms").
type secondsValue struct{ d *time.Duration }

func (v secondsValue) String() string {
	if v.d == nil {
		return ""
	}
	return strconv.FormatFloat(v.d.Seconds(), 'f', -1, 64)
}

func (v secondsValue) Type() string { return "seconds" }

func (v secondsValue) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// parseSeconds reads a non-negative number of seconds or a Go duration.
func parseSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return 0, errors.New("want a number of seconds")
		}
		f = d.Seconds()
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errors.New("want a number of seconds")
	case f < 0:
		return 0, errors.New("must not be negative")
	case f > 0 && f < 1e-3:
		// Surely a mistake of unit; and below a nanosecond it would
		// round to 0, which means "no wait", "no limit", ...
		return 0, errors.New("below a millisecond")
	case f > maxSeconds:
		return 0, fmt.Errorf("more than %d seconds", int64(maxSeconds))
	}
	return time.Duration(f * float64(time.Second)), nil
}

// maxSeconds bounds duration flags well below time.Duration's ~292 years.
const maxSeconds = 100 * 365 * 24 * 3600

// signalValue is a signal flag: a number or a name, with or without "SIG",
// in any case; real-time signals as numbers (34-64) or as kill(1) names
// them, RTMIN+n and RTMAX-n.
type signalValue struct{ s *syscall.Signal }

func (v signalValue) String() string {
	switch {
	case v.s == nil:
		return ""
	case *v.s == 0:
		return "0"
	}
	return signalName(*v.s)
}

// Real-time signals as the C library leaves them to programs: 32 and 33
// are its own.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalName names sig without "SIG".
func signalName(sig syscall.Signal) string {
	if sig >= sigRTMin && sig <= sigRTMax {
		if sig-sigRTMin <= sigRTMax-sig {
			return "RTMIN" + plusMinus('+', int(sig-sigRTMin))
		}
		return "RTMAX" + plusMinus('-', int(sigRTMax-sig))
	}
	return strings.TrimPrefix(unix.SignalName(sig), "SIG")
}

func plusMinus(sign byte, n int) string {
	if n == 0 {
		return ""
	}
	return string(sign) + strconv.Itoa(n)
}

func (v signalValue) Type() string { return "signal" }

func (v signalValue) Set(s string) error {
	sig, err := parseSignal(s)
	if err != nil {
		return err
	}
	*v.s = sig
	return nil
}

func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n == 0 {
			return 0, nil // none, as prctl(PR_SET_PDEATHSIG, 0) and the original's -p 0
		}
		if unix.SignalName(syscall.Signal(n)) == "" && (n < sigRTMin || n > sigRTMax) {
			return 0, fmt.Errorf("unknown signal %d", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for _, rt := range []struct {
		prefix string
		base   int
		op     byte // '+' or '-'
		sign   int
	}{{"RTMIN", sigRTMin, '+', 1}, {"RTMAX", sigRTMax, '-', -1}} {
		rest, ok := strings.CutPrefix(name, rt.prefix)
		if !ok {
			continue
		}
		n := 0
		if rest != "" {
			if rest[0] != rt.op {
				break
			}
			var err error
			if n, err = strconv.Atoi(rest[1:]); err != nil || rest[1:] != strconv.Itoa(n) {
				break
			}
		}
		if sig := rt.base + rt.sign*n; sig >= sigRTMin && sig <= sigRTMax {
			return syscall.Signal(sig), nil
		}
		break
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
