package tlsserve_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
	"mutualauth/server/tlsserve"
)

type files struct{ cert, key, ca string }

func writeFiles(t testing.TB, dir string, ca *certtest.CA, leaf certtest.Leaf, clientCA *certtest.CA) files {
	t.Helper()
	f := files{filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "clients.pem")}
	for name, data := range map[string][]byte{
		f.cert: certtest.PEM(leaf.Cert, ca.Cert), f.key: certtest.KeyPEM(t, leaf.Key), f.ca: certtest.PEM(clientCA.Cert),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// serve runs a TLS listener with s's configuration that completes
// handshakes and closes.
func serve(t testing.TB, s *tlsserve.Server) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestHandshakeAndReload(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "Server CA")
	clientCA := certtest.NewCA(t, "Client CA")
	first := ca.Server(t)
	f := writeFiles(t, dir, ca, first, clientCA)
	src, err := clientcert.NewSource(clientcert.Options{CAFile: f.ca})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tlsserve.New(f.cert, f.key, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	var askedFor [][]byte
	dial := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.ConnectionState()
		return &st, nil
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost",
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			askedFor = cri.AcceptableCAs
			return &tls.Certificate{}, nil // none: the handshake must still succeed
		}}
	st, err := dial(cfg)
	if err != nil {
		t.Fatalf("handshake without a client certificate: %v", err)
	}
	if st.Version < tls.VersionTLS12 || !st.PeerCertificates[0].Equal(first.Cert) {
		t.Fatalf("version %x, certificate %v", st.Version, st.PeerCertificates[0].Subject)
	}
	if len(askedFor) != 1 || string(askedFor[0]) != string(clientCA.Cert.RawSubject) {
		t.Fatalf("certificate request names %d CAs, want the client CA", len(askedFor))
	}
	if _, err := dial(&tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}

	// A renewed certificate is served after a file change, without restart.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx, 20*time.Millisecond, nil)
	time.Sleep(50 * time.Millisecond)
	second := ca.Server(t)
	if err := os.WriteFile(f.cert, certtest.PEM(second.Cert, ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.key, certtest.KeyPEM(t, second.Key), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := dial(cfg)
		if err == nil && st.PeerCertificates[0].Equal(second.Cert) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A broken renewal keeps the last good certificate.
	if err := os.WriteFile(f.key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); !errors.Is(err, tlsserve.ErrCertificate) {
		t.Fatalf("Reload of a broken key: %v", err)
	}
	if st, err := dial(cfg); err != nil || !st.PeerCertificates[0].Equal(second.Cert) {
		t.Fatalf("after a failed reload: %v", err)
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "Server CA")
	f := writeFiles(t, dir, ca, ca.Server(t), ca)
	other := ca.Server(t)
	mismatch := filepath.Join(dir, "other-key.pem")
	if err := os.WriteFile(mismatch, certtest.KeyPEM(t, other.Key), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{{filepath.Join(dir, "missing.pem"), f.key}, {f.cert, mismatch}, {f.ca, f.key}} {
		if _, err := tlsserve.New(tc[0], tc[1], nil, nil); !errors.Is(err, tlsserve.ErrCertificate) {
			t.Errorf("New(%s, %s): %v", filepath.Base(tc[0]), filepath.Base(tc[1]), err)
		}
	}
}
