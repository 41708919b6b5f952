package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var b64 = base64.RawURLEncoding

// testRing returns a ring from a fresh P-256 key and that key.
func testRing(t testing.TB) (*Ring, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return r, priv
}

var testNow = time.Date(2030, 5, 17, 12, 0, 0, 0, time.UTC)

func testClaims() ProofClaims {
	return ProofClaims{
		Issuer:   "https://login.example.com",
		Audience: "https://app.example.net",
		Nonce:    "bm9uY2Utbm9uY2Utbm9uY2UtMTIzNDU2",
		LoginID:  "L1d0x",
		Username: "alice",
		Phrase:   "purple <elephant> & \"tea\"",
		IssuedAt: testNow,
		Expiry:   testNow.Add(5 * time.Minute),
	}
}

func testOptions(kid string) VerifyOptions {
	c := testClaims()
	return VerifyOptions{Issuer: c.Issuer, Audience: c.Audience, Nonce: c.Nonce, LoginID: c.LoginID, PinnedKID: kid, Now: testNow.Add(time.Second)}
}

// handThumbprint is RFC 7638 §3.2 done by hand for an EC JWK: the required
// members in lexicographic order, no white space, SHA-256, base64url.
func handThumbprint(crv, x, y string) string {
	canonical := `{"crv":"` + crv + `","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// independentVerify checks a proof the way the login page does with
// WebCrypto: ECDSA P-256 / SHA-256 over the ASCII of
// base64url(header) "." base64url(payload), with the 64-byte r || s
// signature, using the JWKS entry whose kid is the header's kid. It uses
// neither go-jose nor the package's Verify.
func independentVerify(t *testing.T, proof string, jwks []byte) (header map[string]any, claims map[string]any) {
	t.Helper()
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatalf("proof has %d parts", len(parts))
	}
	for i, p := range parts {
		if strings.ContainsAny(p, "+/=") {
			t.Fatalf("part %d is not unpadded base64url", i)
		}
	}
	hdrJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(hdrJSON, &header); err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "ES256" {
		t.Fatalf("alg %v", header["alg"])
	}
	kid, _ := header["kid"].(string)

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var jwk map[string]string
	for _, k := range set.Keys {
		if k["kid"] == kid {
			jwk = k
		}
	}
	if jwk == nil {
		t.Fatalf("kid %q not in the JWKS", kid)
	}
	if got := handThumbprint(jwk["crv"], jwk["x"], jwk["y"]); got != kid {
		t.Fatalf("kid %q is not the RFC 7638 thumbprint %q", kid, got)
	}
	x, err := b64.DecodeString(jwk["x"])
	if err != nil || len(x) != 32 {
		t.Fatalf("x: %v", err)
	}
	y, err := b64.DecodeString(jwk["y"])
	if err != nil || len(y) != 32 {
		t.Fatalf("y: %v", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 64 {
		t.Fatalf("signature is %d bytes, want 64 (r || s)", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Fatal("signature does not verify")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	return header, claims
}

func TestSignMatchesIndependentVerifier(t *testing.T) {
	ring, _ := testRing(t)
	c := testClaims()
	proof, err := ring.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	header, claims := independentVerify(t, proof, ring.JWKS())

	wantHeader := `{"alg":"ES256","kid":"` + ring.ActiveKID() + `","typ":"mutualauth-proof+jwt"}`
	gotHeader, _ := b64.DecodeString(strings.Split(proof, ".")[0])
	if string(gotHeader) != wantHeader {
		t.Errorf("header\n %s\nwant\n %s", gotHeader, wantHeader)
	}
	if len(header) != 3 {
		t.Errorf("header has %d members", len(header))
	}
	want := map[string]string{
		"iss": c.Issuer, "aud": c.Audience, "nonce": c.Nonce,
		"login_id": c.LoginID, "username": c.Username, "phrase": c.Phrase,
		"iat": fmt.Sprint(c.IssuedAt.Unix()), "exp": fmt.Sprint(c.Expiry.Unix()),
	}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want exactly %v", claims, want)
	}
	for k, v := range want {
		if got := fmt.Sprint(claims[k]); got != v {
			t.Errorf("claim %s = %s, want %s", k, got, v)
		}
	}
	for _, k := range []string{"iat", "exp"} {
		if _, isNumber := claims[k].(json.Number); !isNumber {
			t.Errorf("%s is %T, want a JSON number", k, claims[k])
		}
		if strings.ContainsAny(claims[k].(json.Number).String(), ".eE") {
			t.Errorf("%s is not whole seconds", k)
		}
	}
	if _, isString := claims["aud"].(string); !isString {
		t.Errorf("aud is %T, want a string", claims["aud"])
	}

	got, err := Verify(proof, ring.JWKS(), testOptions(ring.ActiveKID()))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got != c {
		t.Errorf("Verify claims\n %+v\nwant\n %+v", got, c)
	}
}

func TestSignOmitsEmptyPhrase(t *testing.T) {
	ring, _ := testRing(t)
	c := testClaims()
	c.Phrase = ""
	proof, err := ring.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	_, claims := independentVerify(t, proof, ring.JWKS())
	if _, present := claims["phrase"]; present {
		t.Error("phrase present although empty")
	}
	got, err := Verify(proof, ring.JWKS(), testOptions(""))
	if err != nil || got.Phrase != "" {
		t.Errorf("Verify: %+v, %v", got, err)
	}
}

func TestSignValidatesClaims(t *testing.T) {
	ring, _ := testRing(t)
	mutate := map[string]func(*ProofClaims){
		"no issuer":         func(c *ProofClaims) { c.Issuer = "" },
		"no audience":       func(c *ProofClaims) { c.Audience = "" },
		"no nonce":          func(c *ProofClaims) { c.Nonce = "" },
		"no issue time":     func(c *ProofClaims) { c.IssuedAt = time.Time{} },
		"lifetime 301 s":    func(c *ProofClaims) { c.Expiry = c.IssuedAt.Add(301 * time.Second) },
		"expiry before iat": func(c *ProofClaims) { c.Expiry = c.IssuedAt.Add(-time.Second) },
		"expiry at iat":     func(c *ProofClaims) { c.Expiry = c.IssuedAt },
	}
	for name, m := range mutate {
		c := testClaims()
		m(&c)
		if _, err := ring.Sign(c); err == nil {
			t.Errorf("%s: Sign accepted %+v", name, c)
		}
	}
	c := testClaims()
	c.Expiry = time.Time{}
	proof, err := ring.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(proof, ring.JWKS(), testOptions(""))
	if err != nil {
		t.Fatal(err)
	}
	if got.Expiry.Sub(got.IssuedAt) != MaxProofLifetime {
		t.Errorf("default lifetime %s, want %s", got.Expiry.Sub(got.IssuedAt), MaxProofLifetime)
	}
}

func TestThumbprintRFC7638Example(t *testing.T) {
	// RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	nBytes, err := b64.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &rsa.PublicKey{N: new(big.Int).SetBytes(nBytes), E: 65537}}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(sum); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("RFC 7638 example thumbprint %s", got)
	}
	// The same procedure done by hand for RSA, to check handThumbprint's method.
	canonical := `{"e":"AQAB","kty":"RSA","n":"` + n + `"}`
	hand := sha256.Sum256([]byte(canonical))
	if b64.EncodeToString(hand[:]) != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Error("hand-made RFC 7638 input does not give the RFC's thumbprint")
	}
}

func TestThumbprintEC(t *testing.T) {
	// The EC key of RFC 7517 Appendix A.1, and fresh keys.
	const x, y = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
	xb, _ := b64.DecodeString(x)
	yb, _ := b64.DecodeString(y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, xb...), yb...))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := handThumbprint("P-256", x, y); got != want {
		t.Errorf("Thumbprint = %s, by hand %s", got, want)
	}
	for range 20 {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := priv.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Thumbprint(&priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if want := handThumbprint("P-256", b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:])); got != want {
			t.Fatalf("Thumbprint = %s, by hand %s", got, want)
		}
	}
	if _, err := Thumbprint(nil); err == nil {
		t.Error("Thumbprint(nil): no error")
	}
}

func TestJWKSShape(t *testing.T) {
	ring, priv := testRing(t)
	jwks := ring.JWKS()
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`, `"k"`} {
		if strings.Contains(string(jwks), private) {
			t.Errorf("JWKS contains %s: %s", private, jwks)
		}
	}
	dBytes, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(jwks), b64.EncodeToString(dBytes)) {
		t.Error("JWKS contains the private scalar")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	k := set.Keys[0]
	for name, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": ring.ActiveKID()} {
		if k[name] != want {
			t.Errorf("%s = %v, want %s", name, k[name], want)
		}
	}
	if len(k) != 7 {
		t.Errorf("JWK has members %v, want kty crv alg use kid x y", k)
	}
	raw, _ := priv.PublicKey.Bytes()
	if k["x"] != b64.EncodeToString(raw[1:33]) || k["y"] != b64.EncodeToString(raw[33:]) {
		t.Error("x, y are not the public key's coordinates")
	}
	if handThumbprint("P-256", k["x"].(string), k["y"].(string)) != ring.ActiveKID() {
		t.Error("kid is not the RFC 7638 thumbprint")
	}
	if got := ring.KIDs(); len(got) != 1 || got[0] != ring.ActiveKID() {
		t.Errorf("KIDs = %v", got)
	}
}

// handSign signs arbitrary header and payload JSON with priv, so tests can
// make proofs Sign refuses to make. The signature is in low-S form.
func handSign(t *testing.T, priv *ecdsa.PrivateKey, header, payload string) string {
	return handSignS(t, priv, header, payload, false)
}

// handSignS signs like handSign with s in the upper half of the group order
// when high is set: the malleated twin of the low-S signature.
func handSignS(t *testing.T, priv *ecdsa.PrivateKey, header, payload string, high bool) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if (s.Cmp(halfOrder) > 0) != high {
		s.Sub(p256Order, s)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

// highS returns proof with its signature's s replaced by n - s: the same
// signature in its other, high-S form, which ECDSA alone accepts too.
func highS(t *testing.T, proof string) string {
	t.Helper()
	parts := strings.Split(proof, ".")
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v", err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(p256Order, s)
	s.FillBytes(sig[32:])
	return parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)
}

func TestSignIsLowS(t *testing.T) {
	ring, _ := testRing(t)
	for range 64 {
		proof, err := ring.Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := b64.DecodeString(strings.Split(proof, ".")[2])
		if new(big.Int).SetBytes(sig[32:]).Cmp(halfOrder) > 0 {
			t.Fatal("Sign produced a high-S signature")
		}
		independentVerify(t, proof, ring.JWKS())
		if _, err := Verify(highS(t, proof), ring.JWKS(), testOptions(ring.ActiveKID())); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("high-S twin of a valid proof: %v", err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	ring, priv := testRing(t)
	other, otherPriv := testRing(t)
	kid := ring.ActiveKID()
	proof, err := ring.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(proof, ".")
	hdr := `{"alg":"ES256","kid":"` + kid + `","typ":"mutualauth-proof+jwt"}`
	payloadJSON := func(mutate func(map[string]any)) string {
		c := testClaims()
		m := map[string]any{
			"iss": c.Issuer, "aud": c.Audience, "nonce": c.Nonce, "login_id": c.LoginID,
			"username": c.Username, "iat": c.IssuedAt.Unix(), "exp": c.Expiry.Unix(),
		}
		if mutate != nil {
			mutate(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	if _, err := Verify(handSign(t, priv, hdr, payloadJSON(nil)), ring.JWKS(), testOptions(kid)); err != nil {
		t.Fatalf("control: a hand-signed valid proof fails: %v", err)
	}

	flipLast := func(s string) string {
		c := []byte(s)
		if c[len(c)-2] == 'A' {
			c[len(c)-2] = 'B'
		} else {
			c[len(c)-2] = 'A'
		}
		return string(c)
	}
	forgedPayload := b64.EncodeToString([]byte(payloadJSON(func(m map[string]any) { m["nonce"] = "attacker" })))
	otherHeader := b64.EncodeToString([]byte(`{"alg":"ES256","kid":"` + kid + `","typ":"other+jwt"}`))
	swappedJWKS := strings.Replace(string(other.JWKS()), other.ActiveKID(), kid, 1)
	expiredOpts := testOptions(kid)
	expiredOpts.Now = testClaims().Expiry.Add(Leeway + time.Second)
	leewayOpts := testOptions(kid)
	leewayOpts.Now = testClaims().Expiry.Add(Leeway - time.Second)
	earlyOpts := testOptions(kid)
	earlyOpts.Now = testNow.Add(-Leeway - time.Second)
	opt := func(f func(*VerifyOptions)) VerifyOptions {
		o := testOptions(kid)
		f(&o)
		return o
	}

	cases := []struct {
		name  string
		proof string
		jwks  []byte
		opts  VerifyOptions
		want  error // nil: accepted
	}{
		{"valid", proof, ring.JWKS(), testOptions(kid), nil},
		{"valid without pin", proof, ring.JWKS(), testOptions(""), nil},
		{"within leeway after exp", proof, ring.JWKS(), leewayOpts, nil},
		{"tampered payload", parts[0] + "." + forgedPayload + "." + parts[2], ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"tampered header", otherHeader + "." + parts[1] + "." + parts[2], ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:40], ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"signed by another key under our kid", handSign(t, otherPriv, hdr, payloadJSON(nil)), ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`","typ":"mutualauth-proof+jwt"}`)) + "." + parts[1] + ".", ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"alg HS256", b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+kid+`","typ":"mutualauth-proof+jwt"}`)) + "." + parts[1] + "." + parts[2], ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"alg ES384", handSign(t, priv, `{"alg":"ES384","kid":"`+kid+`","typ":"mutualauth-proof+jwt"}`, payloadJSON(nil)), ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"wrong typ", handSign(t, priv, `{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`, payloadJSON(nil)), ring.JWKS(), testOptions(kid), ErrClaims},
		{"wrong nonce", proof, ring.JWKS(), opt(func(o *VerifyOptions) { o.Nonce = "another-nonce" }), ErrClaims},
		{"wrong audience", proof, ring.JWKS(), opt(func(o *VerifyOptions) { o.Audience = "https://evil.example" }), ErrClaims},
		{"high-S twin of the valid signature", highS(t, proof), ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"hand-signed high-S", handSignS(t, priv, hdr, payloadJSON(nil), true), ring.JWKS(), testOptions(kid), ErrBadSignature},
		{"another login_id", proof, ring.JWKS(), opt(func(o *VerifyOptions) { o.LoginID = "another-login" }), ErrClaims},
		{"no login_id", handSign(t, priv, hdr, payloadJSON(func(m map[string]any) { delete(m, "login_id") })), ring.JWKS(), testOptions(kid), ErrMalformed},
		{"crit header", handSign(t, priv, `{"alg":"ES256","kid":"`+kid+`","typ":"mutualauth-proof+jwt","crit":["x"],"x":1}`, payloadJSON(nil)), ring.JWKS(), testOptions(kid), ErrMalformed},
		{"wrong issuer", proof, ring.JWKS(), opt(func(o *VerifyOptions) { o.Issuer = "https://login.example.co" }), ErrClaims},
		{"expired", proof, ring.JWKS(), expiredOpts, ErrExpired},
		{"issued in the future", proof, ring.JWKS(), earlyOpts, ErrClaims},
		{"lifetime over 300 s", handSign(t, priv, hdr, payloadJSON(func(m map[string]any) { m["exp"] = testNow.Unix() + 301 })), ring.JWKS(), testOptions(kid), ErrClaims},
		{"exp before iat", handSign(t, priv, hdr, payloadJSON(func(m map[string]any) { m["exp"] = testNow.Unix() - 1 })), ring.JWKS(), testOptions(kid), ErrClaims},
		{"aud as array", handSign(t, priv, hdr, payloadJSON(func(m map[string]any) { m["aud"] = []string{testClaims().Audience} })), ring.JWKS(), testOptions(kid), ErrMalformed},
		{"no exp", handSign(t, priv, hdr, payloadJSON(func(m map[string]any) { delete(m, "exp") })), ring.JWKS(), testOptions(kid), ErrMalformed},
		{"no nonce", handSign(t, priv, hdr, payloadJSON(func(m map[string]any) { delete(m, "nonce") })), ring.JWKS(), testOptions(kid), ErrMalformed},
		{"unknown kid", proof, other.JWKS(), testOptions(""), ErrUnknownKey},
		{"no kid", handSign(t, priv, `{"alg":"ES256","typ":"mutualauth-proof+jwt"}`, payloadJSON(nil)), ring.JWKS(), testOptions(""), ErrUnknownKey},
		{"jwks entry is another key under our kid", proof, []byte(swappedJWKS), testOptions(""), ErrUnknownKey},
		{"pin mismatch", proof, ring.JWKS(), testOptions(other.ActiveKID()), ErrPinMismatch},
		{"pinned key served but proof by another", proof, []byte(`{"keys":[` + jwkOf(t, ring) + `,` + jwkOf(t, other) + `]}`), testOptions(other.ActiveKID()), ErrPinMismatch},
		{"two parts", parts[0] + "." + parts[1], ring.JWKS(), testOptions(kid), ErrMalformed},
		{"four parts", proof + ".x", ring.JWKS(), testOptions(kid), ErrMalformed},
		{"empty", "", ring.JWKS(), testOptions(kid), ErrMalformed},
		{"header not base64", "!!." + parts[1] + "." + parts[2], ring.JWKS(), testOptions(kid), ErrMalformed},
		{"header not JSON", b64.EncodeToString([]byte("alg")) + "." + parts[1] + "." + parts[2], ring.JWKS(), testOptions(kid), ErrMalformed},
		{"claims not JSON", handSign(t, priv, hdr, "not json"), ring.JWKS(), testOptions(kid), ErrMalformed},
		{"jwks not JSON", proof, []byte("nope"), testOptions(kid), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Verify(c.proof, c.jwks, c.opts)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify err = %v, want %v", err, c.want)
			}
			if got != (ProofClaims{}) {
				t.Errorf("claims returned with an error: %+v", got)
			}
		})
	}
}

func jwkOf(t *testing.T, r *Ring) string {
	t.Helper()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	return string(set.Keys[0])
}

func TestVerifyNeedsExpectations(t *testing.T) {
	ring, _ := testRing(t)
	proof, _ := ring.Sign(testClaims())
	for _, o := range []VerifyOptions{
		{Audience: "a", Nonce: "n"},
		{Issuer: "i", Nonce: "n"},
		{Issuer: "i", Audience: "a"},
	} {
		if _, err := Verify(proof, ring.JWKS(), o); err == nil {
			t.Errorf("Verify with %+v: no error", o)
		}
	}
}

func TestVerifyRefusesPrivateJWK(t *testing.T) {
	ring, priv := testRing(t)
	proof, _ := ring.Sign(testClaims())
	private := jose.JSONWebKey{Key: priv, KeyID: ring.ActiveKID(), Algorithm: "ES256", Use: "sig"}
	b, err := json.Marshal(struct {
		Keys []jose.JSONWebKey `json:"keys"`
	}{[]jose.JSONWebKey{private}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(proof, b, testOptions("")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify with a private JWK: %v", err)
	}
}

func TestSignConcurrently(t *testing.T) {
	ring, _ := testRing(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := testClaims()
			for j := range 50 {
				c.Nonce = fmt.Sprintf("nonce-%d-%d", i, j)
				proof, err := ring.Sign(c)
				if err != nil {
					errs <- err
					return
				}
				o := testOptions(ring.ActiveKID())
				o.Nonce = c.Nonce
				if _, err := Verify(proof, ring.JWKS(), o); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkSign(b *testing.B) {
	ring, _ := testRing(b)
	c := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ring.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignParallel(b *testing.B) {
	ring, _ := testRing(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := testClaims()
		for pb.Next() {
			if _, err := ring.Sign(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	ring, _ := testRing(b)
	proof, err := ring.Sign(testClaims())
	if err != nil {
		b.Fatal(err)
	}
	jwks := ring.JWKS()
	c := testClaims()
	opts := VerifyOptions{Issuer: c.Issuer, Audience: c.Audience, Nonce: c.Nonce, Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(proof, jwks, opts); err != nil {
			b.Fatal(err)
		}
	}
}
