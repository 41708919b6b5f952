package clientcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
)

func sfBinary(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }

func TestVerify(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	other := certtest.NewCA(t, "Other CA")
	inter := ca.Intermediate(t, "Test Issuing CA")
	good := ca.Client(t, "alice")
	revoked := ca.Client(t, "mallory")
	expired := ca.Client(t, "old", certtest.Expired)
	serverOnly := ca.Client(t, "server", certtest.ServerAuthOnly)
	foreign := other.Client(t, "alice")
	viaInter := inter.Client(t, "bob")
	revokedInter := ca.Intermediate(t, "Revoked Issuing CA")
	underRevoked := revokedInter.Client(t, "carol")

	crl := append(ca.CRL(t, false, revoked.Cert, revokedInter.Cert), other.CRL(t, false)...)
	trust, err := clientcert.ParseTrust(certtest.PEM(ca.Cert, other.Cert), crl)
	if err != nil {
		t.Fatal(err)
	}
	otherOnly, err := clientcert.ParseTrust(certtest.PEM(ca.Cert), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := []struct {
		name  string
		trust *clientcert.Trust
		leaf  *x509.Certificate
		chain []*x509.Certificate
		want  error
	}{
		{"valid", trust, good.Cert, nil, nil},
		{"valid through a sent intermediate", trust, viaInter.Cert, []*x509.Certificate{inter.Cert}, nil},
		{"intermediate not sent", trust, viaInter.Cert, nil, clientcert.ErrUntrusted},
		{"another CA's", otherOnly, foreign.Cert, nil, clientcert.ErrUntrusted},
		{"expired", trust, expired.Cert, nil, clientcert.ErrUntrusted},
		{"revoked by CRL", trust, revoked.Cert, nil, clientcert.ErrRevoked},
		{"issued by a revoked intermediate", trust, underRevoked.Cert, []*x509.Certificate{revokedInter.Cert}, clientcert.ErrRevoked},
		{"server certificate", trust, serverOnly.Cert, nil, clientcert.ErrUntrusted},
		{"chain too long", trust, good.Cert, []*x509.Certificate{ca.Cert, ca.Cert, ca.Cert, ca.Cert, ca.Cert}, clientcert.ErrChainLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.trust.Verify(tc.leaf, tc.chain, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want == nil && c.Fingerprint != clientcert.Fingerprint(tc.leaf.Raw) {
				t.Fatalf("fingerprint %s", c.Fingerprint)
			}
		})
	}
}

func TestVerifyRequiresClientAuthInLeaf(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	noEKU := ca.Client(t, "anything", func(c *x509.Certificate) { c.ExtKeyUsage = nil })
	noSig := ca.Client(t, "encipher", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })
	trust, err := clientcert.ParseTrust(certtest.PEM(ca.Cert), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{noEKU.Cert, noSig.Cert} {
		if _, err := trust.Verify(c, nil, time.Now()); !errors.Is(err, clientcert.ErrUsage) {
			t.Fatalf("%s: %v, want ErrUsage", c.Subject, err)
		}
	}
}

func TestStaleCRL(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	good := ca.Client(t, "alice")
	trust, err := clientcert.ParseTrust(certtest.PEM(ca.Cert), ca.CRL(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.Verify(good.Cert, nil, time.Now()); !errors.Is(err, clientcert.ErrStaleCRL) {
		t.Fatalf("Verify with a stale CRL: %v", err)
	}
	if got := trust.StaleCRLs(time.Now()); len(got) != 1 {
		t.Fatalf("StaleCRLs = %v", got)
	}
}

func TestParseTrustRefuses(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	other := certtest.NewCA(t, "Other CA")
	leaf := ca.Client(t, "alice")
	cases := []struct {
		name    string
		ca, crl []byte
		want    error
	}{
		{"empty bundle", nil, nil, clientcert.ErrCAFile},
		{"garbage bundle", []byte("not pem"), nil, clientcert.ErrCAFile},
		{"leaf as CA", certtest.PEM(leaf.Cert), nil, clientcert.ErrCAFile},
		{"broken certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), nil, clientcert.ErrCAFile},
		{"garbage CRL", certtest.PEM(ca.Cert), []byte("garbage"), clientcert.ErrCRLFile},
		{"CRL of a CA not in the bundle", certtest.PEM(ca.Cert), other.CRL(t, false), clientcert.ErrCRLFile},
	}
	for _, tc := range cases {
		if _, err := clientcert.ParseTrust(tc.ca, tc.crl); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	for _, in := range []string{fp, strings.ToUpper(fp), " " + strings.Repeat("AB:", 31) + "AB "} {
		if got, ok := clientcert.NormalizeFingerprint(in); !ok || got != fp {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "ab", strings.Repeat("zz", 32), strings.Repeat("ab", 33)} {
		if _, ok := clientcert.NormalizeFingerprint(in); ok {
			t.Errorf("NormalizeFingerprint(%q) accepted", in)
		}
	}
}

func newSource(t *testing.T, trust *clientcert.Trust, proxies ...string) *clientcert.Source {
	t.Helper()
	var pfx []netip.Prefix
	for _, p := range proxies {
		pfx = append(pfx, netip.MustParsePrefix(p))
	}
	s, err := clientcert.NewSource(clientcert.Options{Trust: trust, TrustedProxies: pfx})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFromRequestHeader(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	inter := ca.Intermediate(t, "Issuing CA")
	good := ca.Client(t, "alice")
	viaInter := inter.Client(t, "bob")
	trust, err := clientcert.ParseTrust(certtest.PEM(ca.Cert), nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t, trust, "10.0.0.0/8", "::1/128")
	escaped := url.PathEscape(string(certtest.PEM(good.Cert)))

	cases := []struct {
		name   string
		remote string
		header map[string]string
		want   string // fingerprint, or "" for none
	}{
		{"RFC 9440 from a trusted proxy", "10.1.2.3:5555", map[string]string{"Client-Cert": sfBinary(good.Cert.Raw)}, clientcert.Fingerprint(good.Cert.Raw)},
		{"RFC 9440 over IPv6 loopback", "[::1]:5555", map[string]string{"Client-Cert": sfBinary(good.Cert.Raw)}, clientcert.Fingerprint(good.Cert.Raw)},
		{"with parameters", "10.1.2.3:5555", map[string]string{"Client-Cert": sfBinary(good.Cert.Raw) + ";x=1"}, clientcert.Fingerprint(good.Cert.Raw)},
		{"with chain", "10.1.2.3:5555", map[string]string{"Client-Cert": sfBinary(viaInter.Cert.Raw), "Client-Cert-Chain": sfBinary(inter.Cert.Raw)}, clientcert.Fingerprint(viaInter.Cert.Raw)},
		{"nginx escaped PEM", "10.1.2.3:5555", map[string]string{"Client-Cert": escaped}, clientcert.Fingerprint(good.Cert.Raw)},
		{"from an untrusted peer", "192.0.2.7:5555", map[string]string{"Client-Cert": sfBinary(good.Cert.Raw)}, ""},
		{"no header", "10.1.2.3:5555", nil, ""},
		{"not base64", "10.1.2.3:5555", map[string]string{"Client-Cert": ":!!!:"}, ""},
		{"a string, not bytes", "10.1.2.3:5555", map[string]string{"Client-Cert": `"abc"`}, ""},
		{"bytes, not DER", "10.1.2.3:5555", map[string]string{"Client-Cert": sfBinary([]byte("hello"))}, ""},
		{"empty bytes", "10.1.2.3:5555", map[string]string{"Client-Cert": "::"}, ""},
		{"bad chain", "10.1.2.3:5555", map[string]string{"Client-Cert": sfBinary(viaInter.Cert.Raw), "Client-Cert-Chain": "?1"}, ""},
		{"huge chain", "10.1.2.3:5555", map[string]string{"Client-Cert": sfBinary(good.Cert.Raw), "Client-Cert-Chain": strings.Repeat(sfBinary(inter.Cert.Raw)+", ", 10) + sfBinary(inter.Cert.Raw)}, ""},
		{"huge header", "10.1.2.3:5555", map[string]string{"Client-Cert": ":" + strings.Repeat("A", clientcert.MaxHeaderBytes) + ":"}, ""},
		{"PEM of something else", "10.1.2.3:5555", map[string]string{"Client-Cert": url.PathEscape("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")}, ""},
		{"bad escape", "10.1.2.3:5555", map[string]string{"Client-Cert": "-----BEGIN%zz"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			c, err := src.FromRequest(r)
			if (err == nil) != (tc.want != "") || c.Fingerprint != tc.want {
				t.Fatalf("FromRequest = %q, %v; want %q", c.Fingerprint, err, tc.want)
			}
		})
	}
}

func TestFromRequestDirectTLS(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	other := certtest.NewCA(t, "Other CA")
	good := ca.Client(t, "alice")
	foreign := other.Client(t, "alice")
	trust, err := clientcert.ParseTrust(certtest.PEM(ca.Cert), nil)
	if err != nil {
		t.Fatal(err)
	}
	// No proxy is trusted: a header sent along with a TLS client
	// certificate, or without one, never counts.
	src := newSource(t, trust)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := src.FromRequest(r)
		var refused *clientcert.RefusedError
		if errors.As(err, &refused) {
			_, _ = io.WriteString(w, "refused "+refused.Fingerprint)
			return
		}
		_, _ = io.WriteString(w, c.Fingerprint)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, ClientCAs: trust.Pool(), MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()

	get := func(cert *certtest.Leaf, header string) string {
		t.Helper()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			// Sent whatever CAs the server names (a Go client would
			// otherwise hold back a certificate of another CA).
			tc := cert.TLS()
			tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if header != "" {
			req.Header.Set("Client-Cert", header)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(&good, ""); got != clientcert.Fingerprint(good.Cert.Raw) {
		t.Errorf("valid certificate over TLS: %q", got)
	}
	if got := get(&foreign, ""); got != "refused "+clientcert.Fingerprint(foreign.Cert.Raw) {
		t.Errorf("another CA's certificate counted: %q", got)
	}
	if got := get(nil, ""); got != "" {
		t.Errorf("no certificate counted: %q", got)
	}
	if got := get(nil, sfBinary(good.Cert.Raw)); got != "" {
		t.Errorf("a header from an untrusted client counted: %q", got)
	}
}

// TestVerifiedCacheFollowsReloadAndExpiry checks that a certificate
// remembered as verified stops counting when a reload revokes it and when
// its validity ends.
func TestVerifiedCacheFollowsReloadAndExpiry(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "Test CA")
	good := ca.Client(t, "alice", func(c *x509.Certificate) { c.NotAfter = time.Now().Add(2 * time.Hour) })
	caFile, crlFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.crl")
	write := func(name string, data []byte) {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(caFile, certtest.PEM(ca.Cert))
	write(crlFile, ca.CRL(t, false))
	clock := time.Now()
	src, err := clientcert.NewSource(clientcert.Options{CAFile: caFile, CRLFile: crlFile,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	req := func() error {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:4000"
		r.Header.Set(clientcert.HeaderCert, sfBinary(good.Cert.Raw))
		_, err := src.FromRequest(r)
		return err
	}
	for range 2 {
		if err := req(); err != nil {
			t.Fatalf("valid certificate: %v", err)
		}
	}
	write(crlFile, ca.CRL(t, false, good.Cert))
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := req(); !errors.Is(err, clientcert.ErrRevoked) {
		t.Fatalf("after a reload that revokes it: %v", err)
	}
	write(crlFile, ca.CRL(t, false))
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := req(); err != nil {
		t.Fatalf("after the revocation is lifted: %v", err)
	}
	clock = good.Cert.NotAfter.Add(time.Second)
	if err := req(); err == nil {
		t.Fatal("a remembered certificate counted past its notAfter")
	}
}
