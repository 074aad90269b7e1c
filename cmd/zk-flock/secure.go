package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/zk-flock/zk-flock/internal/config"
	"github.com/zk-flock/zk-flock/internal/zklock"
)

// loadConfig reads the configuration file, prints each of its warnings (a
// password readable by others) as one line on stderr, and reads the files
// of its "tls" section, so that a bad certificate or key is a configuration
// error (ExitConfig) before anything connects, in the caller's terminal
// even with -d. Those files' names are made absolute: they are read again
// when connecting, after -d has changed to /. Errors never hold the "auth"
// secret or key material.
func loadConfig(path string, stderr io.Writer) (config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return config.Config{}, err
	}
	for _, w := range cfg.Warnings() {
		say(stderr, "warning: %s", w)
	}
	if cfg.TLS != nil {
		t := *cfg.TLS
		for _, f := range []*string{&t.CAFile, &t.CertFile, &t.KeyFile} {
			if *f != "" {
				if *f, err = filepath.Abs(*f); err != nil {
					return config.Config{}, fmt.Errorf("read config %s: %w", path, err)
				}
			}
		}
		cfg.TLS = &t
		if _, err := cfg.TLS.ClientConfig(); err != nil {
			return config.Config{}, fmt.Errorf("read config %s: %w", path, err)
		}
	}
	return cfg, nil
}

// secureOptions sets the session's node ACL and TLS from cfg: "acl" (by
// default the creator ACL with "auth", the world ACL without) and "tls".
func secureOptions(opts *zklock.Options, cfg config.Config, log *slog.Logger) {
	opts.ACL = zklock.ACLWorld
	if cfg.EffectiveACL() == config.ACLCreator {
		opts.ACL = zklock.ACLCreator
	}
	if cfg.TLS != nil {
		opts.TLS = clientTLS(*cfg.TLS, log)
	}
	log.Debug("connection security", "acl", opts.ACL.String(), "tls", opts.TLS != nil)
}

// clientTLS builds the TLS client configuration. loadConfig has read the
// same files moments ago; should that fail now (a file removed meanwhile),
// the returned configuration refuses every server with the reason, so the
// connection fails (ExitUnavailable) rather than going out unverified or
// in plain text.
func clientTLS(t config.TLS, log *slog.Logger) *tls.Config {
	cfg, err := t.ClientConfig()
	if err == nil {
		return cfg
	}
	log.Error("TLS configuration unusable", "err", err)
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // VerifyConnection refuses every server
		VerifyConnection:   func(tls.ConnectionState) error { return err },
	}
}
