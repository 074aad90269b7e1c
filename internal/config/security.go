package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// Values of "acl".
const (
	// ACLCreator: the nodes zk-flock creates (the app root and its
	// parents, lock nodes, the wait queue) may be changed and deleted only
	// by the identity of "auth"; everyone may read them. The default when
	// "auth" is set.
	ACLCreator = "creator"
	// ACLWorld: anyone may do anything with them, as the original
	// zk-flock did. The default, and the only choice, without "auth".
	ACLWorld = "world"
)

// TLS is the "tls" object: connect to the servers' secureClientPort with
// TLS. Relative paths are relative to the working directory zk-flock is
// started in.
type TLS struct {
	// CAFile ("ca_file"): PEM certificates of the CAs that sign the
	// servers' certificates. Empty: the system's trusted CAs.
	CAFile string
	// CertFile ("cert_file") and KeyFile ("key_file"): PEM client
	// certificate (chain) and its private key, for servers that require
	// mutual TLS. Both or neither.
	CertFile string
	KeyFile  string
	// ServerName ("server_name") is the name the servers' certificates
	// must carry. Empty: each server's host as written in "host", which
	// must then be a name or IP address in its certificate.
	ServerName string
}

// EffectiveACL returns c.ACL, or its default when it is empty: ACLCreator
// with "auth", ACLWorld without.
func (c Config) EffectiveACL() string {
	switch {
	case c.ACL != "":
		return c.ACL
	case c.Auth != nil:
		return ACLCreator
	default:
		return ACLWorld
	}
}

// Warnings returns what Load found wrong with the file that does not stop
// zk-flock: a password readable by group or others. Parse finds none.
func (c Config) Warnings() []string { return c.warnings }

// parseACL reads "acl": "creator" or "world", any case.
func parseACL(raw json.RawMessage) (string, error) {
	s, err := str("acl", raw)
	if err != nil {
		return "", err
	}
	switch l := strings.ToLower(s); l {
	case ACLCreator, ACLWorld:
		return l, nil
	}
	return "", keyErr("acl", ErrInvalidValue, `want %q or %q, got %s`, ACLCreator, ACLWorld, quoteShort(s))
}

func parseTLS(raw json.RawMessage, dups *[]string) (*TLS, error) {
	if t := jsonType(raw); t != "object" {
		return nil, keyErr("tls", ErrWrongType, "want an object, got %s", t)
	}
	obj, err := readObject("tls.", raw, []string{"ca_file", "cert_file", "key_file", "server_name"}, dups)
	if err != nil {
		return nil, err
	}
	var t TLS
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"ca_file", &t.CAFile},
		{"cert_file", &t.CertFile},
		{"key_file", &t.KeyFile},
		{"server_name", &t.ServerName},
	} {
		if raw, ok := obj.optional(f.key); ok {
			if *f.dst, err = str("tls."+f.key, raw); err != nil {
				return nil, err
			}
		}
	}
	return &t, nil
}

// validateACL checks "acl" against "auth".
func (c Config) validateACL() error {
	switch c.ACL {
	case "", ACLWorld:
		return nil
	case ACLCreator:
		if c.Auth == nil {
			return keyErr("acl", ErrInvalidValue, `%q needs "auth": without an identity nobody could own the nodes`, ACLCreator)
		}
		return nil
	}
	return keyErr("acl", ErrInvalidValue, `want %q or %q, got %s`, ACLCreator, ACLWorld, quoteShort(c.ACL))
}

func (t TLS) validate() error {
	for _, f := range []struct{ key, val string }{
		{"tls.ca_file", t.CAFile},
		{"tls.cert_file", t.CertFile},
		{"tls.key_file", t.KeyFile},
	} {
		if strings.IndexByte(f.val, 0) >= 0 {
			return keyErr(f.key, ErrInvalidValue, "contains a NUL byte")
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return keyErr("tls.key_file", ErrMissingKey, `needed with "tls.cert_file"`)
	case t.KeyFile != "" && t.CertFile == "":
		return keyErr("tls.cert_file", ErrMissingKey, `needed with "tls.key_file"`)
	}
	if n := t.ServerName; n != "" {
		if len(n) > 253 {
			return keyErr("tls.server_name", ErrInvalidValue, "longer than 253 bytes")
		}
		for _, r := range n {
			if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' {
				return keyErr("tls.server_name", ErrInvalidValue, "%s contains %q, want a host name or IP address", quoteShort(n), r)
			}
		}
	}
	return nil
}

// ClientConfig reads the files t names and returns the TLS client
// configuration (TLS 1.2 or later). A file that cannot be read or holds no
// usable PEM is a *KeyError naming its key; no error holds key material.
func (t TLS) ClientConfig() (*tls.Config, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		b, err := readPEM("tls.ca_file", t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, keyErr("tls.ca_file", ErrInvalidValue, "%s holds no PEM certificate", quoteShort(t.CAFile))
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		certPEM, err := readPEM("tls.cert_file", t.CertFile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEM("tls.key_file", t.KeyFile)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			key, path := "tls.key_file", t.KeyFile
			if !hasPEM(certPEM, "CERTIFICATE") {
				key, path = "tls.cert_file", t.CertFile
			}
			// X509KeyPair's errors describe, never quote, the input.
			return nil, keyErr(key, ErrInvalidValue, "%s: %v", quoteShort(path), err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// MaxPEMSize bounds each TLS file zk-flock reads, as MaxFileSize bounds the
// configuration: a bundle of every public CA is some 200 KiB, and
// /dev/zero must not take all memory.
const MaxPEMSize = 4 << 20

// readPEM reads the TLS file path, set by key, at most MaxPEMSize bytes.
func readPEM(key, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileErr(key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPEMSize+1))
	if err != nil {
		return nil, fileErr(key, err)
	}
	if len(b) > MaxPEMSize {
		return nil, keyErr(key, ErrInvalidValue, "%s is larger than %d bytes", quoteShort(path), MaxPEMSize)
	}
	return b, nil
}

// fileErr reports a file named by key that cannot be read.
func fileErr(key string, err error) *KeyError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return keyErr(key, ErrInvalidValue, "%s: %v", quoteShort(pe.Path), pe.Err)
	}
	return keyErr(key, ErrInvalidValue, "%v", err)
}

// hasPEM reports whether b holds a PEM block of type typ.
func hasPEM(b []byte, typ string) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == typ {
			return true
		}
	}
}

// secretModeWarning returns the warning for a configuration file at path
// with mode info that holds a secret ("auth.data") readable by group or
// others, or "". Only regular files are checked: a pipe (-c <(...)) has
// no lasting permissions.
func secretModeWarning(path string, info fs.FileInfo, cfg Config) string {
	if cfg.Auth == nil || cfg.Auth.Data == "" || !info.Mode().IsRegular() || info.Mode().Perm()&0o044 == 0 {
		return ""
	}
	name := path
	if target, err := filepath.EvalSymlinks(path); err == nil && target != filepath.Clean(path) {
		name = fmt.Sprintf("%s (a link to %s)", path, target)
	}
	return fmt.Sprintf("%s holds a password and is readable by group or others (mode %04o); chmod 600 it",
		name, info.Mode().Perm())
}
