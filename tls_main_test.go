package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mutualauth/server/clientcert/certtest"
)

// tlsFiles writes a server certificate, its key, a client CA bundle and an
// empty-but-valid CRL into dir.
func tlsFiles(t *testing.T, dir string) (srvCA, clientCA *certtest.CA, files map[string]string) {
	t.Helper()
	srvCA, clientCA = certtest.NewCA(t, "Server CA"), certtest.NewCA(t, "Client CA")
	leaf := srvCA.Server(t)
	files = map[string]string{
		"cert": filepath.Join(dir, "cert.pem"), "key": filepath.Join(dir, "key.pem"),
		"ca": filepath.Join(dir, "clients.pem"), "crl": filepath.Join(dir, "clients.crl"), "junk": filepath.Join(dir, "junk"),
	}
	for k, data := range map[string][]byte{
		"cert": certtest.PEM(leaf.Cert, srvCA.Cert), "key": certtest.KeyPEM(t, leaf.Key),
		"ca": certtest.PEM(clientCA.Cert), "crl": clientCA.CRL(t, false), "junk": []byte("junk"),
	} {
		if err := os.WriteFile(files[k], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return srvCA, clientCA, files
}

func TestRunServesTLS(t *testing.T) {
	dir := t.TempDir()
	srvCA, _, f := tlsFiles(t, dir)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	env := envOf(map[string]string{
		"MUTUALAUTH_LISTEN": addr, "MUTUALAUTH_PUBLIC_URL": "https://localhost:" + port, "MUTUALAUTH_DATA_DIR": dir,
		"MUTUALAUTH_TLS_CERT_FILE": f["cert"], "MUTUALAUTH_TLS_KEY_FILE": f["key"],
		"MUTUALAUTH_TLS_CLIENT_CA_FILE": f["ca"], "MUTUALAUTH_TLS_CLIENT_CRL_FILE": f["crl"],
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"mutualauth"}, env, &out) }()

	roots := x509.NewCertPool()
	roots.AddCert(srvCA.Cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp := waitHealthy(t, client, "https://localhost:"+port, done, &out)
	if resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("healthz over TLS: HSTS %q", resp.Header.Get("Strict-Transport-Security"))
	}
	if err := healthcheck(ctx, env); err != nil {
		t.Errorf("healthcheck over TLS: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

func TestRunRefusesBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	_, _, f := tlsFiles(t, dir)
	base := map[string]string{
		"MUTUALAUTH_LISTEN": "127.0.0.1:0", "MUTUALAUTH_PUBLIC_URL": "https://localhost", "MUTUALAUTH_DATA_DIR": dir,
		"MUTUALAUTH_TLS_CERT_FILE": f["cert"], "MUTUALAUTH_TLS_KEY_FILE": f["key"],
		"MUTUALAUTH_TLS_CLIENT_CA_FILE": f["ca"], "MUTUALAUTH_TLS_CLIENT_CRL_FILE": f["crl"],
	}
	cases := []struct{ name, value, want string }{
		{"MUTUALAUTH_TLS_CERT_FILE", f["junk"], "MUTUALAUTH_TLS_CERT_FILE"},
		{"MUTUALAUTH_TLS_KEY_FILE", filepath.Join(dir, "missing"), "MUTUALAUTH_TLS_KEY_FILE"},
		{"MUTUALAUTH_TLS_CLIENT_CA_FILE", f["junk"], "MUTUALAUTH_TLS_CLIENT_CA_FILE"},
		{"MUTUALAUTH_TLS_CLIENT_CA_FILE", f["cert"], "MUTUALAUTH_TLS_CLIENT_CA_FILE"}, // a leaf is no CA
		{"MUTUALAUTH_TLS_CLIENT_CRL_FILE", f["junk"], "MUTUALAUTH_TLS_CLIENT_CRL_FILE"},
		{"MUTUALAUTH_PUBLIC_URL", "http://localhost", "MUTUALAUTH_PUBLIC_URL"},
	}
	for _, c := range cases {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		env[c.name] = c.value
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, []string{"mutualauth"}, envOf(env), &bytes.Buffer{})
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: error %v, want it to name %s", c.name, filepath.Base(c.value), err, c.want)
		}
	}
}
