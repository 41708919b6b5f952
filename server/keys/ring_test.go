package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/server/secretbox"
	"mutualauth/store"
)

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwksKIDs(t *testing.T, jwks []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func TestLoadCreatesFirstKey(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	ring, err := Load(ctx, st, box, testNow)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := st.ListSigningKeys(ctx)
	if len(stored) != 1 {
		t.Fatalf("%d keys stored, want 1", len(stored))
	}
	k := stored[0]
	if k.Generation != 1 || k.KID != ring.ActiveKID() || !k.CreatedAt.Equal(testNow) || !k.RetiredAt.IsZero() {
		t.Errorf("stored key %+v, ring kid %s", k, ring.ActiveKID())
	}
	if ring.Generation() != 1 {
		t.Errorf("generation %d", ring.Generation())
	}
	// Sealed with the box under "signing-key:<kid>", holding PKCS#8 DER of the signing key.
	if _, err := box.Open(k.Sealed, []byte("signing-key:other")); !errors.Is(err, secretbox.ErrDecrypt) {
		t.Error("sealed key opens with other additional data")
	}
	der, err := box.Open(k.Sealed, []byte("signing-key:"+k.KID))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	priv := parsed.(*ecdsa.PrivateKey)
	if bytes.Contains(k.Sealed, der[len(der)-40:]) {
		t.Error("sealed value contains key material in the clear")
	}
	proof, err := ring.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	independentVerify(t, proof, ring.JWKS())
	// The stored private key is the one that signs.
	pinned, err := LoadPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if pinned.ActiveKID() != ring.ActiveKID() || priv.Curve != elliptic.P256() {
		t.Error("stored key is not the ring's key")
	}

	again, err := Load(ctx, st, box, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.ActiveKID() != ring.ActiveKID() || !bytes.Equal(again.JWKS(), ring.JWKS()) {
		t.Error("a second Load made another ring")
	}
	if stored, _ := st.ListSigningKeys(ctx); len(stored) != 1 {
		t.Errorf("%d keys after the second Load", len(stored))
	}
}

func TestLoadWithWrongEncryptionKey(t *testing.T) {
	ctx := context.Background()
	st := newMemKeys()
	if _, err := Load(ctx, st, newBox(t), testNow); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, st, newBox(t), testNow)
	if !errors.Is(err, ErrEncryptionKeyMismatch) {
		t.Fatalf("Load with another box: %v, want ErrEncryptionKeyMismatch", err)
	}
	if !strings.Contains(err.Error(), "MUTUALAUTH_ENCRYPTION_KEY") {
		t.Errorf("error %q does not name MUTUALAUTH_ENCRYPTION_KEY", err)
	}
	if stored, _ := st.ListSigningKeys(ctx); len(stored) != 1 {
		t.Errorf("Load with the wrong key changed the store: %d keys", len(stored))
	}
}

func TestLoadRejectsKeyNotMatchingKID(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	const kid = "not-the-thumbprint"
	sealed, _ := box.Seal(der, []byte("signing-key:"+kid))
	if err := st.AddSigningKey(ctx, store.SigningKey{Generation: 1, KID: kid, Sealed: sealed, CreatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, st, box, testNow); err == nil {
		t.Fatal("Load accepted a stored key whose kid is not its thumbprint")
	}
}

func TestConcurrentLoadMakesOneKey(t *testing.T) {
	ctx := context.Background()
	const n = 8
	st, box := newMemKeys(), newBox(t)
	st.holdLists = n // all n see an empty store and try to add generation 1
	rings := make([]*Ring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rings[i], errs[i] = Load(ctx, st, box, testNow)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Load %d: %v", i, errs[i])
		}
		if rings[i].ActiveKID() != rings[0].ActiveKID() {
			t.Fatalf("Load %d has kid %s, Load 0 %s", i, rings[i].ActiveKID(), rings[0].ActiveKID())
		}
	}
	stored, _ := st.ListSigningKeys(ctx)
	if len(stored) != 1 {
		t.Fatalf("%d keys stored, want 1", len(stored))
	}
	if st.adds != n {
		t.Errorf("%d AddSigningKey calls, want %d: the race did not happen", st.adds, n)
	}
	if stored[0].KID != rings[0].ActiveKID() {
		t.Error("the rings do not use the stored key")
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	r1, err := Load(ctx, st, box, testNow)
	if err != nil {
		t.Fatal(err)
	}
	old, err := r1.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}

	r2, err := Rotate(ctx, st, box, testNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r2.ActiveKID() == r1.ActiveKID() || r2.Generation() != 2 {
		t.Fatalf("rotation kept kid %s, generation %d", r2.ActiveKID(), r2.Generation())
	}
	if got := jwksKIDs(t, r2.JWKS()); len(got) != 2 || got[0] != r2.ActiveKID() || got[1] != r1.ActiveKID() {
		t.Errorf("JWKS kids after the first rotation %v, want [new old]", got)
	}
	// Overlap: a proof from the old key verifies against the new JWKS, for a
	// client still pinned to the old key; new proofs are signed by the new key.
	if _, err := Verify(old, r2.JWKS(), testOptions(r1.ActiveKID())); err != nil {
		t.Errorf("old proof against the new JWKS: %v", err)
	}
	fresh, _ := r2.Sign(testClaims())
	independentVerify(t, fresh, r2.JWKS())
	if _, err := Verify(fresh, r2.JWKS(), testOptions(r1.ActiveKID())); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("new proof for a client pinned to the old key: %v", err)
	}
	// Another instance loading now signs with the new key.
	r2b, err := Load(ctx, st, box, testNow.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r2b.ActiveKID() != r2.ActiveKID() || !bytes.Equal(r2b.JWKS(), r2.JWKS()) {
		t.Error("Load after Rotate differs from the rotated ring")
	}

	r3, err := Rotate(ctx, st, box, testNow.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, r3.JWKS()); len(got) != 2 || got[0] != r3.ActiveKID() || got[1] != r2.ActiveKID() {
		t.Errorf("JWKS kids after the second rotation %v, want [gen3 gen2]", got)
	}
	if _, err := Verify(old, r3.JWKS(), testOptions("")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("generation-1 proof after its retirement: %v", err)
	}
	stored, _ := st.ListSigningKeys(ctx)
	if len(stored) != 3 {
		t.Fatalf("%d keys stored", len(stored))
	}
	for _, k := range stored {
		retired := !k.RetiredAt.IsZero()
		if retired != (k.Generation == 1) {
			t.Errorf("generation %d retired=%v", k.Generation, retired)
		}
		if k.Generation == 1 && !k.RetiredAt.Equal(testNow.Add(48*time.Hour)) {
			t.Errorf("retired at %s", k.RetiredAt)
		}
	}
}

func TestRotateOnEmptyStoreLoads(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	r, err := Rotate(ctx, st, box, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Generation() != 1 || len(jwksKIDs(t, r.JWKS())) != 1 {
		t.Errorf("generation %d, JWKS %s", r.Generation(), r.JWKS())
	}
}

func TestLoadAfterAllRetired(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	r1, err := Load(ctx, st, box, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RetireSigningKey(ctx, 1, testNow); err != nil {
		t.Fatal(err)
	}
	r2, err := Load(ctx, st, box, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Generation() != 2 || r2.ActiveKID() == r1.ActiveKID() {
		t.Errorf("generation %d kid %s after all keys were retired", r2.Generation(), r2.ActiveKID())
	}
}

func TestLoadPEMFormats(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wantKID, _ := Thumbprint(&p256.PublicKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(p256)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	good := map[string][]byte{
		"pkcs8":             pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"sec1":              pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"openssl ecparam":   append(bytes.Clone(params), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...),
		"text around block": append([]byte("comment line\n"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...),
	}
	for name, b := range good {
		r, err := LoadPEM(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.ActiveKID() != wantKID || r.Generation() != 0 {
			t.Errorf("%s: kid %s generation %d", name, r.ActiveKID(), r.Generation())
		}
		proof, err := r.Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		independentVerify(t, proof, r.JWKS())
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	p384sec1, _ := x509.MarshalECPrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	bad := map[string][]byte{
		"empty":         nil,
		"not PEM":       []byte("hello"),
		"P-384 pkcs8":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384der}),
		"P-384 sec1":    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384sec1}),
		"RSA":           pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}),
		"Ed25519":       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}),
		"public key":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		"garbage DER":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"sec1 in pkcs8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sec1}),
		"only params":   params,
		"encrypted PEM": pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}),
	}
	for name, b := range bad {
		if _, err := LoadPEM(b); err == nil {
			t.Errorf("%s: LoadPEM accepted it", name)
		} else if strings.Contains(err.Error(), string(b)) && len(b) > 0 {
			t.Errorf("%s: error echoes the input", name)
		}
	}
}

func TestConcurrentRotateAddsOneGeneration(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	if _, err := Load(ctx, st, box, testNow); err != nil {
		t.Fatal(err)
	}
	const n = 4
	st.holdLists = n // all n see generation 1 only and try to add generation 2
	rings := make([]*Ring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rings[i], errs[i] = Rotate(ctx, st, box, testNow.Add(time.Hour))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Rotate %d: %v", i, errs[i])
		}
		if rings[i].ActiveKID() != rings[0].ActiveKID() || rings[i].Generation() != 2 {
			t.Fatalf("Rotate %d: kid %s generation %d", i, rings[i].ActiveKID(), rings[i].Generation())
		}
	}
	if stored, _ := st.ListSigningKeys(ctx); len(stored) != 2 {
		t.Fatalf("%d keys stored, want 2", len(stored))
	}
}
