package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validate checks every field and returns the first problem as a *KeyError
// naming the file's key. It accepts anything Parse produces, and also hosts
// without a port (the ZooKeeper client adds 2181), levels in any case and
// WARNING for WARN; it rejects an AppID that starts with "/" (Parse strips
// one) and a Hosts entry holding commas (Parse splits them).
func (c Config) Validate() error {
	if len(c.Hosts) == 0 {
		return keyErr("host", ErrInvalidValue, "the list is empty; want at least one ZooKeeper server")
	}
	for i, h := range c.Hosts {
		if _, err := normalizeHost(h); err != nil {
			return keyErr("host", ErrInvalidValue, "entry %d: %v", i+1, err)
		}
	}
	switch {
	case c.Timeout <= 0:
		return keyErr("timeout", ErrInvalidValue, "must be greater than 0, got %v", c.Timeout)
	case c.Timeout < MinTimeout:
		return keyErr("timeout", ErrInvalidValue, "must be at least %v, got %v", MinTimeout, c.Timeout)
	case c.Timeout > MaxTimeout:
		return keyErr("timeout", ErrInvalidValue, "must be at most %v, got %v", MaxTimeout, c.Timeout)
	}
	if err := validateAppID(c.AppID); err != nil {
		return &KeyError{Key: "app_id", Err: err}
	}
	if math.IsNaN(c.MaxLA) || math.IsInf(c.MaxLA, 0) {
		return keyErr("maxla", ErrInvalidValue, "must be a finite number, got %v", c.MaxLA)
	}
	if err := c.Logger.validate(); err != nil {
		return err
	}
	if c.Auth != nil {
		if err := c.Auth.validate(); err != nil {
			return err
		}
	}
	if err := c.validateACL(); err != nil {
		return err
	}
	if c.TLS != nil {
		if err := c.TLS.validate(); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		key      string
		val, max time.Duration
	}{
		{"grace", c.Grace, MaxGrace},
		{"margin", c.Margin, MaxMargin},
		{"max_runtime", c.MaxRuntime, MaxMaxRuntime},
	} {
		if d.val < 0 {
			return keyErr(d.key, ErrInvalidValue, "must not be negative, got %v", d.val)
		}
		if d.val > d.max {
			return keyErr(d.key, ErrInvalidValue, "must be at most %v, got %v", d.max, d.val)
		}
	}
	if strings.IndexByte(c.MetricsFile, 0) >= 0 {
		return keyErr("metrics_file", ErrInvalidValue, "contains a NUL byte")
	}
	return nil
}

func (l Logger) validate() error {
	if l.Path == "" {
		return keyErr("logger.path", ErrInvalidValue, "must not be empty (use %q to log nowhere)", DefaultLogPath)
	}
	if strings.IndexByte(l.Path, 0) >= 0 {
		return keyErr("logger.path", ErrInvalidValue, "contains a NUL byte")
	}
	if _, ok := canonicalLevel(l.Level); !ok {
		return keyErr("logger.level", ErrInvalidValue, "want one of ERROR, WARN, INFO, DEBUG, got %s", quoteShort(l.Level))
	}
	if _, ok := canonicalLevel(l.ZKLevel); !ok {
		return keyErr("logger.zklevel", ErrInvalidValue, "want one of ERROR, WARN, INFO, DEBUG, got %s", quoteShort(l.ZKLevel))
	}
	switch strings.ToLower(l.Format) {
	case "text", "json":
	default:
		return keyErr("logger.format", ErrInvalidValue, `want "text" or "json", got %s`, quoteShort(l.Format))
	}
	return nil
}

// validate never puts Data in an error.
func (a Auth) validate() error {
	if a.Scheme == "" {
		return keyErr("auth.scheme", ErrInvalidValue, "must not be empty")
	}
	for _, r := range a.Scheme {
		if r == ':' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return keyErr("auth.scheme", ErrInvalidValue, "contains %q, want a scheme name such as \"digest\"", r)
		}
	}
	if a.Scheme == "digest" {
		user, pass, ok := strings.Cut(a.Data, ":")
		if !ok || user == "" || pass == "" {
			return keyErr("auth.data", ErrInvalidValue, `for scheme "digest" want "user:password" (value not shown)`)
		}
	}
	return nil
}

// Levels: the original's four names, plus Python's other names for them,
// which the original, built on Python's logging, took too: WARNING, and
// CRITICAL and FATAL (above ERROR there, ERROR here, the highest).
// logging.ParseLevel accepts the same set; a test of this package keeps the
// two in step.
var levels = map[string]string{
	"CRITICAL": "ERROR",
	"FATAL":    "ERROR",
	"ERROR":    "ERROR",
	"WARN":     "WARN",
	"WARNING":  "WARN",
	"INFO":     "INFO",
	"DEBUG":    "DEBUG",
}

// canonicalLevel returns the upper-case name of level s in any case.
func canonicalLevel(s string) (string, bool) {
	l, ok := levels[strings.ToUpper(s)]
	return l, ok
}

// normalizeHost returns s as "host:port", adding DefaultPort when s has no
// port, or an error saying what is wrong with s.
func normalizeHost(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty host")
	}
	q := quoteShort(s)
	if strings.Contains(s, "/") {
		return "", fmt.Errorf(`%s: a chroot path is not supported here; put the namespace in "app_id"`, q)
	}
	var host, port string
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host, port = s[1:len(s)-1], DefaultPort
	case !strings.Contains(s, ":"):
		host, port = s, DefaultPort
	default:
		var err error
		host, port, err = net.SplitHostPort(s)
		if err != nil {
			if !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
				return "", fmt.Errorf(`%s: write an IPv6 address in brackets, e.g. "[::1]:2181"`, q)
			}
			return "", fmt.Errorf(`%s: want "host:port"`, q)
		}
	}
	if host == "" {
		return "", fmt.Errorf("%s: empty host name", q)
	}
	if err := checkHostName(host, strings.HasPrefix(s, "[")); err != nil {
		return "", fmt.Errorf("%s: %v", q, err)
	}
	n, err := parsePort(port)
	if err != nil {
		return "", fmt.Errorf("%s: %v", q, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// checkHostName accepts an IP address (IPv6 only when bracketed) or a DNS
// name of letters, digits, '-', '.' and '_'.
func checkHostName(host string, bracketed bool) error {
	if bracketed {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return errors.New("brackets must hold an IPv6 address")
		}
		return nil
	}
	if len(host) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("host name contains %q", r)
		}
	}
	return nil
}

func parsePort(port string) (int, error) {
	if port == "" {
		return 0, errors.New("empty port")
	}
	if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
		return 0, fmt.Errorf("port %s is not a number from 1 to 65535", quoteShort(port))
	}
	n, _ := strconv.Atoi(port)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d is not a number from 1 to 65535", n)
	}
	return n, nil
}

// validateAppID checks "app_id" as the part of ZooKeeper paths between the
// root and the lock node: "/"-separated segments, each a valid znode name;
// the first segment may not be "zookeeper", which the server reserves, and
// none may start with ReservedLockPrefix: "a/.zk-flock-queues" would be the
// wait queues of app "a", whose waiters' nodes would then stand where that
// app's locks go, and its locks where the waiters queue.
func validateAppID(id string) error {
	if id == "" {
		return &problem{kind: ErrInvalidValue, msg: "must not be empty"}
	}
	if len(id) > MaxAppIDLen {
		return &problem{kind: ErrInvalidValue, msg: fmt.Sprintf("longer than %d bytes", MaxAppIDLen)}
	}
	if strings.HasPrefix(id, "/") {
		return &problem{kind: ErrInvalidValue, msg: fmt.Sprintf("%s: must not start with more than one \"/\"", quoteShort(id))}
	}
	for i, seg := range strings.Split(id, "/") {
		var err error
		switch {
		case seg == "":
			err = errors.New(`empty path segment ("//" or a trailing "/")`)
		case i == 0 && seg == "zookeeper":
			err = errors.New(`"/zookeeper" is reserved by the ZooKeeper server`)
		case strings.HasPrefix(seg, ReservedLockPrefix):
			err = fmt.Errorf("segment %q: names starting with %q are reserved for zk-flock's wait queues", seg, ReservedLockPrefix)
		default:
			err = checkZnodeName(seg)
		}
		if err != nil {
			return &problem{kind: ErrInvalidValue, msg: fmt.Sprintf("%s: %v", quoteShort(id), err)}
		}
	}
	return nil
}

// checkZnodeName applies ZooKeeper's rules for one path segment
// (org.apache.zookeeper.common.PathUtils.validatePath) and forbids "/".
// ZooKeeper checks Java UTF-16 code units, so its ban on surrogates
// (U+D800–U+DFFF) excludes every character above U+FFFF as well.
func checkZnodeName(s string) error {
	if s == "." || s == ".." {
		return fmt.Errorf("%q is not allowed as a path segment", s)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r == 0:
			return errors.New("contains a NUL character")
		case r == '/':
			return errors.New(`contains "/"`)
		case unicode.IsControl(r): // U+0001–U+001F and U+007F–U+009F
			return fmt.Errorf("contains control character %U", r)
		case r >= 0xD800 && r <= 0xF8FF, r >= 0xFFF0 && r <= 0xFFFF:
			return fmt.Errorf("contains %U, which ZooKeeper does not allow in paths", r)
		case r > 0xFFFF:
			return fmt.Errorf("contains %U: ZooKeeper does not allow characters above U+FFFF in paths", r)
		}
	}
	return nil
}

// ValidateLockName checks a LOCKNAME from the command line: a single znode
// name under /<app_id> — not empty, valid UTF-8 (any script: "блокировка"
// is fine), no "/", no NUL or other control character, not "." or "..", none
// of the characters ZooKeeper refuses in paths, at most MaxLockNameLen bytes.
// ("zookeeper" is fine: the server reserves it only at the root.) The error
// wraps ErrInvalidLockName.
func ValidateLockName(name string) error {
	if err := checkLockName(name); err != nil {
		return fmt.Errorf("%w %s: %v", ErrInvalidLockName, quoteShort(name), err)
	}
	return nil
}

func checkLockName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if len(name) > MaxLockNameLen {
		return fmt.Errorf("longer than %d bytes", MaxLockNameLen)
	}
	if strings.HasPrefix(name, ReservedLockPrefix) {
		return fmt.Errorf("names starting with %q are reserved for zk-flock's wait queues", ReservedLockPrefix)
	}
	return checkZnodeName(name)
}

// ReservedLockPrefix starts the names that zk-flock keeps for itself under
// an app root: waiters queue under /<app_id>/.zk-flock-queues/ and
// /<app_id>/.zk-flock-slot-queues/.
const ReservedLockPrefix = ".zk-flock"

// ValidateLockPath checks everything ValidateLockName does, plus appID (as
// Validate would) and, when slots > 0 (a semaphore of that many slots,
// nodes <name>_0 … <name>_<slots-1>), that there are at most MaxSlots and
// the longest node name still fits MaxLockNameLen. slots <= 0 means a plain lock at /<appID>/<name>.
func ValidateLockPath(appID, name string, slots int) error {
	if err := validateAppID(appID); err != nil {
		return &KeyError{Key: "app_id", Err: err}
	}
	if err := ValidateLockName(name); err != nil {
		return err
	}
	if slots > MaxSlots {
		return fmt.Errorf("%d slots: %w", slots, ErrTooManySlots)
	}
	if slots > 0 {
		longest := name + "_" + strconv.Itoa(slots-1)
		if len(longest) > MaxLockNameLen {
			return fmt.Errorf("%w %s: with %d slots the node name %s is longer than %d bytes",
				ErrInvalidLockName, quoteShort(name), slots, quoteShort(longest), MaxLockNameLen)
		}
	}
	return nil
}
