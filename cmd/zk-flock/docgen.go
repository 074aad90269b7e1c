package main

// The man page and the shell completions are generated from newFlagSet,
// the one source of truth for the flags, by the hidden --generate flag;
// packaging runs it at build time (packaging/build-deb.sh).

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// generators are what --generate writes.
var generators = map[string]func(io.Writer) error{
	"man":  writeMan,
	"bash": writeBashCompletion,
	"zsh":  writeZshCompletion,
}

// generate writes the man page or a completion script to stdout and
// returns the exit status.
func generate(what string, stdout, stderr io.Writer) int {
	gen, ok := generators[what]
	if !ok {
		say(stderr, "--generate %q: want man, bash or zsh (see zk-flock --help)", what)
		return ExitUsage
	}
	if err := gen(stdout); err != nil {
		say(stderr, "--generate %s: %v", what, err)
		return ExitInternal
	}
	return ExitOK
}

// docFlag is one user-visible flag as the documentation shows it.
type docFlag struct {
	name, short string // "confpath", "c"; short may be empty
	arg         string // the argument's name ("FILE"), empty for a switch
	usage       string // the usage text, without backquotes
	def         string // the default worth showing, or empty
	kind        argKind
}

// argKind is what a flag's argument is, for completion.
type argKind int

const (
	argNone   argKind = iota // a switch
	argText                  // free text: a number, seconds, a name
	argFile                  // a file name
	argSignal                // a signal name or number
)

// docFlags returns the flags of newFlagSet that are not hidden, in the
// order --help lists them.
func docFlags() []docFlag {
	var o options
	fs := newFlagSet(&o)
	var out []docFlag
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		arg, usage := pflag.UnquoteUsage(f)
		d := docFlag{name: f.Name, short: f.Shorthand, usage: usage}
		switch {
		case f.NoOptDefVal != "": // a switch: --daemonize, --status
			d.kind = argNone
		case f.Value.Type() == "signal":
			d.arg, d.kind = arg, argSignal
		case strings.EqualFold(arg, "file"):
			d.arg, d.kind = arg, argFile
		default:
			d.arg, d.kind = arg, argText
		}
		// The usage text says it when the default depends on the
		// configuration file; otherwise show a default that is not empty.
		if d.kind != argNone && !strings.Contains(usage, "default") {
			switch f.DefValue {
			case "", "0", "[]":
			default:
				d.def = f.DefValue
			}
		}
		out = append(out, d)
	})
	return out
}

// manDetails says more in the man page about some flags than --help has
// room for. Keys are flag names (a test checks that each still exists).
var manDetails = map[string]string{
	"daemonize": "It first checks the configuration and the command, then starts a copy of itself in a new session " +
		"(standard streams on /dev/null, working directory /, umask 022), which takes the lock and runs the command.",
	"maxla": "The load average is read from /proc/loadavg; above the limit, zk-flock exits 1 without trying the lock, as the original did.",
	"wait": "Waiters queue in ZooKeeper (ephemeral sequential nodes under /<app_id>/.zk-flock-queues/LOCKNAME/, " +
		"with -n under /<app_id>/.zk-flock-slot-queues/LOCKNAME/) " +
		"and are served first come, first served: a waiter takes a free lock at once only when nobody queues, and a release wakes exactly one waiter. " +
		"A waiter killed with SIGKILL keeps its place until its session expires (the session timeout), and those behind it wait that long. " +
		"ZooKeeper trouble while waiting (no server reachable, the session lost) is waited out too, with a new session that queues again; " +
		"if it lasts until the wait ends, zk-flock exits 69 (with no server reachable, after the wait or after the timeout, whichever is longer).",
	"semaphore": "The slots are the nodes /<app_id>/LOCKNAME_0 to /<app_id>/LOCKNAME_{N-1}, as the original's -n; " +
		"the command gets its slot in ZK_FLOCK_SLOT.",
	"minlocktime": "Counted from acquisition: a command that runs longer is not delayed. " +
		"It keeps a job that is quick on one host from running again on another host in the same minute.",
	"pdeathsig": "Sent by the kernel even when zk-flock is killed with SIGKILL, to the direct child only: what the command started keeps running. " +
		"A command that ignores SIGTERM survives its supervisor's death with the default; use -p KILL where that matters, and stop zk-flock with SIGTERM, which stops the whole group.",
	"grace": "Applies whenever zk-flock stops the command: on SIGTERM or SIGINT, on --max-runtime, " +
		"and before the ZooKeeper session could expire. 0 sends SIGKILL at once.",
	"margin": "zk-flock knows when the ZooKeeper leader last answered it, so it knows the earliest moment " +
		"the session could expire and another host could take the lock (about 0.65 of the session timeout later): " +
		"it sends SIGTERM up to a grace period (at most a quarter of that time) before that moment minus the margin, and SIGKILL at it. " +
		"Values below 0.05, or above a third of that time, are refused.",
	"metrics-file": "Written atomically (a temporary file renamed into place) on every exit after the arguments are read, labelled by lock: " +
		"zk_flock_last_outcome (ran, busy, lost, timeout, stopped, error), zk_flock_last_exit_status, zk_flock_last_wait_seconds, " +
		"zk_flock_last_run_duration_seconds and zk_flock_last_run_timestamp_seconds. " +
		"Give each job its own file. A file that cannot be written is a warning; the exit status is unchanged. " +
		"The helper zk-flock-metrics writes it, found beside the zk-flock executable or in /usr/lib/zk-flock.",
	"status": "Shows the node, its state, holder host and pid, since when, the fencing token, the session and the number of waiters. " +
		"A node written by the original zk-flock shows as held by an \"original\" client. An unknown lock is free.",
}

// envDocs are the variables the command gets, for the man page.
var envDocs = []struct{ name, meaning string }{
	{envToken, "the fencing token: the lock node's creation zxid, larger for every later holder of the lock. " +
		"Pass it to storage that can reject writes from an older holder."},
	{envLock, "the lock node, for example /my_application_namespace/nightly-report."},
	{envSlot, "with -n: the index of the semaphore slot held, 0 to N-1."},
}

// configKeys are the keys of the configuration file, for the man page.
var configKeys = []struct{ key, meaning string }{
	{"host", "ZooKeeper servers, a list of \"host:port\" (a missing port means 2181). Required."},
	{"timeout", "seconds: the connect timeout and the requested session timeout. Required."},
	{"app_id", "namespace: locks live at /<app_id>/LOCKNAME. Required."},
	{"sleep", "\"ON\" or \"OFF\": sleep for the load average before trying (as -s). Default \"OFF\"."},
	{"maxla", "do not run above this 1-minute load average (as -m); negative: no limit. Default -1."},
	{"logger.path", "log file, reopened when logrotate moves it; \"stderr\" logs to standard error. Writes never block zk-flock: an output that stops taking data gets them later (up to 1024 queued, then the oldest dropped and counted), and at exit zk-flock waits at most a second for it. Default /dev/null."},
	{"logger.level", "zk-flock's messages: ERROR, WARN, INFO or DEBUG, in any case (Python's WARNING, CRITICAL and FATAL too). Default INFO."},
	{"logger.zklevel", "the ZooKeeper client's messages, same levels. Default WARN."},
	{"logger.format", "\"text\" (the original's lines) or \"json\". Default \"text\"."},
	{"auth.scheme, auth.data", "credentials added before any node is touched, e.g. \"digest\" and \"user:password\"."},
	{"grace", "seconds, as --grace (0: SIGKILL at once). Default 5."},
	{"max_runtime", "seconds, as --max-runtime. Default 0: no limit."},
	{"metrics_file", "as --metrics-file."},
	{"margin", "seconds, as --margin. Default a tenth of the session timeout, at least 0.2."},
	{"acl", "who may change and delete the nodes zk-flock creates: \"creator\" (only the auth identity; everyone may read) or \"world\" (as the original). Default \"creator\" with auth, else \"world\"."},
	{"tls.ca_file", "PEM CA certificates of the servers; any tls key turns TLS on (use the servers' secureClientPort). Default the system's CAs."},
	{"tls.cert_file, tls.key_file", "PEM client certificate and key, for mutual TLS (both or neither)."},
	{"tls.server_name", "the name the servers' certificates must carry. Default each host as written."},
}

// manDate is the man page's date: SOURCE_DATE_EPOCH when set, so that a
// package build is reproducible, else today.
func manDate() string {
	t := time.Now()
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		t = time.Unix(s, 0)
	}
	return t.UTC().Format("2006-01-02")
}

// roff escapes text for a roff text line: backslashes, hyphens (so that
// options can be copied), characters outside ASCII and a leading control
// character.
func roff(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > unicode.MaxASCII:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if strings.HasPrefix(out, ".") || strings.HasPrefix(out, "'") {
		out = `\&` + out
	}
	return out
}

// writeMan writes the man page zk-flock(1) in roff.
func writeMan(w io.Writer) error {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	para := func(text string) { p(".PP"); p("%s", roff(text)) }

	p(`.\" Generated by "zk-flock --generate man" from its flag definitions; do not edit.`)
	p(`.TH ZK\-FLOCK 1 "%s" "zk\-flock %s" "User Commands"`, manDate(), roff(version))
	p(".nh")   // no hyphenation: option and metric names stay whole
	p(".ad l") // ragged right
	p(".SH NAME")
	p(`zk\-flock \- run a command only while holding a ZooKeeper lock`)

	p(".SH SYNOPSIS")
	p(`.B zk\-flock`)
	p(`[\fIoptions\fR] \fILOCKNAME\fR \fICOMMAND\fR`)
	p(".br")
	p(`.B zk\-flock`)
	p(`[\fIoptions\fR] \fILOCKNAME\fR \fB\-\-\fR \fIPROGRAM\fR [\fIARG\fR...]`)
	p(".br")
	p(`.B zk\-flock`)
	p(`[\fB\-c\fR \fIFILE\fR] [\fB\-n\fR \fIN\fR] [\fB\-\-json\fR] \fB\-\-status\fR \fILOCKNAME\fR`)
	p(".br")
	p(`.B zk\-flock`)
	p(`[\fB\-c\fR \fIFILE\fR] [\fB\-\-json\fR] \fB\-\-list\fR`)

	p(".SH DESCRIPTION")
	p(`.B zk\-flock`)
	p("%s", roff("runs COMMAND on this host only while it holds the lock LOCKNAME in ZooKeeper, "+
		"so that across a fleet at most one copy of a job runs at once (with -n N, at most N copies): "+
		"the same cron job on fifty hosts, one runs. It is a drop-in replacement for the original Python zk-flock: "+
		"same options, same configuration file, same ZooKeeper nodes, so the two exclude each other on a mixed fleet."))
	para("The lock is the ephemeral node /<app_id>/LOCKNAME (with -n N, the first free of /<app_id>/LOCKNAME_0 to " +
		"/<app_id>/LOCKNAME_{N-1}); whoever's session owns the node holds the lock. A busy lock makes zk-flock exit at once " +
		"with the -x status, or, with -w, wait in line for it.")
	para("COMMAND is one argument, split into words as the original split it, with Python's shlex.split: quotes group words " +
		"as in a POSIX shell, but # is an ordinary character, and inside double quotes a backslash escapes only \" and \\; no shell is run, " +
		"so use sh -c '...' for pipes and &&. After --, the words are used as they are. Options may stand before or after " +
		"LOCKNAME and COMMAND. A long option may be shortened to any prefix that names it alone (--conf), as the original's " +
		"parser allowed; a prefix of one of the original's options means that one (--max is --maxla).")
	para("The command starts only once the lock is held, in its own process group. When it exits, whatever it left " +
		"running in its group is stopped too; zk-flock then waits out -l, closes its session, which removes the lock node " +
		"at once, and exits with the command's status.")
	para("When ZooKeeper becomes unreachable, zk-flock kills the command before its session could expire, that is before " +
		"any other host could take the lock: SIGTERM to the process group, then SIGKILL (see --grace and --margin). " +
		"If the lock node is deleted or the session expires, the command is killed at once and zk-flock exits 75 " +
		"(also when only what the command left running in its group was still being stopped).")
	para("Standard output belongs to the command: zk-flock never writes there (cron mails any output). Its own messages " +
		"go to the log file, and errors also to standard error. A busy lock is the normal outcome on every host but one, " +
		"so it is only logged.")

	p(".SH OPTIONS")
	para("Every SECONDS takes fractions (0.5) or a Go duration (500ms, 2m); a positive value below a millisecond is refused. " +
		"--status and --list take only -c, -n (with --status) and --json.")
	for _, f := range docFlags() {
		p(".TP")
		head := `\fB\-\-` + roff(f.name) + `\fR`
		if f.short != "" {
			head = `\fB\-` + roff(f.short) + `\fR, ` + head
		}
		if f.arg != "" {
			head += ` \fI` + roff(f.arg) + `\fR`
		}
		p("%s", head)
		text := f.usage
		if f.def != "" {
			text += " (default: " + f.def + ")"
		}
		p("%s.", roff(text))
		if d, ok := manDetails[f.name]; ok {
			p("%s", roff(d))
		}
	}

	p(".SH EXIT STATUS")
	for _, e := range exitStatuses {
		p(".TP")
		p(`.B %s`, roff(e.status))
		p("%s.", roff(e.meaning))
	}
	para(statusExits)

	p(".SH SIGNALS")
	para("SIGTERM and SIGINT stop the command: SIGTERM to its process group, SIGKILL after the grace period; " +
		"a second one kills at once. SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to the command (SIGHUP with SIGCONT to its process group, so that a stopped command acts on it). " +
		"SIGTSTP (Ctrl-Z) is refused, with a line on standard error, and SIGTTIN and SIGTTOU are ignored, by the command too: " +
		"a stopped zk-flock could not keep its session while the command, in a process group of its own, ran on; " +
		"and a command that reads the terminal, where it is never in the foreground, gets an error instead of stopping with the lock held. " +
		"Before the command starts, SIGTERM and SIGINT make zk-flock give up and the others are ignored; " +
		"in its first few milliseconds, until its first connection to a server is open (at most 20 ms more while a server does not answer), " +
		"long before it can take the lock, a signal still has its default effect.")

	p(".SH ENVIRONMENT")
	para("The command gets, besides zk-flock's own environment:")
	for _, e := range envDocs {
		p(".TP")
		p(`.B %s`, roff(e.name))
		p("%s", roff(e.meaning))
	}
	para("zk-flock itself runs with GOMAXPROCS=1 and GOGC=200 unless they are set in its environment; " +
		"the command does not inherit these settings.")

	p(".SH FILES")
	p(".TP")
	p(`.I %s`, roff(defaultConfPath))
	p("%s", roff("The configuration, strict JSON (no comments), read by the original zk-flock too; "+
		"another file with -c. Flags win over the file; unknown keys are ignored. Its keys:"))
	p(".RS")
	for _, k := range configKeys {
		p(".TP")
		p(`.B %s`, roff(k.key))
		p("%s", roff(k.meaning))
	}
	p(".RE")
	p(".TP")
	p(`.I /usr/lib/zk\-flock/zk\-flock\-metrics`)
	p("%s", roff("the helper that writes --metrics-file; zk-flock looks beside its own executable first."))
	p(".TP")
	p(`.I /usr/share/doc/zk\-flock/examples/`)
	p("%s", roff("an example configuration, and a systemd service and timer that run a job under a lock."))

	p(".SH EXAMPLES")
	example := func(text string, cmd ...string) {
		para(text)
		p(".PP")
		p(".RS 4")
		p(".nf")
		for _, c := range cmd {
			p("%s", roff(c))
		}
		p(".fi")
		p(".RE")
	}
	example("Run a script on one host of the fleet; on the others, exit 0 at once:",
		`zk-flock nightly-report "/usr/local/bin/nightly-report --all 'last week'"`)
	example("The same, words given as they are, waiting up to a minute for the lock:",
		"zk-flock -w 60 nightly-report -- /usr/local/bin/nightly-report --all 'last week'")
	example("At most three copies at once, a busy lock exiting 3, the job stopped after an hour:",
		"zk-flock -n 3 -x 3 --max-runtime 3600 reindex -- /usr/local/bin/reindex")
	example("A crontab line, with metrics for node_exporter's textfile collector:",
		"*/5 * * * * zk-flock --metrics-file /var/lib/node_exporter/textfile/sync.prom sync -- /usr/local/bin/sync")
	example("Who holds the lock, and every lock under app_id:",
		"zk-flock --status nightly-report", "zk-flock --list --json")

	p(".SH SEE ALSO")
	p(`.BR flock (1),`)
	p(`.BR timeout (1),`)
	p(`.BR crontab (5),`)
	p(`.BR systemd.timer (5)`)
	para("/usr/share/doc/zk-flock/README.md and RELIABILITY.md: how zk-flock keeps the command from outliving its lock.")

	_, err := w.Write(b.Bytes())
	return err
}

// signalNames are the names -p accepts, without "SIG", for completion.
func signalNames() []string {
	var names []string
	for n := syscall.Signal(1); n < 32; n++ {
		if name := unix.SignalName(n); name != "" {
			names = append(names, strings.TrimPrefix(name, "SIG"))
		}
	}
	return names
}

// writeBashCompletion writes a bash completion script for zk-flock. It
// needs no bash-completion package, and uses its _command_offset for the
// command after -- when it is there.
func writeBashCompletion(w io.Writer) error {
	flags := docFlags()
	var all, withArg []string
	cases := map[argKind][]string{}
	for _, f := range flags {
		names := []string{"--" + f.name}
		if f.short != "" {
			names = append(names, "-"+f.short)
		}
		all = append(all, names...)
		if f.kind != argNone {
			withArg = append(withArg, names...)
			cases[f.kind] = append(cases[f.kind], names...)
		}
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p(`# bash completion for zk-flock(1)                          -*- shell-script -*-`)
	p(`# Generated by "zk-flock --generate bash" from its flag definitions; do not edit.`)
	p(``)
	p(`_zk_flock()`)
	p(`{`)
	p(`    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}`)
	p(`    # --flag=value: bash splits it at "=".`)
	p(`    if [[ $cur == = ]]; then`)
	p(`        cur=""`)
	p(`    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then`)
	p(`        prev=${COMP_WORDS[COMP_CWORD-2]}`)
	p(`    fi`)
	p(`    COMPREPLY=()`)
	p(`    case $prev in`)
	arm := func(kind argKind, body ...string) { // one case per kind of argument, if any flag has it
		if len(cases[kind]) > 0 {
			p(`        %s)`, strings.Join(cases[kind], "|"))
			for _, l := range body {
				p("            %s", l)
			}
		}
	}
	arm(argFile, `compopt -o filenames 2>/dev/null`, `COMPREPLY=($(compgen -f -- "$cur"))`, `return ;;`)
	arm(argSignal, `COMPREPLY=($(compgen -W '`+strings.Join(signalNames(), " ")+`' -- "${cur^^}"))`, `return ;;`)
	arm(argText, `return ;; # a number, seconds or a name: nothing to offer`)
	p(`    esac`)
	p(``)
	p(`    # Find LOCKNAME and where the program after -- starts.`)
	p(`    local i word npos=0 cmd=0 dashed=0`)
	p(`    for ((i = 1; i < COMP_CWORD; i++)); do`)
	p(`        word=${COMP_WORDS[i]}`)
	p(`        if ((dashed)); then # -- LOCKNAME PROGRAM ARG...`)
	p(`            npos=$((npos + 1))`)
	p(`            if ((npos == 2)); then cmd=$i; break; fi`)
	p(`            continue`)
	p(`        fi`)
	p(`        case $word in`)
	p(`            --)`)
	p(`                if ((npos > 0)); then cmd=$((i + 1)); break; fi # LOCKNAME -- PROGRAM ARG...`)
	p(`                dashed=1 ;;`)
	p(`            %s)`, strings.Join(withArg, "|"))
	p(`                [[ ${COMP_WORDS[i+1]} == = ]] && ((i++))`)
	p(`                ((i++)) ;;`)
	p(`            -*) ;;`)
	p(`            =) ((i++)) ;;`)
	p(`            *) npos=$((npos + 1)) ;;`)
	p(`        esac`)
	p(`    done`)
	p(`    ((dashed && npos == 1)) && cmd=$COMP_CWORD`)
	p(`    if ((cmd > 0)); then`)
	p(`        # The program and its arguments: complete them as if they stood alone.`)
	p(`        if declare -F _command_offset >/dev/null; then`)
	p(`            _command_offset "$cmd"`)
	p(`        elif ((cmd == COMP_CWORD)); then`)
	p(`            COMPREPLY=($(compgen -c -- "$cur"))`)
	p(`        else`)
	p(`            compopt -o filenames 2>/dev/null`)
	p(`            COMPREPLY=($(compgen -f -- "$cur"))`)
	p(`        fi`)
	p(`        return`)
	p(`    fi`)
	p(`    if [[ $cur == -* ]]; then`)
	p(`        COMPREPLY=($(compgen -W '%s' -- "$cur"))`, strings.Join(all, " "))
	p(`    elif ((npos == 1)); then`)
	p(`        COMPREPLY=($(compgen -c -- "$cur")) # COMMAND`)
	p(`    fi # LOCKNAME is free text`)
	p(`} &&`)
	p(`    complete -F _zk_flock zk-flock`)
	_, err := w.Write(b.Bytes())
	return err
}

// zshQuote escapes s for a zsh _arguments description inside single
// quotes and brackets.
func zshQuote(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

// writeZshCompletion writes a zsh completion function for zk-flock.
func writeZshCompletion(w io.Writer) error {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p(`#compdef zk-flock`)
	p(`# zsh completion for zk-flock(1).`)
	p(`# Generated by "zk-flock --generate zsh" from its flag definitions; do not edit.`)
	p(``)
	p(`local -a args`)
	p(`args=(`)
	for _, f := range docFlags() {
		desc := "[" + zshQuote(f.usage) + "]"
		var action string
		switch f.kind {
		case argFile:
			action = ":" + zshQuote(f.arg) + ":_files"
		case argSignal:
			action = ":" + zshQuote(f.arg) + ":(" + strings.Join(signalNames(), " ") + ")"
		case argText:
			action = ":" + zshQuote(f.arg) + ": "
		}
		long, short := "--"+f.name, "-"+f.short
		if f.kind != argNone {
			long += "="  // --grace=5 or --grace 5
			short += "+" // -w5 or -w 5
		}
		var excl string // what the option excludes
		switch {
		case f.name == "help" || f.name == "version":
			excl = "(- *)" // nothing else after them
		case f.short != "":
			excl = "(-" + f.short + " --" + f.name + ")"
		}
		spec := desc + action
		switch {
		case f.short != "":
			p(`  '%s'{%s,%s}'%s'`, excl, short, long, spec)
		case excl != "":
			p(`  '%s%s%s'`, excl, long, spec)
		default:
			p(`  '%s%s'`, long, spec)
		}
	}
	p(`  '1:lock name: '`)
	p(`  '*:::command:_normal'`)
	p(`)`)
	p(`_arguments -s -S $args`)
	_, err := w.Write(b.Bytes())
	return err
}
