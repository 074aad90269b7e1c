package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, path := range []string{"testdata/distributed-flock.json", "testdata/full.json", "testdata/readme-with-comments.json"} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "{}", "null", "[]", `"x"`, "{", "}", obj(), obj() + "x", "\ufeff" + obj(),
		obj(`"host":[]`),
		`{"host":["[::1]","zk1,zk2:1"],"timeout":1e-3,"app_id":"/a/b"}`,
		`{"host":["zk:65535"],"timeout":3600,"app_id":"a","logger":{"level":"warning","format":"JSON"}}`,
		obj(`"auth":{"scheme":"digest","data":"u:p"}`),
		obj(`"auth":null,"logger":null,"grace":0.5,"margin":1,"max_runtime":1e9`),
		obj(`"sleep":"on","maxla":-1e308`),
		`{"host":["zk"],"timeout":5,"app_id":"a\u0000"}`,
		`{"a":[[[[[[[[[[{}]]]]]]]]]]}`,
		"{\"app_id\": \"\xff\"}",
		obj(`"acl":"creator"`),
		obj(`"auth":{"scheme":"digest","data":"u:p"},"acl":"WORLD"`),
		obj(`"acl":1`, `"acl":"world"`),
		obj(`"tls":{"ca_file":"ca.pem","cert_file":"c.pem","key_file":"k.pem","server_name":"zk"}`),
		obj(`"tls":{"cert_file":"c.pem"}`),
		obj(`"tls":{"server_name":"a b","ca_file":"\u0000"}`),
		obj(`"tls":[]`),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			var ke *KeyError
			var se *SyntaxError
			if errors.As(err, &ke) && ke.Key == "" {
				t.Errorf("KeyError without a key: %v", err)
			}
			if errors.As(err, &se) && (se.Line < 1 || se.Column < 1) {
				t.Errorf("SyntaxError at line %d, column %d", se.Line, se.Column)
			}
			return
		}
		// A parsed config validates, and parsing is stable: its fields are
		// already normalized.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate fails: %v", err)
		}
		for _, h := range cfg.Hosts {
			if n, err := normalizeHost(h); err != nil || n != h {
				t.Errorf("host %q not normalized: %q, %v", h, n, err)
			}
		}
		if strings.HasPrefix(cfg.AppID, "/") || !utf8.ValidString(cfg.AppID) {
			t.Errorf("app_id %q", cfg.AppID)
		}
		if cfg.Logger.Level != strings.ToUpper(cfg.Logger.Level) || cfg.Logger.Level == "WARNING" {
			t.Errorf("level %q not canonical", cfg.Logger.Level)
		}
		switch {
		case cfg.ACL != ACLCreator && cfg.ACL != ACLWorld:
			t.Errorf("acl %q", cfg.ACL)
		case cfg.ACL == ACLCreator && cfg.Auth == nil:
			t.Errorf("acl creator without auth")
		}
		for _, w := range cfg.Warnings() {
			// Parse's only warning; the file mode's is Load's.
			if !strings.Contains(w, "appears more than once") {
				t.Errorf("Parse gave warning %q", w)
			}
		}
		if tl := cfg.TLS; tl != nil && (tl.CertFile == "") != (tl.KeyFile == "") {
			t.Errorf("tls cert_file %q without key_file %q or the reverse", tl.CertFile, tl.KeyFile)
		}
		_ = cfg.String()
	})
}

func FuzzValidateLockName(f *testing.F) {
	for _, s := range []string{
		"lock", "", ".", "..", "a/b", "блокировка", "zookeeper", "a\x00", "\xff", "\ue000", "😀",
		strings.Repeat("x", MaxLockNameLen), strings.Repeat("x", MaxLockNameLen+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateLockName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalidLockName) {
				t.Errorf("error %v does not wrap ErrInvalidLockName", err)
			}
			return
		}
		// What passes is a single valid znode name.
		if name == "" || name == "." || name == ".." || len(name) > MaxLockNameLen ||
			!utf8.ValidString(name) || strings.ContainsAny(name, "/\x00") {
			t.Fatalf("ValidateLockName(%q) = nil", name)
		}
		for _, r := range name {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r > 0xFFFF || (r >= 0xD800 && r <= 0xF8FF) || r >= 0xFFF0 {
				t.Fatalf("ValidateLockName(%q) = nil, but it holds %U", name, r)
			}
		}
		// It also makes a valid path under a valid app_id.
		if err := ValidateLockPath("app", name, 0); err != nil {
			t.Fatalf("ValidateLockPath(app, %q, 0) = %v", name, err)
		}
	})
}

// FuzzValidateLockPath checks lock names and app_ids together: whatever
// passes makes a ZooKeeper path that the server accepts (every segment a
// valid znode name) and that fits the documented limits.
func FuzzValidateLockPath(f *testing.F) {
	for _, c := range []struct {
		app, name string
		slots     int
	}{
		{"app", "lock", 0}, {"team/nightly", "job", 3}, {"", "lock", 0}, {"/", "lock", 0},
		{"a//b", "l", 0}, {"a/", "l", 0}, {"zookeeper", "l", 0}, {"a/zookeeper", "l", 0},
		{".", "l", 0}, {"a/..", "l", 0}, {"a\x00", "l", 0}, {"a\nb", "l", 0}, {"приложение", "блокировка", 2},
		{strings.Repeat("a", MaxAppIDLen+1), "l", 0}, {"a", strings.Repeat("x", MaxLockNameLen), 10},
		{"a", ".zk-flock-queues", 0}, {"a", "l", -5}, {"a", "l", 1 << 40},
	} {
		f.Add(c.app, c.name, c.slots)
	}
	f.Fuzz(func(t *testing.T, app, name string, slots int) {
		err := ValidateLockPath(app, name, slots)
		if err != nil {
			var ke *KeyError
			if !errors.Is(err, ErrInvalidLockName) && !errors.Is(err, ErrTooManySlots) && !(errors.As(err, &ke) && ke.Key == "app_id") {
				t.Fatalf("ValidateLockPath(%q, %q, %d) = %v: neither a lock name, a slot count nor an app_id error", app, name, slots, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if len(app) > MaxAppIDLen || len(name) > MaxLockNameLen {
			t.Fatalf("ValidateLockPath(%q, %q, %d) = nil beyond the limits", app, name, slots)
		}
		for _, seg := range strings.Split(app+"/"+name, "/") {
			if err := checkZnodeName(seg); err != nil || seg == "" {
				t.Fatalf("ValidateLockPath(%q, %q, %d) = nil, but segment %q: %v", app, name, slots, seg, err)
			}
		}
		if strings.HasPrefix(app, "zookeeper/") || app == "zookeeper" || strings.HasPrefix(name, ReservedLockPrefix) ||
			strings.HasPrefix(app, ReservedLockPrefix) || strings.Contains(app, "/"+ReservedLockPrefix) {
			t.Fatalf("ValidateLockPath(%q, %q, %d) = nil for a reserved name", app, name, slots)
		}
	})
}
