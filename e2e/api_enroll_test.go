package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mutualauth/server/token"
	"mutualauth/store"
	sqlstore "mutualauth/store/sql"
)

// totpCode is an RFC 6238 code (HMAC-SHA-1, 30 s steps, 6 digits, RFC 4226
// §5.3 dynamic truncation), computed here without the server's library.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.Join(strings.Fields(secret), "")))
	if err != nil {
		t.Fatalf("TOTP secret %q is not base32: %v", secret, err)
	}
	var counter [8]byte
	binary.BigEndian.PutUint64(counter[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(counter[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// apiClient speaks the JSON API of API.md and nothing else.
type apiClient struct {
	t    *testing.T
	base string
	http *http.Client
}

type apiProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// call sends a JSON request (body nil: none) and returns the status and the
// raw answer.
func (c *apiClient) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	status, _, raw := sendJSON(c.t, c.http, method, c.base+path, body)
	return status, raw
}

// sendJSON sends a JSON request (body nil: none), as any client speaking the
// API does, and returns the status, headers and body of the answer.
func sendJSON(t *testing.T, hc *http.Client, method, url string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// ok requires status want and decodes the answer into out (when non-nil).
func (c *apiClient) ok(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, raw := c.call(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// problem requires a problem document with this status and code.
func (c *apiClient) problem(method, path string, body any, status int, code string) apiProblem {
	c.t.Helper()
	got, raw := c.call(method, path, body)
	var p apiProblem
	if err := json.Unmarshal(raw, &p); err != nil || got != status || p.Status != status || p.Code != code || p.Detail == "" {
		c.t.Fatalf("%s %s: %d %s; want a %d problem with code %s", method, path, got, raw, status, code)
	}
	return p
}

// inviteToken returns the token of an enrollment URL {PUBLIC_URL}/enroll/{token}.
func inviteToken(t *testing.T, s *Server, enrollURL string) string {
	t.Helper()
	u, err := url.Parse(enrollURL)
	if err != nil || u.Scheme+"://"+u.Host != s.URL() || !strings.HasPrefix(u.Path, "/enroll/") {
		t.Fatalf("enrollment URL %q is not %s/enroll/{token}", enrollURL, s.URL())
	}
	tok := strings.TrimPrefix(u.Path, "/enroll/")
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) < 32 {
		t.Fatalf("invite token %q is not 256 bits of base64url", tok)
	}
	return tok
}

func TestAPIEnrollWithPasswordPhraseAndTOTP(t *testing.T) {
	s := startServer(t, ServerOptions{})
	c := &apiClient{t: t, base: s.URL(), http: &http.Client{Timeout: 30 * time.Second}}
	tok := inviteToken(t, s, s.AdminInvite(t, "mallory.api", "Mallory Api", false))
	api := "/api/v1/enroll/" + tok

	var status struct {
		Username    string          `json:"username"`
		DisplayName string          `json:"display_name"`
		Done        map[string]bool `json:"done"`
	}
	c.ok("GET", api, nil, 200, &status)
	if status.Username != "mallory.api" || status.DisplayName != "Mallory Api" {
		t.Fatalf("status %+v", status)
	}
	for _, f := range []string{"password", "phrase", "totp", "webauthn"} {
		if done, ok := status.Done[f]; !ok || done {
			t.Fatalf("done.%s = %v (present %v) on a fresh invite", f, done, ok)
		}
	}
	c.problem("POST", api+"/complete", nil, 409, "incomplete")

	for _, weak := range []string{"password123456", "short pw", "mallory.api.2024", "MalloryApi!!1234"} {
		p := c.problem("POST", api+"/password", map[string]string{"password": weak}, 422, "weak_password")
		if strings.Contains(p.Detail, weak) {
			t.Errorf("weak_password detail %q echoes the password", p.Detail)
		}
	}
	c.ok("POST", api+"/password", map[string]string{"password": "tangerine bicycle over the fjord"}, 204, nil)

	c.problem("POST", api+"/phrase", map[string]string{"phrase": " x "}, 422, "invalid_phrase")
	c.problem("POST", api+"/phrase", map[string]string{"phrase": "Tangerine Bicycle Over The Fjord"}, 422, "invalid_phrase")
	c.ok("POST", api+"/phrase", map[string]string{"phrase": "seven quiet lanterns"}, 204, nil)

	var setup struct {
		Secret     string `json:"secret"`
		OTPAuthURI string `json:"otpauth_uri"`
		QRPNG      string `json:"qr_png"`
	}
	c.ok("POST", api+"/totp", nil, 200, &setup)
	if !strings.HasPrefix(setup.OTPAuthURI, "otpauth://totp/") || !strings.HasPrefix(setup.QRPNG, "data:image/png;base64,") {
		t.Fatalf("totp setup %+v", setup)
	}
	if u, err := url.Parse(setup.OTPAuthURI); err != nil || u.Query().Get("secret") != setup.Secret {
		t.Fatalf("otpauth URI %q does not carry the secret", setup.OTPAuthURI)
	}
	now := time.Now()
	code := totpCode(t, setup.Secret, now)
	wrong := totpCode(t, setup.Secret, now.Add(-10*time.Minute))
	if wrong != code {
		c.problem("POST", api+"/totp/confirm", map[string]string{"code": wrong}, 422, "invalid_otp")
	}
	c.ok("POST", api+"/totp/confirm", map[string]string{"code": code}, 204, nil)

	c.ok("GET", api, nil, 200, &status)
	if !status.Done["password"] || !status.Done["phrase"] || !status.Done["totp"] || status.Done["webauthn"] {
		t.Fatalf("done before completion: %+v", status.Done)
	}

	var result struct {
		RecoveryCodes []string `json:"recovery_codes"`
		DeviceToken   string   `json:"device_token"`
		ServerKey     struct {
			KID string `json:"kid"`
		} `json:"server_key"`
	}
	status2, raw := c.call("POST", api+"/complete", nil)
	if status2 != 200 {
		t.Fatalf("complete: %d %s", status2, raw)
	}
	if err := json.Unmarshal(raw, &result); err != nil {
		t.Fatal(err)
	}
	if len(result.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(result.RecoveryCodes))
	}
	seen := map[string]bool{}
	for _, rc := range result.RecoveryCodes {
		// ≥ 50 bits each: 12 symbols of a 32-symbol alphabet.
		if n := len(strings.ReplaceAll(rc, "-", "")); n < 10 || seen[rc] {
			t.Fatalf("recovery codes %v: %q too short or repeated", result.RecoveryCodes, rc)
		}
		seen[rc] = true
	}
	if dt, err := base64.RawURLEncoding.DecodeString(result.DeviceToken); err != nil || len(dt) < 32 {
		t.Fatalf("device token %q", result.DeviceToken)
	}
	kidFound := false
	for _, k := range serverKeys(t, s) {
		kidFound = kidFound || k.str("kid") == result.ServerKey.KID
	}
	if !kidFound {
		t.Fatalf("server_key.kid %q is not in the JWKS", result.ServerKey.KID)
	}

	// The invite is spent.
	c.problem("GET", api, nil, 404, "invalid_token")
	c.problem("POST", api+"/complete", nil, 404, "invalid_token")
	c.problem("POST", api+"/password", map[string]string{"password": "another long passphrase here"}, 404, "invalid_token")

	// An unknown token.
	unknown := make([]byte, 32)
	_, _ = rand.Read(unknown)
	c.problem("GET", "/api/v1/enroll/"+base64.RawURLEncoding.EncodeToString(unknown), nil, 404, "invalid_token")
}

func TestAPIEnrollExpiredAndReplacedInvites(t *testing.T) {
	s := startServer(t, ServerOptions{})
	c := &apiClient{t: t, base: s.URL(), http: &http.Client{Timeout: 30 * time.Second}}

	// A new invite replaces the old one.
	old := inviteToken(t, s, s.AdminInvite(t, "oscar", "", false))
	current := inviteToken(t, s, s.AdminInvite(t, "oscar", "", false))
	c.problem("GET", "/api/v1/enroll/"+old, nil, 404, "invalid_token")
	c.ok("GET", "/api/v1/enroll/"+current, nil, 200, nil)

	// An expired invite, written into the server's database as an operator
	// with a clock ahead would have: the API cannot make one.
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.GetUserByUsername(ctx, "oscar")
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	expired := base64.RawURLEncoding.EncodeToString(raw)
	if err := db.CreateInvite(ctx, store.Invite{
		TokenHash: token.Hash(expired), UserID: u.ID, CreatedBy: "e2e",
		CreatedAt: time.Now().Add(-80 * time.Hour), ExpiresAt: time.Now().Add(-8 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	c.problem("GET", "/api/v1/enroll/"+expired, nil, 404, "invalid_token")
	c.problem("POST", "/api/v1/enroll/"+expired+"/password", map[string]string{"password": "tangerine bicycle over the fjord"}, 404, "invalid_token")
	// The page says so too.
	req, _ := http.NewRequest("GET", s.URL()+"/enroll/"+expired, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("expired enrollment page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
