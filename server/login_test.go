package server

import (
	"bytes"
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
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"mutualauth/server/account"
	"mutualauth/server/factor"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/server/token"
	"mutualauth/store"
)

// ---- test environment -------------------------------------------------

// loginClock is the settable clock the login tests inject as Deps.Now.
type loginClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *loginClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *loginClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// loginEnv is the real application with real SQLite and Redis (from
// newTestServer) served again with an injectable clock.
type loginEnv struct {
	t    *testing.T
	URL  string // the issuer, http://localhost:<port>
	Deps Deps
	App  *Server
	clk  *loginClock
	jwks []byte
}

func newLoginEnv(t *testing.T, env map[string]string) *loginEnv {
	t.Helper()
	base := newTestServer(t, testOptions{FastHash: true, Env: env})
	clk := &loginClock{now: time.Now().UTC().Truncate(time.Second)}
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	d := base.Deps
	pub, err := url.Parse("http://localhost:" + port)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.Config
	cfg.PublicURL = pub
	d.Config = cfg
	d.Now = clk.Now
	app, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = app
	hs.Start()
	t.Cleanup(hs.Close)
	e := &loginEnv{t: t, URL: "http://localhost:" + port, Deps: d, App: app, clk: clk}
	r := e.client().call("GET", "/.well-known/jwks.json", nil)
	if r.status != 200 {
		t.Fatalf("jwks: %d", r.status)
	}
	e.jwks = r.body
	return e
}

// loginClient is one client with its own cookie jar.
type loginClient struct {
	e  *loginEnv
	hc *http.Client
	// lastLocation is where the last followed redirect led (adminFollow).
	lastLocation string
}

func (e *loginEnv) client() *loginClient {
	jar, _ := cookiejar.New(nil)
	return &loginClient{e: e, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

type httpReply struct {
	status int
	header http.Header
	body   []byte
}

func (r httpReply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r httpReply) problem(t *testing.T) Problem {
	t.Helper()
	var p Problem
	r.decode(t, &p)
	return p
}

// call sends a request; body, when not nil, is sent as JSON. hdr are
// header name/value pairs.
func (b *loginClient) call(method, path string, body any, hdr ...string) httpReply {
	t := b.e.t
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, raw := b.send(t, req, hdr)
	return httpReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// send sends req with b's cookies and the header pairs in hdr, and reads
// the whole answer.
func (b *loginClient) send(t *testing.T, req *http.Request, hdr []string) (*http.Response, []byte) {
	t.Helper()
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func (b *loginClient) cookie(name string) string {
	u, _ := url.Parse(b.e.URL)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *loginClient) setCookie(name, value string) {
	u, _ := url.Parse(b.e.URL)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// loginReply is any answer of a login step.
type loginReply struct {
	LoginID     string   `json:"login_id"`
	Proof       string   `json:"proof"`
	Next        []string `json:"next"`
	PhraseShown bool     `json:"phrase_shown"`
	Done        bool     `json:"done"`
	User        userInfo `json:"user"`
	AMR         []string `json:"amr"`
	ExpiresAt   string   `json:"expires_at"`
	DeviceToken string   `json:"device_token"`
	Code        string   `json:"code"`
}

func (b *loginClient) post(path string, body map[string]any, hdr ...string) (loginReply, httpReply) {
	b.e.t.Helper()
	r := b.call("POST", "/api/v1/login/"+path, body, hdr...)
	var lr loginReply
	if r.status == 200 {
		r.decode(b.e.t, &lr)
	}
	return lr, r
}

func requireOK(t *testing.T, what string, r httpReply) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
}

func requireProblem(t *testing.T, what string, r httpReply, status int, code string) Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	p := r.problem(t)
	if p.Code != code {
		t.Fatalf("%s: code %q, want %q", what, p.Code, code)
	}
	return p
}

// ---- enrolled users ------------------------------------------------------

type enrolledUser struct {
	User     store.User
	Password string
	Phrase   string
	Secret   string // TOTP, base32
	Recovery []string
}

// enroll creates a fully enrolled user directly through the stores, the
// hasher and the box, as enrollment leaves one.
func (e *loginEnv) enroll(name string) *enrolledUser {
	t := e.t
	t.Helper()
	ctx := context.Background()
	d := e.Deps
	id := account.NewID()
	m := &enrolledUser{Password: "correct horse " + name + " battery staple", Phrase: "seven purple otters of " + name}
	phc, err := d.Hasher.Hash(ctx, m.Password)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 20)
	_, _ = rand.Read(raw)
	m.Secret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	phrase, err := d.Box.Seal([]byte(m.Phrase), factor.PhraseAD(id))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := d.Box.Seal([]byte(m.Secret), factor.TOTPAD(id))
	if err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	m.User = store.User{
		ID: id, Username: name, DisplayName: "Display " + name, Role: store.RoleUser,
		PasswordHash: phc, Phrase: phrase, TOTPSecret: secret,
		EnrolledAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := d.Durable.CreateUser(ctx, m.User); err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	for range 10 {
		c, err := token.RecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		m.Recovery = append(m.Recovery, c)
		hashes = append(hashes, token.HashRecoveryCode(c))
	}
	if err := d.Durable.ReplaceRecoveryCodes(ctx, id, hashes); err != nil {
		t.Fatal(err)
	}
	return m
}

// device makes a recognized device of m and returns its token.
func (e *loginEnv) device(m *enrolledUser) string {
	e.t.Helper()
	tok, err := token.New()
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clk.Now()
	err = e.Deps.Durable.CreateDevice(context.Background(), store.Device{
		ID: account.NewID()[:16], UserID: m.User.ID, TokenHash: token.Hash(tok), Name: "test device",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *loginEnv) user(id string) store.User {
	e.t.Helper()
	u, err := e.Deps.Durable.GetUser(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *loginEnv) audit(action, result string) []store.AuditEvent {
	e.t.Helper()
	ev, err := e.Deps.Durable.ListAudit(context.Background(), store.AuditQuery{Action: action, Result: result, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// code is the current TOTP code of m, by an independent RFC 6238
// implementation (HMAC-SHA-1, 30 s, 6 digits; RFC 4226 §5.3 truncation).
func (e *loginEnv) code(m *enrolledUser) string { return loginTOTPCode(m.Secret, e.clk.Now()) }

func loginTOTPCode(secret string, at time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// wrongCode is a well-formed code that is not m's current one.
func wrongCode(right string) string {
	n, _ := strconv.Atoi(right)
	return fmt.Sprintf("%06d", (n+1)%1_000_000)
}

func newClientNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ---- independent proof verifier ----------------------------------------

// verifyJWS checks a compact JWS as a client must, without the server's
// code: ES256 over header.payload with the raw r||s signature (RFC 7518
// §3.4), the key found by kid in the JWKS. It returns the claims.
func verifyJWS(t *testing.T, jwks []byte, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("proof is not a compact JWS: %q", jws)
	}
	var hdr map[string]any
	seg := func(i int, v any) {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if v != nil {
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("segment %d: %v", i, err)
			}
		}
	}
	seg(0, &hdr)
	if hdr["alg"] != "ES256" || hdr["typ"] != "mutualauth-proof+jwt" {
		t.Fatalf("proof header %v", hdr)
	}
	var set struct {
		Keys []struct{ Kid, Kty, Crv, X, Y string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var pub *ecdsa.PublicKey
	for _, k := range set.Keys {
		if k.Kid == hdr["kid"] && k.Kty == "EC" && k.Crv == "P-256" {
			x, _ := base64.RawURLEncoding.DecodeString(k.X)
			y, _ := base64.RawURLEncoding.DecodeString(k.Y)
			p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				t.Fatalf("JWKS key %s: %v", k.Kid, err)
			}
			pub = p
		}
	}
	if pub == nil {
		t.Fatalf("kid %v not in the JWKS", hdr["kid"])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature is not 64 bytes of r||s: %d %v", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Fatal("proof signature does not verify")
	}
	var claims map[string]any
	seg(1, &claims)
	return claims
}

// checkProof verifies the proof and its claims: iss, aud, nonce, login_id,
// username, a lifetime of at most 300 s, and the phrase (absent when
// phrase is "").
func (e *loginEnv) checkProof(jws, aud, nonce, loginID, username, phrase string) {
	t := e.t
	t.Helper()
	c := verifyJWS(t, e.jwks, jws)
	if c["iss"] != e.URL || c["aud"] != aud || c["nonce"] != nonce || c["login_id"] != loginID || c["username"] != username {
		t.Fatalf("proof claims %v; want iss %s aud %s nonce %s login %s user %s", c, e.URL, aud, nonce, loginID, username)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if exp <= iat || exp-iat > 300 || int64(iat) != e.clk.Now().Unix() {
		t.Fatalf("proof times iat %v exp %v (now %d)", iat, exp, e.clk.Now().Unix())
	}
	got, has := c["phrase"]
	if phrase == "" && has {
		t.Fatalf("proof reveals a phrase: %v", got)
	}
	if phrase != "" && got != phrase {
		t.Fatalf("proof phrase %v, want %q", got, phrase)
	}
}

// ---- login helpers -----------------------------------------------------

// login signs m in on b, following the steps the server asks for, with
// the current TOTP code or a recovery code.
func (b *loginClient) login(m *enrolledUser, deviceToken, second string) loginReply {
	t := b.e.t
	t.Helper()
	body := map[string]any{"username": m.User.Username}
	if deviceToken != "" {
		body["device_token"] = deviceToken
	}
	lr, r := b.post("begin", body)
	requireOK(t, "begin", r)
	id := lr.LoginID
	for range 3 {
		switch {
		case slices.Contains(lr.Next, "password"):
			lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
		case second == "rec":
			code := m.Recovery[0]
			m.Recovery = m.Recovery[1:]
			lr, r = b.post("recovery", map[string]any{"login_id": id, "code": code})
		default:
			lr, r = b.post("otp", map[string]any{"login_id": id, "code": b.e.code(m)})
		}
		requireOK(t, "login step", r)
		if lr.Done {
			return lr
		}
	}
	t.Fatalf("login did not complete: %+v", lr)
	return lr
}

func sameJSONKeys(t *testing.T, what string, a, b []byte) {
	t.Helper()
	keys := func(raw []byte) []string {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if ka, kb := keys(a), keys(b); !slices.Equal(ka, kb) {
		t.Fatalf("%s: shapes differ: %v vs %v", what, ka, kb)
	}
}

var allSecondFactors = []string{"otp", "webauthn", "recovery"}

// ---- tests -----------------------------------------------------------------

func TestLoginRecognizedDevice(t *testing.T) {
	e := newLoginEnv(t, nil)
	alice := e.enroll("alice")
	dev := e.device(alice)
	b := e.client()

	nonce := newClientNonce()
	lr, r := b.post("begin", map[string]any{"username": "Alice", "client_nonce": nonce, "device_token": dev})
	requireOK(t, "begin", r)
	if !slices.Equal(lr.Next, []string{"password"}) || !lr.PhraseShown {
		t.Fatalf("begin on a recognized device: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, "alice", alice.Phrase)
	id := lr.LoginID

	nonce = newClientNonce()
	lr, r = b.post("password", map[string]any{"login_id": id, "password": alice.Password, "client_nonce": nonce})
	requireOK(t, "password", r)
	if !slices.Equal(lr.Next, allSecondFactors) || !lr.PhraseShown || lr.Done {
		t.Fatalf("after password: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, id, "alice", alice.Phrase)

	lr, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(alice)})
	requireOK(t, "otp", r)
	if !lr.Done || lr.User.ID != alice.User.ID || lr.User.Username != "alice" || lr.User.DisplayName != "Display alice" ||
		!slices.Equal(lr.AMR, []string{"pwd", "otp", "mfa"}) || lr.DeviceToken != dev || lr.Code != "" || lr.Proof != "" {
		t.Fatalf("completion: %s", r.body)
	}
	exp, err := time.Parse(time.RFC3339, lr.ExpiresAt)
	if err != nil || !exp.Equal(e.clk.Now().Add(e.Deps.Config.SessionAbsolute)) {
		t.Fatalf("expires_at %q: %v", lr.ExpiresAt, err)
	}
	if b.cookie("mutualauth_session") == "" || b.cookie(DeviceCookie) != dev {
		t.Fatal("completion did not set the session and device cookies")
	}
	var sv map[string]any
	r = b.call("GET", "/api/v1/session", nil)
	requireOK(t, "session", r)
	r.decode(t, &sv)
	if u := sv["user"].(map[string]any); u["id"] != alice.User.ID || u["username"] != "alice" {
		t.Fatalf("session %s", r.body)
	}
	for _, k := range []string{"amr", "auth_time", "expires_at", "idle_expires_at"} {
		if _, ok := sv[k]; !ok {
			t.Fatalf("session lacks %s: %s", k, r.body)
		}
	}
	if len(e.audit("login.complete", "success")) != 1 || len(e.audit("login.password", "success")) != 1 {
		t.Fatal("login not audited")
	}
}

func TestLoginUnrecognizedDevice(t *testing.T) {
	e := newLoginEnv(t, nil)
	bob := e.enroll("bob")
	b := e.client()

	nonce := newClientNonce()
	lr, r := b.post("begin", map[string]any{"username": "bob", "client_nonce": nonce}, "Origin", e.URL)
	requireOK(t, "begin", r)
	if !slices.Equal(lr.Next, allSecondFactors) || lr.PhraseShown {
		t.Fatalf("begin on an unrecognized device: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, "bob", "")
	id := lr.LoginID

	if _, r = b.post("password", map[string]any{"login_id": id, "password": bob.Password}); r.status != 409 {
		t.Fatalf("password before the second factor: %d", r.status)
	}
	requireProblem(t, "password first", r, 409, "wrong_step")

	nonce = newClientNonce()
	lr, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(bob), "client_nonce": nonce})
	requireOK(t, "otp", r)
	// A relayable code never buys the phrase (v1.1 "Phrase honesty").
	if !slices.Equal(lr.Next, []string{"password"}) || lr.PhraseShown {
		t.Fatalf("after otp: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, id, "bob", "")

	nonce = newClientNonce()
	lr, r = b.post("password", map[string]any{"login_id": id, "password": bob.Password, "client_nonce": nonce})
	requireOK(t, "password", r)
	if !lr.Done || !slices.Equal(lr.AMR, []string{"pwd", "otp", "mfa"}) || !token.Valid(lr.DeviceToken) {
		t.Fatalf("completion: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, id, "bob", "")
	if b.cookie(DeviceCookie) != lr.DeviceToken {
		t.Fatal("the new device token is not in the cookie")
	}

	// The device is now recognized (through its cookie).
	nonce = newClientNonce()
	lr, r = b.post("begin", map[string]any{"username": "bob", "client_nonce": nonce})
	requireOK(t, "second begin", r)
	if !slices.Equal(lr.Next, []string{"password"}) || !lr.PhraseShown {
		t.Fatalf("the device issued at login is not recognized: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, "bob", bob.Phrase)

	// A device token of another user is no recognition.
	e.enroll("carol")
	lr, r = e.client().post("begin", map[string]any{"username": "carol", "device_token": e.device(bob)})
	requireOK(t, "begin with another user's device", r)
	if !slices.Equal(lr.Next, allSecondFactors) || lr.PhraseShown {
		t.Fatalf("another user's device recognized: %s", r.body)
	}
}

func TestLoginRecoveryCode(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("rosa")
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "rosa"})
	requireOK(t, "begin", r)
	id := lr.LoginID
	code := strings.ToUpper(strings.ReplaceAll(m.Recovery[3], "-", " "))
	lr, r = b.post("recovery", map[string]any{"login_id": id, "code": code})
	requireOK(t, "recovery", r)
	if !slices.Equal(lr.Next, []string{"password"}) {
		t.Fatalf("after recovery: %s", r.body)
	}
	lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "password", r)
	if !slices.Equal(lr.AMR, []string{"pwd", "rec", "mfa"}) {
		t.Fatalf("amr %v", lr.AMR)
	}
	b2 := e.client()
	lr, r = b2.post("begin", map[string]any{"username": "rosa"})
	requireOK(t, "begin", r)
	_, r = b2.post("recovery", map[string]any{"login_id": lr.LoginID, "code": m.Recovery[3]})
	requireProblem(t, "used recovery code", r, 401, "invalid_credentials")
	n, err := e.Deps.Durable.CountRecoveryCodes(context.Background(), m.User.ID)
	if err != nil || n != 9 {
		t.Fatalf("unused codes %d %v", n, err)
	}
}

func TestLoginUnknownUserIndistinguishable(t *testing.T) {
	e := newLoginEnv(t, nil)
	e.enroll("dora")
	known, unknown := e.client(), e.client()

	begin := func(b *loginClient, name string) (loginReply, httpReply) {
		nonce := newClientNonce()
		lr, r := b.post("begin", map[string]any{"username": name, "client_nonce": nonce})
		requireOK(t, "begin "+name, r)
		e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, name, "")
		return lr, r
	}
	kl, kr := begin(known, "dora")
	ul, ur := begin(unknown, "nobody-here")
	sameJSONKeys(t, "begin", kr.body, ur.body)
	if !slices.Equal(kl.Next, ul.Next) || kl.PhraseShown != ul.PhraseShown || len(kl.LoginID) != len(ul.LoginID) {
		t.Fatalf("begin differs: %s vs %s", kr.body, ur.body)
	}
	kc := verifyJWS(t, e.jwks, kl.Proof)
	uc := verifyJWS(t, e.jwks, ul.Proof)
	if len(kc) != len(uc) {
		t.Fatalf("proof claims differ: %v vs %v", kc, uc)
	}

	// Every step fails with the same answer, byte for byte.
	same := func(what string, path string, kb, ub map[string]any) {
		t.Helper()
		_, a := known.post(path, kb)
		_, b := unknown.post(path, ub)
		if a.status != b.status || !bytes.Equal(a.body, b.body) || a.header.Get("Content-Type") != b.header.Get("Content-Type") {
			t.Fatalf("%s differs: %d %s vs %d %s", what, a.status, a.body, b.status, b.body)
		}
		if what != "password" {
			requireProblem(t, what, a, 401, "invalid_credentials")
		}
	}
	same("otp", "otp", map[string]any{"login_id": kl.LoginID, "code": "123456"}, map[string]any{"login_id": ul.LoginID, "code": "123456"})
	same("recovery", "recovery", map[string]any{"login_id": kl.LoginID, "code": "aaaa-bbbb-cccc"}, map[string]any{"login_id": ul.LoginID, "code": "aaaa-bbbb-cccc"})
	same("password", "password", map[string]any{"login_id": kl.LoginID, "password": "x"}, map[string]any{"login_id": ul.LoginID, "password": "x"})

	ko := known.call("POST", "/api/v1/login/webauthn/options", map[string]any{"login_id": kl.LoginID})
	uo := unknown.call("POST", "/api/v1/login/webauthn/options", map[string]any{"login_id": ul.LoginID})
	requireOK(t, "options known", ko)
	requireOK(t, "options unknown", uo)
	var kopt, uopt struct{ PublicKey json.RawMessage }
	ko.decode(t, &kopt)
	uo.decode(t, &uopt)
	sameJSONKeys(t, "webauthn options", kopt.PublicKey, uopt.PublicKey)
	if bytes.Contains(kopt.PublicKey, []byte("allowCredentials")) {
		t.Fatalf("options for an unrecognized device list credentials: %s", kopt.PublicKey)
	}
	fake := json.RawMessage(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA","userHandle":"AAAA"}}`)
	same("webauthn", "webauthn", map[string]any{"login_id": kl.LoginID, "credential": fake}, map[string]any{"login_id": ul.LoginID, "credential": fake})

	// A name that is not even a valid username gets the same shape.
	_, ir := begin(e.client(), "not a valid name")
	sameJSONKeys(t, "begin invalid name", kr.body, ir.body)

	if len(e.audit("login.otp", "failure")) != 2 {
		t.Fatal("failures not audited")
	}
}

func TestLoginRequestValidation(t *testing.T) {
	e := newLoginEnv(t, nil)
	b := e.client()
	for _, nonce := range []string{"short", base64.RawURLEncoding.EncodeToString(make([]byte, 15)),
		base64.RawURLEncoding.EncodeToString(make([]byte, 65)), base64.StdEncoding.EncodeToString(make([]byte, 32)), "!!!!!!!!!!!!!!!!!!!!!!!!"} {
		_, r := b.post("begin", map[string]any{"username": "x", "client_nonce": nonce})
		requireProblem(t, "nonce "+nonce, r, 400, "invalid_nonce")
	}
	for _, name := range []string{"", "   ", strings.Repeat("a", 257)} {
		_, r := b.post("begin", map[string]any{"username": name})
		requireProblem(t, "username "+name, r, 400, "bad_request")
	}
	_, r := b.post("begin", map[string]any{"username": "x", "client_id": "mac_nope"})
	requireProblem(t, "unknown client", r, 400, "invalid_client")
	for _, id := range []string{"", "nope", strings.Repeat("A", 22), "../../etc"} {
		_, r = b.post("otp", map[string]any{"login_id": id, "code": "123456"})
		requireProblem(t, "login id "+id, r, 404, "unknown_login")
	}
	r = b.call("POST", "/api/v1/login/begin", nil)
	if r.status != 415 && r.status != 400 {
		t.Fatalf("no body: %d", r.status)
	}
}

func TestLoginWrongStepSingleUseAndExpiry(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("erin")
	dev := e.device(m)
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "erin", "device_token": dev})
	requireOK(t, "begin", r)
	id := lr.LoginID
	for _, step := range []string{"otp", "recovery", "webauthn/options", "webauthn"} {
		_, r = b.post(step, map[string]any{"login_id": id, "code": e.code(m), "credential": map[string]any{}})
		requireProblem(t, step+" before password", r, 409, "wrong_step")
	}
	_, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "password", r)
	_, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireProblem(t, "password twice", r, 409, "wrong_step")
	_, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(m)})
	requireOK(t, "otp", r)
	for _, step := range []string{"password", "otp", "recovery"} {
		_, r = b.post(step, map[string]any{"login_id": id, "password": m.Password, "code": m.Recovery[0]})
		requireProblem(t, step+" after completion", r, 404, "unknown_login")
	}

	lr, r = b.post("begin", map[string]any{"username": "erin"})
	requireOK(t, "begin", r)
	e.clk.Advance(login.TTL)
	_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "expired transaction", r, 404, "unknown_login")
}

func TestLoginConcurrentCompletionMakesOneSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("finn")
	dev := e.device(m)
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "finn", "device_token": dev})
	requireOK(t, "begin", r)
	_, r = b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
	requireOK(t, "password", r)

	// Five different valid recovery codes race to finish one transaction
	// (five: all pass the throttle reservation, so all are evaluated).
	const n = login.FreeFailures
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, r := e.client().post("recovery", map[string]any{"login_id": lr.LoginID, "code": m.Recovery[i]})
			statuses[i] = r.status
		})
	}
	wg.Wait()
	done := 0
	for _, s := range statuses {
		switch s {
		case 200:
			done++
		case 409, 404:
		default:
			t.Fatalf("status %d (%v)", s, statuses)
		}
	}
	if done != 1 {
		t.Fatalf("%d completions, want exactly 1 (%v)", done, statuses)
	}
	sessions, err := e.Deps.Ephemeral.ListSessions(context.Background(), m.User.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1 (%v)", len(sessions), err)
	}
}

func TestTOTPReplayRefused(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("gail")
	b := e.client()
	code := e.code(m)
	lr, _ := b.post("begin", map[string]any{"username": "gail"})
	_, r := b.post("otp", map[string]any{"login_id": lr.LoginID, "code": code})
	requireOK(t, "first use", r)

	lr, _ = e.client().post("begin", map[string]any{"username": "gail"})
	_, r = e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": code})
	requireProblem(t, "same code again", r, 401, "invalid_credentials")
	e.clk.Advance(30 * time.Second)
	_, r = e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": code})
	requireProblem(t, "same code one step later", r, 401, "invalid_credentials")
	_, r = e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireOK(t, "next step's code", r)
	if len(e.audit("login.otp", "failure")) != 2 {
		t.Fatal("replays not audited")
	}
}

// raceSecondFactor opens n transactions for m, each on its own recognized
// device (so each has its own counter and all are evaluated), passes the
// password in each, then submits the same second factor in all at once.
func raceSecondFactor(t *testing.T, e *loginEnv, m *enrolledUser, n int, step string, body func(id string) map[string]any) []int {
	ids := make([]string, n)
	for i := range ids {
		b := e.client()
		lr, r := b.post("begin", map[string]any{"username": m.User.Username, "device_token": e.device(m)})
		requireOK(t, "begin", r)
		_, r = b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
		requireOK(t, "password", r)
		ids[i] = lr.LoginID
	}
	statuses := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			b := e.client()
			<-start
			_, r := b.post(step, body(id))
			statuses[i] = r.status
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

func countStatuses(statuses []int, s int) int {
	n := 0
	for _, x := range statuses {
		if x == s {
			n++
		}
	}
	return n
}

func TestTOTPConcurrentSingleUse(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("hana")
	code := e.code(m)
	st := raceSecondFactor(t, e, m, 20, "otp", func(id string) map[string]any {
		return map[string]any{"login_id": id, "code": code}
	})
	if countStatuses(st, 200) != 1 || countStatuses(st, 401) != 19 {
		t.Fatalf("one code in 20 logins at once: %v", st)
	}
}

func TestRecoveryCodeConcurrentSingleUse(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("ivan")
	code := m.Recovery[0]
	st := raceSecondFactor(t, e, m, 20, "recovery", func(id string) map[string]any {
		return map[string]any{"login_id": id, "code": code}
	})
	if countStatuses(st, 200) != 1 || countStatuses(st, 401) != 19 {
		t.Fatalf("one recovery code 20 times at once: %v", st)
	}
}

func TestThrottleConcurrentPasswords(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("jack")
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "jack"})
	requireOK(t, "begin", r)
	id := lr.LoginID
	_, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(m)})
	requireOK(t, "otp", r)

	replies := make([]httpReply, 50)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() {
			_, replies[i] = e.client().post("password", map[string]any{"login_id": id, "password": "wrong password " + strconv.Itoa(i)})
		})
	}
	wg.Wait()
	var failed, throttled int
	for _, r := range replies {
		switch r.status {
		case 401:
			failed++
		case 429:
			throttled++
			p := r.problem(t)
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if p.Code != "too_many_attempts" || err != nil || secs < 1 || secs > 30 {
				t.Fatalf("429: %s, Retry-After %q", r.body, r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if failed != login.FreeFailures || throttled != 50-login.FreeFailures {
		t.Fatalf("%d evaluated, %d throttled; want %d and %d", failed, throttled, login.FreeFailures, 50-login.FreeFailures)
	}
	if n := len(e.audit("login.password", "failure")); n != login.FreeFailures {
		t.Fatalf("%d failures audited", n)
	}
	if n := len(e.audit("login.password", "throttled")); n != 50-login.FreeFailures {
		t.Fatalf("%d throttled attempts audited", n)
	}

	// The right password is refused while the delay runs.
	_, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireProblem(t, "right password while throttled", r, 429, "too_many_attempts")
	e.clk.Advance(login.BaseDelay)
	lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "right password after the delay", r)
	if !lr.Done {
		t.Fatalf("not done: %s", r.body)
	}

	// Success reset the counter: five fresh failures are evaluated again.
	stranger := e.client()
	for i := range login.FreeFailures {
		lr, _ := stranger.post("begin", map[string]any{"username": "jack"})
		_, r := stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": wrongCode(e.code(m))})
		requireProblem(t, "failure "+strconv.Itoa(i+1)+" after reset", r, 401, "invalid_credentials")
	}
	lr, _ = stranger.post("begin", map[string]any{"username": "jack"})
	_, r = stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "sixth attempt", r, 429, "too_many_attempts")
	if r.header.Get("Retry-After") != "30" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
}

func TestStrangerCannotLockOutOwnersDevice(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("kate")
	dev := e.device(m)
	stranger := e.client()
	for i := range 12 {
		lr, r := stranger.post("begin", map[string]any{"username": "kate"})
		requireOK(t, "stranger begin", r)
		_, r = stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": wrongCode(e.code(m))})
		want := 401
		if i >= login.FreeFailures {
			want = 429
		}
		if r.status != want {
			t.Fatalf("stranger attempt %d: %d, want %d", i+1, r.status, want)
		}
	}
	// The stranger is throttled even with the right code.
	lr, _ := stranger.post("begin", map[string]any{"username": "kate"})
	_, r := stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "stranger with the right code", r, 429, "too_many_attempts")

	owner := e.client()
	owner.setCookie(DeviceCookie, dev)
	done := owner.login(m, "", "otp")
	if !done.Done || done.DeviceToken != dev {
		t.Fatalf("owner's login: %+v", done)
	}
	// The owner's success does not clear the stranger's counter.
	lr, _ = stranger.post("begin", map[string]any{"username": "kate"})
	_, r = stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "stranger after the owner's login", r, 429, "too_many_attempts")

	// And the owner's device has its own counter, which strangers never touch.
	for i := range login.FreeFailures {
		lr, r := owner.post("begin", map[string]any{"username": "kate"})
		requireOK(t, "owner begin", r)
		if !slices.Equal(lr.Next, []string{"password"}) {
			t.Fatal("owner's device not recognized")
		}
		_, r = owner.post("password", map[string]any{"login_id": lr.LoginID, "password": "typo " + strconv.Itoa(i)})
		requireProblem(t, "owner typo", r, 401, "invalid_credentials")
	}
	lr, _ = owner.post("begin", map[string]any{"username": "kate"})
	_, r = owner.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
	requireProblem(t, "owner after five typos", r, 429, "too_many_attempts")
	lr, r = e.client().post("begin", map[string]any{"username": "kate", "device_token": e.device(m)})
	requireOK(t, "another device", r)
	_, r = e.client().post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
	requireOK(t, "another of the owner's devices is not throttled", r)
}

func TestHundredFailuresLockTheAccount(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("liam")
	dev := e.device(m)
	b := e.client()
	failures := 0
	for failures < login.LockAfter {
		lr, r := b.post("begin", map[string]any{"username": "liam"})
		requireOK(t, "begin", r)
		_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": wrongCode(e.code(m))})
		switch r.status {
		case 401:
			failures++
		case 429:
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 3600 {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
			e.clk.Advance(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if failures < login.LockAfter && e.user(m.User.ID).Locked {
			t.Fatalf("locked after %d failures", failures)
		}
	}
	if !e.user(m.User.ID).Locked {
		t.Fatalf("not locked after %d failures", failures)
	}
	if ev := e.audit("account.locked", "locked"); len(ev) != 1 || ev[0].Subject != m.User.ID {
		t.Fatalf("lock audit: %+v", ev)
	}

	// Locked: even the owner's recognized device and the right factors fail
	// with the same answer as any wrong secret.
	e.clk.Advance(time.Hour)
	owner := e.client()
	lr, r := owner.post("begin", map[string]any{"username": "liam", "device_token": dev})
	requireOK(t, "begin", r)
	if lr.PhraseShown || !slices.Equal(lr.Next, allSecondFactors) {
		t.Fatalf("a locked account's device is treated as recognized: %s", r.body)
	}
	_, r = owner.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "locked account", r, 401, "invalid_credentials")
	found := false
	for _, ev := range e.audit("login.otp", "failure") {
		found = found || strings.Contains(ev.Detail, "account locked")
	}
	if !found {
		t.Fatal("the real reason (locked) is not audited")
	}
}

func TestDisabledAccountRefused(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("mona")
	_, err := e.Deps.Durable.UpdateUser(context.Background(), m.User.ID, func(u *store.User) error {
		u.Disabled = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "mona", "device_token": e.device(m)})
	requireOK(t, "begin", r)
	_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "disabled", r, 401, "invalid_credentials")
	_, r = b.post("recovery", map[string]any{"login_id": lr.LoginID, "code": m.Recovery[0]})
	requireProblem(t, "disabled", r, 401, "invalid_credentials")
	if n, _ := e.Deps.Durable.CountRecoveryCodes(context.Background(), m.User.ID); n != 10 {
		t.Fatalf("a disabled account spent a recovery code: %d left", n)
	}
}

func TestPerIPRateLimit(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"MUTUALAUTH_IP_RATE_LIMIT": "3"})
	m := e.enroll("nina")
	b := e.client()
	var id string
	for i := range 3 {
		lr, r := b.post("begin", map[string]any{"username": "nina"})
		requireOK(t, "begin "+strconv.Itoa(i), r)
		id = lr.LoginID
	}
	_, r := b.post("begin", map[string]any{"username": "nina"})
	requireProblem(t, "4th begin", r, 429, "rate_limited")
	// GCRA: the next request passes a minute/limit after the burst.
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
		t.Fatalf("Retry-After %q, want 1 to 20 s", r.header.Get("Retry-After"))
	}
	// The factor steps have their own budget.
	_, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(m)})
	requireOK(t, "otp", r)
	_, r = b.post("password", map[string]any{"login_id": id, "password": "wrong"})
	requireProblem(t, "password", r, 401, "invalid_credentials")
	_, r = b.post("password", map[string]any{"login_id": id, "password": "wrong"})
	requireProblem(t, "password", r, 401, "invalid_credentials")
	_, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireProblem(t, "4th step", r, 429, "rate_limited")
}

func TestWidgetClientCode(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("omar")
	cl, err := account.CreateClient(context.Background(), e.Deps.Durable, e.clk.Now(), "Shop", []string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.client()
	nonce := newClientNonce()
	lr, r := b.post("begin", map[string]any{"username": "omar", "client_id": cl.Client.ID, "client_nonce": nonce})
	requireOK(t, "begin", r)
	e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, "omar", "")
	id := lr.LoginID
	_, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(m)})
	requireOK(t, "otp", r)
	lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "password", r)
	if !token.Valid(lr.Code) {
		t.Fatalf("no widget code: %s", r.body)
	}
	raw, err := e.Deps.Ephemeral.Get(context.Background(), WidgetCodeKey(lr.Code))
	if err != nil {
		t.Fatal(err)
	}
	var wc widgetCode
	if err := json.Unmarshal(raw, &wc); err != nil || wc.ClientID != cl.Client.ID || wc.UserID != m.User.ID ||
		wc.Username != "omar" || !slices.Equal(wc.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("widget code record %s %v", raw, err)
	}
	if bytes.Contains(raw, []byte(lr.Code)) {
		t.Fatal("the widget code is stored in the clear")
	}
}

func TestLoginPageReturnTo(t *testing.T) {
	e := newLoginEnv(t, nil)
	if _, err := account.CreateClient(context.Background(), e.Deps.Durable, e.clk.Now(), "Shop", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	page := &LoginPage{Issuer: e.URL, Clients: e.Deps.Durable}
	cases := map[string]string{
		"":                               "",
		"/account?tab=1":                 "/account?tab=1",
		e.URL + "/account":               e.URL + "/account",
		"https://shop.example/after?x=1": "https://shop.example/after?x=1",
		"https://SHOP.example:443/a":     "https://SHOP.example:443/a",
		"https://evil.example/":          "",
		"//evil.example/x":               "",
		"/\\evil.example":                "",
		"javascript:alert(1)":            "",
		"https://user@shop.example/":     "",
		"http://shop.example/":           "",
		"https://shop.example.evil.com/": "",
		"/ok\r\nSet-Cookie: x":           "",
	}
	for in, want := range cases {
		got, err := page.safeReturn(context.Background(), in)
		if err != nil || got != want {
			t.Errorf("return_to %q: %q %v, want %q", in, got, err, want)
		}
	}

	r := e.client().call("GET", "/login?return_to="+url.QueryEscape("https://evil.example/"), nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("login page: %d", r.status)
	}
	if !bytes.Contains(r.body, []byte(`data-issuer="`+e.URL+`"`)) || bytes.Contains(r.body, []byte("evil")) {
		t.Fatalf("login page data:\n%s", r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("login page CSP %q", csp)
	}
	r = e.client().call("GET", "/login?return_to="+url.QueryEscape("https://shop.example/after?x=1"), nil)
	if !bytes.Contains(r.body, []byte(`data-return-to="https://shop.example/after?x=1"`)) {
		t.Fatalf("return_to not passed to the page:\n%s", r.body)
	}
}

func TestLoginMetrics(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("pia")
	e.client().login(m, "", "otp")
	lr, _ := e.client().post("begin", map[string]any{"username": "pia"})
	e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": wrongCode(e.code(m))})
	r := e.client().call("GET", "/metrics", nil)
	for _, line := range []string{
		`mutualauth_login_attempts_total{result="success",step="begin"} 2`,
		`mutualauth_login_attempts_total{result="success",step="otp"} 1`,
		`mutualauth_login_attempts_total{result="success",step="password"} 1`,
		`mutualauth_login_attempts_total{result="success",step="complete"} 1`,
		`mutualauth_login_attempts_total{result="failure",step="otp"} 1`,
	} {
		if !bytes.Contains(r.body, []byte(line)) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// ---- WebAuthn ------------------------------------------------------------

// softKey is a software authenticator: a P-256 key that signs assertions
// as WebAuthn §6.3.3 describes, so that login can be tested end to end on
// the server side without a loginClient.
type softKey struct {
	id    []byte
	priv  *ecdsa.PrivateKey
	count uint32
	// noUV: assertions claim user presence only, no user verification.
	noUV bool
}

func newSoftKey(t testing.TB) *softKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{id: id, priv: priv}
}

// cose is the key's public key in COSE form, as a credential record holds it.
func (k *softKey) cose(t testing.TB) []byte {
	t.Helper()
	point, err := k.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	x, y := point[1:33], point[33:65]
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256), XCoord: x, YCoord: y,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cose
}

// record is the key as a credential record of the account userID.
func (k *softKey) record(t testing.TB, userID string, now time.Time) store.Credential {
	return store.Credential{
		ID: k.id, UserID: userID, PublicKey: k.cose(t), AttestationType: "none", UserPresent: true, UserVerified: true,
		Transports: []string{"internal"}, Name: "soft key", CreatedAt: now,
	}
}

// register stores the key as m's credential, as enrollment would.
func (k *softKey) register(t *testing.T, e *loginEnv, m *enrolledUser) {
	t.Helper()
	if err := e.Deps.Durable.AddCredential(context.Background(), k.record(t, m.User.ID, e.clk.Now())); err != nil {
		t.Fatal(err)
	}
}

// assert answers the request options with an assertion for rpID and
// origin, with user handle handle (nil: none).
func (k *softKey) assert(t testing.TB, options []byte, rpID, origin string, handle []byte) map[string]any {
	t.Helper()
	var opt struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opt); err != nil || opt.PublicKey.Challenge == "" {
		t.Fatalf("options %s: %v", options, err)
	}
	cdj, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": opt.PublicKey.Challenge, "origin": origin, "crossOrigin": false})
	k.count++
	rpHash := sha256.Sum256([]byte(rpID))
	flags := byte(0x05) // UP | UV
	if k.noUV {
		flags = 0x01
	}
	ad := append(rpHash[:], flags)
	ad = binary.BigEndian.AppendUint32(ad, k.count)
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(slices.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	resp := map[string]any{"clientDataJSON": b64(cdj), "authenticatorData": b64(ad), "signature": b64(sig)}
	if handle != nil {
		resp["userHandle"] = b64(handle)
	}
	return map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key", "response": resp, "clientExtensionResults": map[string]any{}}
}

func TestLoginWebAuthn(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("quinn")
	key := newSoftKey(t)
	key.register(t, e, m)
	rpID := "localhost"
	handle := passkey.UserHandle(m.User.ID)

	options := func(b *loginClient, id string) []byte {
		t.Helper()
		r := b.call("POST", "/api/v1/login/webauthn/options", map[string]any{"login_id": id})
		requireOK(t, "options", r)
		return r.body
	}

	// Unrecognized device: a discoverable request, the assertion (without
	// user verification) reveals the phrase, then the password.
	key.noUV = true
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "quinn"})
	requireOK(t, "begin", r)
	id := lr.LoginID
	opts := options(b, id)
	if bytes.Contains(opts, []byte("allowCredentials")) {
		t.Fatalf("unrecognized options list credentials: %s", opts)
	}
	nonce := newClientNonce()
	lr, r = b.post("webauthn", map[string]any{"login_id": id, "credential": key.assert(t, opts, rpID, e.URL, handle), "client_nonce": nonce})
	requireOK(t, "webauthn", r)
	if !slices.Equal(lr.Next, []string{"password"}) || !lr.PhraseShown {
		t.Fatalf("after webauthn: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, id, "quinn", m.Phrase)
	used := key.count
	// The ceremony was single use.
	_, r = b.post("webauthn", map[string]any{"login_id": id, "credential": key.assert(t, opts, rpID, e.URL, handle)})
	requireProblem(t, "webauthn after success", r, 409, "wrong_step")
	lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "password", r)
	if !slices.Equal(lr.AMR, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("amr %v", lr.AMR)
	}
	creds, _ := e.Deps.Durable.ListCredentials(context.Background(), m.User.ID)
	if len(creds) != 1 || creds[0].SignCount != used || creds[0].LastUsedAt.IsZero() || creds[0].CloneWarning {
		t.Fatalf("credential not updated: %+v", creds)
	}

	// Recognized device: the request lists the credential.
	lr, r = b.post("begin", map[string]any{"username": "quinn"})
	requireOK(t, "begin", r)
	_, r = b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
	requireOK(t, "password", r)
	opts = options(b, lr.LoginID)
	if !bytes.Contains(opts, []byte(base64.RawURLEncoding.EncodeToString(key.id))) {
		t.Fatalf("recognized options do not list the credential: %s", opts)
	}
	// A replayed ceremony (the options taken by a first, failed answer)
	// is gone: the same challenge cannot be answered twice.
	good := key.assert(t, opts, rpID, e.URL, nil)
	_, r = b.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": key.assert(t, opts, rpID, "https://evil.example", nil)})
	requireProblem(t, "wrong origin", r, 401, "invalid_credentials")
	_, r = b.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": good})
	requireProblem(t, "answer to a used challenge", r, 401, "invalid_credentials")
	opts = options(b, lr.LoginID)
	lr2, r := b.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": key.assert(t, opts, rpID, e.URL, nil)})
	requireOK(t, "webauthn recognized", r)
	if !lr2.Done || !slices.Equal(lr2.AMR, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("completion: %s", r.body)
	}

	// Another account's credential cannot answer for this one.
	other := e.enroll("rhea")
	okey := newSoftKey(t)
	okey.register(t, e, other)
	for _, h := range [][]byte{passkey.UserHandle(other.User.ID), handle} {
		b := e.client()
		lr, _ := b.post("begin", map[string]any{"username": "quinn"})
		opts := options(b, lr.LoginID)
		_, r := b.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": okey.assert(t, opts, rpID, e.URL, h)})
		requireProblem(t, "another account's key", r, 401, "invalid_credentials")
	}

	// A counter that goes back is a clone warning: refused, logged,
	// audited, and kept on the credential.
	key.count -= 2
	b3 := e.client()
	lr, _ = b3.post("begin", map[string]any{"username": "quinn"})
	opts = options(b3, lr.LoginID)
	_, r = b3.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": key.assert(t, opts, rpID, e.URL, handle)})
	requireProblem(t, "clone warning", r, 401, "invalid_credentials")
	if len(e.audit("login.webauthn", "clone_warning")) != 1 {
		t.Fatal("clone warning not audited")
	}
	creds, _ = e.Deps.Durable.ListCredentials(context.Background(), m.User.ID)
	if !creds[0].CloneWarning {
		t.Fatal("clone warning not stored")
	}
}
