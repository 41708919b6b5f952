package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
	"mutualauth/server/tlsserve"
	"mutualauth/store"
)

// certEnv is a login environment that accepts client certificates of its
// CA, from a trusted proxy's Client-Cert header or over its own TLS.
type certEnv struct {
	*loginEnv
	CA      *certtest.CA
	Other   *certtest.CA
	roots   *x509.CertPool // the server certificate's CA, with serveTLS
	revoked certtest.Leaf
}

type certEnvOptions struct {
	proxies      []string // trusted proxies; default loopback
	serveTLS     bool
	bindSessions bool
}

func newCertEnv(t *testing.T, o certEnvOptions) *certEnv {
	t.Helper()
	ce := &certEnv{CA: certtest.NewCA(t, "Client CA"), Other: certtest.NewCA(t, "Other CA")}
	ce.revoked = ce.CA.Client(t, "revoked")
	trust, err := clientcert.ParseTrust(certtest.PEM(ce.CA.Cert, ce.Other.Cert),
		append(ce.CA.CRL(t, false, ce.revoked.Cert), ce.Other.CRL(t, false)...))
	if err != nil {
		t.Fatal(err)
	}
	if o.proxies == nil {
		o.proxies = []string{"127.0.0.1/32", "::1/128"}
	}
	var pfx []netip.Prefix
	for _, p := range o.proxies {
		pfx = append(pfx, netip.MustParsePrefix(p))
	}

	base := newTestServer(t, testOptions{FastHash: true})
	clk := &loginClock{now: time.Now().UTC().Truncate(time.Second)}
	src, err := clientcert.NewSource(clientcert.Options{Trust: trust, TrustedProxies: pfx, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	scheme := "http"
	if o.serveTLS {
		scheme = "https"
	}
	issuer := scheme + "://localhost:" + port
	d := base.Deps
	cfg := d.Config
	cfg.PublicURL, _ = url.Parse(issuer)
	cfg.TLSClientCAFile, cfg.TLSBindSessions = "in-memory", o.bindSessions
	d.Config, d.Now, d.ClientCerts = cfg, clk.Now, src
	app, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = app
	if o.serveTLS {
		srvCA := certtest.NewCA(t, "Server CA")
		leaf := srvCA.Server(t)
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, certtest.PEM(leaf.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, certtest.KeyPEM(t, leaf.Key), 0o600); err != nil {
			t.Fatal(err)
		}
		ts, err := tlsserve.New(certFile, keyFile, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		hs.TLS = ts.Config()
		hs.StartTLS()
		ce.roots = x509.NewCertPool()
		ce.roots.AddCert(srvCA.Cert)
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	ce.loginEnv = &loginEnv{t: t, URL: issuer, Deps: d, App: app, clk: clk}
	r := ce.tlsClient(nil).call("GET", "/.well-known/jwks.json", nil)
	if r.status != 200 {
		t.Fatalf("jwks: %d", r.status)
	}
	ce.jwks = r.body
	return ce
}

// tlsClient is a client that presents cert (nil: none) on TLS connections.
func (ce *certEnv) tlsClient(cert *certtest.Leaf) *loginClient {
	jar, _ := cookiejar.New(nil)
	cfg := &tls.Config{RootCAs: ce.roots}
	if cert != nil {
		tc := cert.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	return &loginClient{e: ce.loginEnv, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg}}}
}

// bind binds a new certificate of ce's CA to m and returns it.
func (ce *certEnv) bind(m *enrolledUser, opts ...certtest.Option) certtest.Leaf {
	ce.t.Helper()
	leaf := ce.CA.Client(ce.t, m.User.Username, opts...)
	ce.bindLeaf(m, leaf)
	return leaf
}

func (ce *certEnv) bindLeaf(m *enrolledUser, leaf certtest.Leaf) {
	ce.t.Helper()
	if _, err := account.BindClientCert(context.Background(), ce.Deps.Durable, ce.clk.Now(), m.User.ID,
		clientcert.Describe(leaf.Cert)); err != nil {
		ce.t.Fatal(err)
	}
}

// header is the RFC 9440 Client-Cert header pair for leaf.
func header(leaf certtest.Leaf) []string {
	return []string{clientcert.HeaderCert, ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":"}
}

// certLogin signs m in with the password alone on a request that presents
// a certificate (by header, or by b's TLS connection with no hdr).
func (ce *certEnv) certLogin(b *loginClient, m *enrolledUser, hdr ...string) loginReply {
	t := ce.t
	t.Helper()
	nonce := newClientNonce()
	lr, r := b.post("begin", map[string]any{"username": m.User.Username, "client_nonce": nonce}, hdr...)
	requireOK(t, "begin", r)
	if !slices.Equal(lr.Next, []string{"password"}) || !lr.PhraseShown || !strings.Contains(string(r.body), `"client_certificate":true`) {
		t.Fatalf("begin with a bound certificate: %s", r.body)
	}
	ce.checkProof(lr.Proof, ce.URL, nonce, lr.LoginID, m.User.Username, m.Phrase)
	done, r := b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password}, hdr...)
	requireOK(t, "password", r)
	if !done.Done || !slices.Equal(done.AMR, []string{"pwd", "swk", "mfa"}) {
		t.Fatalf("completion: %s", r.body)
	}
	return done
}

// beginUnrecognized checks that begin treats the request as having no
// certificate.
func (ce *certEnv) beginUnrecognized(what string, b *loginClient, m *enrolledUser, hdr ...string) {
	ce.t.Helper()
	lr, r := b.post("begin", map[string]any{"username": m.User.Username, "client_nonce": newClientNonce()}, hdr...)
	requireOK(ce.t, what+": begin", r)
	if !slices.Equal(lr.Next, allSecondFactors) || lr.PhraseShown || strings.Contains(string(r.body), "client_certificate") {
		ce.t.Fatalf("%s: begin recognized the device: %s", what, r.body)
	}
}

func (ce *certEnv) certAudits(result, fingerprint string) int {
	n := 0
	for _, e := range ce.audit("login.cert", result) {
		if strings.Contains(e.Detail, fingerprint) {
			n++
		}
	}
	return n
}

func TestCertLoginThroughTrustedProxy(t *testing.T) {
	ce := newCertEnv(t, certEnvOptions{})
	alice := ce.enroll("alice")
	bob := ce.enroll("bob")
	leaf := ce.bind(alice)
	fp := clientcert.Fingerprint(leaf.Cert.Raw)

	b := ce.client()
	done := ce.certLogin(b, alice, header(leaf)...)
	if done.User.ID != alice.User.ID {
		t.Fatalf("signed in as %v", done.User)
	}
	if ce.certAudits("success", fp) != 1 {
		t.Fatal("certificate use not audited with its fingerprint")
	}
	complete := ce.audit("login.complete", "success")
	if len(complete) != 1 || !strings.Contains(complete[0].Detail, fp) {
		t.Fatalf("completion audit %v", complete)
	}
	bound, err := ce.Deps.Durable.GetClientCert(context.Background(), fp)
	if err != nil || !bound.LastUsedAt.Equal(ce.clk.Now()) {
		t.Fatalf("last use %v, %v", bound.LastUsedAt, err)
	}
	var sess struct{ AMR []string }
	r := b.call("GET", "/api/v1/session", nil)
	requireOK(t, "session", r)
	r.decode(t, &sess)
	if !slices.Equal(sess.AMR, []string{"pwd", "swk", "mfa"}) {
		t.Fatalf("session amr %v", sess.AMR)
	}
	if r := b.call("GET", "/auth/verify", nil); r.status != 200 || r.header.Get("Remote-User") != "alice" {
		t.Fatalf("verify: %d", r.status)
	}

	// A certificate that does not count leaves the login where it is
	// without one; each presented one is audited with why.
	unbound := ce.CA.Client(t, "alice")
	expired := ce.bind(alice, certtest.Expired)
	foreign := ce.Other.Client(t, "alice")
	ce.bindLeaf(alice, foreign)
	notClient := ce.bind(alice, certtest.ServerAuthOnly)
	stranger := certtest.NewCA(t, "Stranger CA").Client(t, "alice")
	ce.bindLeaf(alice, stranger)
	ce.bindLeaf(alice, ce.revoked)
	for _, c := range []struct {
		name   string
		user   *enrolledUser
		leaf   certtest.Leaf
		reason string
	}{
		{"unbound", alice, unbound, "not bound"},
		{"another user's", bob, leaf, "another user"},
		{"expired", alice, expired, "expired"},
		{"another trusted CA's, unbound", alice, ce.Other.Client(t, "x"), "not bound"},
		{"another CA's, bound", alice, stranger, "no valid chain"},
		{"revoked by CRL", alice, ce.revoked, "revoked"},
		{"without clientAuth", alice, notClient, "chain"},
	} {
		ce.beginUnrecognized(c.name, ce.client(), c.user, header(c.leaf)...)
		fails := ce.audit("login.cert", "failure")
		last := fails[0]
		if !strings.Contains(last.Detail, clientcert.Fingerprint(c.leaf.Cert.Raw)) || !strings.Contains(last.Detail, c.reason) {
			t.Errorf("%s: audit detail %q", c.name, last.Detail)
		}
	}

	// Any CA of the bundle may issue a certificate that counts.
	ce.certLogin(ce.client(), alice, header(foreign)...)

	// Unknown usernames get the same answer as unbound certificates.
	nobody := &enrolledUser{User: store.User{Username: "nobody"}}
	ce.beginUnrecognized("unknown username", ce.client(), nobody, header(leaf)...)

	// The password step needs the certificate again.
	b2 := ce.client()
	lr, r := b2.post("begin", map[string]any{"username": "alice", "client_nonce": newClientNonce()}, header(leaf)...)
	requireOK(t, "begin", r)
	_, r = b2.post("password", map[string]any{"login_id": lr.LoginID, "password": alice.Password})
	requireProblem(t, "password without the certificate", r, 401, "invalid_credentials")

	// A removed certificate counts as none.
	if err := ce.Deps.Durable.DeleteClientCert(context.Background(), alice.User.ID, fp); err != nil {
		t.Fatal(err)
	}
	ce.beginUnrecognized("removed", ce.client(), alice, header(leaf)...)
}

func TestCertLoginHeaderFromUntrustedPeerIgnored(t *testing.T) {
	ce := newCertEnv(t, certEnvOptions{proxies: []string{"10.0.0.0/8"}})
	alice := ce.enroll("alice")
	leaf := ce.bind(alice)
	ce.beginUnrecognized("header from an untrusted peer", ce.client(), alice, header(leaf)...)
	if n := len(ce.audit("login.cert", "")); n != 0 {
		t.Fatalf("%d certificate audits for an ignored header", n)
	}
}

func TestCertLoginDirectTLS(t *testing.T) {
	ce := newCertEnv(t, certEnvOptions{serveTLS: true, proxies: []string{}})
	alice := ce.enroll("alice")
	leaf := ce.bind(alice)
	done := ce.certLogin(ce.tlsClient(&leaf), alice)
	if done.User.ID != alice.User.ID {
		t.Fatalf("signed in as %v", done.User)
	}
	ce.beginUnrecognized("no certificate over TLS", ce.tlsClient(nil), alice)
	// Over direct TLS a header is not believed, even from loopback.
	ce.beginUnrecognized("header over TLS", ce.tlsClient(nil), alice, header(leaf)...)
	foreign := ce.Other.Client(t, "alice")
	ce.bindLeaf(alice, foreign)
	other := ce.CA.Client(t, "alice")
	ce.beginUnrecognized("unbound certificate over TLS", ce.tlsClient(&other), alice)
	ce.beginUnrecognized("revoked certificate over TLS", ce.tlsClient(&ce.revoked), alice)
}

func TestCertBoundSessions(t *testing.T) {
	ce := newCertEnv(t, certEnvOptions{serveTLS: true, bindSessions: true})
	alice := ce.enroll("alice")
	leaf := ce.bind(alice)
	other := ce.bind(alice)
	b := ce.tlsClient(&leaf)
	ce.certLogin(b, alice)
	if r := b.call("GET", "/api/v1/session", nil); r.status != 200 {
		t.Fatalf("session over the certificate's connection: %d", r.status)
	}
	tok := b.cookie("__Host-mutualauth_session")
	for _, c := range []struct {
		name string
		cert *certtest.Leaf
	}{{"no certificate", nil}, {"another certificate of the same user", &other}} {
		thief := ce.tlsClient(c.cert)
		for _, path := range []string{"/api/v1/session", "/auth/verify"} {
			if r := thief.call("GET", path, nil, "Authorization", "Bearer "+tok); r.status != 401 {
				t.Errorf("%s %s: %d, want 401", c.name, path, r.status)
			}
		}
	}
	// The session itself survives: the certificate's holder goes on.
	if r := b.call("GET", "/api/v1/session", nil); r.status != 200 {
		t.Fatalf("session after refused uses: %d", r.status)
	}
}
