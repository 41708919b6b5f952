package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"mutualauth/server/config"
	"mutualauth/server/token"
	"mutualauth/store"
)

// A minimal CBOR encoder (RFC 8949 §3) for the software authenticator.
func cborHead(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 1<<8:
		return []byte{major<<5 | 24, byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	default:
		return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
	}
}

func cborInt(v int64) []byte {
	if v >= 0 {
		return cborHead(0, uint64(v))
	}
	return cborHead(1, uint64(-1-v))
}

func cborBytes(b []byte) []byte { return append(cborHead(2, uint64(len(b))), b...) }
func cborText(s string) []byte  { return append(cborHead(3, uint64(len(s))), s...) }

func cborMap(pairs ...[]byte) []byte {
	out := cborHead(5, uint64(len(pairs)/2))
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// softAuthenticator makes WebAuthn registration responses (WebAuthn Level 3
// §6.5, "none" attestation) with an ES256 key, as a browser would send them.
type softAuthenticator struct {
	key    *ecdsa.PrivateKey
	credID []byte
}

func newSoftAuthenticator(t *testing.T) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softAuthenticator{key: key, credID: id}
}

type creationOptionsDoc struct {
	PublicKey struct {
		RP struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
		Challenge        string `json:"challenge"`
		PubKeyCredParams []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation string `json:"attestation"`
	} `json:"publicKey"`
}

// register answers options for origin, as the credential JSON of
// PublicKeyCredential.toJSON().
func (a *softAuthenticator) register(t *testing.T, opts creationOptionsDoc, origin string) json.RawMessage {
	t.Helper()
	clientData, _ := json.Marshal(map[string]any{
		"type": "webauthn.create", "challenge": opts.PublicKey.Challenge, "origin": origin, "crossOrigin": false,
	})
	point, err := a.key.PublicKey.Bytes() // SEC 1 uncompressed: 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	x, y := point[1:33], point[33:65]
	cose := cborMap(
		cborInt(1), cborInt(2), // kty: EC2
		cborInt(3), cborInt(-7), // alg: ES256
		cborInt(-1), cborInt(1), // crv: P-256
		cborInt(-2), cborBytes(x),
		cborInt(-3), cborBytes(y),
	)
	rpHash := sha256.Sum256([]byte(opts.PublicKey.RP.ID))
	const flags = 0x01 | 0x04 | 0x08 | 0x10 | 0x40 // UP, UV, BE, BS, AT
	authData := append(rpHash[:], flags, 0, 0, 0, 0)
	authData = append(authData, make([]byte, 16)...) // AAGUID
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(a.credID)))
	authData = append(authData, a.credID...)
	authData = append(authData, cose...)
	attObj := cborMap(
		cborText("fmt"), cborText("none"),
		cborText("attStmt"), cborMap(),
		cborText("authData"), cborBytes(authData),
	)
	b64 := base64.RawURLEncoding.EncodeToString
	cred, _ := json.Marshal(map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key",
		"authenticatorAttachment": "cross-platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64(clientData),
			"attestationObject": b64(attObj),
			"transports":        []string{"usb", "nfc"},
		},
	})
	return cred
}

func TestEnrollWithPasskey(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	origin := ts.Deps.Config.Issuer()
	ctx := context.Background()
	tok, user := ts.invite(t, "heidi", "Heidi H")
	api := "/api/v1/enroll/" + tok
	ts.enrollBasics(t, api)

	var st enrollStatusDoc
	ts.do(t, "GET", api, nil, &st)
	if !st.WebAuthnAvailable {
		t.Fatal("passkeys reported unavailable on a localhost issuer")
	}

	expectProblem(t, ts.do(t, "POST", api+"/webauthn", `{"credential": {"id": "x"}}`, nil), 422, "invalid_credential")

	var opts creationOptionsDoc
	if r := ts.do(t, "POST", api+"/webauthn/options", nil, &opts); r.StatusCode != 200 {
		t.Fatalf("options %d %s", r.StatusCode, readBody(t, r))
	}
	pk := opts.PublicKey
	challenge, _ := base64.RawURLEncoding.DecodeString(pk.Challenge)
	handle, _ := base64.RawURLEncoding.DecodeString(pk.User.ID)
	if pk.RP.ID != ts.Deps.Config.RPID() || pk.RP.Name != "mutualauth" || pk.User.Name != "heidi" || pk.User.DisplayName != "Heidi H" ||
		len(challenge) < 16 || hex.EncodeToString(handle) != user.ID ||
		pk.AuthenticatorSelection.ResidentKey != "preferred" || pk.AuthenticatorSelection.UserVerification != "preferred" ||
		(pk.Attestation != "" && pk.Attestation != "none") || len(pk.ExcludeCredentials) != 0 {
		t.Fatalf("creation options %+v", pk)
	}
	es256 := false
	for _, p := range pk.PubKeyCredParams {
		es256 = es256 || (p.Type == "public-key" && p.Alg == -7)
	}
	if !es256 {
		t.Fatal("ES256 not offered")
	}
	cerKey := "wa:enroll:" + hex.EncodeToString(token.Hash(tok))
	if _, err := ts.Deps.Ephemeral.Get(ctx, cerKey); err != nil {
		t.Fatalf("ceremony not held under %s: %v", cerKey, err)
	}

	// A response for another origin is refused, and spends the ceremony.
	auth := newSoftAuthenticator(t)
	bad := auth.register(t, opts, "http://evil.example")
	expectProblem(t, ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": bad}, nil), 422, "invalid_credential")
	if _, err := ts.Deps.Ephemeral.Get(ctx, cerKey); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ceremony still there after use: %v", err)
	}
	good := auth.register(t, opts, origin)
	expectProblem(t, ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": good}, nil), 422, "invalid_credential")

	// A response to an older challenge is refused.
	var stale, fresh creationOptionsDoc
	ts.do(t, "POST", api+"/webauthn/options", nil, &stale)
	ts.do(t, "POST", api+"/webauthn/options", nil, &fresh)
	expectProblem(t, ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": auth.register(t, stale, origin)}, nil), 422, "invalid_credential")

	ts.do(t, "POST", api+"/webauthn/options", nil, &opts)
	good = auth.register(t, opts, origin)
	if r := ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": good, "name": "  Blue key\n"}, nil); r.StatusCode != 204 {
		t.Fatalf("register: %d %s", r.StatusCode, readBody(t, r))
	}
	// Single use: the same answer again finds no ceremony.
	expectProblem(t, ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": good}, nil), 422, "invalid_credential")

	creds, err := ts.Deps.Durable.ListCredentials(ctx, user.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("credentials %+v, %v", creds, err)
	}
	c := creds[0]
	if !bytes.Equal(c.ID, auth.credID) || c.Name != "Blue key" || len(c.PublicKey) == 0 || c.SignCount != 0 ||
		!c.UserPresent || !c.UserVerified || !c.BackupEligible || !c.BackupState ||
		len(c.Transports) != 2 || c.Transports[0] != "usb" || c.Transports[1] != "nfc" || c.Attachment != "cross-platform" {
		t.Fatalf("stored credential %+v", c)
	}

	// The next options exclude it, and registering it twice is refused.
	ts.do(t, "POST", api+"/webauthn/options", nil, &opts)
	if len(opts.PublicKey.ExcludeCredentials) != 1 || opts.PublicKey.ExcludeCredentials[0].ID != base64.RawURLEncoding.EncodeToString(auth.credID) {
		t.Fatalf("excludeCredentials %+v", opts.PublicKey.ExcludeCredentials)
	}
	p := expectProblem(t, ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": auth.register(t, opts, origin)}, nil), 422, "invalid_credential")
	if p.Detail != "This passkey is already registered." {
		t.Errorf("duplicate refused with %q", p.Detail)
	}

	// A second passkey without a name gets a dated default name.
	other := newSoftAuthenticator(t)
	ts.do(t, "POST", api+"/webauthn/options", nil, &opts)
	if r := ts.do(t, "POST", api+"/webauthn", map[string]any{"credential": other.register(t, opts, origin)}, nil); r.StatusCode != 204 {
		t.Fatalf("second passkey: %d %s", r.StatusCode, readBody(t, r))
	}
	creds, _ = ts.Deps.Durable.ListCredentials(ctx, user.ID)
	if len(creds) != 2 {
		t.Fatalf("%d credentials", len(creds))
	}
	for _, c := range creds {
		if bytes.Equal(c.ID, other.credID) && (len(c.Name) != len("Passkey 2006-01-02") || c.Name[:8] != "Passkey ") {
			t.Errorf("default name %q", c.Name)
		}
	}

	ts.do(t, "GET", api, nil, &st)
	if !st.Done["webauthn"] || st.Done["totp"] {
		t.Fatalf("status %+v", st.Done)
	}
	var done completeDoc
	if r := ts.do(t, "POST", api+"/complete", nil, &done); r.StatusCode != 200 || len(done.RecoveryCodes) != 10 {
		t.Fatalf("complete with a passkey: %d %+v", r.StatusCode, done)
	}
	if done.ServerKey.JWKSURI != origin+"/.well-known/jwks.json" {
		t.Errorf("jwks_uri %q", done.ServerKey.JWKSURI)
	}
	events, _ := ts.Deps.Durable.ListAudit(ctx, store.AuditQuery{Subject: user.ID, Action: "enroll.webauthn"})
	results := map[string]int{}
	for _, e := range events {
		results[e.Result]++
	}
	if results["success"] != 2 || results["failure"] < 4 {
		t.Errorf("webauthn audit results %v", results)
	}
}

func TestEnrollPasskeysOffOnIPIssuer(t *testing.T) {
	// WebAuthn refuses an IP address as RP ID; the server then runs without
	// passkeys and says so.
	ts := newTestServer(t, testOptions{FastHash: true, Env: map[string]string{config.EnvPublicURL: "http://127.0.0.1:8080"}})
	tok, _ := ts.invite(t, "ivan", "")
	api := "/api/v1/enroll/" + tok
	var st enrollStatusDoc
	ts.do(t, "GET", api, nil, &st)
	if st.WebAuthnAvailable {
		t.Fatal("passkeys reported available with an IP address as RP ID")
	}
	expectProblem(t, ts.do(t, "POST", api+"/webauthn/options", nil, nil), 501, "webauthn_unavailable")
	expectProblem(t, ts.do(t, "POST", api+"/webauthn", `{"credential": {}}`, nil), 501, "webauthn_unavailable")
}
