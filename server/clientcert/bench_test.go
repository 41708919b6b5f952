package clientcert_test

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
)

// BenchmarkVerify measures what a request with a client certificate adds:
// the chain check (one ECDSA P-256 signature), the clientAuth and CRL
// checks, for a leaf issued by the CA and for one under an intermediate;
// and the whole FromRequest path of a trusted proxy's Client-Cert header.
func BenchmarkVerify(b *testing.B) {
	ca := certtest.NewCA(b, "Bench CA")
	inter := ca.Intermediate(b, "Bench Issuing CA")
	direct := ca.Client(b, "alice")
	viaInter := inter.Client(b, "bob")
	revoked := make([]*x509.Certificate, 0, 100)
	for range 100 {
		revoked = append(revoked, ca.Client(b, "old").Cert)
	}
	trust, err := clientcert.ParseTrust(certtest.PEM(ca.Cert), ca.CRL(b, false, revoked...))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.Run("leaf", func(b *testing.B) {
		for b.Loop() {
			if _, err := trust.Verify(direct.Cert, nil, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("with-intermediate", func(b *testing.B) {
		chain := []*x509.Certificate{inter.Cert}
		for b.Loop() {
			if _, err := trust.Verify(viaInter.Cert, chain, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("header", func(b *testing.B) {
		src, err := clientcert.NewSource(clientcert.Options{Trust: trust, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:4000"
		r.Header.Set(clientcert.HeaderCert, sfBinary(direct.Cert.Raw))
		for b.Loop() {
			if _, err := src.FromRequest(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
