package client

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/server/keys"
	"mutualauth/server/secretbox"
	sqlstore "mutualauth/store/sql"
)

// fakeServer answers begin with a proof signed by ring (whichever the test
// sets), for the nonce it was sent, and publishes the ring's JWKS and
// handovers. mutate may change the claims or the finished proof.
type fakeServer struct {
	mu       sync.Mutex
	ring     *keys.Ring
	loginID  string // login_id in the proof; the answer always says "L1"
	highS    bool
	requests []string
	srv      *httptest.Server
}

func newFakeServer(t *testing.T, ring *keys.Ring) *fakeServer {
	f := &fakeServer{ring: ring, loginID: "L1"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/jwks.json":
		_, _ = w.Write(f.ring.JWKS())
	case "/.well-known/mutualauth":
		_ = json.NewEncoder(w).Encode(map[string]any{"key_handovers": f.ring.Handovers()})
	case "/api/v1/login/begin":
		var req struct {
			Nonce string `json:"client_nonce"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		proof, err := f.ring.Sign(keys.ProofClaims{Issuer: f.srv.URL, Audience: f.srv.URL, Nonce: req.Nonce,
			LoginID: f.loginID, Username: "alice", Phrase: "green door", IssuedAt: time.Now()})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if f.highS {
			proof = flipS(proof)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"login_id": "L1", "proof": proof, "next": []string{"password"}, "phrase_shown": true})
	default:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status":401,"code":"invalid_credentials","title":"Unauthorized"}`))
	}
}

func flipS(jws string) string {
	parts := strings.Split(jws, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	s := new(big.Int).Sub(elliptic.P256().Params().N, new(big.Int).SetBytes(sig[32:]))
	s.FillBytes(sig[32:])
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// sharedRing is a ring kept in a real SQLite store, so tests can rotate
// and revoke it.
type sharedRing struct {
	st  *sqlstore.Store
	box *secretbox.Box
}

func newSharedRing(t *testing.T) (*sharedRing, *keys.Ring) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.Load(context.Background(), st, box, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &sharedRing{st: st, box: box}, ring
}

func (s *sharedRing) rotate(t *testing.T, issuer string, at time.Time) *keys.Ring {
	t.Helper()
	r, err := keys.Rotate(context.Background(), s.st, s.box, issuer, at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newTestClient(t *testing.T, url string) (*Client, *FileStore) {
	t.Helper()
	fs := &FileStore{Dir: filepath.Join(t.TempDir(), "state")}
	c, err := New(url, fs)
	if err != nil {
		t.Fatal(err)
	}
	return c, fs
}

func TestBeginVerifiesAndPins(t *testing.T) {
	_, ring := newSharedRing(t)
	f := newFakeServer(t, ring)
	c, fs := newTestClient(t, f.srv.URL)
	ctx := context.Background()

	// No pin, no Confirm: refused.
	_, err := c.Begin(ctx, "alice", "")
	var np *NotProvenError
	if !errors.As(err, &np) || !errors.Is(err, ErrNotPinned) || np.ServerKID != ring.ActiveKID() {
		t.Fatalf("first contact without Confirm: %v", err)
	}
	// Confirm says yes: pinned.
	asked := ""
	c.Confirm = func(kid string) bool { asked = kid; return true }
	l, err := c.Begin(ctx, "alice", "")
	if err != nil || l.Phrase != "green door" || l.ID != "L1" || asked != ring.ActiveKID() {
		t.Fatalf("first contact confirmed: %+v, %v (asked %q)", l, err, asked)
	}
	if pin, _ := fs.PinnedKey(c.Server); pin != ring.ActiveKID() {
		t.Fatalf("pinned %q", pin)
	}
	c.Confirm = nil

	// The verifier's strictness: a high-S twin and another login's proof.
	f.highS = true
	if _, err := c.Begin(ctx, "alice", ""); !errors.As(err, &np) || !errors.Is(err, keys.ErrBadSignature) {
		t.Errorf("high-S proof: %v", err)
	}
	f.highS = false
	f.loginID = "L2"
	if _, err := c.Begin(ctx, "alice", ""); !errors.As(err, &np) || !errors.Is(err, keys.ErrClaims) {
		t.Errorf("proof of another login: %v", err)
	}
	f.loginID = "L1"

	// An impostor's key: refused, the pin stays.
	_, other := newSharedRing(t)
	f.ring = other
	if _, err := c.Begin(ctx, "alice", ""); !errors.As(err, &np) || np.PinnedKID != ring.ActiveKID() || np.ServerKID != other.ActiveKID() {
		t.Errorf("impostor key: %v", err)
	}
	if pin, _ := fs.PinnedKey(c.Server); pin != ring.ActiveKID() {
		t.Errorf("the pin moved to %q", pin)
	}
	for _, p := range f.requests {
		if p != "/api/v1/login/begin" && !strings.HasPrefix(p, "/.well-known/") {
			t.Errorf("the client sent %s", p)
		}
	}
}

func TestBeginFollowsHandovers(t *testing.T) {
	shared, ringA := newSharedRing(t)
	f := newFakeServer(t, ringA)
	c, fs := newTestClient(t, f.srv.URL)
	kidA := ringA.ActiveKID()
	if err := fs.SetPinnedKey(c.Server, kidA); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	shared.rotate(t, c.Server, past.Add(-time.Minute))
	ringC := shared.rotate(t, c.Server, past)
	f.ring = ringC
	var moved [2]string
	c.Repinned = func(o, n string) { moved = [2]string{o, n} }
	if _, err := c.Begin(context.Background(), "alice", ""); err != nil {
		t.Fatalf("A → B → C: %v", err)
	}
	if pin, _ := fs.PinnedKey(c.Server); pin != ringC.ActiveKID() || moved != [2]string{kidA, ringC.ActiveKID()} {
		t.Fatalf("pin %q, moved %v", pin, moved)
	}
}

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mutualauth")
	fs := &FileStore{Dir: dir}
	const srv = "https://login.example.com"
	if err := fs.SetPinnedKey(srv, "kid1"); err != nil {
		t.Fatal(err)
	}
	if err := fs.SetDeviceToken(srv, "alice", "dev1"); err != nil {
		t.Fatal(err)
	}
	s := &Session{Username: "alice", CookieName: "__Host-mutualauth_session", Token: "tok", ExpiresAt: time.Now().UTC().Truncate(time.Second)}
	if err := fs.SetSession(srv, s); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode: %v %v", info.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d files, want the server's and default-server", len(entries))
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", e.Name(), info.Mode().Perm())
		}
	}
	pin, _ := fs.PinnedKey(srv)
	dev, _ := fs.DeviceToken(srv, "alice")
	got, _ := fs.Session(srv)
	def, _ := fs.DefaultServer()
	if pin != "kid1" || dev != "dev1" || got == nil || *got != *s || def != srv {
		t.Fatalf("read back pin %q device %q session %+v default %q", pin, dev, got, def)
	}
	if other, _ := fs.PinnedKey("https://other.example.com"); other != "" {
		t.Errorf("another server has pin %q", other)
	}
	if err := fs.SetSession(srv, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := fs.Session(srv); got != nil {
		t.Error("session not forgotten")
	}
	// A directory made too open is closed again.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = fs.SetPinnedKey(srv, "kid2")
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("directory mode after a write: %v", info.Mode().Perm())
	}
}

func TestStateDirAndServer(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MUTUALAUTH_CLIENT_DIR": "/a", "XDG_CONFIG_HOME": "/b", "HOME": "/c"}, "/a"},
		{map[string]string{"XDG_CONFIG_HOME": "/b", "HOME": "/c"}, "/b/mutualauth"},
		{map[string]string{"HOME": "/c"}, "/c/.config/mutualauth"},
	} {
		if got, err := StateDir(env(c.env)); err != nil || got != c.want {
			t.Errorf("StateDir(%v) = %q, %v", c.env, got, err)
		}
	}
	for raw, want := range map[string]string{"https://Login.Example.com/": "https://login.example.com", "http://localhost:8080": "http://localhost:8080"} {
		if got, err := NormalizeServer(raw); err != nil || got != want {
			t.Errorf("NormalizeServer(%q) = %q, %v", raw, got, err)
		}
	}
	for _, bad := range []string{"ftp://x", "https://x/path", "https://u:p@x", "x.example", "https://x?q=1", ""} {
		if _, err := NormalizeServer(bad); err == nil {
			t.Errorf("NormalizeServer(%q) accepted", bad)
		}
	}
}
