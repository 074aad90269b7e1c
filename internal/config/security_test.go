package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseACL(t *testing.T) {
	tests := []struct {
		name, members string
		want          string
	}{
		{"default without auth is world", "", ACLWorld},
		{"default with auth is creator", `"auth":{"scheme":"digest","data":"u:p"}`, ACLCreator},
		{"relaxed to world", `"auth":{"scheme":"digest","data":"u:p"},"acl":"world"`, ACLWorld},
		{"any case", `"auth":{"scheme":"digest","data":"u:p"},"acl":"Creator"`, ACLCreator},
		{"world without auth", `"acl":"WORLD"`, ACLWorld},
		{"null is the default", `"auth":{"scheme":"digest","data":"u:p"},"acl":null`, ACLCreator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var members []string
			if tt.members != "" {
				members = append(members, tt.members)
			}
			cfg, err := Parse(strings.NewReader(obj(members...)))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ACL != tt.want || cfg.EffectiveACL() != tt.want {
				t.Errorf("ACL %q (effective %q), want %q", cfg.ACL, cfg.EffectiveACL(), tt.want)
			}
		})
	}
	// A Config built by hand with no ACL gets the default too.
	c := Config{Auth: &Auth{Scheme: "digest", Data: "u:p"}}
	if c.EffectiveACL() != ACLCreator || (Config{}).EffectiveACL() != ACLWorld {
		t.Error("EffectiveACL of an empty ACL")
	}
}

func TestParseTLS(t *testing.T) {
	cfg, err := Parse(strings.NewReader(obj(`"tls":{"ca_file":"/etc/zk/ca.pem","cert_file":"c.pem","key_file":"k.pem","server_name":"zk.example.com","extra":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	want := TLS{CAFile: "/etc/zk/ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "zk.example.com"}
	if cfg.TLS == nil || *cfg.TLS != want {
		t.Fatalf("TLS = %+v, want %+v", cfg.TLS, want)
	}
	if s := cfg.String(); !strings.Contains(s, `server_name="zk.example.com"`) || !strings.Contains(s, "acl=world") {
		t.Errorf("String() = %s", s)
	}
	cfg, err = Parse(strings.NewReader(obj(`"tls":{}`)))
	if err != nil || cfg.TLS == nil || *cfg.TLS != (TLS{}) {
		t.Errorf(`"tls":{}: %+v, %v; want TLS with the system's CAs`, cfg.TLS, err)
	}
	cfg, err = Parse(strings.NewReader(obj(`"tls":null`)))
	if err != nil || cfg.TLS != nil {
		t.Errorf(`"tls":null: %+v, %v; want no TLS`, cfg.TLS, err)
	}
}

func TestParseSecurityErrors(t *testing.T) {
	tests := []struct {
		name, members string
		key           string
		is            error
		msg           string
	}{
		{"acl not a string", `"acl":1`, "acl", ErrWrongType, "want a string"},
		{"acl unknown", `"acl":"none"`, "acl", ErrInvalidValue, `want "creator" or "world"`},
		{"creator needs auth", `"acl":"creator"`, "acl", ErrInvalidValue, `needs "auth"`},
		{"tls not an object", `"tls":"yes"`, "tls", ErrWrongType, "want an object"},
		{"tls true", `"tls":true`, "tls", ErrWrongType, "got boolean"},
		{"ca_file not a string", `"tls":{"ca_file":["a"]}`, "tls.ca_file", ErrWrongType, "got array"},
		{"cert without key", `"tls":{"cert_file":"c.pem"}`, "tls.key_file", ErrMissingKey, `needed with "tls.cert_file"`},
		{"key without cert", `"tls":{"key_file":"k.pem"}`, "tls.cert_file", ErrMissingKey, `needed with "tls.key_file"`},
		{"NUL in a path", `"tls":{"ca_file":"a\u0000b"}`, "tls.ca_file", ErrInvalidValue, "NUL"},
		{"server_name with space", `"tls":{"server_name":"zk 1"}`, "tls.server_name", ErrInvalidValue, "contains ' '"},
		{"server_name with control", `"tls":{"server_name":"zk\u0007"}`, "tls.server_name", ErrInvalidValue, "contains"},
		{"server_name too long", `"tls":{"server_name":"` + strings.Repeat("a", 254) + `"}`, "tls.server_name", ErrInvalidValue, "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(obj(tt.members)))
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v; want a *KeyError for %q wrapping %v and saying %q", err, tt.key, tt.is, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

// writePEMs writes a self-signed CA certificate, a client certificate it
// signed and the client's key into dir.
func writePEMs(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := newKey(), newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caTmpl, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{ca, "CERTIFICATE", caDER}, {cert, "CERTIFICATE", leafDER}, {key, "PRIVATE KEY", pkcs8}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

func TestTLSClientConfig(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writePEMs(t, dir)
	cfg, err := TLS{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "zk"}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "zk" || cfg.MinVersion < 0x0303 {
		t.Errorf("ClientConfig = %+v", cfg)
	}
	if cfg, err := (TLS{}).ClientConfig(); err != nil || cfg.RootCAs != nil {
		t.Errorf("no ca_file: %v, %v; want the system's CAs", cfg, err)
	}

	secretKey, _ := os.ReadFile(key)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		tls  TLS
		key  string
		msg  string
	}{
		{"missing CA file", TLS{CAFile: missing}, "tls.ca_file", "no such file"},
		{"CA file is a directory", TLS{CAFile: dir}, "tls.ca_file", "is a directory"},
		{"CA file is /dev/zero", TLS{CAFile: "/dev/zero"}, "tls.ca_file", "larger than"},
		{"cert file is /dev/zero", TLS{CertFile: "/dev/zero", KeyFile: key}, "tls.cert_file", "larger than"},
		{"key file is /dev/urandom", TLS{CertFile: cert, KeyFile: "/dev/urandom"}, "tls.key_file", "larger than"},
		{"CA file without certificates", TLS{CAFile: garbage}, "tls.ca_file", "holds no PEM certificate"},
		{"CA file holds only a key", TLS{CAFile: key}, "tls.ca_file", "holds no PEM certificate"},
		{"missing cert file", TLS{CertFile: missing, KeyFile: key}, "tls.cert_file", "no such file"},
		{"missing key file", TLS{CertFile: cert, KeyFile: missing}, "tls.key_file", "no such file"},
		{"cert file holds no certificate", TLS{CertFile: garbage, KeyFile: key}, "tls.cert_file", "garbage.pem"},
		{"key file holds no key", TLS{CertFile: cert, KeyFile: garbage}, "tls.key_file", "garbage.pem"},
		{"key of another certificate", TLS{CertFile: ca, KeyFile: key}, "tls.key_file", "does not match"},
		{"cert without key", TLS{CertFile: cert}, "tls.key_file", "needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.tls.ClientConfig()
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v; want a *KeyError for %q saying %q", err, tt.key, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), string(secretKey[30:60])) {
				t.Errorf("error is more than a line, or quotes the key: %q", err)
			}
		})
	}
}

func TestLoadWarnsAboutReadablePassword(t *testing.T) {
	dir := t.TempDir()
	withAuth := obj(`"auth":{"scheme":"digest","data":"alice:` + secret + `"}`)
	write := func(name, text string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want string // "" for no warning
	}{
		{"0600 with a password", write("private.json", withAuth, 0o600), ""},
		{"0400 with a password", write("readonly.json", withAuth, 0o400), ""},
		{"0644 with a password", write("public.json", withAuth, 0o644), "(mode 0644); chmod 600 it"},
		{"0640 with a password", write("group.json", withAuth, 0o640), "(mode 0640)"},
		{"0604 with a password", write("others.json", withAuth, 0o604), "(mode 0604)"},
		{"0644 without auth", write("noauth.json", obj(), 0o644), ""},
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(filepath.Join(dir, "public.json"), link); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct{ name, path, want string }{"symlink to a 0644 file", link, "a link to " + filepath.Join(dir, "public.json")})
	privLink := filepath.Join(dir, "private-link.json")
	if err := os.Symlink(filepath.Join(dir, "private.json"), privLink); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct{ name, path, want string }{"symlink (0777 itself) to a 0600 file", privLink, ""})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			w := cfg.Warnings()
			if tt.want == "" {
				if len(w) != 0 {
					t.Errorf("warnings %q, want none", w)
				}
				return
			}
			if len(w) != 1 || !strings.Contains(w[0], tt.want) || !strings.HasPrefix(w[0], tt.path+" ") ||
				!strings.Contains(w[0], "holds a password and is readable by group or others") {
				t.Errorf("warnings %q, want one naming %s and saying %q", w, tt.path, tt.want)
			}
			for _, s := range w {
				if strings.Contains(s, secret) || strings.Contains(s, "\n") {
					t.Errorf("warning leaks the secret or spans lines: %q", s)
				}
			}
		})
	}
	if w := (mustParse(t, withAuth)).Warnings(); len(w) != 0 {
		t.Errorf("Parse found warnings %q; only Load knows the file", w)
	}
}

func mustParse(t *testing.T, s string) Config {
	t.Helper()
	cfg, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadHostileFiles(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.json")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.json")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	toZero := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", toZero); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, []byte(`{"host":["zk"],"timeout":5,"app_id":"`+strings.Repeat("a", MaxFileSize)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A FIFO no one writes: the open would block for ever.
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path, msg string }{
		{"FIFO without a writer", fifo, "empty"},
		{"symlink loop", loop, "too many levels of symbolic links"},
		{"dangling symlink", dangling, "no such file"},
		{"symlink to /dev/zero", toZero, "larger than"},
		{"huge file", huge, "larger than"},
		{"directory", dir, "is a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, err = Load(tt.path)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("Load(%s) still blocked after 5s", tt.path)
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load(%s) = %v; want one line naming the path and saying %q", tt.path, err, tt.msg)
			}
		})
	}
}
