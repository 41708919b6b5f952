package tlsserve_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
	"mutualauth/server/tlsserve"
)

// BenchmarkHandshake measures one full TLS handshake over loopback (no
// session resumption: the worst case, a new client), with the server's
// ECDSA P-256 certificate, without and with a client certificate.
func BenchmarkHandshake(b *testing.B) {
	dir := b.TempDir()
	ca := certtest.NewCA(b, "Server CA")
	clientCA := certtest.NewCA(b, "Client CA")
	f := writeFiles(b, dir, ca, ca.Server(b), clientCA)
	src, err := clientcert.NewSource(clientcert.Options{CAFile: f.ca})
	if err != nil {
		b.Fatal(err)
	}
	s, err := tlsserve.New(f.cert, f.key, src, nil)
	if err != nil {
		b.Fatal(err)
	}
	addr := serve(b, s)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	leaf := clientCA.Client(b, "alice").TLS()
	for _, c := range []struct {
		name  string
		certs []tls.Certificate
		max   uint16
	}{
		{"tls1.3", nil, tls.VersionTLS13},
		{"tls1.3-client-cert", []tls.Certificate{leaf}, tls.VersionTLS13},
		{"tls1.2", nil, tls.VersionTLS12},
		{"tls1.2-client-cert", []tls.Certificate{leaf}, tls.VersionTLS12},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: c.certs, MaxVersion: c.max}
			for b.Loop() {
				conn, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if len(c.certs) > 0 && !conn.ConnectionState().HandshakeComplete {
					b.Fatal("no handshake")
				}
				conn.Close()
			}
		})
	}
}
