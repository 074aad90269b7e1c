package testzk

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// TLSFiles are throwaway PEM files for a TLS ZooKeeper server and its
// clients, made by NewTLSFiles. Keys are ECDSA P-256 in PKCS#8, which
// ZooKeeper's PEM key stores (3.8) read.
type TLSFiles struct {
	Dir string
	// CA is the certificate of the CA that signed the server's and the
	// client's certificates: the clients' trust anchor and the server's
	// trust store.
	CA string
	// ServerPEM holds the server's private key and certificate in one
	// file, as ZooKeeper's PEM key store wants them.
	ServerPEM string
	// ClientCert and ClientKey are a client certificate signed by CA, for
	// mutual TLS.
	ClientCert, ClientKey string
	// OtherCA is a second CA that signed nothing the server uses: a wrong
	// trust anchor for a client. OtherClientCert and OtherClientKey are a
	// client certificate it signed, which the server must refuse.
	OtherCA                         string
	OtherClientCert, OtherClientKey string
}

// certValidity is long enough for any test run and short enough that a
// leaked file is useless soon.
const certValidity = 24 * time.Hour

// NewTLSFiles writes TLSFiles into dir. The server's certificate is valid
// for names: each an IP address or a DNS name, e.g. "localhost" alone, so
// that a client dialing 127.0.0.1 without a server name must fail
// hostname verification.
func NewTLSFiles(dir string, names ...string) (*TLSFiles, error) {
	if len(names) == 0 {
		return nil, errors.New("testzk: a server certificate needs at least one name")
	}
	f := &TLSFiles{
		Dir:             dir,
		CA:              filepath.Join(dir, "ca.pem"),
		ServerPEM:       filepath.Join(dir, "server.pem"),
		ClientCert:      filepath.Join(dir, "client.pem"),
		ClientKey:       filepath.Join(dir, "client-key.pem"),
		OtherCA:         filepath.Join(dir, "other-ca.pem"),
		OtherClientCert: filepath.Join(dir, "other-client.pem"),
		OtherClientKey:  filepath.Join(dir, "other-client-key.pem"),
	}
	ca, err := newCert("testzk CA", nil, nil, nil)
	if err != nil {
		return nil, err
	}
	other, err := newCert("testzk other CA", nil, nil, nil)
	if err != nil {
		return nil, err
	}
	server, err := newCert("testzk server", ca, names, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	if err != nil {
		return nil, err
	}
	clientNames := []string{"localhost", "127.0.0.1"}
	clientUse := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	client, err := newCert("testzk client", ca, clientNames, clientUse)
	if err != nil {
		return nil, err
	}
	otherClient, err := newCert("testzk other client", other, clientNames, clientUse)
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.CA, ca.certPEM},
		{f.OtherCA, other.certPEM},
		{f.ServerPEM, append(append([]byte(nil), server.keyPEM...), server.certPEM...)},
		{f.ClientCert, client.certPEM},
		{f.ClientKey, client.keyPEM},
		{f.OtherClientCert, otherClient.certPEM},
		{f.OtherClientKey, otherClient.keyPEM},
	} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ServerConfig returns the zoo.cfg lines (for Options.ExtraConfig) that
// make a server serve TLS on securePort besides its plain client port, with
// Netty and f's files. clientAuth is ZooKeeper's ssl.clientAuth: "none",
// "want" or "need" (mutual TLS). A client certificate's identity becomes
// the x509 scheme's id (its subject), usable in ACLs.
func (f *TLSFiles) ServerConfig(securePort int, clientAuth string) []string {
	return []string{
		"secureClientPort=" + strconv.Itoa(securePort),
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
		"ssl.keyStore.location=" + f.ServerPEM,
		"ssl.keyStore.type=PEM",
		"ssl.trustStore.location=" + f.CA,
		"ssl.trustStore.type=PEM",
		"ssl.clientAuth=" + clientAuth,
	}
}

// issued is a certificate and its key, in memory and as PEM.
type issued struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

// newCert makes a CA (parent nil) or a leaf signed by parent, valid for
// names (IP addresses or DNS names).
func newCert(cn string, parent *issued, names []string, usage []x509.ExtKeyUsage) (*issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"zk-flock tests"}},
		NotBefore:    now.Add(-time.Hour), // tolerate a little clock skew
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		return nil, fmt.Errorf("testzk: certificate %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &issued{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}, nil
}
