package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultPath is where zk-flock looks for its configuration file, as the
// original did.
const DefaultPath = "/etc/distributed-flock.json"

// Defaults of the optional keys, the original's values.
const (
	DefaultLogPath = "/dev/null"
	DefaultLevel   = "INFO"
	DefaultZKLevel = "WARN"
	DefaultFormat  = "text"
	// DefaultMaxLA is -1: any negative value turns the load-average check off.
	DefaultMaxLA = -1
	// DefaultGrace is the time between SIGTERM and SIGKILL when zk-flock
	// stops the command: long enough for a well-behaved program to finish
	// a write and exit, short enough that a stuck one is not waited on
	// for long (consul lock uses the same).
	DefaultGrace = 5 * time.Second
	// DefaultPort is added to a "host" entry written without a port: the
	// original handed its hosts to the ZooKeeper C client, which did the same.
	DefaultPort = "2181"
)

// Limits. Each says why it has its value.
const (
	// MaxFileSize bounds what Parse reads: a real configuration is a few
	// hundred bytes, and a bound keeps a wrong -c path (a log, a device) from
	// eating memory.
	MaxFileSize = 1 << 20
	// MaxTimeout: "timeout" is the connect timeout and the requested session
	// timeout; ZooKeeper servers cap sessions at 20 ticks (40 s by default),
	// so anything above an hour is a typo (milliseconds written as seconds).
	MaxTimeout = time.Hour
	// MinTimeout: the ZooKeeper protocol carries the session timeout in whole
	// milliseconds, so less than one would be sent as zero.
	MinTimeout = time.Millisecond
	// MaxGrace and MaxMargin: both are measured against a session timeout of
	// at most MaxTimeout, so larger values can only be typos.
	MaxGrace  = time.Hour
	MaxMargin = time.Hour
	// MaxMaxRuntime is ten years: a cap that keeps seconds from overflowing
	// a time.Duration while never getting in the way of a real job.
	MaxMaxRuntime = 10 * 365 * 24 * time.Hour
	// MaxLockNameLen bounds a lock node's name in bytes, like a file name
	// (NAME_MAX). ZooKeeper itself only limits a request to jute.maxbuffer
	// (about 1 MiB), but a name no file system could hold is a mistake.
	MaxLockNameLen = 255
	// MaxSlots bounds a semaphore (-n): its slots are tried one request at
	// a time and a waiter watches them all, so 10,000 slots already cost
	// seconds per attempt; more is a typo, and a billion would exhaust
	// memory before the first request.
	MaxSlots = 10000
	// MaxAppIDLen bounds "app_id" in bytes, so that a lock's full path,
	// "/" + app_id + "/" + name, stays under 1.3 KiB.
	MaxAppIDLen = 1024
)

// Config is zk-flock's configuration. Durations are written in the file as
// numbers of seconds (integer or fractional).
type Config struct {
	// Hosts are the ZooKeeper servers ("host"), one "host:port" each, the
	// port filled in with DefaultPort when the file omitted it, IPv6
	// addresses in brackets ("[::1]:2181").
	Hosts []string
	// Timeout ("timeout") is the connect timeout and the requested session
	// timeout.
	Timeout time.Duration
	// AppID ("app_id") is the namespace: locks live at /<AppID>/<name>.
	// Parse strips one leading "/", so AppID never starts with one; it may
	// contain "/" (nested namespace), whose parents must then exist or be
	// created by the caller.
	AppID string
	// Sleep ("sleep": "ON"/"OFF", any case) asks to sleep for the load
	// average before trying the lock. The -s flag overrides it either way
	// (--sleep=false turns it off).
	Sleep bool
	// MaxLA ("maxla"): do not run when the 1-minute load average is above
	// it; negative (DefaultMaxLA) means no check.
	MaxLA  float64
	Logger Logger
	// Auth ("auth") is nil when the file has no "auth" key.
	Auth *Auth
	// ACL ("acl") is ACLCreator or ACLWorld: who may change and delete the
	// nodes zk-flock creates. Parse fills in the default, ACLCreator with
	// Auth and ACLWorld without; empty means that default too
	// (EffectiveACL).
	ACL string
	// TLS ("tls") is nil when the file has no "tls" key: plain
	// connections.
	TLS *TLS

	// Grace ("grace", seconds) is how long the child has between SIGTERM and
	// SIGKILL: DefaultGrace unless set; zero means SIGKILL at once.
	Grace time.Duration
	// Margin ("margin", seconds) is how long before the ZooKeeper session can
	// expire the child is stopped when the connection is lost (self-fencing).
	// Zero means "use the built-in default", which is the caller's.
	Margin time.Duration
	// MaxRuntime ("max_runtime", seconds) stops the child after that long.
	// Zero means no limit.
	MaxRuntime time.Duration
	// MetricsFile ("metrics_file") is where to write metrics; empty means
	// none.
	MetricsFile string

	// warnings are Load's findings that do not stop zk-flock (Warnings).
	warnings []string
}

// Logger is the "logger" object.
type Logger struct {
	// Path ("path") of the log file; "/dev/null" (the default) discards.
	Path string
	// Level ("level") and ZKLevel ("zklevel") are one of ERROR, WARN, INFO,
	// DEBUG; Parse stores them upper-case, with WARNING turned into WARN.
	Level   string
	ZKLevel string
	// Format ("format") is "text" (the original's lines) or "json"; Parse
	// stores it lower-case.
	Format string
}

// Auth is the "auth" object: credentials added to the ZooKeeper session.
// Data is secret: String, GoString, LogValue and MarshalJSON redact it, and
// no error of this package contains it.
type Auth struct {
	// Scheme ("scheme"), e.g. "digest".
	Scheme string
	// Data ("data"): for "digest", "user:password".
	Data string
}

// Default returns the configuration before any file is read: the original's
// defaults, and no hosts, timeout or app_id (which the file must provide).
func Default() Config {
	return Config{
		MaxLA: DefaultMaxLA,
		Grace: DefaultGrace,
		ACL:   ACLWorld,
		Logger: Logger{
			Path:    DefaultLogPath,
			Level:   DefaultLevel,
			ZKLevel: DefaultZKLevel,
			Format:  DefaultFormat,
		},
	}
}

const redacted = "REDACTED"

// redactedData shows a digest user, never a password or any other data.
func (a Auth) redactedData() string {
	if a.Data == "" {
		return ""
	}
	if a.Scheme == "digest" {
		if user, _, ok := strings.Cut(a.Data, ":"); ok {
			return user + ":" + redacted
		}
	}
	return redacted
}

// String returns the scheme and the redacted data.
func (a Auth) String() string {
	return fmt.Sprintf("{scheme=%s data=%s}", a.Scheme, a.redactedData())
}

// GoString keeps %#v from printing the secret.
func (a Auth) GoString() string {
	return fmt.Sprintf("config.Auth{Scheme:%q, Data:%q}", a.Scheme, a.redactedData())
}

// LogValue keeps slog from printing the secret.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("scheme", a.Scheme), slog.String("data", a.redactedData()))
}

// MarshalJSON writes the redacted data, so that dumping a Config as JSON
// cannot leak the secret either.
func (a Auth) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"scheme":%q,"data":%q}`, a.Scheme, a.redactedData()), nil
}

// String returns a one-line representation for logs and debugging, with the
// "auth" secret redacted.
func (c Config) String() string {
	auth := "none"
	if c.Auth != nil {
		auth = c.Auth.String()
	}
	tlsText := "none"
	if t := c.TLS; t != nil {
		tlsText = fmt.Sprintf("{ca_file=%q cert_file=%q key_file=%q server_name=%q}", t.CAFile, t.CertFile, t.KeyFile, t.ServerName)
	}
	return fmt.Sprintf("host=%v timeout=%v app_id=%q sleep=%t maxla=%v "+
		"logger={path=%q level=%s zklevel=%s format=%s} auth=%s acl=%s tls=%s "+
		"grace=%v margin=%v max_runtime=%v metrics_file=%q",
		c.Hosts, c.Timeout, c.AppID, c.Sleep, c.MaxLA,
		c.Logger.Path, c.Logger.Level, c.Logger.ZKLevel, c.Logger.Format, auth, c.EffectiveACL(), tlsText,
		c.Grace, c.Margin, c.MaxRuntime, c.MetricsFile)
}

// LogValue lets a Config be logged as slog attributes, secret redacted.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Any("host", c.Hosts),
		slog.Duration("timeout", c.Timeout),
		slog.String("app_id", c.AppID),
		slog.Bool("sleep", c.Sleep),
		slog.Float64("maxla", c.MaxLA),
		slog.Group("logger",
			slog.String("path", c.Logger.Path),
			slog.String("level", c.Logger.Level),
			slog.String("zklevel", c.Logger.ZKLevel),
			slog.String("format", c.Logger.Format)),
	}
	if c.Auth != nil {
		attrs = append(attrs, slog.Any("auth", *c.Auth))
	}
	attrs = append(attrs, slog.String("acl", c.EffectiveACL()))
	if t := c.TLS; t != nil {
		attrs = append(attrs, slog.Group("tls",
			slog.String("ca_file", t.CAFile),
			slog.String("cert_file", t.CertFile),
			slog.String("key_file", t.KeyFile),
			slog.String("server_name", t.ServerName)))
	}
	attrs = append(attrs,
		slog.Duration("grace", c.Grace),
		slog.Duration("margin", c.Margin),
		slog.Duration("max_runtime", c.MaxRuntime),
		slog.String("metrics_file", c.MetricsFile))
	return slog.GroupValue(attrs...)
}
