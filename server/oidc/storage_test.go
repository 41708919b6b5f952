package oidc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"mutualauth/server/secretbox"
	"mutualauth/store"
	"mutualauth/store/memory"
	sqlstore "mutualauth/store/sql"
)

// ttlKV is the in-memory store, noting the TTL of every key it is given.
type ttlKV struct {
	store.KV
	mu   sync.Mutex
	ttls map[string]time.Duration
}

func (k *ttlKV) Put(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	k.mu.Lock()
	k.ttls[key] = ttl
	k.mu.Unlock()
	return k.KV.Put(ctx, key, v, ttl)
}

func newStorage(t *testing.T) (*Storage, *ttlKV, store.Durable, *secretbox.Box) {
	t.Helper()
	durable, err := sqlstore.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { durable.Close() })
	box, err := secretbox.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	kv := &ttlKV{KV: mem, ttls: map[string]time.Duration{}}
	return &Storage{Durable: durable, KV: kv, Now: time.Now}, kv, durable, box
}

// A code lives CodeTTL (60 s) and an auth request AuthRequestTTL.
func TestCodeAndRequestLifetimes(t *testing.T) {
	s, kv, _, _ := newStorage(t)
	ctx := context.Background()
	ar, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{ClientID: "c", RedirectURI: "https://a.example/cb",
		Scopes: []string{"openid"}, ResponseType: oidc.ResponseTypeCode}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := kv.ttls[authRequestKey(ar.GetID())]; got != AuthRequestTTL {
		t.Errorf("auth request TTL %v, want %v", got, AuthRequestTTL)
	}
	if err := s.SaveAuthCode(ctx, ar.GetID(), "code-1"); err == nil {
		t.Fatal("a code for a request nobody signed in to")
	}
	if _, err := s.updateAuthRequest(ctx, ar.GetID(), func(a *AuthRequest) error { a.IsDone, a.UserID = true, "u"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAuthCode(ctx, ar.GetID(), "code-1"); err != nil {
		t.Fatal(err)
	}
	if got := kv.ttls[codeKey("code-1")]; got != CodeTTL || CodeTTL != 60*time.Second {
		t.Errorf("code TTL %v, want 60s", got)
	}
	if err := s.SaveAuthCode(ctx, ar.GetID(), "code-2"); err == nil {
		t.Error("a second code for one request")
	}
}

// Instances that share the database share the ID-token keys: the first
// one creates them, every other one reads the same, even when they start
// at once.
func TestKeyRingSharedAcrossInstances(t *testing.T) {
	_, _, durable, box := newStorage(t)
	ctx := context.Background()
	rings := make([]*KeyRing, 4)
	errs := make([]error, len(rings))
	var wg sync.WaitGroup
	for i := range rings {
		rings[i] = &KeyRing{Store: durable, Box: box, Now: time.Now}
		wg.Go(func() { errs[i] = rings[i].Load(ctx) })
	}
	wg.Wait()
	var first string
	for i, r := range rings {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		k, err := r.SigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if k.SignatureAlgorithm() != "RS256" {
			t.Errorf("default signing algorithm %s, want RS256", k.SignatureAlgorithm())
		}
		if first == "" {
			first = k.ID()
		} else if k.ID() != first {
			t.Fatalf("instance %d signs with %s, another with %s", i, k.ID(), first)
		}
	}
	stored, err := durable.ListOIDCKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("%d keys stored, want one RS256 and one ES256", len(stored))
	}
	// Sealed: another encryption key cannot open them.
	other, _ := secretbox.New(append(make([]byte, 31), 1))
	if err := (&KeyRing{Store: durable, Box: other, Now: time.Now}).Load(ctx); err == nil {
		t.Fatal("the keys opened with another encryption key")
	}
	// A rotation by one instance reaches the others at their next refresh.
	if err := rings[0].Rotate(ctx, "RS256"); err != nil {
		t.Fatal(err)
	}
	rings[1].mu.Lock()
	rings[1].loaded = time.Time{}
	rings[1].mu.Unlock()
	k0, _ := rings[0].SigningKey(ctx)
	k1, _ := rings[1].SigningKey(ctx)
	if k0.ID() == first || k1.ID() != k0.ID() {
		t.Fatalf("after rotation: %s and %s, first %s", k0.ID(), k1.ID(), first)
	}
	if err := rings[0].Retire(ctx, "RS256"); err != nil {
		t.Fatal(err)
	}
	set, _ := rings[0].KeySet(ctx)
	for _, k := range set {
		if k.ID() == first {
			t.Error("the retired key is still published")
		}
	}
}
