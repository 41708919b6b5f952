package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

// fuzzKeyPEM is a P-256 key made for this test only, fixed so that seeds
// (here and in testdata/fuzz) hold proofs that verify in every fuzz worker.
const fuzzKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgK61IFoSqzq0ZgZ1r
jFL+u2Q4Nfxelx5iw5pprvd+LgmhRANCAASAVyOEZW6EFzeKAIV+PFPyvp70/kxL
OTdaBXJwQHrzLWQhjVGPf+NiVYg2wX3tqCH7nr06Xv6Hd06xMTAw1PA+
-----END PRIVATE KEY-----
`

// otherFuzzKeyPEM signs proofs that a pinned verifier must refuse.
const otherFuzzKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgal7jpe1b2ptAcjMV
BZlefYjeRuwW4YzyZQZFRgrw2PehRANCAASVE+Ze6g4eqzRSHh0qtPHZ9fCJ7BZe
dF179YOR2qk916mWkDgzH+g7ik61kFOHRq0y73ZG1qLRWoYw4Ux8W/W+
-----END PRIVATE KEY-----
`

// FuzzVerify feeds Verify any proof and any JWKS. Whatever it accepts must
// carry the expected claims and be signed over exactly the header and
// claims this test signed with the fixed key: no other input can verify,
// so a success on anything else (alg none, HMAC keyed with the public key,
// a key smuggled in through the JWKS, a changed claim) is a forgery.
func FuzzVerify(f *testing.F) {
	ring, err := LoadPEM([]byte(fuzzKeyPEM))
	if err != nil {
		f.Fatal(err)
	}
	jwks := ring.JWKS()
	kid := ring.ActiveKID()
	proof, err := ring.Sign(testClaims())
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(proof, ".")

	none := b64.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`","typ":"mutualauth-proof+jwt"}`)) + "." + parts[1] + "."
	hsHeader := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"` + kid + `","typ":"mutualauth-proof+jwt"}`))
	mac := hmac.New(sha256.New, jwks)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hs := hsHeader + "." + parts[1] + "." + b64.EncodeToString(mac.Sum(nil))
	otherRing, err := LoadPEM([]byte(otherFuzzKeyPEM))
	if err != nil {
		f.Fatal(err)
	}
	forged, _ := otherRing.Sign(testClaims())
	// The signing inputs (header.claims) of every proof made here, and the
	// key that signed each.
	signedBy := map[string]string{}
	for _, p := range []struct{ proof, kid string }{{proof, kid}, {forged, otherRing.ActiveKID()}} {
		q := strings.Split(p.proof, ".")
		signedBy[q[0]+"."+q[1]] = p.kid
	}
	smuggled := b64.EncodeToString([]byte(`{"alg":"ES256","kid":"`+otherRing.ActiveKID()+`","typ":"mutualauth-proof+jwt","jwk":`+
		string(otherRing.JWKS()[8:len(otherRing.JWKS())-2])+`}`)) + "." + strings.SplitN(forged, ".", 2)[1]
	for _, s := range []struct {
		proof string
		jwks  []byte
	}{
		{proof, jwks}, {proof, []byte(`{"keys":[]}`)}, {proof, otherRing.JWKS()}, {forged, jwks}, {forged, otherRing.JWKS()},
		{none, jwks}, {hs, jwks}, {smuggled, jwks}, {proof + ".", jwks}, {parts[0] + ".." + parts[2], jwks},
		{strings.Replace(proof, ".", "=.", 1), jwks}, {"", jwks}, {"a.b.c", []byte("null")}, {proof, []byte(`{"keys":[{"kid":"` + kid + `"}]}`)},
	} {
		f.Add(s.proof, s.jwks)
	}
	want := testOptions(kid)
	f.Fuzz(func(t *testing.T, jws string, set []byte) {
		for _, opts := range []VerifyOptions{want, {Issuer: want.Issuer, Audience: want.Audience, Nonce: want.Nonce, LoginID: want.LoginID, Now: want.Now}} {
			claims, err := Verify(jws, set, opts)
			if err != nil {
				continue
			}
			p := strings.Split(jws, ".")
			signer, ok := "", false
			if len(p) == 3 {
				signer, ok = signedBy[p[0]+"."+p[1]]
			}
			if !ok {
				t.Fatalf("Verify accepted a proof this test never signed:\n%q\nwith JWKS %q", jws, set)
			}
			if opts.PinnedKID != "" && signer != opts.PinnedKID {
				t.Fatalf("Verify accepted a proof signed by %s while %s is pinned", signer, opts.PinnedKID)
			}
			c := testClaims()
			if claims.Issuer != c.Issuer || claims.Audience != c.Audience || claims.Nonce != c.Nonce || claims.Phrase != c.Phrase {
				t.Fatalf("Verify returned claims %+v for the signed %+v", claims, c)
			}
		}
	})
}
