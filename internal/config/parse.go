package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Load reads and validates the configuration file at path (see Parse). Every
// error names the path. A symbolic link is followed; the permission check
// behind Warnings applies to the file it points to.
func Load(path string) (Config, error) {
	// Opened non-blocking: a FIFO that no one writes would block the
	// open for ever (before zk-flock handles any signal); this way it
	// reads as empty. One with a writer reads as a file does.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	if info, err := f.Stat(); err == nil {
		if w := secretModeWarning(path, info, cfg); w != "" {
			cfg.warnings = append(cfg.warnings, w)
		}
	}
	return cfg, nil
}

// Keys are the configuration file's top-level keys.
var Keys = []string{
	"host", "timeout", "app_id", "sleep", "maxla", "logger", "auth",
	"grace", "margin", "max_runtime", "metrics_file", "acl", "tls",
}

// Parse reads one JSON object from r, at most MaxFileSize bytes, overlays it
// on Default, normalizes it and validates it.
//
// The file is strict JSON, as the original's json.load required: no
// comments, no trailing commas, nothing after the object. Keys are
// case-sensitive; unknown keys are ignored (fleets carry their own), and a
// null value of an optional key counts as absent. A key that appears twice
// in an object takes its last value, as with the original (Python's json),
// and a key this package reads gets a warning (Warnings) for it. Normalization: "host" entries may each
// hold several comma-separated servers (the original joined the list with
// commas into one connection string) and get DefaultPort when they have no
// port; one leading "/" of "app_id" is stripped; levels become upper-case
// with WARNING as WARN; "format" becomes lower-case.
//
// On error the Config is the zero value and the error is a *SyntaxError, a
// *KeyError, or wraps ErrEmpty, ErrTooLarge or a read error.
func Parse(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return Config{}, err
	}
	if len(data) > MaxFileSize {
		return Config{}, ErrTooLarge
	}
	cfg, err := parse(data)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// parse decodes data onto Default, with type checks and normalization only;
// Parse validates.
func parse(data []byte) (Config, error) {
	data = bytes.TrimPrefix(data, utf8BOM) // Some editors write one.
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, ErrEmpty
	}
	top, err := topObject(data)
	if err != nil {
		return Config{}, err
	}
	cfg := Default()
	var dups []string
	obj, err := readObject("", top, Keys, &dups)
	if err != nil {
		return Config{}, err
	}

	// Required keys.
	raw, err := obj.required("host")
	if err != nil {
		return Config{}, err
	}
	if cfg.Hosts, err = parseHosts(raw); err != nil {
		return Config{}, err
	}
	if raw, err = obj.required("timeout"); err != nil {
		return Config{}, err
	}
	if cfg.Timeout, err = seconds("timeout", raw, 0, MaxTimeout); err != nil {
		return Config{}, err
	}
	if raw, err = obj.required("app_id"); err != nil {
		return Config{}, err
	}
	if cfg.AppID, err = str("app_id", raw); err != nil {
		return Config{}, err
	}
	cfg.AppID = strings.TrimPrefix(cfg.AppID, "/")

	// Optional keys.
	if raw, ok := obj.optional("sleep"); ok {
		if cfg.Sleep, err = parseSleep(raw); err != nil {
			return Config{}, err
		}
	}
	if raw, ok := obj.optional("maxla"); ok {
		if cfg.MaxLA, err = number("maxla", raw, "want a number"); err != nil {
			return Config{}, err
		}
	}
	if raw, ok := obj.optional("logger"); ok {
		if err := parseLogger(&cfg.Logger, raw, &dups); err != nil {
			return Config{}, err
		}
	}
	if raw, ok := obj.optional("auth"); ok {
		if cfg.Auth, err = parseAuth(raw, &dups); err != nil {
			return Config{}, err
		}
	}
	if cfg.Auth != nil {
		cfg.ACL = ACLCreator // Default's is ACLWorld
	}
	if raw, ok := obj.optional("acl"); ok {
		if cfg.ACL, err = parseACL(raw); err != nil {
			return Config{}, err
		}
	}
	if raw, ok := obj.optional("tls"); ok {
		if cfg.TLS, err = parseTLS(raw, &dups); err != nil {
			return Config{}, err
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
		max time.Duration
	}{
		{"grace", &cfg.Grace, MaxGrace},
		{"margin", &cfg.Margin, MaxMargin},
		{"max_runtime", &cfg.MaxRuntime, MaxMaxRuntime},
	} {
		if raw, ok := obj.optional(d.key); ok {
			// As on the command line, a positive value below a
			// millisecond is refused: surely a slip of unit, and below
			// a nanosecond it would round to 0, which means something
			// else ("no limit", "SIGKILL at once").
			if *d.dst, err = seconds(d.key, raw, time.Millisecond, d.max); err != nil {
				return Config{}, err
			}
		}
	}
	if raw, ok := obj.optional("metrics_file"); ok {
		if cfg.MetricsFile, err = str("metrics_file", raw); err != nil {
			return Config{}, err
		}
	}
	for _, k := range dups {
		cfg.warnings = append(cfg.warnings, fmt.Sprintf("config: %q appears more than once; the last one is used", k))
	}
	return cfg, nil
}

// topObject returns the single JSON value in data, which must be an object
// followed by nothing but white space.
func topObject(data []byte) (json.RawMessage, error) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, syntaxAt(data, off+1, "invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var top json.RawMessage
	if err := dec.Decode(&top); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, syntaxAt(data, int(se.Offset), se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF):
			se := syntaxAt(data, len(data), "unexpected end of file (unclosed object, array or string)")
			if data[len(data)-1] != '\n' {
				se.Column++ // Just after the last character.
			}
			return nil, se
		default:
			return nil, syntaxAt(data, len(data), err.Error())
		}
	}
	off := int(dec.InputOffset())
	if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
		return nil, syntaxAt(data, len(data)-len(rest)+1, "unexpected data after the JSON object")
	}
	if t := jsonType(top); t != "object" {
		return nil, fmt.Errorf("config: want a JSON object at the top level, got %s", withArticle(t))
	}
	return top, nil
}

// syntaxAt builds a *SyntaxError for the byte just before offset, the way
// json.SyntaxError.Offset counts ("after reading Offset bytes").
func syntaxAt(data []byte, offset int, msg string) *SyntaxError {
	offset = max(0, min(offset, len(data)))
	line, col := 1, 0
	lineStart := 0
	for i, b := range data[:offset] {
		if b == '\n' {
			line++
			lineStart = i + 1
		}
	}
	col = utf8.RuneCount(data[lineStart:offset])
	if col == 0 {
		col = 1
	}
	if offset > 0 && data[offset-1] == '/' && offset < len(data) && (data[offset] == '/' || data[offset] == '*') {
		msg += " (comments are not allowed: the file must be strict JSON, as the original zk-flock required)"
	} else if offset > 0 && (data[offset-1] == '}' || data[offset-1] == ']') {
		if before := bytes.TrimRight(data[:offset-1], " \t\r\n"); len(before) > 0 && before[len(before)-1] == ',' {
			msg += " (trailing commas are not allowed in JSON)"
		}
	}
	return &SyntaxError{Line: line, Column: col, Msg: msg}
}

// object is a decoded JSON object: the last value of every key, by key.
type object struct {
	prefix string // "" at the top level, "logger." inside "logger"
	vals   map[string]json.RawMessage
	keys   []string // every key, in order, for hints
}

// readObject splits raw (a valid JSON object) into its members. A key may
// repeat, and the last one wins, as with the original, which read the file
// with Python's json; a repeated key of known is added to *dups (with the
// prefix), for a warning.
func readObject(prefix string, raw json.RawMessage, known []string, dups *[]string) (*object, error) {
	obj := &object{prefix: prefix, vals: make(map[string]json.RawMessage)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, fmt.Errorf("config: %w", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if _, dup := obj.vals[key]; dup && contains(known, key) && !contains(*dups, prefix+key) {
			*dups = append(*dups, prefix+key)
		}
		obj.vals[key] = val
		obj.keys = append(obj.keys, key)
	}
	return obj, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// required returns the value of key, which must be present (it may still be
// null: the caller's type check reports that).
func (o *object) required(key string) (json.RawMessage, error) {
	if raw, ok := o.vals[key]; ok {
		return raw, nil
	}
	for _, k := range o.keys {
		if strings.EqualFold(k, key) {
			return nil, keyErr(o.prefix+key, ErrMissingKey,
				"%v (found %q: keys are case-sensitive)", ErrMissingKey, k)
		}
	}
	return nil, missing(o.prefix + key)
}

// optional returns the value of key unless it is absent or null.
func (o *object) optional(key string) (json.RawMessage, bool) {
	raw, ok := o.vals[key]
	if !ok || jsonType(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// jsonType names the type of a valid JSON value.
func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func withArticle(t string) string {
	switch t {
	case "null", "nothing":
		return t
	case "object", "array":
		return "an " + t
	default:
		return "a " + t
	}
}

func str(key string, raw json.RawMessage) (string, error) {
	if t := jsonType(raw); t != "string" {
		return "", keyErr(key, ErrWrongType, "want a string, got %s", t)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", keyErr(key, ErrWrongType, "want a string: %v", err)
	}
	return s, nil
}

// number decodes a JSON number; want is the message for any other type.
func number(key string, raw json.RawMessage, want string) (float64, error) {
	if t := jsonType(raw); t != "number" {
		return 0, keyErr(key, ErrWrongType, "%s, got %s", want, t)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil { // Only ErrRange: raw is a valid JSON number.
		return 0, keyErr(key, ErrInvalidValue, "number %.40s is out of range", raw)
	}
	return f, nil
}

// seconds decodes a non-negative number of seconds, at most max, and
// either 0 or at least minPositive.
func seconds(key string, raw json.RawMessage, minPositive, max time.Duration) (time.Duration, error) {
	f, err := number(key, raw, "want a number of seconds")
	if err != nil {
		return 0, err
	}
	if f < 0 {
		return 0, keyErr(key, ErrInvalidValue, "must not be negative, got %v", f)
	}
	if f > 0 && f < minPositive.Seconds() {
		return 0, keyErr(key, ErrInvalidValue, "must be 0 or at least %v seconds, got %s", minPositive.Seconds(), raw)
	}
	if f > max.Seconds() {
		return 0, keyErr(key, ErrInvalidValue, "must be at most %v seconds, got %v", max.Seconds(), f)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func parseHosts(raw json.RawMessage) ([]string, error) {
	const want = `want a list of "host:port" strings`
	if t := jsonType(raw); t != "array" {
		return nil, keyErr("host", ErrWrongType, "%s, got %s", want, t)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, keyErr("host", ErrWrongType, "%s: %v", want, err)
	}
	if len(entries) == 0 {
		return nil, keyErr("host", ErrInvalidValue, "the list is empty; want at least one ZooKeeper server")
	}
	var hosts []string
	for i, e := range entries {
		if t := jsonType(e); t != "string" {
			return nil, keyErr("host", ErrWrongType, "entry %d: %s, got %s", i+1, want, t)
		}
		var s string
		if err := json.Unmarshal(e, &s); err != nil {
			return nil, keyErr("host", ErrWrongType, "entry %d: %v", i+1, err)
		}
		// The original joined the list with commas into one connection
		// string, so an entry holding "a:2181,b:2181" worked; keep it so.
		for part := range strings.SplitSeq(s, ",") {
			h, err := normalizeHost(strings.TrimSpace(part))
			if err != nil {
				return nil, keyErr("host", ErrInvalidValue, "entry %d: %v", i+1, err)
			}
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

func parseSleep(raw json.RawMessage) (bool, error) {
	const want = `want "ON" or "OFF"`
	if t := jsonType(raw); t != "string" {
		return false, keyErr("sleep", ErrWrongType, "%s, got %s", want, t)
	}
	s, err := str("sleep", raw)
	if err != nil {
		return false, err
	}
	switch strings.ToUpper(s) {
	case "ON":
		return true, nil
	case "OFF":
		return false, nil
	}
	return false, keyErr("sleep", ErrInvalidValue, "%s, got %s", want, quoteShort(s))
}

func parseLogger(l *Logger, raw json.RawMessage, dups *[]string) error {
	if t := jsonType(raw); t != "object" {
		return keyErr("logger", ErrWrongType, "want an object, got %s", t)
	}
	obj, err := readObject("logger.", raw, []string{"path", "level", "zklevel", "format"}, dups)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"path", &l.Path},
		{"level", &l.Level},
		{"zklevel", &l.ZKLevel},
		{"format", &l.Format},
	} {
		if raw, ok := obj.optional(f.key); ok {
			if *f.dst, err = str("logger."+f.key, raw); err != nil {
				return err
			}
		}
	}
	// Normalize; Validate reports values that are not levels or formats.
	if lv, ok := canonicalLevel(l.Level); ok {
		l.Level = lv
	}
	if lv, ok := canonicalLevel(l.ZKLevel); ok {
		l.ZKLevel = lv
	}
	l.Format = strings.ToLower(l.Format)
	return nil
}

func parseAuth(raw json.RawMessage, dups *[]string) (*Auth, error) {
	if t := jsonType(raw); t != "object" {
		return nil, keyErr("auth", ErrWrongType, "want an object, got %s", t)
	}
	obj, err := readObject("auth.", raw, []string{"scheme", "data"}, dups)
	if err != nil {
		return nil, err
	}
	var a Auth
	if raw, err = obj.required("scheme"); err != nil {
		return nil, err
	}
	if a.Scheme, err = str("auth.scheme", raw); err != nil {
		return nil, err
	}
	if raw, err = obj.required("data"); err != nil {
		return nil, err
	}
	// str never puts the value in its error.
	if a.Data, err = str("auth.data", raw); err != nil {
		return nil, err
	}
	return &a, nil
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const n = 64
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
