package passkey

import (
	"bytes"
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
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"mutualauth/store"
)

// The fuzz targets use a fixed relying party, user, credential key and
// challenge, so that seeds (here and in testdata/fuzz) stay valid
// assertions and attestations in every fuzz worker.
const (
	fuzzRPID      = "login.example"
	fuzzOrigin    = "https://login.example"
	fuzzUserID    = "00112233445566778899aabbccddeeff"
	fuzzChallenge = "Zm9yLWZ1enppbmctb25seS1hLWZpeGVkLWNoYWxsZW5nZQ"
	// fuzzKeyD is the private scalar of the test credential, made for this
	// test only.
	fuzzKeyD = "6f1c1a4fb0b2d35b3d1c8b6c55d86b4b2b1f6f0d7d3e44e7b2a6f1e0c9d8b7a6"
)

var fuzzCredID = []byte("fuzz-credential-0001")

func fuzzKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	d, _ := hex.DecodeString(fuzzKeyD)
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func coseKey(tb testing.TB, pub *ecdsa.PublicKey) []byte {
	tb.Helper()
	point, err := pub.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256), XCoord: point[1:33], YCoord: point[33:65],
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func fuzzUser(tb testing.TB, withCredential bool) User {
	u := User{Account: store.User{ID: fuzzUserID, Username: "fuzz", DisplayName: "Fuzz"}}
	if withCredential {
		u.Credentials = []store.Credential{{
			ID: fuzzCredID, UserID: fuzzUserID, PublicKey: coseKey(tb, &fuzzKey(tb).PublicKey), AttestationType: "none",
			UserPresent: true, UserVerified: true, SignCount: 3,
		}}
	}
	return u
}

// fixed replaces a ceremony's random challenge and expiry by fixed ones.
func fixed(c Ceremony) Ceremony {
	c.Session.Challenge = fuzzChallenge
	c.Session.Expires = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	return c
}

var b64u = base64.RawURLEncoding.EncodeToString

func clientData(typ string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": fuzzChallenge, "origin": fuzzOrigin, "crossOrigin": false})
	return b
}

// assertion is a valid answer to the fixed login ceremony, signed by the
// fixed key with sign count count.
func assertion(tb testing.TB, count uint32) []byte {
	cdj := clientData("webauthn.get")
	rpHash := sha256.Sum256([]byte(fuzzRPID))
	ad := binary.BigEndian.AppendUint32(append(rpHash[:], 0x05), count)
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(bytes.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, fuzzKey(tb), digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64u(fuzzCredID), "rawId": b64u(fuzzCredID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64u(cdj), "authenticatorData": b64u(ad), "signature": b64u(sig),
			"userHandle": b64u(UserHandle(fuzzUserID))},
	})
	return b
}

// attestation is a valid "none" attestation of the fixed key for the fixed
// registration ceremony.
func attestation(tb testing.TB) []byte {
	cdj := clientData("webauthn.create")
	rpHash := sha256.Sum256([]byte(fuzzRPID))
	ad := binary.BigEndian.AppendUint32(append(rpHash[:], 0x45), 0) // UP | UV | AT
	ad = append(ad, make([]byte, 16)...)                            // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(fuzzCredID)))
	ad = append(append(ad, fuzzCredID...), coseKey(tb, &fuzzKey(tb).PublicKey)...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64u(fuzzCredID), "rawId": b64u(fuzzCredID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64u(cdj), "attestationObject": b64u(att), "transports": []string{"internal"}},
	})
	return b
}

func fuzzRP(tb testing.TB) *RP {
	rp, err := New(fuzzRPID, "fuzz", fuzzOrigin)
	if err != nil {
		tb.Fatal(err)
	}
	return rp
}

// checkClientData is the relying party's part of the ceremony, done again
// here without the library: the client data must name this ceremony's
// type, challenge and origin, and the authenticator data this RP ID.
func checkClientData(t *testing.T, cdj, authData []byte, typ string) {
	t.Helper()
	var cd struct{ Type, Challenge, Origin string }
	if err := json.Unmarshal(cdj, &cd); err != nil || cd.Type != typ || cd.Challenge != fuzzChallenge || cd.Origin != fuzzOrigin {
		t.Fatalf("accepted client data %q (%v)", cdj, err)
	}
	rpHash := sha256.Sum256([]byte(fuzzRPID))
	if len(authData) < 37 || !bytes.Equal(authData[:32], rpHash[:]) || authData[32]&0x01 == 0 {
		t.Fatalf("accepted authenticator data %x: wrong RP ID hash or no user presence", authData)
	}
}

// FuzzFinishLogin feeds any PublicKeyCredential JSON to FinishLogin for a
// user with one registered credential. Every failure wraps ErrInvalid (or
// is the lookup's), and a success must pass an independent check: the
// ES256 signature over authenticatorData || SHA-256(clientDataJSON) by the
// registered key (WebAuthn §7.2 step 21), and the ceremony's type,
// challenge, origin and RP ID.
func FuzzFinishLogin(f *testing.F) {
	rp := fuzzRP(f)
	valid := assertion(f, 7)
	f.Add(valid)
	f.Add(assertion(f, 3)) // the counter did not grow: a clone warning, still a valid signature
	f.Add(bytes.Replace(valid, []byte(`"type":"public-key"`), []byte(`"type":"public-key","type":"x"`), 1))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Add([]byte(`null`))
	errLookup := errors.New("lookup refused")
	f.Fuzz(func(t *testing.T, credJSON []byte) {
		for _, discoverable := range []bool{false, true} {
			u := fuzzUser(t, true)
			var cer Ceremony
			var err error
			if discoverable {
				_, cer, err = rp.BeginLogin(nil, nil)
			} else {
				_, cer, err = rp.BeginLogin(&u, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			cer = fixed(cer)
			lookup := func(handle []byte) (User, error) {
				if UserIDFromHandle(handle) != fuzzUserID {
					return User{}, errLookup
				}
				return u, nil
			}
			_, cred, err := rp.FinishLogin(cer, credJSON, lookup)
			if err != nil {
				if !errors.Is(err, ErrInvalid) && !errors.Is(err, errLookup) {
					t.Fatalf("FinishLogin failed with %v, which wraps neither ErrInvalid nor the lookup's error", err)
				}
				continue
			}
			parsed, perr := protocol.ParseCredentialRequestResponseBytes(credJSON)
			if perr != nil || cred == nil || !bytes.Equal(cred.ID, fuzzCredID) {
				t.Fatalf("FinishLogin accepted %s (parse: %v)", credJSON, perr)
			}
			raw := parsed.Raw.AssertionResponse
			checkClientData(t, raw.ClientDataJSON, raw.AuthenticatorData, "webauthn.get")
			cdHash := sha256.Sum256(raw.ClientDataJSON)
			digest := sha256.Sum256(append(bytes.Clone([]byte(raw.AuthenticatorData)), cdHash[:]...))
			if !ecdsa.VerifyASN1(&fuzzKey(t).PublicKey, digest[:], raw.Signature) {
				t.Fatalf("FinishLogin accepted a signature the credential's key did not make: %s", credJSON)
			}
		}
	})
}

// FuzzFinishRegistration feeds any PublicKeyCredential JSON to
// FinishRegistration. Every failure wraps ErrInvalid, and a success must
// answer this ceremony (type webauthn.create, its challenge and origin,
// this RP ID, user presence) with a credential whose key is usable.
func FuzzFinishRegistration(f *testing.F) {
	rp := fuzzRP(f)
	valid := attestation(f)
	f.Add(valid)
	f.Add(bytes.Replace(valid, []byte(`"type":"public-key"`), []byte(`"type":"private-key"`), 1))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, credJSON []byte) {
		u := fuzzUser(t, false)
		_, cer, err := rp.BeginRegistration(u)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := rp.FinishRegistration(u, fixed(cer), credJSON)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("FinishRegistration failed with %v, which does not wrap ErrInvalid", err)
			}
			return
		}
		parsed, perr := protocol.ParseCredentialCreationResponseBytes(credJSON)
		if perr != nil || cred == nil || len(cred.ID) == 0 {
			t.Fatalf("FinishRegistration accepted %s (parse: %v)", credJSON, perr)
		}
		checkClientData(t, parsed.Raw.AttestationResponse.ClientDataJSON, parsed.Response.AttestationObject.RawAuthData, "webauthn.create")
		if _, err := webauthncose.ParsePublicKey(cred.PublicKey); err != nil {
			t.Fatalf("FinishRegistration accepted a credential whose public key does not parse: %v", err)
		}
		rec := FromLibrary(fuzzUserID, cred, "fuzz", time.Unix(0, 0))
		if !bytes.Equal(rec.ID, cred.ID) || !bytes.Equal(rec.PublicKey, cred.PublicKey) {
			t.Fatal("the stored record differs from the registered credential")
		}
	})
}

// TestFuzzSeedsVerify keeps the fuzz targets honest: their valid seeds
// must succeed, or the fuzzer never reaches the success paths it checks.
func TestFuzzSeedsVerify(t *testing.T) {
	rp := fuzzRP(t)
	u := fuzzUser(t, true)
	_, cer, err := rp.BeginLogin(&u, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, cred, err := rp.FinishLogin(fixed(cer), assertion(t, 7), func([]byte) (User, error) { return u, nil })
	if err != nil || cred.Authenticator.SignCount != 7 || cred.Authenticator.CloneWarning {
		t.Fatalf("the valid assertion seed: %v %+v", err, cred)
	}
	_, cer, err = rp.BeginLogin(&u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, cred, err = rp.FinishLogin(fixed(cer), assertion(t, 3), func([]byte) (User, error) { return u, nil }); err == nil && !cred.Authenticator.CloneWarning {
		t.Fatal("a counter that did not grow gave no clone warning")
	}
	reg := fuzzUser(t, false)
	_, rcer, err := rp.BeginRegistration(reg)
	if err != nil {
		t.Fatal(err)
	}
	if cred, err := rp.FinishRegistration(reg, fixed(rcer), attestation(t)); err != nil || !bytes.Equal(cred.ID, fuzzCredID) {
		t.Fatalf("the valid attestation seed: %v", err)
	}
}
