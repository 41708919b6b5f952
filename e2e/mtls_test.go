package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mutualauth/internal/testenv"
	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
)

// chromiumPolicyDir is where Debian's Chromium reads managed policies.
// Client certificates are chosen only by the AutoSelectCertificateForUrls
// policy in headless mode (no selection dialog); the test writes one for
// its own server's origin alone and removes it afterwards.
const chromiumPolicyDir = "/etc/chromium/policies/managed"

func mtlsRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestBrowserSignInWithClientCertificate serves HTTPS from the binary with
// client certificates of a test CA, gives headless Chromium a bound
// certificate through an NSS database under its HOME and the
// AutoSelectCertificateForUrls policy, and signs in with the password
// alone: the page says the certificate was recognized and shows the phrase.
func TestBrowserSignInWithClientCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	for _, tool := range []string{"certutil", "pk12util", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool, "apt-get install libnss3-tools openssl")
		}
	}
	if err := os.MkdirAll(chromiumPolicyDir, 0o755); err != nil {
		testenv.Missing(t, "a writable "+chromiumPolicyDir, "run as root (the test writes a Chromium policy there)")
	}

	dir := t.TempDir()
	srvCA := certtest.NewCA(t, "E2E Server CA")
	srvLeaf := srvCA.Server(t)
	clientCAName := "E2E Client CA " + strconv.FormatInt(time.Now().UnixNano(), 36)
	clientCA := certtest.NewCA(t, clientCAName)
	alice := clientCA.Client(t, "alice")
	files := map[string][]byte{
		"server.pem": certtest.PEM(srvLeaf.Cert, srvCA.Cert), "server.key": certtest.KeyPEM(t, srvLeaf.Key),
		"server-ca.pem": certtest.PEM(srvCA.Cert), "clients.pem": certtest.PEM(clientCA.Cert),
		"alice.pem": certtest.PEM(alice.Cert), "alice.key": certtest.KeyPEM(t, alice.Key),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(srvCA.Cert)
	port := freePort(t)
	s := startServer(t, ServerOptions{
		Port: port, HTTPS: &tls.Config{RootCAs: roots},
		Env: []string{
			"MUTUALAUTH_TLS_CERT_FILE=" + filepath.Join(dir, "server.pem"),
			"MUTUALAUTH_TLS_KEY_FILE=" + filepath.Join(dir, "server.key"),
			"MUTUALAUTH_TLS_CLIENT_CA_FILE=" + filepath.Join(dir, "clients.pem"),
		},
	})
	const password = "plum orchard under seven moons"
	c := newAPILoginClient(t, s.URL())
	c.hc.Transport = s.HTTPClient(0).Transport
	apiEnroll(t, c, inviteToken(t, s, s.AdminInvite(t, "alice", "", true)), password)
	var bound struct{ Fingerprint string }
	if err := json.Unmarshal([]byte(s.Command(t, "admin", "cert", "add", "--username", "alice", "--cert", filepath.Join(dir, "alice.pem"))), &bound); err != nil {
		t.Fatal(err)
	}
	if bound.Fingerprint != clientcert.Fingerprint(alice.Cert.Raw) {
		t.Fatalf("admin cert add printed %q", bound.Fingerprint)
	}

	// Chromium on Linux keeps certificates in the NSS database under
	// $HOME/.pki/nssdb: the client certificate with its key, and the
	// server's CA as trusted for TLS servers.
	home := filepath.Join(dir, "home")
	nss := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nss, 0o700); err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(dir, "alice.p12")
	mtlsRun(t, "certutil", "-N", "-d", "sql:"+nss, "--empty-password")
	mtlsRun(t, "openssl", "pkcs12", "-export", "-in", filepath.Join(dir, "alice.pem"), "-inkey", filepath.Join(dir, "alice.key"),
		"-out", p12, "-passout", "pass:", "-name", "alice")
	mtlsRun(t, "pk12util", "-i", p12, "-d", "sql:"+nss, "-W", "")
	mtlsRun(t, "certutil", "-A", "-d", "sql:"+nss, "-n", "e2e-server-ca", "-t", "C,,", "-i", filepath.Join(dir, "server-ca.pem"))

	policy := filepath.Join(chromiumPolicyDir, fmt.Sprintf("mutualauth-e2e-%d.json", port))
	rule, _ := json.Marshal(map[string]any{"pattern": s.URL(), "filter": map[string]any{"ISSUER": map[string]string{"CN": clientCAName}}})
	doc, _ := json.Marshal(map[string]any{"AutoSelectCertificateForUrls": []string{string(rule)}})
	if err := os.WriteFile(policy, doc, 0o644); err != nil {
		testenv.Missing(t, "a writable "+chromiumPolicyDir, "run as root (the test writes a Chromium policy there)")
	}
	t.Cleanup(func() { _ = os.Remove(policy) })

	ctx := newBrowser(t, chromedp.Env("HOME="+home))
	loginOpen(t, ctx, s, "")
	loginType(t, ctx, "username", "alice")
	loginWaitFor(t, ctx, "password", "stop", "otp")
	st := loginReadPage(t, ctx)
	cert := loginJS[string](t, ctx, `const e = document.getElementById("cert-box"); return e && !e.hidden ? e.textContent.trim() : "";`)
	if !st.Password || st.OTP || st.Phrase != "copper kettle at dawn" || cert != "This device's certificate was recognized." {
		t.Fatalf("after the username: certificate %q, state %+v", cert, st)
	}
	screenshot(t, ctx, "certificate-recognized")
	do(t, ctx, "narrow screen", chromedp.EmulateViewport(390, 844))
	checkNoSidewaysScroll(t, ctx, "the login page", 390)
	screenshot(t, ctx, "certificate-recognized-narrow")
	do(t, ctx, "wide screen", chromedp.EmulateViewport(1280, 900))

	loginType(t, ctx, "password", password)
	loginWaitSignedIn(t, ctx)
	user, amr := loginSession(t, ctx)
	if user != "alice" || !slices.Equal(amr, []string{"pwd", "swk", "mfa"}) {
		t.Fatalf("signed in as %q with amr %v", user, amr)
	}

	// The account page lists the certificate as this device's.
	do(t, ctx, "account page", chromedp.Navigate(s.URL()+"/account#certificates"), chromedp.WaitVisible(chromedp.ID("certificates")))
	row := eval[string](t, ctx, `(document.querySelector('#certificates tr[data-certificate="`+bound.Fingerprint+`"]') || {}).textContent || ""`)
	if !strings.Contains(row, "CN=alice") || !strings.Contains(row, "This device") {
		t.Fatalf("account page certificate row %q", row)
	}
	do(t, ctx, "scroll", chromedp.ScrollIntoView(chromedp.ID("certificates")))
	screenshot(t, ctx, "account-certificates")
	do(t, ctx, "narrow screen", chromedp.EmulateViewport(390, 844), chromedp.ScrollIntoView(chromedp.ID("certificates")))
	checkNoSidewaysScroll(t, ctx, "the account page", 390)
	screenshot(t, ctx, "account-certificates-narrow")
	do(t, ctx, "wide screen", chromedp.EmulateViewport(1280, 900))

	// A certificate is a second factor for the admin center too; the
	// admin's user page lists it.
	id := loginJS[string](t, ctx, `const r = await fetch("/api/v1/session"); return (await r.json()).user.id;`)
	do(t, ctx, "admin user page", chromedp.Navigate(s.URL()+"/admin/users/"+id), chromedp.WaitVisible(chromedp.ID("certificates")))
	if row := eval[string](t, ctx, `(document.querySelector('#certificates tr[data-certificate="`+bound.Fingerprint+`"]') || {}).textContent || ""`); !strings.Contains(row, "CN=alice") {
		t.Fatalf("admin page certificate row %q", row)
	}
	do(t, ctx, "scroll", chromedp.ScrollIntoView(chromedp.ID("certificates")))
	screenshot(t, ctx, "admin-certificates")
	do(t, ctx, "narrow screen", chromedp.EmulateViewport(390, 844), chromedp.ScrollIntoView(chromedp.ID("certificates")))
	checkNoSidewaysScroll(t, ctx, "the admin user page", 390)
	screenshot(t, ctx, "admin-certificates-narrow")
}
