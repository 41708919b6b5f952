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

// TestRotate: each rotation adds a key that signs only after
// ActivationDelay, keeps every earlier key published, and publishes a
// handover from the previous key; a client pinned to the first key follows
// the chain to the third.
func TestRotate(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	const issuer = "https://login.example.com"
	t1 := testNow.Add(-48 * time.Hour)
	r1, err := Load(ctx, st, box, t1)
	if err != nil {
		t.Fatal(err)
	}
	kid1 := r1.ActiveKIDAt(testNow)
	old, err := r1.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}

	t2 := testNow.Add(-24 * time.Hour)
	r2, err := Rotate(ctx, st, box, issuer, t2)
	if err != nil {
		t.Fatal(err)
	}
	kid2 := r2.ActiveKIDAt(testNow)
	if kid2 == kid1 || r2.ActiveKIDAt(t2.Add(ActivationDelay-time.Second)) != kid1 {
		t.Fatalf("rotation: active %s, before the activation delay %s, old %s", kid2, r2.ActiveKIDAt(t2), kid1)
	}
	if got := jwksKIDs(t, r2.JWKS()); len(got) != 2 || got[0] != kid2 || got[1] != kid1 {
		t.Errorf("JWKS kids after the first rotation %v, want [new old]", got)
	}
	if h := r2.Handovers(); len(h) != 1 {
		t.Fatalf("%d handovers after one rotation", len(h))
	}
	// A proof from the old key still verifies for a client pinned to it.
	if _, err := Verify(old, r2.JWKS(), testOptions(kid1)); err != nil {
		t.Errorf("old proof against the new JWKS: %v", err)
	}
	fresh, _ := r2.Sign(testClaims())
	independentVerify(t, fresh, r2.JWKS())
	if _, err := Verify(fresh, r2.JWKS(), testOptions(kid1)); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("new proof for a client pinned to the old key, without handovers: %v", err)
	}
	// Another instance loading now signs with the new key.
	r2b, err := Load(ctx, st, box, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r2b.ActiveKIDAt(testNow) != kid2 || !bytes.Equal(r2b.JWKS(), r2.JWKS()) {
		t.Error("Load after Rotate differs from the rotated ring")
	}

	r3, err := Rotate(ctx, st, box, issuer, testNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kid3 := r3.ActiveKIDAt(testNow)
	if got := jwksKIDs(t, r3.JWKS()); len(got) != 3 || got[0] != kid3 || got[1] != kid2 || got[2] != kid1 {
		t.Errorf("JWKS kids after the second rotation %v, want [gen3 gen2 gen1]", got)
	}
	hs := r3.Handovers()
	if len(hs) != 2 {
		t.Fatalf("%d handovers after two rotations", len(hs))
	}
	proof3, _ := r3.Sign(testClaims())
	opts := testOptions(kid1)
	opts.Handovers = hs
	v, err := VerifyProof(proof3, r3.JWKS(), opts)
	if err != nil {
		t.Fatalf("client pinned to generation 1 meeting generation 3: %v", err)
	}
	if v.KID != kid3 || len(v.Chain) != 2 || v.Chain[0].OldKID != kid1 || v.Chain[0].NewKID != kid2 || v.Chain[1].NewKID != kid3 {
		t.Errorf("followed %+v to %s", v.Chain, v.KID)
	}
	// The chain does not run backwards: a client pinned to generation 3
	// refuses a proof by generation 1.
	back := testOptions(kid3)
	back.Handovers = hs
	if _, err := VerifyProof(old, r3.JWKS(), back); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("proof by an older key for a client pinned to a newer one: %v", err)
	}
	// Handovers are listed oldest first.
	h0, err := VerifyHandover(hs[0], kid1, mustKey(t, r3.JWKS(), kid1), issuer)
	if err != nil || h0.NewKID != kid2 || !h0.IssuedAt.Equal(t2) {
		t.Errorf("first handover: %+v, %v", h0, err)
	}
}

func mustKey(t *testing.T, jwks []byte, kid string) *ecdsa.PublicKey {
	t.Helper()
	pub, err := findKey(jwks, kid)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestRevoke: revoking the middle key of A → B → C removes B and both
// handovers through it: a client pinned to A stops, one pinned to C goes on.
// Revoking the active key puts a fresh key in its place at once, with no
// handover from the revoked one.
func TestRevoke(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	const issuer = "https://login.example.com"
	ra, _ := Load(ctx, st, box, testNow.Add(-3*time.Hour))
	kidA := ra.ActiveKIDAt(testNow)
	rb, _ := Rotate(ctx, st, box, issuer, testNow.Add(-2*time.Hour))
	kidB := rb.ActiveKIDAt(testNow)
	rc, _ := Rotate(ctx, st, box, issuer, testNow.Add(-time.Hour))
	kidC := rc.ActiveKIDAt(testNow)

	if _, err := Revoke(ctx, st, box, "no-such-kid", testNow); !errors.Is(err, ErrUnknownKID) {
		t.Errorf("revoking an unknown kid: %v", err)
	}
	r, err := Revoke(ctx, st, box, kidB, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, r.JWKS()); len(got) != 2 || got[0] != kidC || got[1] != kidA {
		t.Errorf("JWKS after revoking B: %v", got)
	}
	if len(r.Handovers()) != 0 {
		t.Errorf("handovers through the revoked key remain: %d", len(r.Handovers()))
	}
	proof, _ := r.Sign(testClaims())
	pinnedA := testOptions(kidA)
	pinnedA.Handovers = rc.Handovers() // even the old, now withdrawn chain
	if _, err := VerifyProof(proof, r.JWKS(), pinnedA); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("client pinned to A after B was revoked: %v", err)
	}
	if _, err := Verify(proof, r.JWKS(), testOptions(kidC)); err != nil {
		t.Errorf("client pinned to C: %v", err)
	}

	r, err = Revoke(ctx, st, box, kidC, testNow)
	if err != nil {
		t.Fatal(err)
	}
	kidD := r.ActiveKIDAt(testNow)
	if kidD == kidC || kidD == kidA {
		t.Fatalf("after revoking the active key, %s signs (A %s, C %s)", kidD, kidA, kidC)
	}
	if len(r.Handovers()) != 0 {
		t.Error("a handover leads to the replacement of a revoked key")
	}
	list, err := List(ctx, st, testNow)
	if err != nil || len(list) != 2 || !list[0].Active || list[0].KID != kidD || list[1].KID != kidA || list[1].Active {
		t.Errorf("List: %+v, %v", list, err)
	}
}

// TestRefresh: a ring loaded before a rotation by someone else picks up the
// new key and handover on Refresh, and keeps its state when nothing changed.
func TestRefresh(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	running, err := Load(ctx, st, box, testNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	before := running.cur.Load()
	if err := running.Refresh(ctx); err != nil || running.cur.Load() != before {
		t.Fatalf("Refresh without change: %v, changed=%v", err, running.cur.Load() != before)
	}
	admin, err := Rotate(ctx, st, box, "https://login.example.com", testNow.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if running.ActiveKIDAt(testNow) == admin.ActiveKIDAt(testNow) {
		t.Fatal("the running ring knew of the rotation before refreshing")
	}
	if err := running.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if running.ActiveKIDAt(testNow) != admin.ActiveKIDAt(testNow) || !bytes.Equal(running.JWKS(), admin.JWKS()) || len(running.Handovers()) != 1 {
		t.Error("Refresh did not pick up the rotation")
	}
}

func TestRotateOnEmptyStoreLoads(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	r, err := Rotate(ctx, st, box, "https://login.example.com", testNow)
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
			rings[i], errs[i] = Rotate(ctx, st, box, "https://login.example.com", testNow.Add(-time.Hour))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Rotate %d: %v", i, errs[i])
		}
		if rings[i].ActiveKIDAt(testNow) != rings[0].ActiveKIDAt(testNow) || len(rings[i].KIDs()) != 2 {
			t.Fatalf("Rotate %d: kid %s, kids %v", i, rings[i].ActiveKIDAt(testNow), rings[i].KIDs())
		}
	}
	if stored, _ := st.ListSigningKeys(ctx); len(stored) != 2 {
		t.Fatalf("%d keys stored, want 2", len(stored))
	}
}

// TestSignWhileRefreshing signs from several goroutines while the ring is
// rotated and refreshed (run with -race): every proof verifies against the
// JWKS of the ring after the last refresh.
func TestSignWhileRefreshing(t *testing.T) {
	ctx := context.Background()
	st, box := newMemKeys(), newBox(t)
	ring, err := Load(ctx, st, box, testNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	proofs := make([][]string, 4)
	stop := make(chan struct{})
	for i := range proofs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := ring.Sign(testClaims())
				if err != nil {
					t.Error(err)
					return
				}
				proofs[i] = append(proofs[i], p)
				_ = ring.JWKS()
				_ = ring.Handovers()
			}
		}()
	}
	for i := range 3 {
		if _, err := Rotate(ctx, st, box, "https://login.example.com", testNow.Add(time.Duration(i-10)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := ring.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	for _, list := range proofs {
		for _, p := range list {
			if _, err := Verify(p, ring.JWKS(), testOptions("")); err != nil {
				t.Fatalf("a proof signed during the refreshes: %v", err)
			}
		}
	}
	if len(ring.KIDs()) != 4 {
		t.Fatalf("%d keys after three rotations", len(ring.KIDs()))
	}
}
