package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mutualauth/server/keys"
)

// Key continuity end to end: a rotation A → B → C followed by a pinned
// command-line client, a pinned browser on the login page and a pinned
// widget host, none of them asked anything; then B is revoked and all three
// stop on a key they cannot follow, with what to do.

// serverSigningKID makes the server sign a proof (a login begin) and
// returns the proof's kid.
func serverSigningKID(t *testing.T, s *Server) string {
	t.Helper()
	st, _, body := loginAPI(t, "POST", s.URL()+"/api/v1/login/begin", map[string]string{"username": "nobody", "client_nonce": apiLoginNonce()})
	loginMustStatus(t, "begin", st, http.StatusOK, body)
	proof, _ := body["proof"].(string)
	seg, _, _ := strings.Cut(proof, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("proof header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// waitFor polls cond every 250 ms for at most 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func discoveryHandovers(t *testing.T, s *Server) []string {
	t.Helper()
	var doc struct {
		Handovers []string `json:"key_handovers"`
	}
	getJSON(t, s.URL()+"/.well-known/mutualauth", &doc)
	return doc.Handovers
}

// recoveryThenPassword answers an unrecognized login's steps on a page or
// in a frame: a recovery code, then the password.
func recoveryThenPassword(t *testing.T, ctx context.Context, code string) {
	t.Helper()
	loginClick(t, ctx, "recovery-link")
	loginWaitFor(t, ctx, "recovery")
	fillAndSubmit(t, ctx, "recovery", code)
	loginWaitFor(t, ctx, "password", "stop")
	fillAndSubmit(t, ctx, "password", loginPassword)
}

// fillAndSubmit sets the field's value and submits its form through the
// page's own handler, once the page's scripts have run. Unlike typed keys
// it cannot lose characters when the focus moves (a frame resized by its
// host while a busy machine types into it).
func fillAndSubmit(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	waitFor(t, "the page's scripts have run", func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete"`))
		return err == nil && ok
	})
	loginJS[bool](t, ctx, `const f = document.getElementById(a); f.value = b; f.form.requestSubmit(); return true;`, id, value)
}

// openFrame opens the host page in a fresh browser and types the username
// in its frame.
func openFrame(t *testing.T, s *Server, host *hostApp) (context.Context, context.Context) {
	t.Helper()
	ctx := newBrowser(t)
	openHost(t, ctx, host)
	fctx := attachFrame(t, ctx, s)
	// The frame checks its first proof as it loads; it may stop there.
	loginWaitFor(t, fctx, "verified", "stop")
	if !readFrame(t, fctx).Stop {
		fillAndSubmit(t, fctx, "username", "rita")
	}
	return ctx, fctx
}

func TestKeyRotationAndRevocation(t *testing.T) {
	const support = "it-desk@example.com"
	s := startServer(t, ServerOptions{Env: []string{"MUTUALAUTH_SUPPORT_CONTACT=" + support}})
	kidA := loginActiveKID(t, s)
	acct := loginEnroll(t, s, nil, "rita", "lanterns over the bay", loginTOTP)
	port := freePort(t)
	cl := createWidgetClient(t, s, "http://127.0.0.1:"+strconv.Itoa(port))
	host := startHost(t, s, port, cl, kidA)
	var codes cliCodes

	// Everyone pins A.
	cliDir := t.TempDir()
	runCLI(t, cliDir, codes.next(t, acct.TOTPSecret)+"\n"+loginPassword+"\n",
		"login", "--server", s.URL(), "--username", "rita", "--fingerprint", kidA).want(t, "CLI login on A", 0)
	page := newBrowser(t)
	loginOpen(t, page, s, "")
	loginJS[bool](t, page, `localStorage.setItem(a, b); return true;`, loginPinKey, kidA)

	// Two rotations; the server signs with C once its activation time came.
	kidB := strings.TrimSpace(s.Command(t, "admin", "keys", "rotate"))
	kidC := strings.TrimSpace(s.Command(t, "admin", "keys", "rotate"))
	if kidB == kidA || kidC == kidB || len(kidC) != 43 {
		t.Fatalf("rotations printed %q then %q (A %q)", kidB, kidC, kidA)
	}
	waitFor(t, "the server signs with the third key", func() bool { return serverSigningKID(t, s) == kidC })
	if hs := discoveryHandovers(t, s); len(hs) != 2 {
		t.Fatalf("discovery lists %d handovers, want 2", len(hs))
	}

	t.Run("pinned CLI follows", func(t *testing.T) {
		r := runCLI(t, cliDir, loginPassword+"\n"+acct.Recovery[0]+"\n", "login", "--server", s.URL(), "--username", "rita").want(t, "CLI login after the rotation", 0)
		if !strings.Contains(r.stderr, "from key "+kidA+" to key "+kidC) || !strings.Contains(r.stdout, "Security phrase: "+acct.Phrase) {
			t.Fatalf("CLI after the rotation:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		if got := cliPinned(t, cliDir, s.URL()); got != kidC {
			t.Fatalf("CLI pin %q, want %q", got, kidC)
		}
	})

	t.Run("pinned browser follows", func(t *testing.T) {
		loginOpen(t, page, s, "")
		loginType(t, page, "username", "rita")
		loginWaitFor(t, page, "otp", "stop")
		if st := loginReadPage(t, page); st.Stop || st.FirstUse || !st.Verified {
			t.Fatalf("the page after the rotation: %+v", st)
		}
		recoveryThenPassword(t, page, acct.Recovery[1])
		loginWaitSignedIn(t, page)
		if pin := loginJS[string](t, page, `return localStorage.getItem(a) || "";`, loginPinKey); pin != kidC {
			t.Fatalf("the browser's pin is %q, want %q", pin, kidC)
		}
	})

	t.Run("pinned widget host follows", func(t *testing.T) {
		ctx, fctx := openFrame(t, s, host)
		loginWaitFor(t, fctx, "otp", "stop")
		if st := readFrame(t, fctx); st.Stop || !st.Verified {
			t.Fatalf("the frame after the rotation: %+v", st)
		}
		recoveryThenPassword(t, fctx, acct.Recovery[2])
		if who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error"); !strings.HasPrefix(who, "Signed in as rita") {
			t.Fatalf("the host page says %q", who)
		}
	})

	// B is compromised: revoked, with both handovers through it.
	s.Command(t, "admin", "keys", "revoke", "--kid", kidB)
	waitFor(t, "the handovers through B are withdrawn", func() bool { return len(discoveryHandovers(t, s)) == 0 })
	for _, k := range serverKeys(t, s) {
		if k.str("kid") == kidB {
			t.Fatal("the revoked key is still published")
		}
	}

	t.Run("CLI pinned to A stops", func(t *testing.T) {
		dir := t.TempDir()
		r := runCLI(t, dir, loginPassword+"\n"+acct.Recovery[3]+"\n", "login", "--server", s.URL(), "--username", "rita", "--fingerprint", kidA).want(t, "CLI pinned to A", 3)
		if !strings.Contains(r.stderr, "now "+kidC) || !strings.Contains(r.stderr, "--fingerprint "+kidC) || !strings.Contains(r.stderr, "administrator") {
			t.Fatalf("the CLI should say which key to compare and how to go on:\n%s", r.stderr)
		}
		// The CLI that followed to C before the revocation goes on.
		if got := runCLI(t, cliDir, "", "whoami").want(t, "whoami pinned to C", 0).stdout; got != "rita\n" {
			t.Fatalf("whoami: %q", got)
		}
	})

	t.Run("browser pinned to A stops", func(t *testing.T) {
		loginOpen(t, page, s, "")
		loginJS[bool](t, page, `localStorage.setItem(a, b); return true;`, loginPinKey, kidA)
		loginType(t, page, "username", "rita")
		loginWaitFor(t, page, "stop", "otp", "password")
		st := loginReadPage(t, page)
		if !st.Stop || st.OTP || st.Password || st.Pinned != kidA {
			t.Fatalf("the page should stop and keep the pin: %+v", st)
		}
		for _, want := range []string{"Key the server uses now", kidC, "Key this browser trusted before", kidA, "administrator publishes", "Start over", support} {
			if !strings.Contains(st.StopText, want) {
				t.Errorf("the stop screen lacks %q: %s", want, st.StopText)
			}
		}
		if href := loginJS[string](t, page, `return document.querySelector("#stop-support a").getAttribute("href");`); href != "mailto:"+support {
			t.Errorf("support link %q", href)
		}
		screenshot(t, page, "revoked-key-stop-desktop")
		do(t, page, "phone width", chromedp.EmulateViewport(390, 844))
		if wide := loginJS[bool](t, page, `return document.documentElement.scrollWidth > 390;`); wide {
			t.Error("the stop screen overflows a 390 px screen sideways")
		}
		screenshot(t, page, "revoked-key-stop-390")
		do(t, page, "desktop width", chromedp.EmulateViewport(1280, 900))

		// Start over, after comparing: the browser forgets A and pins C.
		loginClick(t, page, "stop-restart")
		waitFor(t, "the page reloads", func() bool {
			ok, err := chromedp.Run(page, chromedp.Evaluate[bool](`document.readyState === "complete" && !!document.getElementById("username") && !document.getElementById("username").hidden && !document.getElementById("first-use").hidden`))
			return err == nil && ok
		})
		loginType(t, page, "username", "rita")
		loginWaitFor(t, page, "otp", "password", "stop")
		if st := loginReadPage(t, page); st.Stop || !st.FirstUse || st.Pinned != kidC {
			t.Fatalf("after Start over: want a first use pinning %s: %+v", kidC, st)
		}
	})

	t.Run("widget host pinned to A stops", func(t *testing.T) {
		ctx, fctx := openFrame(t, s, host)
		loginWaitFor(t, fctx, "stop", "otp", "password")
		st := readFrame(t, fctx)
		if !st.Stop || st.OTP || st.Password {
			t.Fatalf("the frame should stop: %+v", st)
		}
		for _, want := range []string{"Key this site expects", kidA, kidC, "operator", "Start over", support} {
			if !strings.Contains(st.StopText, want) {
				t.Errorf("the frame's stop screen lacks %q: %s", want, st.StopText)
			}
		}
		if who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error"); who != "Widget error: key_changed" {
			t.Errorf("the host page says %q", who)
		}
		screenshot(t, ctx, "revoked-key-widget-desktop")
		do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
		screenshot(t, ctx, "revoked-key-widget-390")
	})
}

// TestLoginProofHandovers runs web/proof.js's handover following on
// handovers made by hand: a chain A → B → C is followed from A, and each
// way a chain must be refused is.
func TestLoginProofHandovers(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	loginOpen(t, ctx, s, "")
	a, b, c, evil := newProofSigner(t), newProofSigner(t), newProofSigner(t), newProofSigner(t)
	const issuer = "https://login.example"
	now := time.Now().Unix()
	pub := func(p *proofSigner) map[string]any {
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(p.jwks, &set); err != nil {
			t.Fatal(err)
		}
		return set.Keys[0]
	}
	handover := func(from, to *proofSigner, mod func(h, c map[string]any)) string {
		h := map[string]any{"alg": "ES256", "kid": from.kid, "typ": "mutualauth-handover+jwt"}
		cl := map[string]any{"iss": issuer, "old_kid": from.kid, "new_kid": to.kid, "new_jwk": pub(to), "iat": now}
		if mod != nil {
			mod(h, cl)
		}
		return from.sign(t, h, cl, false)
	}
	jwks := func(ps ...*proofSigner) map[string]any {
		var keys []any
		for _, p := range ps {
			keys = append(keys, pub(p))
		}
		return map[string]any{"keys": keys}
	}
	ab, bc := handover(a, b, nil), handover(b, c, nil)
	follow := func(from, to string, hs []string, set map[string]any) (ok bool, reason string, chain int) {
		type verdict struct {
			OK     bool   `json:"ok"`
			Reason string `json:"reason"`
			Chain  int    `json:"chain"`
		}
		v := loginJS[verdict](t, ctx, `
			try {
				const chain = await MA.followHandovers(a.from, a.to, a.hs, a.jwks, a.issuer);
				return {ok: true, chain: chain.length};
			} catch (e) {
				return {ok: false, reason: e.reason || String(e)};
			}`, map[string]any{"from": from, "to": to, "hs": hs, "jwks": set, "issuer": issuer})
		return v.OK, v.Reason, v.Chain
	}
	if ok, reason, n := follow(a.kid, c.kid, []string{bc, ab}, jwks(c, b, a)); !ok || n != 2 {
		t.Fatalf("A → B → C: ok %v (%s), chain %d", ok, reason, n)
	}
	for _, tc := range []struct {
		name     string
		from, to string
		hs       []string
		set      map[string]any
	}{
		{"missing link", a.kid, c.kid, []string{bc}, jwks(c, b, a)},
		{"backwards", c.kid, a.kid, []string{ab, bc}, jwks(c, b, a)},
		{"middle key withdrawn", a.kid, c.kid, []string{ab, bc}, jwks(c, a)},
		{"high-S handover", a.kid, c.kid, []string{highSJWS(t, ab), bc}, jwks(c, b, a)},
		{"signed by a stranger", a.kid, c.kid, []string{handover(evil, b, func(h, cl map[string]any) { h["kid"], cl["old_kid"] = a.kid, a.kid }), bc}, jwks(c, b, a, evil)},
		{"another issuer", a.kid, c.kid, []string{handover(a, b, func(_, cl map[string]any) { cl["iss"] = "https://evil.example" }), bc}, jwks(c, b, a)},
		{"proof typ", a.kid, c.kid, []string{handover(a, b, func(h, _ map[string]any) { h["typ"] = "mutualauth-proof+jwt" }), bc}, jwks(c, b, a)},
		{"new_jwk of another key", a.kid, c.kid, []string{handover(a, b, func(_, cl map[string]any) { cl["new_jwk"] = pub(evil) }), bc}, jwks(c, b, a)},
	} {
		if ok, reason, _ := follow(tc.from, tc.to, tc.hs, tc.set); ok || reason != "key-changed" {
			t.Errorf("%s: ok %v reason %q, want refused as key-changed", tc.name, ok, reason)
		}
	}

	// verifyProof: a proof by C for a client pinned to A, with and without
	// the handovers.
	proof := c.sign(t, map[string]any{"alg": "ES256", "kid": c.kid, "typ": "mutualauth-proof+jwt"},
		map[string]any{"iss": issuer, "aud": issuer, "nonce": "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U", "login_id": "tx-1", "iat": now, "exp": now + 300}, false)
	type result struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
		KID    string `json:"kid"`
	}
	verify := func(hs []string) result {
		return loginJS[result](t, ctx, `
			try {
				const r = await MA.verifyProof(a.proof, {issuer: a.issuer, audience: a.issuer, nonce: "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U",
					loginId: "tx-1", pinnedKid: a.pinned, jwks: a.jwks, handovers: a.hs});
				return {ok: true, kid: r.kid};
			} catch (e) { return {ok: false, reason: e.reason || String(e)}; }`,
			map[string]any{"proof": proof, "issuer": issuer, "pinned": a.kid, "jwks": jwks(c, b, a), "hs": hs})
	}
	if r := verify([]string{ab, bc}); !r.OK || r.KID != c.kid {
		t.Errorf("proof by C pinned to A with the chain: %+v", r)
	}
	if r := verify(nil); r.OK || r.Reason != "key-changed" {
		t.Errorf("proof by C pinned to A without handovers: %+v", r)
	}
}

// TestKeyRotationAcrossInstances: two instances share a PostgreSQL
// database; a rotation made with the admin command while both run is
// published by both before either signs with it, and both switch to it.
func TestKeyRotationAcrossInstances(t *testing.T) {
	db := postgresDatabase(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{"MUTUALAUTH_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key)}
	s1 := startServer(t, ServerOptions{DatabaseURL: db, Env: env})
	s2 := startServer(t, ServerOptions{DatabaseURL: db, Env: env})
	old := serverSigningKID(t, s1)
	if got := serverSigningKID(t, s2); got != old {
		t.Fatalf("the instances sign with %s and %s", old, got)
	}
	start := time.Now()
	kid := strings.TrimSpace(s1.Command(t, "admin", "keys", "rotate"))
	published := func(s *Server) bool {
		for _, k := range serverKeys(t, s) {
			if k.str("kid") == kid {
				return true
			}
		}
		return false
	}
	waitFor(t, "both instances publish the new key", func() bool { return published(s1) && published(s2) })
	publishedAfter := time.Since(start)
	if time.Since(start) < keys.ActivationDelay-time.Second {
		for _, s := range []*Server{s1, s2} {
			if got := serverSigningKID(t, s); got != old {
				t.Errorf("%s signs with %s before the activation delay", s.URL(), got)
			}
		}
	} else {
		t.Logf("publishing took %s; the before-activation check is skipped", time.Since(start))
	}
	waitFor(t, "both instances sign with the new key", func() bool {
		return serverSigningKID(t, s1) == kid && serverSigningKID(t, s2) == kid
	})
	t.Logf("from the rotate command: published by both instances after %s, signing on both after %s",
		publishedAfter.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
	if hs := discoveryHandovers(t, s2); len(hs) != 1 {
		t.Errorf("the second instance lists %d handovers", len(hs))
	}
}
