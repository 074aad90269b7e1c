package main

// End-to-end tests of docs/SECURITY.md: ACL-protected nodes checked with
// ZooKeeper's own client as other identities, TLS against a real TLS
// ZooKeeper, secrets kept out of every output, hostile input, and what the
// command inherits. They use the harness of e2e_main_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/testzk"
)

// zkCliAs runs ZooKeeper's own client, zkCli.sh, against the shared
// server, authenticated as digest userPass ("user:password") unless it is
// empty, and runs cmds in one session. zkCli runs only one command given
// on its command line, so the commands are fed to its interactive mode on
// stdin. It returns the whole output.
func zkCliAs(t *testing.T, userPass string, cmds ...string) string {
	t.Helper()
	script, err := testzk.ZkCliPath()
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	if userPass != "" {
		fmt.Fprintf(&in, "addauth digest %s\n", userPass)
	}
	for _, c := range cmds {
		in.WriteString(c + "\n")
	}
	in.WriteString("quit\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-server", zkAddr)
	cmd.Stdin = strings.NewReader(in.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "JVMFLAGS=-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -XX:-UsePerfData")
	_ = cmd.Run() // zkCli's status says nothing about the commands
	return out.String()
}

// withAuth sets digest credentials user:pw in the configuration.
func withAuth(userPass string) func(map[string]any) {
	return func(c map[string]any) { c["auth"] = map[string]any{"scheme": "digest", "data": userPass} }
}

// privateEnv is newEnv with the configuration file made 0600, as a file
// holding a password should be (zk-flock warns otherwise).
func privateEnv(t *testing.T, edits ...func(map[string]any)) *flockEnv {
	t.Helper()
	e := newEnv(t, edits...)
	if err := os.Chmod(e.conf, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestE2ECreatorACL: with auth, nobody else can delete or overwrite the
// lock node, take locks in the namespace or delete the app root: ZooKeeper's
// own client, as another digest identity and unauthenticated, is refused.
// Another host of the fleet (same credentials) takes the lock in turn.
func TestE2ECreatorACL(t *testing.T) {
	t.Parallel()
	e := privateEnv(t, withAuth("fleet:fleet-secret"))
	p, release := holdLock(t, e)
	before := zkCli(t, "stat", e.node("L"))

	acl := zkCli(t, "getAcl", e.node("L"))
	rootACL := zkCli(t, "getAcl", e.root)
	for _, a := range []string{acl, rootACL} {
		if !strings.Contains(a, "'digest,'fleet:") || !strings.Contains(a, ": cdrwa") ||
			!strings.Contains(a, "'world,'anyone\n: r") {
			t.Errorf("ACL: want fleet's digest with cdrwa and world with r only, got:\n%s", a)
		}
	}
	for _, who := range []string{"mallory:mallory-pw", ""} {
		out := zkCliAs(t, who,
			"delete "+e.node("L"),
			"set "+e.node("L")+" stolen",
			"create "+e.node("M")+" mine",
			"setAcl "+e.node("L")+" world:anyone:cdrwa",
			"deleteall "+e.root,
		)
		// delete, set and setAcl of L, create of M; deleteall of the
		// root fails at L, as the checks below show.
		if n := strings.Count(out, "Insufficient permission : "+e.node("L")); n != 3 ||
			!strings.Contains(out, "Insufficient permission : "+e.node("M")) {
			t.Errorf("zkCli as %q: want delete, set and setAcl of L and create of M refused (Insufficient permission):\n%s", who, out)
		}
	}
	after := zkCli(t, "stat", e.node("L"))
	if statField(t, before, "cZxid") != statField(t, after, "cZxid") || statField(t, after, "dataVersion") != 0 {
		t.Errorf("the lock node changed:\nbefore %s\nafter %s", before, after)
	}
	if exists(t, e.checker(), e.node("M")) {
		t.Error("another identity created a lock in the namespace")
	}
	// Anyone may still see who holds the lock.
	if data := zkCli(t, "get", e.node("L")); !strings.Contains(data, `"pid"`) {
		t.Errorf("world READ: get returned %q", data)
	}
	touch(t, release)
	if r := p.waitTimeout(15 * time.Second); r.code != 0 || r.stderr != "" {
		t.Errorf("holder: want exit 0 and nothing on stderr (the lock never lost), got %v", r)
	}
	// The same identity from another zk-flock: the fleet shares the lock.
	if r := e.run("L", "true"); r.code != 0 {
		t.Errorf("the next host of the fleet: %v", r)
	}
	// Another identity's zk-flock gets one clear line, not "busy".
	other := privateEnv(t, withAuth("mallory:mallory-pw"), func(c map[string]any) { c["app_id"] = e.app })
	r := other.run("L2", "true")
	if r.code != ExitUnavailable {
		t.Errorf("another identity's zk-flock: want exit %d, got %v", ExitUnavailable, r)
	}
	oneStderrLine(t, "another identity", r, "not authenticated", "does not let these credentials create nodes")
}

// TestE2EWorldACL: "acl": "world" relaxes to the original's ACL: anyone may
// delete the lock node, and the holder then stops its command (exit 75).
func TestE2EWorldACL(t *testing.T) {
	t.Parallel()
	e := privateEnv(t, withAuth("fleet:fleet-secret"), func(c map[string]any) { c["acl"] = "world" })
	p, _ := holdLock(t, e)
	if a := zkCli(t, "getAcl", e.root); !strings.Contains(a, "'world,'anyone\n: cdrwa") || strings.Contains(a, "digest") {
		t.Errorf("acl world: root ACL\n%s", a)
	}
	if out := zkCliAs(t, "mallory:mallory-pw", "delete "+e.node("L")); strings.Contains(out, "Insufficient permission") {
		t.Fatalf("acl world: the delete was refused:\n%s", out)
	}
	r := p.waitTimeout(15 * time.Second)
	if r.code != ExitLockLost {
		t.Errorf("lock node deleted by someone else: want exit %d, got %v", ExitLockLost, r)
	}
}

// TestE2EOriginalRoot: an app root the original made (world ACL, no auth)
// keeps working with auth and keeps its ACL; the log says that others can
// still delete lock nodes in it. The migration docs/SECURITY.md gives (the
// fleet's identity takes the root over with zkCli) then locks others out.
func TestE2EOriginalRoot(t *testing.T) {
	t.Parallel()
	e := privateEnv(t, withAuth("fleet:fleet-secret"))
	zkCli(t, "create", e.root, "Rootnode")
	p, release := holdLock(t, e)
	if a := zkCli(t, "getAcl", e.root); !strings.Contains(a, "'world,'anyone\n: cdrwa") {
		t.Errorf("the original's root ACL changed:\n%s", a)
	}
	// The check runs beside the command: give it a moment.
	testzk.WaitFor(t, 5*time.Second, "the warning in the log", func() bool {
		return strings.Contains(e.logText(), "lets anyone delete lock nodes")
	})

	zkCliAs(t, "fleet:fleet-secret", "setAcl "+e.root+" auth::cdrwa,world:anyone:r")
	if a := zkCli(t, "getAcl", e.root); !strings.Contains(a, "'digest,'fleet:") || !strings.Contains(a, "'world,'anyone\n: r") {
		t.Errorf("after setAcl: root ACL\n%s", a)
	}
	if out := zkCliAs(t, "mallory:mallory-pw", "delete "+e.node("L")); !strings.Contains(out, "Insufficient permission") {
		t.Errorf("after the migration another identity can still delete the lock node:\n%s", out)
	}
	touch(t, release)
	if r := p.waitTimeout(15 * time.Second); r.code != 0 || r.stderr != "" {
		t.Errorf("holder under the original's root: want exit 0 and nothing on stderr, got %v", r)
	}
	if r := e.run("L", "true"); r.code != 0 {
		t.Errorf("after the migration: %v", r)
	}
}

// tlsZK is a ZooKeeper that requires mutual TLS on its secure port; its
// certificate is valid for "localhost" only.
type tlsZK struct {
	files *testzk.TLSFiles
	port  string
}

func startTLSZK(t *testing.T) *tlsZK {
	t.Helper()
	_, files, port := testzk.NewTLS(t, "need")
	return &tlsZK{files: files, port: strconv.Itoa(port)}
}

// TestE2ETLS: zk-flock against a real ZooKeeper serving mutual TLS, with
// certificates made by the test: the right CA and client certificate run
// the command; a wrong CA, a name the certificate does not carry, or no
// client certificate are refused with one line (exit 69); unusable TLS
// files are configuration errors (exit 78).
func TestE2ETLS(t *testing.T) {
	t.Parallel()
	e2e(t)
	z := startTLSZK(t)
	f := z.files
	good := map[string]any{"ca_file": f.CA, "cert_file": f.ClientCert, "key_file": f.ClientKey}
	// with returns good with each key k set to the value after it, or
	// removed if that is nil.
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		name string
		host string
		tls  any
		want int
		subs []string
	}{
		{"right CA and client certificate", "localhost", good, 0, nil},
		{"IP address with server_name", "127.0.0.1", with("server_name", "localhost"), 0, nil},
		{"wrong CA", "localhost", with("ca_file", f.OtherCA), ExitUnavailable, []string{"certificate signed by unknown authority"}},
		{"IP address not in the certificate", "127.0.0.1", good, ExitUnavailable, []string{"127.0.0.1"}},
		{"server_name mismatch", "localhost", with("server_name", "other.example"), ExitUnavailable, []string{"other.example"}},
		{"no client certificate", "localhost", map[string]any{"ca_file": f.CA}, ExitUnavailable, []string{"localhost:" + z.port}},
		{"client certificate of another CA", "localhost", with("cert_file", f.OtherClientCert, "key_file", f.OtherClientKey), ExitUnavailable, []string{"localhost:" + z.port}},
		{"key without certificate", "localhost", with("cert_file", nil), ExitConfig, []string{`"tls.cert_file"`}},
		{"certificate and key that do not match", "localhost", with("key_file", f.OtherClientKey), ExitConfig, []string{`"tls.key_file"`, "does not match"}},
		{"missing CA file", "localhost", with("ca_file", missing), ExitConfig, []string{`"tls.ca_file"`, missing}},
		{"CA file is a key", "localhost", with("ca_file", f.ClientKey), ExitConfig, []string{`"tls.ca_file"`, "no PEM certificate"}},
		{"tls not an object", "localhost", "yes", ExitConfig, []string{`"tls"`}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			e := privateEnv(t, func(c map[string]any) {
				c["host"] = []string{tc.host + ":" + z.port}
				// A refusal takes the whole connect timeout; a success may
				// need a long one on a loaded machine (a fresh JVM's first
				// handshakes), and the server caps the session at 4 s anyway.
				c["timeout"] = 2
				if tc.want == 0 {
					c["timeout"] = 10
				}
				c["tls"] = tc.tls
				c["auth"] = map[string]any{"scheme": "digest", "data": "tls-user:tls-secret"}
			})
			marker := e.path("marker")
			r := e.run("L", "touch "+marker)
			if r.code != tc.want {
				t.Fatalf("want exit %d, got %v", tc.want, r)
			}
			if tc.want == 0 {
				if !fileExists(marker) || r.stderr != "" {
					t.Errorf("over TLS: want the command run and nothing on stderr, got %v", r)
				}
				return
			}
			oneStderrLine(t, tc.name, r, tc.subs...)
			noPanic(t, r)
			if fileExists(marker) {
				t.Error("the command ran")
			}
			for _, secret := range []string{"tls-secret", "PRIVATE KEY"} {
				if strings.Contains(r.stderr, secret) || strings.Contains(e.logText(), secret) {
					t.Errorf("%q leaked to stderr or the log", secret)
				}
			}
		})
	}
}

// TestE2ETLSDaemonRelativePaths: with -d, TLS files named relative to
// the caller's directory still work in the detached copy, which runs in /;
// --status connects over TLS too.
func TestE2ETLSDaemonRelativePaths(t *testing.T) {
	t.Parallel()
	e2e(t)
	z := startTLSZK(t)
	e := privateEnv(t, func(c map[string]any) {
		c["host"] = []string{"localhost:" + z.port}
		c["tls"] = map[string]any{"ca_file": "ca.pem", "cert_file": "client.pem", "key_file": "client-key.pem"}
		c["auth"] = map[string]any{"scheme": "digest", "data": "tls-user:tls-secret"}
		c["timeout"] = 10 // the connect timeout; the server caps the session at 4 s
	})
	marker := e.path("marker")
	release := e.path("release")
	p := startExec(t, "/bin/sh", "-c", fmt.Sprintf("cd %s && exec %s -d -c %s -l 0 L %s", sq(z.files.Dir), sq(binPath), sq(e.conf),
		sq("sh -c "+sq("touch "+marker+"; "+waitRelease(release)))))
	if r := p.waitTimeout(20 * time.Second); r.code != 0 || r.stderr != "" {
		t.Fatalf("zk-flock -d: %v", r)
	}
	for deadline := time.Now().Add(30 * time.Second); !fileExists(marker); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the detached command did not run over TLS; the daemon's log:\n%s", e.logText())
		}
	}
	st := startExec(t, "/bin/sh", "-c", fmt.Sprintf("cd %s && exec %s -c %s --status L", sq(z.files.Dir), sq(binPath), sq(e.conf))).wait()
	if st.code != ExitHeld || !strings.Contains(st.stdout, "held") {
		t.Errorf("--status over TLS: want exit %d and the lock held, got %v", ExitHeld, st)
	}
	touch(t, release)
	testzk.WaitFor(t, 20*time.Second, "the release", func() bool {
		r := startExec(t, "/bin/sh", "-c", fmt.Sprintf("cd %s && exec %s -c %s --status L", sq(z.files.Dir), sq(binPath), sq(e.conf))).wait()
		return r.code == ExitFree
	})
}

// noPanic fails if zk-flock's stderr shows a Go panic or a goroutine dump.
func noPanic(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("zk-flock panicked: %s", r.stderr)
	}
}

// TestE2ESecrets: the password appears nowhere: not in the log (at DEBUG,
// with the client library's DEBUG too), stderr, --status, the process's
// command line or environment as the command sees them. A configuration
// holding it and readable by others gets exactly one warning line; the job
// still runs. At 0600, nothing is said.
func TestE2ESecrets(t *testing.T) {
	t.Parallel()
	const secret = "pw-Zq8-never-shown"
	e := newEnv(t, withAuth("alice:"+secret), func(c map[string]any) {
		c["logger"].(map[string]any)["zklevel"] = "DEBUG" // level is DEBUG already
	})
	if err := os.Chmod(e.conf, 0o644); err != nil { // readable by group and others, whatever the umask
		t.Fatal(err)
	}
	seen := e.path("seen")
	release := e.path("release")
	// The command copies what any local user can read of zk-flock's
	// process: its command line (the process title) and, as the same
	// user, its environment.
	p := e.start("L", "sh -c "+sq(fmt.Sprintf("tr '\\0' ' ' < /proc/$PPID/cmdline > %s; tr '\\0' '\\n' < /proc/$PPID/environ >> %s; %s", seen, seen, waitRelease(release))))
	waitNode(t, e.checker(), e.node("L"))
	status := startRaw(t, "-c", e.conf, "--status", "L").wait()
	statusJSON := startRaw(t, "-c", e.conf, "--status", "--json", "L").wait()
	touch(t, release)
	r := p.waitTimeout(15 * time.Second)
	if r.code != 0 {
		t.Fatalf("with a readable config: want the job to run (exit 0), got %v", r)
	}
	oneStderrLine(t, "readable config", r, "zk-flock: warning: "+e.conf+" holds a password and is readable by group or others (mode 0644); chmod 600 it")

	// A refused session (unknown scheme) and a connect failure.
	bad := privateEnv(t, func(c map[string]any) {
		c["auth"] = map[string]any{"scheme": "nosuch", "data": "alice:" + secret}
		c["logger"] = map[string]any{"path": "stderr", "level": "DEBUG", "zklevel": "DEBUG"}
	})
	refused := bad.run("L", "true")
	down := privateEnv(t, withAuth("alice:"+secret), func(c map[string]any) {
		c["host"] = []string{"127.0.0.1:1"}
		c["timeout"] = 1
		c["logger"] = map[string]any{"path": "stderr", "level": "DEBUG", "zklevel": "DEBUG"}
	})
	unreachable := down.run("L", "true")
	if refused.code != ExitUnavailable || unreachable.code != ExitUnavailable {
		t.Errorf("want exit %d for a refused and an unreachable session, got %v and %v", ExitUnavailable, refused, unreachable)
	}

	outputs := map[string]string{
		"log":                   e.logText(),
		"stderr":                r.stderr,
		"--status":              status.stdout + status.stderr,
		"--status --json":       statusJSON.stdout + statusJSON.stderr,
		"command line and env":  readFile(seen),
		"refused session":       refused.stdout + refused.stderr,
		"unreachable ZooKeeper": unreachable.stdout + unreachable.stderr,
	}
	if !strings.Contains(e.logText(), "lock acquired") || !strings.Contains(status.stdout, "held") ||
		!strings.Contains(statusJSON.stdout, `"held"`) || !strings.Contains(readFile(seen), "PATH=") ||
		!strings.Contains(refused.stderr, "nosuch") || !strings.Contains(unreachable.stderr, "127.0.0.1:1") {
		t.Fatalf("the outputs checked are not what they should be: log %q, status %v, seen %q", e.logText(), status, readFile(seen))
	}
	for what, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("the password appears in %s:\n%s", what, out)
		}
	}

	// 0600: no warning at all.
	if err := os.Chmod(e.conf, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("L", "true"); r.code != 0 || r.stderr != "" {
		t.Errorf("config 0600: want exit 0 and nothing on stderr, got %v", r)
	}
	// A symlink to it: followed, and the target's mode is what counts.
	link := e.path("link.json")
	if err := os.Symlink(e.conf, link); err != nil {
		t.Fatal(err)
	}
	if r := startRaw(t, "-c", link, "-l", "0", "L", "true").wait(); r.code != 0 || r.stderr != "" {
		t.Errorf("symlink to a 0600 config: want exit 0 and nothing on stderr, got %v", r)
	}
	if err := os.Chmod(e.conf, 0o640); err != nil {
		t.Fatal(err)
	}
	r = startRaw(t, "-c", link, "-l", "0", "L", "true").wait()
	if r.code != 0 {
		t.Errorf("symlink to a 0640 config: want exit 0, got %v", r)
	}
	oneStderrLine(t, "symlink to a 0640 config", r, "(mode 0640)", "a link to "+e.conf)
}

// TestE2EHostileInput: hostile lock names, app_ids, configuration files and
// commands each get one line on stderr and their documented status (64 for
// the command line, 78 for the configuration), never a panic, and leave
// nothing in ZooKeeper.
func TestE2EHostileInput(t *testing.T) {
	t.Parallel()
	e2e(t)
	deep := `{"host":["H"],"timeout":5,"app_id":"APP","x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}"
	deepObj := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	huge := `{"host":["H"],"timeout":5,"app_id":"APP","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	set := func(key string, v any) func(map[string]any) {
		return func(c map[string]any) { c[key] = v }
	}
	for _, tc := range []struct {
		name string
		lock string // LOCKNAME; "" means "L" unless empty is set
		cmd  string // COMMAND; "" means touching the marker
		edit func(c map[string]any)
		conf string // configuration text (H: the server, APP: the app_id)
		link string // "loop" or "self": -c is a symlink
		want int
	}{
		{name: "lock name /", lock: "/", want: ExitUsage},
		{name: "lock name with a newline", lock: "a\nb", want: ExitUsage},
		{name: "lock name with ESC", lock: "a\x1b[2Jb", want: ExitUsage},
		{name: "lock name with DEL", lock: "a\x7f", want: ExitUsage},
		{name: "lock name of 256 bytes", lock: strings.Repeat("x", 256), want: ExitUsage},
		{name: "lock name of 100 KiB", lock: strings.Repeat("я", 50<<10), want: ExitUsage},
		{name: "lock name beyond U+FFFF", lock: "lock😀", want: ExitUsage},
		{name: "lock name invalid UTF-8", lock: "a\xffb", want: ExitUsage},
		{name: "lock name with a surrogate's bytes", lock: "a\xed\xa0\x80", want: ExitUsage},
		{name: "semaphore of 10^12 slots", cmd: "-n 1000000000000", want: ExitUsage},
		{name: "app_id empty", edit: set("app_id", ""), want: ExitConfig},
		{name: "app_id /", edit: set("app_id", "/"), want: ExitConfig},
		{name: "app_id .", edit: set("app_id", "."), want: ExitConfig},
		{name: "app_id ..", edit: set("app_id", "a/.."), want: ExitConfig},
		{name: "app_id with NUL", edit: set("app_id", "a\x00b"), want: ExitConfig},
		{name: "app_id with a control character", edit: set("app_id", "a\x01b"), want: ExitConfig},
		{name: "app_id with a newline", edit: set("app_id", "a\nb"), want: ExitConfig},
		{name: "app_id zookeeper", edit: set("app_id", "zookeeper/x"), want: ExitConfig},
		{name: "app_id of 2000 bytes", edit: set("app_id", strings.Repeat("a", 2000)), want: ExitConfig},
		{name: "app_id of 1 MiB", edit: set("app_id", strings.Repeat("a", 1<<20-100)), want: ExitConfig},
		{name: "config of 2 MiB", conf: huge, want: ExitConfig},
		{name: "config nested 100000 deep", conf: deep, want: ExitConfig},
		{name: "config of nested objects", conf: deepObj, want: ExitConfig},
		{name: "config timeout a string", edit: set("timeout", "5"), want: ExitConfig},
		{name: "config host a number", edit: set("host", 2181), want: ExitConfig},
		{name: "config auth a string", edit: set("auth", "user:pw"), want: ExitConfig},
		{name: "config acl unknown", edit: set("acl", "nobody"), want: ExitConfig},
		{name: "config acl creator without auth", edit: set("acl", "creator"), want: ExitConfig},
		{name: "config tls cert without key", edit: set("tls", map[string]any{"cert_file": "/etc/hostname"}), want: ExitConfig},
		{name: "config NUL byte", conf: "{\"host\":[\"H\"],\"timeout\":5,\x00\"app_id\":\"APP\"}", want: ExitConfig},
		{name: "config is a symlink loop", link: "loop", want: ExitConfig},
		{name: "config is a symlink to /dev/zero", link: "zero", want: ExitConfig},
		{name: "command with an unbalanced single quote", cmd: "echo 'unbalanced", want: ExitUsage},
		{name: "command with an unbalanced double quote", cmd: `echo "unbalanced`, want: ExitUsage},
		{name: "command ending in a backslash", cmd: `echo trailing\`, want: ExitUsage},
		{name: "command starting with # (no comments, as the original: a program named #)", cmd: "# nothing", want: ExitNotFound},
		{name: "command that looks like a flag with CR", cmd: "-\r0", want: ExitUsage},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.edit != nil {
				e = newEnv(t, tc.edit)
			}
			if tc.conf != "" {
				conf := strings.ReplaceAll(tc.conf, `"H"`, strconv.Quote(zkAddr))
				e.writeConf(strings.ReplaceAll(conf, `"APP"`, strconv.Quote(e.app)))
			}
			conf := e.conf
			switch tc.link {
			case "loop":
				conf = e.path("loop.json")
				if err := os.Symlink(conf, conf); err != nil {
					t.Fatal(err)
				}
			case "zero":
				conf = e.path("zero.json")
				if err := os.Symlink("/dev/zero", conf); err != nil {
					t.Fatal(err)
				}
			}
			marker := e.path("marker")
			lock := tc.lock
			if lock == "" {
				lock = "L"
			}
			args := []string{"-c", conf, "-l", "0", lock, "touch " + marker}
			switch {
			case strings.HasPrefix(tc.cmd, "-n "):
				args = []string{"-c", conf, "-l", "0", "-n", strings.TrimPrefix(tc.cmd, "-n "), lock, "touch " + marker}
			case tc.cmd != "":
				args = []string{"-c", conf, "-l", "0", lock, tc.cmd}
			}
			r := startRaw(t, args...).wait()
			if r.code != tc.want {
				t.Errorf("want exit %d, got %v", tc.want, r)
			}
			oneStderrLine(t, tc.name, r, "zk-flock: ")
			noPanic(t, r)
			if len(r.stderr) > 1000 {
				t.Errorf("stderr of %d bytes: want one readable line", len(r.stderr))
			}
			if strings.ContainsAny(strings.TrimSuffix(r.stderr, "\n"), "\x00\x1b\r\n\x7f") {
				t.Errorf("stderr holds raw control characters: %q", r.stderr)
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

// TestE2EUnicodeNames: Unicode lock names and app_ids within ZooKeeper's
// rules are fine.
func TestE2EUnicodeNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e = newEnv(t, func(c map[string]any) { c["app_id"] = e.app + "/приложение/应用" })
	if r := e.run("锁-блокировка-ü", "true"); r.code != 0 || r.stderr != "" {
		t.Errorf("Unicode names: want exit 0, got %v", r)
	}
}

// fdScript writes the command's open file descriptors, one "N:target" per
// line, then its umask and working directory, into file. The glob's own
// descriptor is closed by the time each entry is checked, and nothing is
// redirected while the list is made (the shell would save the old
// descriptor above 9), so the list is what the command inherited.
func fdScript(file string) string {
	return fmt.Sprintf(`fds=; for f in /proc/$$/fd/*; do [ -e "$f" ] && fds="$fds
${f##*/}:$(readlink "$f")"; done; { echo "$fds"; umask; pwd; } > %s.tmp; mv %s.tmp %s`, file, file, file)
}

// parseFDs splits fdScript's output into descriptor numbers, the umask and
// the working directory.
func parseFDs(t *testing.T, out string) (fds []string, umask, wd string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("fd listing: %q", out)
	}
	for _, l := range lines[:len(lines)-2] {
		if n, _, ok := strings.Cut(l, ":"); ok {
			fds = append(fds, n)
		}
	}
	return fds, lines[len(lines)-2], lines[len(lines)-1]
}

// TestE2EChildInheritsNoDescriptors: the command sees only 0, 1 and 2:
// not zk-flock's ZooKeeper socket, its log file, nor a descriptor zk-flock
// itself inherited (a shell's 7>file). Detached with -d, it also runs with
// umask 022 in /, whatever the caller's.
func TestE2EChildInheritsNoDescriptors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.path("fds")
	inherited := e.path("inherited")
	// zk-flock started by a shell that leaves descriptor 7 open, with a
	// lax umask, in the test's directory.
	p := startExec(t, "/bin/sh", "-c", fmt.Sprintf(`cd %s && umask 000 && exec 7>%s && exec %s -c %s -l 0 L %s`,
		sq(e.dir), sq(inherited), sq(binPath), sq(e.conf), sq("sh -c "+sq(fdScript(out)))))
	r := p.waitTimeout(20 * time.Second)
	if r.code != 0 {
		t.Fatalf("zk-flock: %v", r)
	}
	text := waitFile(t, out, 10*time.Second)
	fds, umask, wd := parseFDs(t, text)
	if strings.Join(fds, " ") != "0 1 2" {
		t.Errorf("the command inherited descriptors beyond 0, 1, 2:\n%s", text)
	}
	if umask != "0000" || wd != e.dir {
		t.Errorf("without -d the caller's umask and directory stay: got umask %s, directory %s", umask, wd)
	}

	// Detached.
	out2 := e.path("fds-daemon")
	p = startExec(t, "/bin/sh", "-c", fmt.Sprintf(`cd %s && umask 000 && exec 7>%s && exec %s -d -c %s -l 0 L %s`,
		sq(e.dir), sq(inherited), sq(binPath), sq(e.conf), sq("sh -c "+sq(fdScript(out2)))))
	if r := p.waitTimeout(20 * time.Second); r.code != 0 {
		t.Fatalf("zk-flock -d: %v", r)
	}
	text = waitFile(t, out2, 20*time.Second)
	fds, umask, wd = parseFDs(t, text)
	if strings.Join(fds, " ") != "0 1 2" {
		t.Errorf("-d: the command inherited descriptors beyond 0, 1, 2:\n%s", text)
	}
	if umask != "0022" || wd != "/" {
		t.Errorf("-d: want umask 0022 and directory /, got umask %s, directory %s", umask, wd)
	}
	testzk.WaitFor(t, 15*time.Second, "the daemon to release the lock", func() bool { return !exists(t, e.checker(), e.node("L")) })
}

// TestE2EDuplicateKeysLastWins: a configuration key given twice takes its
// last value, as the original's Python json did, so a file that works with
// the original works here; zk-flock warns once per key on stderr, without
// ever printing a secret.
func TestE2EDuplicateKeysLastWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zc := e.checker()
	e.writeConf(fmt.Sprintf(`{"host":[%q],"timeout":4,"app_id":"first-%s","app_id":%q,`+
		`"auth":{"scheme":"digest","data":"u:secret-one","data":"u:secret-two"}}`, zkAddr, e.app, e.app))
	if err := os.Chmod(e.conf, 0o600); err != nil {
		t.Fatal(err)
	}
	seen := e.path("seen")
	r := e.run("L", "sh -c 'echo $ZK_FLOCK_LOCK > "+seen+"'")
	if r.code != 0 || strings.TrimSpace(readFile(seen)) != e.node("L") {
		t.Fatalf("want the command run under the last app_id (%s), got %v, lock %q", e.node("L"), r, readFile(seen))
	}
	for _, k := range []string{`"app_id" appears more than once`, `"auth.data" appears more than once`} {
		if !strings.Contains(r.stderr, k) {
			t.Errorf("stderr does not warn %s: %q", k, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "secret") || len(r.stderrLines()) != 2 {
		t.Errorf("want two warning lines and no secret, got %q", r.stderr)
	}
	if exists(t, zc, "/first-"+e.app) {
		t.Error("the first app_id was used too")
	}
}
