package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

const testIssuer = "https://login.example.com"

func newKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return priv, kid
}

func jwksOf(t *testing.T, privs ...*ecdsa.PrivateKey) []byte {
	t.Helper()
	var set struct {
		Keys []jose.JSONWebKey `json:"keys"`
	}
	for _, p := range privs {
		kid, _ := Thumbprint(&p.PublicKey)
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &p.PublicKey, KeyID: kid, Algorithm: Algorithm, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHandover(t *testing.T, old, next *ecdsa.PrivateKey, issuer string) string {
	t.Helper()
	h, err := signHandover(old, issuer, &next.PublicKey, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandoverShape(t *testing.T) {
	a, kidA := newKey(t)
	b, kidB := newKey(t)
	h := mustHandover(t, a, b, testIssuer)
	parts := strings.Split(h, ".")
	hdr, _ := b64.DecodeString(parts[0])
	if want := `{"alg":"ES256","kid":"` + kidA + `","typ":"mutualauth-handover+jwt"}`; string(hdr) != want {
		t.Errorf("header %s, want %s", hdr, want)
	}
	var claims map[string]any
	payload, _ := b64.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if len(claims) != 5 || claims["iss"] != testIssuer || claims["old_kid"] != kidA || claims["new_kid"] != kidB || claims["iat"] != float64(testNow.Unix()) {
		t.Errorf("claims %v", claims)
	}
	jwk, _ := claims["new_jwk"].(map[string]any)
	if jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk["d"] != nil || handThumbprint("P-256", jwk["x"].(string), jwk["y"].(string)) != kidB {
		t.Errorf("new_jwk %v", jwk)
	}
	got, err := VerifyHandover(h, kidA, &a.PublicKey, testIssuer)
	if err != nil || got.NewKID != kidB || !got.NewKey.Equal(&b.PublicKey) {
		t.Fatalf("VerifyHandover: %+v, %v", got, err)
	}
}

func TestVerifyHandoverRejects(t *testing.T) {
	a, kidA := newKey(t)
	b, kidB := newKey(t)
	evil, kidEvil := newKey(t)
	good := mustHandover(t, a, b, testIssuer)
	hdr := `{"alg":"ES256","kid":"` + kidA + `","typ":"mutualauth-handover+jwt"}`
	bJWK, _ := json.Marshal(jose.JSONWebKey{Key: &b.PublicKey, KeyID: kidB, Algorithm: Algorithm, Use: "sig"})
	payload := func(mutate func(map[string]any)) string {
		m := map[string]any{"iss": testIssuer, "old_kid": kidA, "new_kid": kidB, "new_jwk": json.RawMessage(bJWK), "iat": testNow.Unix()}
		if mutate != nil {
			mutate(m)
		}
		out, _ := json.Marshal(m)
		return string(out)
	}
	if _, err := VerifyHandover(handSign(t, a, hdr, payload(nil)), kidA, &a.PublicKey, testIssuer); err != nil {
		t.Fatalf("control: %v", err)
	}
	cases := map[string]struct {
		jws  string
		want error
	}{
		"high-S":                    {highS(t, good), ErrBadSignature},
		"signed by another key":     {handSign(t, evil, hdr, payload(nil)), ErrBadSignature},
		"proof typ":                 {handSign(t, a, `{"alg":"ES256","kid":"`+kidA+`","typ":"mutualauth-proof+jwt"}`, payload(nil)), ErrClaims},
		"kid of another key":        {mustHandover(t, evil, b, testIssuer), ErrUnknownKey},
		"another issuer":            {mustHandover(t, a, b, "https://evil.example"), ErrClaims},
		"old_kid not the signer":    {handSign(t, a, hdr, payload(func(m map[string]any) { m["old_kid"] = kidEvil })), ErrClaims},
		"new_kid not new_jwk":       {handSign(t, a, hdr, payload(func(m map[string]any) { m["new_kid"] = kidEvil })), ErrUnknownKey},
		"private new_jwk":           {handSign(t, a, hdr, payload(func(m map[string]any) { m["new_jwk"] = jose.JSONWebKey{Key: b, KeyID: kidB} })), ErrUnknownKey},
		"no iat":                    {handSign(t, a, hdr, payload(func(m map[string]any) { delete(m, "iat") })), ErrMalformed},
		"no new_jwk":                {handSign(t, a, hdr, payload(func(m map[string]any) { delete(m, "new_jwk") })), ErrMalformed},
		"alg none":                  {b64.EncodeToString([]byte(`{"alg":"none","kid":"`+kidA+`","typ":"mutualauth-handover+jwt"}`)) + "." + strings.Split(good, ".")[1] + ".", ErrBadSignature},
		"truncated":                 {good[:len(good)-5], ErrBadSignature},
		"not a JWS":                 {"a.b", ErrMalformed},
		"claims not JSON":           {handSign(t, a, hdr, "[]"), ErrMalformed},
		"tampered new key (evil's)": {strings.Split(good, ".")[0] + "." + strings.Split(mustHandover(t, a, evil, testIssuer), ".")[1] + "." + strings.Split(good, ".")[2], ErrBadSignature},
	}
	for name, c := range cases {
		if _, err := VerifyHandover(c.jws, kidA, &a.PublicKey, testIssuer); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestFollowHandovers(t *testing.T) {
	a, kidA := newKey(t)
	b, kidB := newKey(t)
	c, kidC := newKey(t)
	evil, kidEvil := newKey(t)
	ab, bc := mustHandover(t, a, b, testIssuer), mustHandover(t, b, c, testIssuer)
	jwks := jwksOf(t, c, b, a)

	chain, err := FollowHandovers(kidA, kidC, []string{ab, bc}, jwks, testIssuer)
	if err != nil || len(chain) != 2 || chain[0].NewKID != kidB || chain[1].NewKID != kidC {
		t.Fatalf("A → B → C: %+v, %v", chain, err)
	}
	// Order in the list does not matter; loops and strangers are ignored.
	ba, ce := mustHandover(t, b, a, testIssuer), mustHandover(t, evil, c, testIssuer)
	if chain, err := FollowHandovers(kidA, kidC, []string{ce, bc, ba, "junk", ab}, jwksOf(t, c, b, a, evil), testIssuer); err != nil || len(chain) != 2 {
		t.Fatalf("shuffled with a loop and a stranger: %+v, %v", chain, err)
	}
	if chain, err := FollowHandovers(kidC, kidC, nil, jwks, testIssuer); err != nil || len(chain) != 0 {
		t.Errorf("pinned key itself: %+v, %v", chain, err)
	}

	refused := map[string]struct {
		pinned, target string
		handovers      []string
		jwks           []byte
	}{
		"missing link":                       {kidA, kidC, []string{bc}, jwks},
		"backwards":                          {kidC, kidA, []string{ab, bc}, jwks},
		"a stranger's handover to itself":    {kidA, kidEvil, []string{ab, mustHandover(t, evil, evil, testIssuer)}, jwksOf(t, evil, b, a)},
		"middle key no longer published":     {kidA, kidC, []string{ab, bc}, jwksOf(t, c, a)},
		"pinned key no longer published":     {kidA, kidC, []string{ab, bc}, jwksOf(t, c, b)},
		"another issuer's chain":             {kidA, kidC, []string{mustHandover(t, a, b, "https://evil.example"), bc}, jwks},
		"published key differs from new_jwk": {kidA, kidC, []string{ab, bc}, []byte(strings.Replace(string(jwksOf(t, c, b, a)), kidB, kidEvil, 1))},
	}
	for name, c := range refused {
		if _, err := FollowHandovers(c.pinned, c.target, c.handovers, c.jwks, testIssuer); !errors.Is(err, ErrPinMismatch) {
			t.Errorf("%s: %v, want ErrPinMismatch", name, err)
		}
	}
}
