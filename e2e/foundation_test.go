package e2e

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// jwk is a public key of the JWKS, with every member kept so that a private
// one can be spotted.
type jwk map[string]any

func (k jwk) str(name string) string {
	s, _ := k[name].(string)
	return s
}

// serverKeys fetches the JWKS and checks each key is a public ES256 signing
// key whose kid is its RFC 7638 thumbprint.
func serverKeys(t *testing.T, s *Server) []jwk {
	t.Helper()
	var set struct {
		Keys []jwk `json:"keys"`
	}
	getJSON(t, s.URL()+"/.well-known/jwks.json", &set)
	for i, k := range set.Keys {
		for name, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig"} {
			if got := k.str(name); got != want {
				t.Errorf("key %d: %s = %q, want %q", i, name, got, want)
			}
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d publishes the private member %q", i, private)
			}
		}
		x, errX := base64.RawURLEncoding.DecodeString(k.str("x"))
		y, errY := base64.RawURLEncoding.DecodeString(k.str("y"))
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			t.Errorf("key %d: x and y must be 32-byte base64url values (RFC 7518 §6.2.1.2), got x=%q y=%q", i, k.str("x"), k.str("y"))
			continue
		}
		if _, err := ecdh.P256().NewPublicKey(slices.Concat([]byte{4}, x, y)); err != nil {
			t.Errorf("key %d is not a point on P-256: %v", i, err)
		}
		if want := thumbprint(t, k); k.str("kid") != want {
			t.Errorf("key %d: kid %q, want its RFC 7638 thumbprint %q", i, k.str("kid"), want)
		}
	}
	return set.Keys
}

// thumbprint computes the RFC 7638 §3 thumbprint of an EC key: SHA-256 over
// the required members crv, kty, x, y in lexicographic order, without
// whitespace (§3.2, §3.3), base64url-encoded without padding.
func thumbprint(t *testing.T, k jwk) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("{")
	for i, name := range []string{"crv", "kty", "x", "y"} {
		if i > 0 {
			b.WriteString(",")
		}
		v, err := json.Marshal(k.str(name))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(`"` + name + `":` + string(v))
	}
	b.WriteString("}")
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestServerStartsAndPublishesKey(t *testing.T) {
	s := startServer(t, ServerOptions{})

	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := httpGet(t, s.URL()+path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s, want 200\n%s", path, resp.Status, body)
		}
	}

	keys := serverKeys(t, s)
	if len(keys) != 1 {
		t.Fatalf("the JWKS of a new server has %d keys, want exactly 1", len(keys))
	}

	var meta struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"proof_signing_alg_values_supported"`
	}
	getJSON(t, s.URL()+"/.well-known/mutualauth", &meta)
	if meta.Issuer != s.URL() {
		t.Errorf("issuer %q, want the public URL %q", meta.Issuer, s.URL())
	}
	if want := s.URL() + "/.well-known/jwks.json"; meta.JWKSURI != want {
		t.Errorf("jwks_uri %q, want %q", meta.JWKSURI, want)
	}
	if !slices.Equal(meta.Algs, []string{"ES256"}) {
		t.Errorf("proof_signing_alg_values_supported %q, want [ES256]", meta.Algs)
	}

	invite := s.AdminInvite(t, "alice", "", false)
	pattern := `^` + regexp.QuoteMeta(s.URL()) + `/enroll/[A-Za-z0-9_-]{43}$`
	if !regexp.MustCompile(pattern).MatchString(invite) {
		t.Errorf("admin invite printed %q, want a match of %s", invite, pattern)
	}
	if again := s.AdminInvite(t, "bob", "Bob B.", true); again == invite {
		t.Errorf("two invites printed the same URL %q", invite)
	}
}

func TestSigningKeySurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	first := startServer(t, ServerOptions{DataDir: dataDir})
	before := serverKeys(t, first)
	first.Stop(t)

	second := startServer(t, ServerOptions{DataDir: dataDir, Port: first.Port()})
	after := serverKeys(t, second)
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("JWKS sizes %d before and %d after the restart, want 1 and 1", len(before), len(after))
	}
	if before[0].str("kid") != after[0].str("kid") {
		t.Errorf("the signing key changed across a restart on the same data: kid %q, then %q", before[0].str("kid"), after[0].str("kid"))
	}
}

func TestServerOnPostgres(t *testing.T) {
	db := postgresDatabase(t)
	s := startServer(t, ServerOptions{DatabaseURL: db})

	if resp, body := httpGet(t, s.URL()+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz on PostgreSQL and Redis: %s, want 200\n%s", resp.Status, body)
	}
	if keys := serverKeys(t, s); len(keys) != 1 {
		t.Errorf("the JWKS has %d keys, want 1", len(keys))
	}
	invite := s.AdminInvite(t, "carol", "Carol", false)
	if !strings.HasPrefix(invite, s.URL()+"/enroll/") {
		t.Errorf("admin invite printed %q, want an enrollment URL under %s", invite, s.URL())
	}
}

func TestBrowserReachesServer(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	authenticator := enableVirtualAuthenticator(t, ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+"/healthz")); err != nil {
		t.Fatalf("open /healthz: %v", err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("pre")))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	var health struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &health); err != nil || health.Status != "ok" {
		t.Errorf("the browser shows %q at /healthz, want the JSON {\"status\":\"ok\"}", body)
	}

	// http://localhost is a secure context, so WebAuthn is available to the
	// server's pages without TLS.
	webauthnReady, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`window.isSecureContext && typeof PublicKeyCredential === "function"`))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	if !webauthnReady {
		t.Error("the page at the public URL is not a secure context with WebAuthn")
	}
	if creds := virtualCredentials(t, ctx, authenticator); len(creds) != 0 {
		t.Errorf("a new virtual authenticator holds %d credentials, want 0", len(creds))
	}
	screenshot(t, ctx, "healthz")
}
