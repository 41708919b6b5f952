package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/server/keys"
)

// The command-line client, end to end: the real binary in pipe mode (its
// standard input is not a terminal) against the real server, and against an
// impostor on the server's address.

// cliResult is one run of the client.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the binary with args, feeding stdin, with its state in dir
// and no MUTUALAUTH_ setting but MUTUALAUTH_CLIENT_DIR.
func runCLI(t *testing.T, dir, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MUTUALAUTH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "MUTUALAUTH_CLIENT_DIR="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run mutualauth %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (r cliResult) want(t *testing.T, what string, code int) cliResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// cliState reads the client's state file for server.
func cliState(t *testing.T, dir, server string) map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "server-*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st["server"] == server {
			return st
		}
	}
	return nil
}

func cliPinned(t *testing.T, dir, server string) string {
	t.Helper()
	kid, _ := cliState(t, dir, server)["pinned_kid"].(string)
	return kid
}

// cliCode returns a TOTP code of a time step not used before by this test
// for secret, waiting for the next step when needed.
type cliCodes struct {
	mu   sync.Mutex
	used map[string]int64
}

func (c *cliCodes) next(t *testing.T, secret string) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = map[string]int64{}
	}
	for {
		step := time.Now().Unix() / 30
		if step > c.used[secret] {
			c.used[secret] = step
			return loginTOTPCode(t, secret, time.Unix(step*30+1, 0))
		}
		time.Sleep(time.Until(time.Unix((step+1)*30, 0)) + 100*time.Millisecond)
	}
}

func TestCLILogin(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)
	acct := loginEnroll(t, s, nil, "carol", "quiet heron at dawn", loginTOTP)
	dir := filepath.Join(t.TempDir(), "state")
	var codes cliCodes

	// First contact with no terminal and no fingerprint: refused, nothing pinned.
	r := runCLI(t, dir, "123456\n"+loginPassword+"\n", "login", "--server", s.URL(), "--username", "carol").want(t, "first contact", 3)
	if !strings.Contains(r.stderr, "--fingerprint "+kid) || cliPinned(t, dir, s.URL()) != "" {
		t.Fatalf("first contact without a fingerprint: want the fingerprint to compare and no pin:\n%s", r.stderr)
	}
	// Another fingerprint than the server's: refused.
	_, otherKID := loginOtherJWKS(t)
	runCLI(t, dir, "123456\n"+loginPassword+"\n", "login", "--server", s.URL(), "--username", "carol", "--fingerprint", otherKID).want(t, "wrong fingerprint", 3)
	if got := cliPinned(t, dir, s.URL()); got != "" {
		t.Fatalf("a refused fingerprint was pinned: %q", got)
	}
	// Usage errors.
	runCLI(t, dir, "", "login", "--username", "carol").want(t, "no --server", 2)
	runCLI(t, dir, "", "login", "--server", "ftp://x", "--username", "carol").want(t, "bad --server", 2)
	runCLI(t, dir, "", "login", "--server", s.URL()).want(t, "no --username in pipe mode", 2)
	runCLI(t, dir, "", "login", "--server", s.URL(), "--username", "carol", "--fingerprint", "short").want(t, "bad --fingerprint", 2)
	runCLI(t, dir, "", "whoami").want(t, "whoami before any login", 1)

	// An unrecognized device: the code first, then the password.
	r = runCLI(t, dir, codes.next(t, acct.TOTPSecret)+"\n"+loginPassword+"\n",
		"login", "--server", s.URL(), "--username", "carol", "--fingerprint", kid).want(t, "login", 0)
	if !strings.Contains(r.stdout, "Signed in to "+s.URL()+" as carol.") || strings.Contains(r.stdout+r.stderr, loginPassword) {
		t.Fatalf("login output:\n%s\n%s", r.stdout, r.stderr)
	}
	if cliPinned(t, dir, s.URL()) != kid {
		t.Fatalf("pinned %q, want %q", cliPinned(t, dir, s.URL()), kid)
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("state directory mode %v, %v", info.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	st := cliState(t, dir, s.URL())
	if tokens, _ := st["device_tokens"].(map[string]any); tokens["carol"] == nil || st["session"] == nil {
		t.Fatalf("state after login: %v", st)
	}
	if got := runCLI(t, dir, "", "whoami").want(t, "whoami", 0).stdout; got != "carol\n" {
		t.Fatalf("whoami printed %q", got)
	}
	if got := runCLI(t, dir, "", "whoami", "--server", s.URL()).want(t, "whoami --server", 0).stdout; got != "carol\n" {
		t.Fatalf("whoami --server printed %q", got)
	}

	// The device is recognized now: the phrase at once, then the password,
	// then a code (here a recovery code).
	r = runCLI(t, dir, loginPassword+"\n"+acct.Recovery[0]+"\n", "login", "--server", s.URL(), "--username", "carol").want(t, "recognized login", 0)
	if !strings.HasPrefix(r.stdout, "Security phrase: "+acct.Phrase+"\n") {
		t.Fatalf("a recognized device must print the phrase before anything else:\n%s", r.stdout)
	}
	// Refusals: a wrong password, a used recovery code.
	runCLI(t, dir, "wrong password\n", "login", "--server", s.URL(), "--username", "carol").want(t, "wrong password", 1)
	runCLI(t, dir, loginPassword+"\n"+acct.Recovery[0]+"\n", "login", "--server", s.URL(), "--username", "carol").want(t, "used recovery code", 1)
	runCLI(t, dir, loginPassword+"\n", "login", "--server", s.URL(), "--username", "carol").want(t, "input ends early", 2)

	runCLI(t, dir, "", "logout").want(t, "logout", 0)
	runCLI(t, dir, "", "whoami").want(t, "whoami after logout", 1)
	runCLI(t, dir, "", "logout").want(t, "logout again", 0)
}

// TestCLIRemoteAdmin signs the first admin in with the CLI and runs the
// admin commands through the admin API.
func TestCLIRemoteAdmin(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)
	admin := adminEnrollAPI(t, s, adminBootstrapURL(t, s), "admin")
	dir := t.TempDir()

	runCLI(t, dir, "", "admin", "users", "--server", s.URL()).want(t, "admin users before login", 1)
	runCLI(t, dir, admin.Recovery[0]+"\n"+admin.Password+"\n", "login", "--server", s.URL(), "--username", "admin", "--fingerprint", kid).want(t, "admin login", 0)

	out := runCLI(t, dir, "", "admin", "invite", "--server", s.URL(), "--username", "dora", "--display-name", "Dora").want(t, "remote invite", 0).stdout
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(s.URL()) + `/enroll/[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("remote invite printed %q", out)
	}
	inviteToken(t, s, strings.TrimSpace(out))

	out = runCLI(t, dir, "", "admin", "users", "--server", s.URL()).want(t, "remote users", 0).stdout
	names := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var u map[string]any
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatalf("admin users line %q: %v", line, err)
		}
		names[u["username"].(string)] = true
	}
	if len(names) != 2 || !names["admin"] || !names["dora"] {
		t.Fatalf("admin users printed %q", out)
	}

	out = runCLI(t, dir, "", "admin", "client", "create", "--server", s.URL(), "--name", "CLI app", "--origin", "https://app.example.com").want(t, "remote client create", 0).stdout
	var nc map[string]string
	if err := json.Unmarshal([]byte(out), &nc); err != nil || nc["client_id"] == "" || nc["client_secret"] == "" || strings.Count(out, "\n") != 1 {
		t.Fatalf("client create printed %q (%v)", out, err)
	}

	// A signed-in user who is not an admin is refused.
	ed := loginEnrollAt(t, s, nil, strings.TrimSpace(runCLI(t, dir, "", "admin", "invite", "--server", s.URL(), "--username", "ed").want(t, "invite ed", 0).stdout), "ed", "seven silver owls", loginTOTP)
	other := t.TempDir()
	runCLI(t, other, ed.Recovery[0]+"\n"+loginPassword+"\n", "login", "--server", s.URL(), "--username", "ed", "--fingerprint", kid).want(t, "ed login", 0)
	runCLI(t, other, "", "admin", "users", "--server", s.URL()).want(t, "non-admin admin users", 1)
}

// impostor serves, on the real server's address, its own JWKS, a discovery
// document (with a handover it forged from the real key's kid) and validly
// shaped proofs signed by its own key, for the real issuer and the CLI's
// nonces. It records every request.
type impostor struct {
	mu       sync.Mutex
	requests []string // "METHOD path cookie=... body"
}

func (im *impostor) seen() []string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]string(nil), im.requests...)
}

func startImpostor(t *testing.T, addr, issuer, realKID string) *impostor {
	t.Helper()
	ring, priv := impostorRing(t)
	im := &impostor{}
	forged := impostorHandover(t, priv, ring.ActiveKID(), realKID, issuer)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		im.mu.Lock()
		im.requests = append(im.requests, r.Method+" "+r.URL.Path+" cookie="+r.Header.Get("Cookie")+" "+string(body))
		im.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			_, _ = w.Write(ring.JWKS())
		case "/.well-known/mutualauth":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": issuer + "/.well-known/jwks.json", "key_handovers": []string{forged}})
		case "/api/v1/login/begin":
			var req struct {
				Username string `json:"username"`
				Nonce    string `json:"client_nonce"`
			}
			_ = json.Unmarshal(body, &req)
			now := time.Now()
			proof, err := ring.Sign(keys.ProofClaims{Issuer: issuer, Audience: issuer, Nonce: req.Nonce, LoginID: "impostor-login",
				Username: req.Username, Phrase: "quiet heron at dawn", IssuedAt: now})
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"login_id": "impostor-login", "proof": proof, "next": []string{"password"}, "phrase_shown": true})
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":401,"code":"invalid_credentials"}`))
		}
	})
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("impostor: listen on %s: %v", addr, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return im
}

// TestCLIImpostor: a CLI pinned to the real server meets an impostor on the
// same address with its own key, validly shaped proofs (the real issuer,
// the CLI's nonce, even the user's phrase) and a handover it forged: the CLI
// exits 3, and the impostor receives no password, code, assertion or
// session.
func TestCLIImpostor(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)
	acct := loginEnroll(t, s, nil, "ivan", "quiet heron at dawn", loginTOTP)
	dir := t.TempDir()
	var codes cliCodes
	runCLI(t, dir, codes.next(t, acct.TOTPSecret)+"\n"+loginPassword+"\n", "login", "--server", s.URL(), "--username", "ivan", "--fingerprint", kid).want(t, "real login", 0)
	session, _ := cliState(t, dir, s.URL())["session"].(map[string]any)
	token, _ := session["token"].(string)
	if token == "" {
		t.Fatal("no session stored")
	}

	s.Stop(t)
	im := startImpostor(t, "127.0.0.1:"+strconv.Itoa(s.Port()), s.URL(), kid)

	for _, c := range []struct {
		what  string
		stdin string
		args  []string
	}{
		{"login", loginPassword + "\n" + acct.Recovery[0] + "\n", []string{"login", "--server", s.URL(), "--username", "ivan"}},
		{"login with the fingerprint", loginPassword + "\n" + acct.Recovery[0] + "\n", []string{"login", "--server", s.URL(), "--username", "ivan", "--fingerprint", kid}},
		{"whoami", "", []string{"whoami"}},
		{"logout", "", []string{"logout"}},
		{"admin users", "", []string{"admin", "users", "--server", s.URL()}},
	} {
		r := runCLI(t, dir, c.stdin, c.args...).want(t, c.what+" against the impostor", 3)
		if !strings.Contains(r.stderr, "did not prove itself") || strings.Contains(r.stdout, "Security phrase") {
			t.Errorf("%s: want the refusal on stderr and no phrase:\nstdout:\n%s\nstderr:\n%s", c.what, r.stdout, r.stderr)
		}
	}
	for _, req := range im.seen() {
		path := strings.Fields(req)[1]
		if strings.Contains(req, loginPassword) || strings.Contains(req, acct.Recovery[0]) || strings.Contains(req, token) ||
			(path != "/api/v1/login/begin" && !strings.HasPrefix(path, "/.well-known/")) {
			t.Errorf("the impostor received %q", req)
		}
	}
	if len(im.seen()) == 0 {
		t.Fatal("the impostor saw no request: the test did not test")
	}
	if cliPinned(t, dir, s.URL()) != kid {
		t.Errorf("the impostor moved the pin to %q", cliPinned(t, dir, s.URL()))
	}
}

func impostorRing(t *testing.T) (*keys.Ring, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.LoadPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return ring, priv
}

// impostorHandover forges a handover "from" the real key to the impostor's,
// signed by the impostor's key (it has no other).
func impostorHandover(t *testing.T, priv *ecdsa.PrivateKey, ownKID, realKID, issuer string) string {
	t.Helper()
	pub, _ := priv.PublicKey.Bytes()
	jwkJSON, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "kid": ownKID,
		"x": base64.RawURLEncoding.EncodeToString(pub[1:33]), "y": base64.RawURLEncoding.EncodeToString(pub[33:])})
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": "ES256", "kid": realKID, "typ": "mutualauth-handover+jwt"}) + "." +
		enc(map[string]any{"iss": issuer, "old_kid": realKID, "new_kid": ownKID, "new_jwk": json.RawMessage(jwkJSON), "iat": time.Now().Unix()})
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestCLITerminal runs the client on a terminal (a pseudo-terminal from
// util-linux script(1)): first contact shows the fingerprint and asks; "n"
// refuses with exit 3 and pins nothing, "y" pins; secrets typed at the
// prompts are not echoed.
func TestCLITerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed; the terminal test needs a pseudo-terminal")
	}
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)
	acct := loginEnroll(t, s, nil, "tess", "copper moth lantern", loginTOTP)
	dir := t.TempDir()
	onTerminal := func(lines ...string) cliResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), commandWithin)
		defer cancel()
		cmd := exec.CommandContext(ctx, scriptBin, "-qec", serverBin+" login --server "+s.URL()+" --username tess", "/dev/null")
		cmd.Env = append(os.Environ(), "MUTUALAUTH_CLIENT_DIR="+dir)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// One line at a time, after the prompt is up: a terminal echoes what
		// arrives before the client turns echo off, as it would for a person
		// typing ahead.
		for _, l := range lines {
			time.Sleep(700 * time.Millisecond)
			_, _ = io.WriteString(in, l+"\n")
		}
		time.Sleep(700 * time.Millisecond)
		_ = in.Close()
		err = cmd.Wait()
		r := cliResult{stdout: out.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}

	r := onTerminal("n")
	if r.code != 3 || !strings.Contains(r.stdout, "Its key fingerprint is\r\n  "+kid) || cliPinned(t, dir, s.URL()) != "" {
		t.Fatalf("first contact answered no: exit %d, pin %q:\n%s", r.code, cliPinned(t, dir, s.URL()), r.stdout)
	}
	var codes cliCodes
	code := codes.next(t, acct.TOTPSecret)
	r = onTerminal("y", code, loginPassword)
	if r.code != 0 || cliPinned(t, dir, s.URL()) != kid || !strings.Contains(r.stdout, "Signed in to "+s.URL()+" as tess.") {
		t.Fatalf("first contact answered yes: exit %d, pin %q:\n%s", r.code, cliPinned(t, dir, s.URL()), r.stdout)
	}
	if strings.Contains(r.stdout, loginPassword) || strings.Contains(r.stdout, code) {
		t.Fatalf("a secret was echoed:\n%s", r.stdout)
	}
}
