package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimal holds the three required keys; cases append to it.
const minimal = `"host": ["zk1:2181"], "timeout": 5, "app_id": "app"`

func obj(members ...string) string {
	return "{" + strings.Join(append([]string{minimal}, members...), ", ") + "}"
}

func TestLoadReadmeExample(t *testing.T) {
	cfg, err := Load("testdata/distributed-flock.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Hosts:   []string{"hostname1:2181", "hostname2:2181", "hostname3:2181"},
		Timeout: 5 * time.Second,
		AppID:   "my_application_namespace",
		Sleep:   true,
		MaxLA:   30,
		Logger:  Logger{Path: "/tmp/zkflock.log", Level: "INFO", ZKLevel: "ERROR", Format: "text"},
		Auth:    &Auth{Scheme: "digest", Data: "noxiouz:password"},
		ACL:     ACLCreator,
		Grace:   DefaultGrace,
	}
	cfg.warnings = nil // depends on the checkout's umask; see TestLoadWarnsAboutReadablePassword
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %s\nwant %s", cfg, want)
	}
}

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Hosts:       []string{"zk1.example.com:2181", "zk2.example.com:2181", "[::1]:2182"},
		Timeout:     2500 * time.Millisecond,
		AppID:       "team/nightly",
		Sleep:       false,
		MaxLA:       -1,
		Logger:      Logger{Path: "/var/log/zk-flock.log", Level: "DEBUG", ZKLevel: "WARN", Format: "json"},
		Auth:        &Auth{Scheme: "digest", Data: "svc:s3cret-pw"},
		ACL:         ACLCreator,
		Grace:       10 * time.Second,
		Margin:      1500 * time.Millisecond,
		MaxRuntime:  time.Hour,
		MetricsFile: "/var/lib/zk-flock/metrics.prom",
	}
	cfg.warnings = nil // depends on the checkout's umask; see TestLoadWarnsAboutReadablePassword
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %s\nwant %s", cfg, want)
	}
}

// The README's example has // comments, which the original's json.load
// rejected; so do we, pointing at the first one.
func TestLoadReadmeWithComments(t *testing.T) {
	const path = "testdata/readme-with-comments.json"
	_, err := Load(path)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Load: got %v, want a *SyntaxError", err)
	}
	if se.Line != 5 || se.Column != 23 {
		t.Errorf("position: got line %d, column %d; want line 5, column 23", se.Line, se.Column)
	}
	for _, want := range []string{path, "line 5, column 23", "comments are not allowed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("errors.Is(%v, ErrSyntax) = false", err)
	}
}

func TestLoadErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	missingPath := filepath.Join(dir, "nope.json")
	_, err := Load(missingPath)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missingPath) {
		t.Errorf("missing file: got %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"host": ["zk1"], "app_id": "a"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if !errors.Is(err, ErrMissingKey) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"timeout"`) {
		t.Errorf("missing timeout: got %v", err)
	}
	_, err = Load(dir) // a directory: reading fails, the path is named
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: got %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse(strings.NewReader(obj()))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Hosts, want.Timeout, want.AppID = []string{"zk1:2181"}, 5*time.Second, "app"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %s\nwant %s", cfg, want)
	}
	if cfg.MaxLA != -1 || cfg.Logger.Path != "/dev/null" || cfg.Logger.Level != "INFO" ||
		cfg.Logger.ZKLevel != "WARN" || cfg.Logger.Format != "text" || cfg.Auth != nil ||
		cfg.Grace != DefaultGrace || cfg.Margin != 0 || cfg.MaxRuntime != 0 {
		t.Errorf("defaults: %s", cfg)
	}
}

func TestParseOK(t *testing.T) {
	tests := []struct {
		name  string
		input string
		check func(Config) bool
	}{
		{"fractional timeout", `{"host":["zk:2181"],"timeout":0.25,"app_id":"a"}`,
			func(c Config) bool { return c.Timeout == 250*time.Millisecond }},
		{"exponent timeout", `{"host":["zk:2181"],"timeout":1e1,"app_id":"a"}`,
			func(c Config) bool { return c.Timeout == 10*time.Second }},
		{"max timeout", `{"host":["zk:2181"],"timeout":3600,"app_id":"a"}`,
			func(c Config) bool { return c.Timeout == time.Hour }},
		{"host without port gets 2181", `{"host":["zk1","zk2:2182"],"timeout":5,"app_id":"a"}`,
			func(c Config) bool { return reflect.DeepEqual(c.Hosts, []string{"zk1:2181", "zk2:2182"}) }},
		{"ipv6 in brackets", `{"host":["[::1]:2181","[fe80::1]"],"timeout":5,"app_id":"a"}`,
			func(c Config) bool { return reflect.DeepEqual(c.Hosts, []string{"[::1]:2181", "[fe80::1]:2181"}) }},
		{"ipv4", `{"host":["10.0.0.1:2181"],"timeout":5,"app_id":"a"}`,
			func(c Config) bool { return c.Hosts[0] == "10.0.0.1:2181" }},
		{"comma-separated entry, as the original joined them", `{"host":["zk1:2181, zk2:2181,zk3"],"timeout":5,"app_id":"a"}`,
			func(c Config) bool { return reflect.DeepEqual(c.Hosts, []string{"zk1:2181", "zk2:2181", "zk3:2181"}) }},
		{"port with leading zero", `{"host":["zk:02181"],"timeout":5,"app_id":"a"}`,
			func(c Config) bool { return c.Hosts[0] == "zk:2181" }},
		{"leading slash stripped", obj()[:len(obj())-1] + `}`,
			func(c Config) bool { return c.AppID == "app" }},
		{"app_id with leading slash", `{"host":["zk"],"timeout":5,"app_id":"/ns"}`,
			func(c Config) bool { return c.AppID == "ns" }},
		{"nested app_id", `{"host":["zk"],"timeout":5,"app_id":"team/job"}`,
			func(c Config) bool { return c.AppID == "team/job" }},
		{"cyrillic app_id", `{"host":["zk"],"timeout":5,"app_id":"приложение"}`,
			func(c Config) bool { return c.AppID == "приложение" }},
		{"zookeeper below the root is fine", `{"host":["zk"],"timeout":5,"app_id":"a/zookeeper"}`,
			func(c Config) bool { return c.AppID == "a/zookeeper" }},
		{"sleep ON", obj(`"sleep":"ON"`), func(c Config) bool { return c.Sleep }},
		{"sleep on", obj(`"sleep":"on"`), func(c Config) bool { return c.Sleep }},
		{"sleep Off", obj(`"sleep":"Off"`), func(c Config) bool { return !c.Sleep }},
		{"maxla", obj(`"maxla":2.5`), func(c Config) bool { return c.MaxLA == 2.5 }},
		{"maxla zero", obj(`"maxla":0`), func(c Config) bool { return c.MaxLA == 0 }},
		{"levels any case", obj(`"logger":{"level":"debug","zklevel":"Error"}`),
			func(c Config) bool { return c.Logger.Level == "DEBUG" && c.Logger.ZKLevel == "ERROR" }},
		{"WARNING alias", obj(`"logger":{"level":"warning","zklevel":"WARNING"}`),
			func(c Config) bool { return c.Logger.Level == "WARN" && c.Logger.ZKLevel == "WARN" }},
		{"Python's CRITICAL and FATAL are ERROR", obj(`"logger":{"level":"critical","zklevel":"FATAL"}`),
			func(c Config) bool { return c.Logger.Level == "ERROR" && c.Logger.ZKLevel == "ERROR" }},
		{"format JSON", obj(`"logger":{"format":"JSON"}`), func(c Config) bool { return c.Logger.Format == "json" }},
		{"logger partial keeps defaults", obj(`"logger":{"path":"/tmp/x.log"}`),
			func(c Config) bool {
				return c.Logger == Logger{Path: "/tmp/x.log", Level: "INFO", ZKLevel: "WARN", Format: "text"}
			}},
		{"logger empty object", obj(`"logger":{}`), func(c Config) bool { return c.Logger == Default().Logger }},
		{"null optional keys are absent", obj(`"sleep":null,"maxla":null,"logger":null,"auth":null,"grace":null,"metrics_file":null`),
			func(c Config) bool {
				d := Default()
				return c.MaxLA == d.MaxLA && c.Logger == d.Logger && c.Auth == nil && !c.Sleep && c.Grace == DefaultGrace
			}},
		{"null inside logger", obj(`"logger":{"level":null}`), func(c Config) bool { return c.Logger.Level == "INFO" }},
		{"non-digest auth is opaque", obj(`"auth":{"scheme":"sasl","data":"anything"}`),
			func(c Config) bool { return *c.Auth == Auth{Scheme: "sasl", Data: "anything"} }},
		{"digest with colon in password", obj(`"auth":{"scheme":"digest","data":"u:p:q"}`),
			func(c Config) bool { return c.Auth.Data == "u:p:q" }},
		{"self-fencing keys", obj(`"grace":0.5,"margin":2,"max_runtime":86400`),
			func(c Config) bool {
				return c.Grace == 500*time.Millisecond && c.Margin == 2*time.Second && c.MaxRuntime == 24*time.Hour
			}},
		// grace 0: SIGKILL at once; margin 0: the default; max_runtime 0: no limit.
		{"zero self-fencing keys", obj(`"grace":0,"margin":0,"max_runtime":0`),
			func(c Config) bool { return c.Grace == 0 && c.Margin == 0 && c.MaxRuntime == 0 }},
		{"unknown keys ignored, any type", obj(`"path":"/var/log","extra":{"deep":[1,{"x":null}]},"Host":3`),
			func(c Config) bool { return c.Hosts[0] == "zk1:2181" }},
		{"unknown key may repeat", obj(`"note":1,"note":2`), func(c Config) bool { return true }},
		{"unknown key inside logger ignored", obj(`"logger":{"rotate":"daily"}`), func(c Config) bool { return true }},
		{"BOM tolerated", "\ufeff" + obj(), func(c Config) bool { return c.AppID == "app" }},
		{"trailing white space", obj() + "\n\n  \t\r\n", func(c Config) bool { return true }},
		{"escaped strings", `{"host":["zk1:2181"],"timeout":5,"app_id":"\u0430pp"}`,
			func(c Config) bool { return c.AppID == "аpp" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.input, err)
			}
			if !tt.check(cfg) {
				t.Errorf("Parse(%s): unexpected %s", tt.input, cfg)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		is    error  // errors.Is target, if any
		key   string // KeyError.Key, if any
		msg   string // substring of the message
	}{
		// Not a config at all.
		{"empty", "", ErrEmpty, "", "empty"},
		{"white space only", " \n\t ", ErrEmpty, "", "empty"},
		{"BOM only", "\ufeff", ErrEmpty, "", "empty"},
		{"array", `[1,2]`, nil, "", "want a JSON object at the top level, got an array"},
		{"string", `"host"`, nil, "", "got a string"},
		{"null", `null`, nil, "", "got null"},

		// Syntax, with positions.
		{"truncated", "{\n\"host\": [", ErrSyntax, "", "line 2, column 10: unexpected end of file"},
		{"trailing garbage", obj() + " x", ErrSyntax, "", "unexpected data after the JSON object"},
		{"two objects", obj() + obj(), ErrSyntax, "", "unexpected data after the JSON object"},
		{"trailing comma", "{\"host\": [\"zk\"],\n}", ErrSyntax, "", "line 2, column 1: invalid character '}' looking for beginning of object key string (trailing commas"},
		{"trailing comma in list", `{"host": ["zk",]}`, ErrSyntax, "", "trailing commas"},
		{"single quotes", "{'host': 1}", ErrSyntax, "", "line 1, column 2"},
		{"block comment", "{\n  /* hi */ \"host\": 1}", ErrSyntax, "", "comments are not allowed"},
		{"NaN", obj(`"maxla": NaN`), ErrSyntax, "", "invalid character 'N'"},
		{"invalid UTF-8", "{\n\"app_id\": \"a\xffb\"}", ErrSyntax, "", "line 2, column 13: invalid UTF-8"},
		{"column counts characters", "{\"app_id\": \"ж\", x}", ErrSyntax, "", "line 1, column 17"},

		// Missing keys.
		{"missing host", `{"timeout":5,"app_id":"a"}`, ErrMissingKey, "host", `"host": missing required key`},
		{"missing timeout", `{"host":["zk"],"app_id":"a"}`, ErrMissingKey, "timeout", "missing"},
		{"missing app_id", `{"host":["zk"],"timeout":5}`, ErrMissingKey, "app_id", "missing"},
		{"case hint", `{"Host":["zk"],"timeout":5,"app_id":"a"}`, ErrMissingKey, "host", `found "Host": keys are case-sensitive`},
		{"auth without data", obj(`"auth":{"scheme":"digest"}`), ErrMissingKey, "auth.data", "missing"},
		{"auth without scheme", obj(`"auth":{"data":"u:p"}`), ErrMissingKey, "auth.scheme", "missing"},

		// Wrong types.
		{"host string", `{"host":"zk1:2181","timeout":5,"app_id":"a"}`, ErrWrongType, "host", `want a list of "host:port" strings, got string`},
		{"host null", `{"host":null,"timeout":5,"app_id":"a"}`, ErrWrongType, "host", "got null"},
		{"host entry number", `{"host":["zk",2181],"timeout":5,"app_id":"a"}`, ErrWrongType, "host", "entry 2"},
		{"timeout string", `{"host":["zk"],"timeout":"5","app_id":"a"}`, ErrWrongType, "timeout", `config: "timeout": want a number of seconds, got string`},
		{"timeout null", `{"host":["zk"],"timeout":null,"app_id":"a"}`, ErrWrongType, "timeout", "got null"},
		{"app_id number", `{"host":["zk"],"timeout":5,"app_id":7}`, ErrWrongType, "app_id", "want a string, got number"},
		{"sleep bool", obj(`"sleep":true`), ErrWrongType, "sleep", `want "ON" or "OFF", got boolean`},
		{"maxla string", obj(`"maxla":"30"`), ErrWrongType, "maxla", "want a number, got string"},
		{"logger string", obj(`"logger":"/tmp/x"`), ErrWrongType, "logger", "want an object, got string"},
		{"logger.level number", obj(`"logger":{"level":10}`), ErrWrongType, "logger.level", "want a string, got number"},
		{"auth array", obj(`"auth":["digest"]`), ErrWrongType, "auth", "want an object, got array"},
		{"grace string", obj(`"grace":"10s"`), ErrWrongType, "grace", "want a number of seconds, got string"},
		{"metrics_file bool", obj(`"metrics_file":false`), ErrWrongType, "metrics_file", "want a string, got boolean"},

		// Invalid values.
		{"empty host list", `{"host":[],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "empty"},
		{"empty host entry", `{"host":[""],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "entry 1: empty host"},
		{"empty comma part", `{"host":["zk1,,zk2"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "empty host"},
		{"empty port", `{"host":["zk1:"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "empty port"},
		{"port zero", `{"host":["zk1:0"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "port 0 is not"},
		{"port too big", `{"host":["zk1:65536"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "port 65536"},
		{"port not a number", `{"host":["zk1:http"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", `port "http"`},
		{"port signed", `{"host":["zk1:+2181"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", `port "+2181"`},
		{"empty host name", `{"host":[":2181"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "empty host name"},
		{"bare ipv6", `{"host":["::1"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "in brackets"},
		{"brackets not ipv6", `{"host":["[zk1]:2181"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "IPv6"},
		{"chroot", `{"host":["zk1:2181/chroot"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", "chroot"},
		{"space in host", `{"host":["zk 1:2181"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", `contains ' '`},
		{"scheme in host", `{"host":["zk://zk1:2181"],"timeout":5,"app_id":"a"}`, ErrInvalidValue, "host", ""},
		{"timeout zero", `{"host":["zk"],"timeout":0,"app_id":"a"}`, ErrInvalidValue, "timeout", "greater than 0"},
		{"timeout negative", `{"host":["zk"],"timeout":-5,"app_id":"a"}`, ErrInvalidValue, "timeout", "negative"},
		{"grace below a millisecond", `{"host":["zk"],"timeout":5,"app_id":"a","grace":1e-7}`, ErrInvalidValue, "grace", "must be 0 or at least 0.001 seconds"},
		{"max_runtime below a millisecond", `{"host":["zk"],"timeout":5,"app_id":"a","max_runtime":0.0005}`, ErrInvalidValue, "max_runtime", "must be 0 or at least 0.001 seconds"},
		{"margin below a millisecond", `{"host":["zk"],"timeout":5,"app_id":"a","margin":1e-9}`, ErrInvalidValue, "margin", "must be 0 or at least 0.001 seconds"},
		{"grace below a nanosecond", `{"host":["zk"],"timeout":5,"app_id":"a","grace":1e-12}`, ErrInvalidValue, "grace", "must be 0 or at least 0.001 seconds"},
		{"timeout tiny", `{"host":["zk"],"timeout":1e-12,"app_id":"a"}`, ErrInvalidValue, "timeout", "greater than 0"},
		{"timeout below 1ms", `{"host":["zk"],"timeout":0.0001,"app_id":"a"}`, ErrInvalidValue, "timeout", "at least 1ms"},
		{"timeout over an hour", `{"host":["zk"],"timeout":3601,"app_id":"a"}`, ErrInvalidValue, "timeout", "at most 3600"},
		{"timeout in milliseconds by mistake", `{"host":["zk"],"timeout":5000,"app_id":"a"}`, ErrInvalidValue, "timeout", "at most"},
		{"timeout out of float range", `{"host":["zk"],"timeout":1e999,"app_id":"a"}`, ErrInvalidValue, "timeout", "out of range"},
		{"empty app_id", `{"host":["zk"],"timeout":5,"app_id":""}`, ErrInvalidValue, "app_id", "must not be empty"},
		{"slash app_id", `{"host":["zk"],"timeout":5,"app_id":"/"}`, ErrInvalidValue, "app_id", "must not be empty"},
		{"double leading slash", `{"host":["zk"],"timeout":5,"app_id":"//a"}`, ErrInvalidValue, "app_id", `start with more than one "/"`},
		{"empty segment", `{"host":["zk"],"timeout":5,"app_id":"a//b"}`, ErrInvalidValue, "app_id", "empty path segment"},
		{"trailing slash", `{"host":["zk"],"timeout":5,"app_id":"a/"}`, ErrInvalidValue, "app_id", "empty path segment"},
		{"dot segment", `{"host":["zk"],"timeout":5,"app_id":"a/./b"}`, ErrInvalidValue, "app_id", `"." is not allowed`},
		{"dotdot segment", `{"host":["zk"],"timeout":5,"app_id":".."}`, ErrInvalidValue, "app_id", `".." is not allowed`},
		{"NUL in app_id", `{"host":["zk"],"timeout":5,"app_id":"a\u0000b"}`, ErrInvalidValue, "app_id", "NUL"},
		{"newline in app_id", `{"host":["zk"],"timeout":5,"app_id":"a\nb"}`, ErrInvalidValue, "app_id", "control character U+000A"},
		{"C1 control in app_id", `{"host":["zk"],"timeout":5,"app_id":"a\u0085b"}`, ErrInvalidValue, "app_id", "control character U+0085"},
		{"private use in app_id", `{"host":["zk"],"timeout":5,"app_id":"a\ue000"}`, ErrInvalidValue, "app_id", "U+E000"},
		{"lone surrogate in app_id", `{"host":["zk"],"timeout":5,"app_id":"a\ud800"}`, ErrInvalidValue, "app_id", "U+FFFD"},
		{"emoji in app_id", `{"host":["zk"],"timeout":5,"app_id":"a😀"}`, ErrInvalidValue, "app_id", "above U+FFFF"},
		{"reserved root", `{"host":["zk"],"timeout":5,"app_id":"zookeeper/x"}`, ErrInvalidValue, "app_id", "reserved"},
		{"another app's wait queues", `{"host":["zk"],"timeout":5,"app_id":"a/.zk-flock-queues"}`, ErrInvalidValue, "app_id", "reserved for zk-flock's wait queues"},
		{"another app's semaphore queues", `{"host":["zk"],"timeout":5,"app_id":"a/.zk-flock-slot-queues/b"}`, ErrInvalidValue, "app_id", "reserved for zk-flock's wait queues"},
		{"a reserved top segment", `{"host":["zk"],"timeout":5,"app_id":".zk-flock"}`, ErrInvalidValue, "app_id", "reserved for zk-flock's wait queues"},
		{"app_id too long", `{"host":["zk"],"timeout":5,"app_id":"` + strings.Repeat("a", MaxAppIDLen+1) + `"}`, ErrInvalidValue, "app_id", "longer than 1024"},
		{"sleep yes", obj(`"sleep":"yes"`), ErrInvalidValue, "sleep", `got "yes"`},
		{"maxla huge", obj(`"maxla":-1e400`), ErrInvalidValue, "maxla", "out of range"},
		{"level unknown", obj(`"logger":{"level":"TRACE"}`), ErrInvalidValue, "logger.level", `want one of ERROR, WARN, INFO, DEBUG, got "TRACE"`},
		{"level NOTSET", obj(`"logger":{"level":"NOTSET"}`), ErrInvalidValue, "logger.level", "NOTSET"},
		{"zklevel empty", obj(`"logger":{"zklevel":""}`), ErrInvalidValue, "logger.zklevel", `got ""`},
		{"format unknown", obj(`"logger":{"format":"xml"}`), ErrInvalidValue, "logger.format", `want "text" or "json"`},
		{"log path empty", obj(`"logger":{"path":""}`), ErrInvalidValue, "logger.path", "must not be empty"},
		{"log path NUL", obj(`"logger":{"path":"/tmp/a\u0000"}`), ErrInvalidValue, "logger.path", "NUL"},
		{"empty scheme", obj(`"auth":{"scheme":"","data":"u:p"}`), ErrInvalidValue, "auth.scheme", "empty"},
		{"digest without colon", obj(`"auth":{"scheme":"digest","data":"userpassword"}`), ErrInvalidValue, "auth.data", `"user:password"`},
		{"digest empty user", obj(`"auth":{"scheme":"digest","data":":pw"}`), ErrInvalidValue, "auth.data", `"user:password"`},
		{"digest empty password", obj(`"auth":{"scheme":"digest","data":"user:"}`), ErrInvalidValue, "auth.data", `"user:password"`},
		{"grace negative", obj(`"grace":-1`), ErrInvalidValue, "grace", "negative"},
		{"margin negative", obj(`"margin":-0.5`), ErrInvalidValue, "margin", "negative"},
		{"max_runtime negative", obj(`"max_runtime":-1`), ErrInvalidValue, "max_runtime", "negative"},
		{"grace too long", obj(`"grace":7200`), ErrInvalidValue, "grace", "at most"},
		{"max_runtime overflow", obj(`"max_runtime":1e300`), ErrInvalidValue, "max_runtime", "at most"},
		{"metrics_file NUL", obj(`"metrics_file":"a\u0000"`), ErrInvalidValue, "metrics_file", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("Parse(%.80q) = %s, want an error", tt.input, cfg)
			}
			if !reflect.DeepEqual(cfg, Config{}) {
				t.Errorf("Parse returned a non-zero Config with an error: %s", cfg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%q, %v) = false", err, tt.is)
			}
			var ke *KeyError
			if tt.key != "" {
				if !errors.As(err, &ke) {
					t.Errorf("error %q is not a *KeyError", err)
				} else if ke.Key != tt.key {
					t.Errorf("KeyError.Key = %q, want %q (error %q)", ke.Key, tt.key, err)
				}
				if !strings.HasPrefix(err.Error(), fmt.Sprintf("config: %q: ", tt.key)) {
					t.Errorf("error %q does not start with the key", err)
				}
			} else if errors.As(err, &ke) {
				t.Errorf("unexpected *KeyError %q", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestParseSizeAndDepth(t *testing.T) {
	// Exactly MaxFileSize bytes is fine.
	doc := obj()
	padded := doc + strings.Repeat(" ", MaxFileSize-len(doc))
	if _, err := Parse(strings.NewReader(padded)); err != nil {
		t.Errorf("file of exactly MaxFileSize bytes: %v", err)
	}
	// One more byte is not, even if it is only white space.
	if _, err := Parse(strings.NewReader(padded + " ")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file of MaxFileSize+1 bytes: got %v, want ErrTooLarge", err)
	}
	// An endless reader is cut off, not read to the end.
	if _, err := Parse(endless{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("endless reader: got %v, want ErrTooLarge", err)
	}
	// Deep nesting: an error, never a panic or a stack overflow.
	for _, in := range []string{
		strings.Repeat("[", 100000),
		`{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}",
		`{"host":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `,"timeout":5,"app_id":"a"}`,
		strings.Repeat(`{"a":`, 50000) + "1" + strings.Repeat("}", 50000),
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("deeply nested input of %d bytes parsed", len(in))
		}
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	if _, err := Parse(failingReader{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("got %v", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := Default()
		c.Hosts, c.Timeout, c.AppID = []string{"zk1:2181"}, 5*time.Second, "app"
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		modify func(*Config)
		key    string // "" means valid
	}{
		{"host without port accepted", func(c *Config) { c.Hosts = []string{"zk1"} }, ""},
		{"lower-case level accepted", func(c *Config) { c.Logger.Level = "debug"; c.Logger.ZKLevel = "warning" }, ""},
		{"upper-case format accepted", func(c *Config) { c.Logger.Format = "JSON" }, ""},
		{"nil hosts", func(c *Config) { c.Hosts = nil }, "host"},
		{"comma in a host", func(c *Config) { c.Hosts = []string{"zk1:2181,zk2:2181"} }, "host"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"leading slash", func(c *Config) { c.AppID = "/app" }, "app_id"},
		{"NaN maxla", func(c *Config) { c.MaxLA = math.NaN() }, "maxla"},
		{"Inf maxla", func(c *Config) { c.MaxLA = math.Inf(1) }, "maxla"},
		{"empty format", func(c *Config) { c.Logger.Format = "" }, "logger.format"},
		{"empty level", func(c *Config) { c.Logger.Level = "" }, "logger.level"},
		{"scheme with space", func(c *Config) { c.Auth = &Auth{Scheme: "dig est", Data: "u:p"} }, "auth.scheme"},
		{"digest data missing", func(c *Config) { c.Auth = &Auth{Scheme: "digest"} }, "auth.data"},
		{"other scheme, empty data", func(c *Config) { c.Auth = &Auth{Scheme: "ip"} }, ""},
		{"negative grace", func(c *Config) { c.Grace = -time.Second }, "grace"},
		{"negative margin", func(c *Config) { c.Margin = -time.Second }, "margin"},
		{"huge max_runtime", func(c *Config) { c.MaxRuntime = MaxMaxRuntime + 1 }, "max_runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(&c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key {
				t.Errorf("Validate: got %v, want a *KeyError for %q", err, tt.key)
			}
		})
	}
}

// secret appears in no output of this package: not in String, fmt verbs,
// slog, JSON, nor in any error.
const secret = "hunter2-very-secret"

func TestRedaction(t *testing.T) {
	cfg, err := Parse(strings.NewReader(obj(`"auth":{"scheme":"digest","data":"alice:` + secret + `"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.Data != "alice:"+secret {
		t.Fatalf("Auth.Data = %q", cfg.Auth.Data)
	}
	var outputs []string
	for _, format := range []string{"%v", "%+v", "%s", "%q", "%#v", "%x"} {
		outputs = append(outputs, fmt.Sprintf(format, cfg), fmt.Sprintf(format, cfg.Auth), fmt.Sprintf(format, *cfg.Auth))
	}
	outputs = append(outputs, cfg.String())
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	logger.Info("config", "cfg", cfg, "auth", cfg.Auth)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg, "auth", *cfg.Auth)
	outputs = append(outputs, buf.String())
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	for _, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s := cfg.String(); !strings.Contains(s, "alice:REDACTED") || !strings.Contains(s, "scheme=digest") {
		t.Errorf("String() = %s, want the scheme and user shown", s)
	}
	other := Auth{Scheme: "sasl", Data: secret}
	if s := other.String(); strings.Contains(s, secret) || !strings.Contains(s, "REDACTED") {
		t.Errorf("non-digest String() = %s", s)
	}

	// Errors never contain the data, whatever is wrong with it.
	for _, data := range []string{
		`"` + secret + `"`,            // digest without a colon
		`":` + secret + `"`,           // empty user
		`"` + secret + `:"`,           // empty password
		`"` + secret + "\u0000" + `"`, // control characters are fine in data, but still
	} {
		_, err := Parse(strings.NewReader(obj(`"auth":{"scheme":"digest","data":` + data + `}`)))
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
	// A syntax error right after the secret shows the position, not the value.
	_, err = Parse(strings.NewReader(`{"auth":{"scheme":"digest","data":"u:` + secret + `" x}}`))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("syntax error: %v", err)
	}
}

func TestValidateLockName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"mylock", true},
		{"my_test_lock", true},
		{"with space", true},
		{"блокировка", true},
		{"ロック", true},
		{"zookeeper", true},
		{"a.b", true},
		{"...", true},
		{"-leading-dash", true},
		{strings.Repeat("x", MaxLockNameLen), true},
		{strings.Repeat("ж", MaxLockNameLen/2), true},
		{"", false},
		{".", false},
		{"..", false},
		{".zk-flock-queues", false},
		{".zk-flockish", false},
		{".zk", true},
		{"a/b", false},
		{"/", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"tab\there", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"bad\xffutf8", false},
		{"private\ue000", false},
		{"special\ufff0", false},
		{"emoji😀", false},
		{strings.Repeat("x", MaxLockNameLen+1), false},
		{strings.Repeat("ж", MaxLockNameLen/2+1), false},
	}
	for _, tt := range tests {
		err := ValidateLockName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateLockName(%.40q) = %v, want ok=%t", tt.name, err, tt.ok)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidLockName) {
				t.Errorf("ValidateLockName(%.40q): %v does not wrap ErrInvalidLockName", tt.name, err)
			}
			if len(err.Error()) > 300 {
				t.Errorf("ValidateLockName(%.40q): error of %d bytes", tt.name, len(err.Error()))
			}
		}
	}
}

func TestValidateLockPath(t *testing.T) {
	long := strings.Repeat("x", MaxLockNameLen-2)
	tests := []struct {
		appID, name string
		slots       int
		ok          bool
	}{
		{"app", "lock", 0, true},
		{"team/app", "lock", 10, true},
		{"app", long, 0, true},
		{"app", long, 10, true},  // long_9: 255 bytes
		{"app", long, 11, false}, // long_10: 256 bytes
		{"", "lock", 0, false},
		{"/app", "lock", 0, false},
		{"zookeeper", "lock", 0, false},
		{"app", "a/b", 0, false},
		{"app", "lock", MaxSlots, true},
		{"app", "lock", MaxSlots + 1, false},
		{"app", "lock", 1 << 40, false},
	}
	for _, tt := range tests {
		err := ValidateLockPath(tt.appID, tt.name, tt.slots)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateLockPath(%q, %.20q, %d) = %v, want ok=%t", tt.appID, tt.name, tt.slots, err, tt.ok)
		}
	}
}

// TestParseDuplicateKeysLastWins: a key given twice takes its last value, as
// with the original (Python's json), and a key zk-flock reads gets a
// warning; a configuration that works with the original must not fail.
func TestParseDuplicateKeysLastWins(t *testing.T) {
	cfg, err := Parse(strings.NewReader(`{"host":["zk1"],"timeout":5,"app_id":"a","timeout":7,` +
		`"logger":{"level":"INFO","level":"DEBUG"},"auth":{"scheme":"digest","data":"a:b","data":"c:d"},` +
		`"fleet":1,"fleet":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 7*time.Second || cfg.Logger.Level != "DEBUG" || cfg.Auth == nil || cfg.Auth.Data != "c:d" {
		t.Fatalf("got timeout %v, level %s, auth %+v: want the last values", cfg.Timeout, cfg.Logger.Level, cfg.Auth)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	for _, k := range []string{`"timeout"`, `"logger.level"`, `"auth.data"`} {
		if !strings.Contains(w, k+" appears more than once") {
			t.Errorf("warnings %q do not name %s", w, k)
		}
	}
	if strings.Contains(w, "fleet") || strings.Contains(w, "c:d") {
		t.Errorf("warnings %q name an unknown key or the secret", w)
	}
}
