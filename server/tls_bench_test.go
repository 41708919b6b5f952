package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
	"mutualauth/server/tlsserve"
	"mutualauth/server/token"
	"mutualauth/store"
)

// BenchmarkOverTLS measures begin and /auth/verify from parallel
// keep-alive clients over plain HTTP, over the server's own TLS, over TLS
// with a bound client certificate (begin then verifies it, reads its
// binding and audits its use), and with a session bound to that
// certificate (verify then checks the certificate on every request).
func BenchmarkOverTLS(b *testing.B) {
	dir := b.TempDir()
	srvCA := certtest.NewCA(b, "Bench Server CA")
	leaf := srvCA.Server(b)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certtest.PEM(leaf.Cert), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(keyFile, certtest.KeyPEM(b, leaf.Key), 0o600); err != nil {
		b.Fatal(err)
	}
	clientCA := certtest.NewCA(b, "Bench Client CA")
	trust, err := clientcert.ParseTrust(certtest.PEM(clientCA.Cert), clientCA.CRL(b, false))
	if err != nil {
		b.Fatal(err)
	}
	src, err := clientcert.NewSource(clientcert.Options{Trust: trust})
	if err != nil {
		b.Fatal(err)
	}
	tlsSrv, err := tlsserve.New(certFile, keyFile, src, nil)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(srvCA.Cert)
	cert := clientCA.Client(b, "known.user")

	for _, m := range []struct {
		name  string
		tt    *timingTLS
		certs bool
	}{
		{"plain", nil, false},
		{"tls", &timingTLS{server: tlsSrv.Config(), client: &tls.Config{RootCAs: roots}, certs: src}, false},
		{"tls-client-cert", &timingTLS{server: tlsSrv.Config(), client: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert.TLS()}}, certs: src}, true},
		{"tls-client-cert-bound-session", &timingTLS{server: tlsSrv.Config(), client: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert.TLS()}}, certs: src, bind: true}, true},
	} {
		ts := newTimingServerOn(b, m.tt)
		ctx := context.Background()
		u, err := ts.deps.Durable.GetUserByUsername(ctx, "known.user")
		if err != nil {
			b.Fatal(err)
		}
		fp := ""
		if m.certs {
			fp = clientcert.Fingerprint(cert.Cert.Raw)
			if _, err := account.BindClientCert(ctx, ts.deps.Durable, time.Now(), u.ID, clientcert.Describe(cert.Cert)); err != nil {
				b.Fatal(err)
			}
		}
		tok, _ := token.New()
		now := time.Now()
		if err := ts.deps.Ephemeral.CreateSession(ctx, store.Session{
			ID: account.NewID()[:16], TokenHash: token.HashHex(tok), UserID: u.ID, Username: u.Username,
			Groups: []string{"user"}, AMR: []string{"pwd", "swk", "mfa"}, AuthTime: now, CreatedAt: now, LastSeenAt: now,
			ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(30 * time.Minute), ClientCert: fp,
		}); err != nil {
			b.Fatal(err)
		}
		body := []byte(`{"username":"known.user","client_nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
		run := func(b *testing.B, req func() (*http.Response, error)) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := req()
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("%s: %d", resp.Request.URL.Path, resp.StatusCode)
						return
					}
				}
			})
		}
		b.Run(m.name+"/begin", func(b *testing.B) {
			run(b, func() (*http.Response, error) {
				return ts.client.Post(ts.url+"/api/v1/login/begin", "application/json", bytes.NewReader(body))
			})
		})
		b.Run(m.name+"/verify", func(b *testing.B) {
			run(b, func() (*http.Response, error) {
				req, _ := http.NewRequest(http.MethodGet, ts.url+"/auth/verify", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				return ts.client.Do(req)
			})
		})
	}
}
