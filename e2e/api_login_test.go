package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file is a client that speaks only API.md: its own RFC 6238 code
// generator, its own ES256 / JWS verifier (crypto/ecdsa over the raw r||s
// signature of RFC 7518 §3.4), and plain HTTP with a cookie jar.

// apiLoginTOTP is RFC 6238 with HMAC-SHA-1, 30 s steps and 6 digits.
func apiLoginTOTP(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		t.Fatalf("TOTP secret: %v", err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

type apiLoginClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newAPILoginClient(t *testing.T, base string) *apiLoginClient {
	jar, _ := cookiejar.New(nil)
	return &apiLoginClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends JSON (body nil: none) and returns the status, headers and body.
func (c *apiLoginClient) do(method, path string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	return sendJSON(c.t, c.hc, method, c.base+path, body)
}

// must requires status want and decodes the answer into out (non-nil).
func (c *apiLoginClient) must(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, _, raw := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// refused requires a problem document with this status and code.
func (c *apiLoginClient) refused(method, path string, body any, status int, code string) {
	c.t.Helper()
	got, hdr, raw := c.do(method, path, body)
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	_ = json.Unmarshal(raw, &p)
	if got != status || p.Status != status || p.Code != code || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
		c.t.Fatalf("%s %s: %d %s; want a %d problem %s", method, path, got, raw, status, code)
	}
}

func (c *apiLoginClient) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, k := range c.hc.Jar.Cookies(u) {
		if k.Name == name {
			return k.Value
		}
	}
	return ""
}

func apiLoginNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// apiLoginVerifier checks server proofs against a JWKS fetched once and a
// pinned key id, as a native client with a pinned key would.
type apiLoginVerifier struct {
	t      *testing.T
	issuer string
	pinned string
	keys   map[string]*ecdsa.PublicKey
}

func newAPILoginVerifier(t *testing.T, c *apiLoginClient, pinned string) *apiLoginVerifier {
	var set struct {
		Keys []struct{ Kty, Crv, Alg, Kid, X, Y string }
	}
	c.must("GET", "/.well-known/jwks.json", nil, 200, &set)
	v := &apiLoginVerifier{t: t, issuer: c.base, pinned: pinned, keys: map[string]*ecdsa.PublicKey{}}
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" {
			continue
		}
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if errX != nil || errY != nil {
			t.Fatalf("JWKS key %s: bad coordinates", k.Kid)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatalf("JWKS key %s: %v", k.Kid, err)
		}
		v.keys[k.Kid] = pub
	}
	return v
}

// verify checks a proof fully and returns its claims: alg ES256, typ, the
// pinned kid present in the JWKS, the signature, iss, aud, nonce, login_id
// and an unexpired lifetime of at most 300 s.
func (v *apiLoginVerifier) verify(jws, nonce, loginID string) map[string]any {
	t := v.t
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("proof %q is not a compact JWS", jws)
	}
	var hdr struct{ Alg, Kid, Typ string }
	var claims map[string]any
	for i, dst := range []any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, dst) != nil {
			t.Fatalf("proof segment %d does not decode", i)
		}
	}
	if hdr.Alg != "ES256" || hdr.Typ != "mutualauth-proof+jwt" || hdr.Kid != v.pinned {
		t.Fatalf("proof header %+v (pinned %s)", hdr, v.pinned)
	}
	pub := v.keys[hdr.Kid]
	if pub == nil {
		t.Fatalf("kid %s is not in the JWKS", hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature is not raw r||s")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("proof signature does not verify")
	}
	if claims["iss"] != v.issuer || claims["aud"] != v.issuer || claims["nonce"] != nonce || claims["login_id"] != loginID {
		t.Fatalf("proof claims %v", claims)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if exp-iat > 300 || exp <= iat || float64(time.Now().Unix()) > exp+60 {
		t.Fatalf("proof times iat %v exp %v", iat, exp)
	}
	return claims
}

type apiLoginStep struct {
	LoginID     string   `json:"login_id"`
	Proof       string   `json:"proof"`
	Next        []string `json:"next"`
	PhraseShown bool     `json:"phrase_shown"`
	Done        bool     `json:"done"`
	User        struct {
		ID, Username string
		DisplayName  string `json:"display_name"`
	} `json:"user"`
	AMR         []string `json:"amr"`
	ExpiresAt   string   `json:"expires_at"`
	DeviceToken string   `json:"device_token"`
}

// apiLoginRedisKeys returns every key in the server's Redis and the text
// of its value.
func apiLoginRedisKeys(t *testing.T, redisURL string) map[string]string {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	ctx := context.Background()
	out := map[string]string{}
	iter := rc.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var vals []string
		switch rc.Type(ctx, k).Val() {
		case "string":
			vals = []string{rc.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rc.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "zset":
			vals = rc.ZRange(ctx, k, 0, -1).Val()
		}
		out[k] = strings.Join(vals, "\x00")
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAPILoginEndToEnd(t *testing.T) {
	s := startServer(t, ServerOptions{})
	if s.RedisURL() == "" {
		t.Fatal("the server runs without Redis")
	}
	enrollURL := s.AdminInvite(t, "alice.e2e", "Alice E2E", false)
	u, err := url.Parse(enrollURL)
	if err != nil {
		t.Fatal(err)
	}
	api := "/api/v1/enroll/" + strings.TrimPrefix(u.Path, "/enroll/")
	const password = "plum orchard under seven moons"
	const phrase = "copper kettle at dawn"

	// Enroll through the API.
	c := newAPILoginClient(t, s.URL())
	c.must("POST", api+"/password", map[string]string{"password": password}, 204, nil)
	c.must("POST", api+"/phrase", map[string]string{"phrase": phrase}, 204, nil)
	var setup struct {
		Secret string `json:"secret"`
	}
	c.must("POST", api+"/totp", nil, 200, &setup)
	// Confirm with the previous step's code (RFC 6238 allows one step of
	// drift back), so that the current step is still unused for login.
	c.must("POST", api+"/totp/confirm", map[string]string{"code": apiLoginTOTP(t, setup.Secret, time.Now().Add(-30*time.Second))}, 204, nil)
	var enrolled struct {
		RecoveryCodes []string `json:"recovery_codes"`
		DeviceToken   string   `json:"device_token"`
		ServerKey     struct {
			KID string `json:"kid"`
		} `json:"server_key"`
	}
	c.must("POST", api+"/complete", nil, 200, &enrolled)
	v := newAPILoginVerifier(t, c, enrolled.ServerKey.KID)

	// 1. On the enrolled (recognized) device: the phrase comes with begin.
	nonce := apiLoginNonce()
	var st apiLoginStep
	c.must("POST", "/api/v1/login/begin", map[string]any{
		"username": "alice.e2e", "client_nonce": nonce, "device_token": enrolled.DeviceToken,
	}, 200, &st)
	claims := v.verify(st.Proof, nonce, st.LoginID)
	if claims["phrase"] != phrase || !st.PhraseShown || !slices.Equal(st.Next, []string{"password"}) || claims["username"] != "alice.e2e" {
		t.Fatalf("begin on the enrolled device: %+v %v", st, claims)
	}
	id := st.LoginID
	nonce = apiLoginNonce()
	c.must("POST", "/api/v1/login/password", map[string]any{"login_id": id, "password": password, "client_nonce": nonce}, 200, &st)
	if claims := v.verify(st.Proof, nonce, id); claims["phrase"] != phrase || !slices.Contains(st.Next, "otp") {
		t.Fatalf("after the password: %+v", st)
	}
	code := apiLoginTOTP(t, setup.Secret, time.Now())
	c.must("POST", "/api/v1/login/otp", map[string]any{"login_id": id, "code": code}, 200, &st)
	if !st.Done || st.User.Username != "alice.e2e" || st.User.DisplayName != "Alice E2E" || !slices.Equal(st.AMR, []string{"pwd", "otp", "mfa"}) ||
		st.DeviceToken != enrolled.DeviceToken {
		t.Fatalf("completion: %+v", st)
	}

	// The session: in GET /api/v1/session, and in Redis only as a hash.
	var sess struct {
		User struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
		AMR           []string `json:"amr"`
		AuthTime      string   `json:"auth_time"`
		ExpiresAt     string   `json:"expires_at"`
		IdleExpiresAt string   `json:"idle_expires_at"`
	}
	c.must("GET", "/api/v1/session", nil, 200, &sess)
	if sess.User.Username != "alice.e2e" || sess.User.ID != st.User.ID || !slices.Equal(sess.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("session %+v", sess)
	}
	for _, ts := range []string{sess.AuthTime, sess.ExpiresAt, sess.IdleExpiresAt} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Fatalf("session time %q: %v", ts, err)
		}
	}
	tok := c.cookie("mutualauth_session")
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) < 32 {
		t.Fatalf("session token %q has fewer than 256 bits", tok)
	}
	sum := sha256.Sum256([]byte(tok))
	hash := hex.EncodeToString(sum[:])
	hashed := false
	for k, val := range apiLoginRedisKeys(t, s.RedisURL()) {
		if strings.Contains(k, tok) || strings.Contains(val, tok) {
			t.Fatalf("the session token is in Redis in the clear (%s)", k)
		}
		hashed = hashed || strings.Contains(k, hash)
	}
	if !hashed {
		t.Fatal("no Redis key holds the session's SHA-256")
	}
	req, _ := http.NewRequest("GET", s.URL()+"/auth/verify", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Remote-User") != "alice.e2e" {
		t.Fatalf("forward auth: %d %v", resp.StatusCode, resp.Header)
	}

	// 2. The same TOTP code is refused the second time, on another device.
	other := newAPILoginClient(t, s.URL())
	nonce = apiLoginNonce()
	other.must("POST", "/api/v1/login/begin", map[string]any{"username": "alice.e2e", "client_nonce": nonce}, 200, &st)
	if claims := v.verify(st.Proof, nonce, st.LoginID); claims["phrase"] != nil || st.PhraseShown || slices.Contains(st.Next, "password") {
		t.Fatalf("begin on an unrecognized device reveals the phrase or asks the password: %+v %v", st, claims)
	}
	id = st.LoginID
	other.refused("POST", "/api/v1/login/otp", map[string]any{"login_id": id, "code": code}, 401, "invalid_credentials")

	// A recovery code instead: then the password, and no phrase (v1.1: a
	// relayable code never buys it).
	nonce = apiLoginNonce()
	other.must("POST", "/api/v1/login/recovery", map[string]any{"login_id": id, "code": enrolled.RecoveryCodes[0], "client_nonce": nonce}, 200, &st)
	if claims := v.verify(st.Proof, nonce, id); claims["phrase"] != nil || st.PhraseShown || !slices.Equal(st.Next, []string{"password"}) {
		t.Fatalf("after the recovery code: %+v", st)
	}
	other.must("POST", "/api/v1/login/password", map[string]any{"login_id": id, "password": password}, 200, &st)
	if !st.Done || !slices.Equal(st.AMR, []string{"pwd", "rec", "mfa"}) || st.DeviceToken == "" || st.DeviceToken == enrolled.DeviceToken {
		t.Fatalf("second completion: %+v", st)
	}
	var list []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	other.must("GET", "/api/v1/sessions", nil, 200, &list)
	if len(list) != 2 {
		t.Fatalf("sessions %+v", list)
	}

	// 3. Logout ends the session, in Redis too.
	c.must("DELETE", "/api/v1/session", nil, 204, nil)
	c.refused("GET", "/api/v1/session", nil, 401, "unauthenticated")
	for k := range apiLoginRedisKeys(t, s.RedisURL()) {
		if strings.Contains(k, hash) {
			t.Fatalf("the session is still in Redis after logout (%s)", k)
		}
	}
	other.must("GET", "/api/v1/sessions", nil, 200, &list)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("sessions after the other device logged out: %+v", list)
	}
}
