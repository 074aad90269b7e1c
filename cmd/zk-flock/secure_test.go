package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zk-flock/zk-flock/internal/config"
	"github.com/zk-flock/zk-flock/internal/testzk"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

func TestLoadConfigWarnsAndChecksTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := testzk.NewTLSFiles(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const base = `"host":["localhost:2281"],"timeout":5,"app_id":"app"`
	// Relative names, as a user in dir would write them.
	t.Chdir(dir)
	rel := `"tls":{"ca_file":"ca.pem","cert_file":"client.pem","key_file":"client-key.pem"}`

	var stderr bytes.Buffer
	conf := write("readable.json", `{`+base+`,"auth":{"scheme":"digest","data":"u:pw-secret"},`+rel+`}`, 0o644)
	cfg, err := loadConfig(conf, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "zk-flock: warning: "+conf+" holds a password") || strings.Contains(got, "pw-secret") {
		t.Errorf("stderr %q: want one warning line naming the file", got)
	}
	if cfg.TLS.CAFile != files.CA || cfg.TLS.CertFile != files.ClientCert || cfg.TLS.KeyFile != files.ClientKey {
		t.Errorf("TLS files not made absolute: %+v", cfg.TLS)
	}
	if cfg.EffectiveACL() != config.ACLCreator {
		t.Errorf("acl %q with auth, want creator", cfg.EffectiveACL())
	}

	stderr.Reset()
	conf = write("private.json", `{`+base+`,"auth":{"scheme":"digest","data":"u:pw-secret"}}`, 0o600)
	if _, err := loadConfig(conf, &stderr); err != nil || stderr.Len() != 0 {
		t.Errorf("0600 config: %v, stderr %q; want no warning", err, stderr.String())
	}

	conf = write("badtls.json", `{`+base+`,"tls":{"ca_file":"client-key.pem"}}`, 0o600)
	_, err = loadConfig(conf, io.Discard)
	var ke *config.KeyError
	if !errors.As(err, &ke) || ke.Key != "tls.ca_file" || !strings.Contains(err.Error(), conf) {
		t.Errorf("CA file holding a key: %v, want a KeyError for tls.ca_file naming %s", err, conf)
	}
}

func TestSecureOptions(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		cfg  config.Config
		want zklock.ACLMode
	}{
		{config.Config{}, zklock.ACLWorld},
		{config.Config{Auth: &config.Auth{Scheme: "digest", Data: "u:p"}}, zklock.ACLCreator},
		{config.Config{Auth: &config.Auth{Scheme: "digest", Data: "u:p"}, ACL: config.ACLWorld}, zklock.ACLWorld},
		{config.Config{Auth: &config.Auth{Scheme: "digest", Data: "u:p"}, ACL: config.ACLCreator}, zklock.ACLCreator},
	} {
		var opts zklock.Options
		secureOptions(&opts, tc.cfg, log)
		if opts.ACL != tc.want || opts.TLS != nil {
			t.Errorf("%s: ACL %v, TLS %v; want %v and no TLS", tc.cfg, opts.ACL, opts.TLS, tc.want)
		}
	}
	// TLS files gone since loadConfig read them: every server is refused,
	// with the reason, never accepted unverified.
	var opts zklock.Options
	secureOptions(&opts, config.Config{TLS: &config.TLS{CAFile: filepath.Join(t.TempDir(), "gone.pem")}}, log)
	if opts.TLS == nil || opts.TLS.VerifyConnection == nil {
		t.Fatal("unusable TLS files: want a configuration that refuses every server")
	}
	err := opts.TLS.VerifyConnection(tls.ConnectionState{})
	if err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("VerifyConnection: %v, want the file's error", err)
	}
}
