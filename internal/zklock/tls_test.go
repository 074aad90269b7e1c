package zklock

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zk-flock/zk-flock/internal/testzk"
)

// tlsServer is a ZooKeeper serving TLS on its secure port, with a
// certificate valid for "localhost" only.
type tlsServer struct {
	files  *testzk.TLSFiles
	port   string // secureClientPort
	plain  string // the plain client address
	logDir string
}

// startTLSServer starts a TLS ZooKeeper for one test; clientAuth is
// ZooKeeper's ssl.clientAuth.
func startTLSServer(t *testing.T, clientAuth string) *tlsServer {
	t.Helper()
	s, files, port := testzk.NewTLS(t, clientAuth)
	return &tlsServer{files: files, port: strconv.Itoa(port), plain: s.Addr(), logDir: s.Dir()}
}

// clientTLS builds a client configuration trusting caFile, with the
// client certificate cert/key if given.
func clientTLS(t *testing.T, caFile, cert, key, serverName string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

func tlsConnect(servers []string, cfg *tls.Config, timeout time.Duration, auth ...Auth) (*Session, error) {
	return Connect(context.Background(), Options{
		Servers: servers, SessionTimeout: 4 * time.Second, ConnectTimeout: timeout, TLS: cfg, Auth: auth,
	})
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t, "want")
	f := srv.files
	cases := []struct {
		name       string
		host       string
		ca         string
		serverName string
		cert, key  string
		want       string // "" for success, else a piece of the error
	}{
		{name: "right CA, name as configured", host: "localhost", ca: f.CA},
		{name: "right CA and client certificate", host: "localhost", ca: f.CA, cert: f.ClientCert, key: f.ClientKey},
		{name: "IP address with server_name", host: "127.0.0.1", ca: f.CA, serverName: "localhost"},
		{name: "wrong CA", host: "localhost", ca: f.OtherCA, want: "certificate signed by unknown authority"},
		{name: "IP address not in the certificate", host: "127.0.0.1", ca: f.CA, want: "127.0.0.1"},
		{name: "server_name mismatch", host: "localhost", ca: f.CA, serverName: "other.example", want: "other.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := clientTLS(t, tc.ca, tc.cert, tc.key, tc.serverName)
			timeout := 4 * time.Second
			if tc.want != "" {
				timeout = 1500 * time.Millisecond
			}
			s, err := tlsConnect([]string{tc.host + ":" + srv.port}, cfg, timeout)
			if tc.want != "" {
				if err == nil {
					s.Close()
					t.Fatal("connected; want a refusal")
				}
				if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q: want one line wrapping ErrUnreachable and mentioning %q", err, tc.want)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer s.Close()
			root := uniqueRoot(t)
			l, err := s.Acquire(context.Background(), lockReq(root, "job"))
			if err != nil {
				t.Fatalf("acquire over TLS: %v", err)
			}
			if err := l.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("plain client on the TLS port", func(t *testing.T) {
		t.Parallel()
		s, err := Connect(context.Background(), Options{
			Servers: []string{"127.0.0.1:" + srv.port}, SessionTimeout: 4 * time.Second, ConnectTimeout: 1500 * time.Millisecond,
		})
		if err == nil {
			s.Close()
			t.Fatal("a plain client got a session on the TLS port")
		}
	})
	t.Run("TLS client on the plain port", func(t *testing.T) {
		t.Parallel()
		_, err := tlsConnect([]string{srv.plain}, clientTLS(t, f.CA, "", "", "localhost"), 1500*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
			t.Fatalf("TLS to the plain port: %v, want a handshake error", err)
		}
	})
}

// TestSilentTLSServerIsSkipped: over TLS too, a server that accepts
// connections and never answers costs a connect its share of the timeout,
// not the whole of it: the next server is tried. (It was given the whole
// connect timeout, and a connect that tried it first failed.)
func TestSilentTLSServerIsSkipped(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t, "want")
	silent := silentListener(t)
	cfg := clientTLS(t, srv.files.CA, "", "", "localhost")
	healthy := "localhost:" + srv.port
	connect := func(servers ...string) (time.Duration, error) {
		start := time.Now()
		s, err := Connect(context.Background(), Options{
			Servers: servers, SessionTimeout: 2 * time.Second, ConnectTimeout: 5 * time.Second, TLS: cfg,
		})
		if err == nil {
			s.Close()
		}
		return time.Since(start), err
	}
	// A fresh server's first TLS handshakes are slow: not the silent
	// server's to be timed by.
	if _, err := connect(healthy); err != nil {
		t.Fatal(err)
	}
	// The servers are tried in random order: 4 connects, each with even
	// odds of trying the silent one first. Its share is T/2 of 2 s, at
	// least a second; it was 3 s.
	for i := range 4 {
		d, err := connect(silent, healthy)
		if err != nil {
			t.Fatalf("connect %d with one silent server of two: %v", i, err)
		}
		if d > 2500*time.Millisecond {
			t.Errorf("connect %d took %v: the silent server held it up past its share", i, d)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t, "need")
	f := srv.files
	addr := []string{"localhost:" + srv.port}
	for _, tc := range []struct{ name, cert, key string }{
		{"no client certificate", "", ""},
		{"client certificate of another CA", f.OtherClientCert, f.OtherClientKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := tlsConnect(addr, clientTLS(t, f.CA, tc.cert, tc.key, ""), 1500*time.Millisecond)
			if err == nil {
				s.Close()
				t.Fatal("connected; want a refusal")
			}
			if !errors.Is(err, ErrUnreachable) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line wrapping ErrUnreachable", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	t.Run("client certificate", func(t *testing.T) {
		t.Parallel()
		s, err := tlsConnect(addr, clientTLS(t, f.CA, f.ClientCert, f.ClientKey, ""), 4*time.Second, Auth{Scheme: "digest", Data: []byte("tls-user:pw")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		root := uniqueRoot(t)
		l, err := s.Acquire(context.Background(), lockReq(root, "job"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(context.Background())
	})
}
