package storetest

import (
	"testing"
	"time"

	"mutualauth/store"
)

func durUserEmail(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, func(u *store.User) { u.Email = "ada@example.org" })
	got, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	if got.Email != "ada@example.org" {
		t.Fatalf("email %q after create", got.Email)
	}
	_, err = s.UpdateUser(ctx, u.ID, func(x *store.User) error { x.Email = "ada@lovelace.example"; return nil })
	durNoErr(t, "UpdateUser", err)
	got, err = s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	if got.Email != "ada@lovelace.example" {
		t.Fatalf("email %q after update", got.Email)
	}
	bare := durCreateUser(t, s, nil)
	got, err = s.GetUserByUsername(ctx, bare.Username)
	durNoErr(t, "GetUserByUsername", err)
	if got.Email != "" {
		t.Fatalf("email %q of a user created without one", got.Email)
	}
}

func durOIDCClients(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	t0 := durNow()
	rp := store.Client{ID: durID("client"), Name: "Grafana", SecretHash: durBytes(32),
		RedirectURIs:           []string{"https://grafana.example/login/generic_oauth"},
		PostLogoutRedirectURIs: []string{"https://grafana.example/login"},
		CreatedAt:              t0, UpdatedAt: t0}
	native := store.Client{ID: durID("client"), Name: "CLI", Public: true,
		RedirectURIs: []string{"http://127.0.0.1/callback"}, CreatedAt: t0, UpdatedAt: t0}
	durNoErr(t, "CreateClient relying party", s.CreateClient(ctx, rp))
	durNoErr(t, "CreateClient public", s.CreateClient(ctx, native))
	got, err := s.GetClient(ctx, rp.ID)
	durNoErr(t, "GetClient", err)
	durSame(t, "relying party", got, rp)
	got, err = s.GetClient(ctx, native.ID)
	durNoErr(t, "GetClient", err)
	durSame(t, "public client", got, native)
	if got.SecretHash != nil {
		t.Errorf("public client secret hash %x, want nil", got.SecretHash)
	}

	upd := rp
	upd.RedirectURIs = []string{"https://grafana.example/a", "https://grafana.example/b"}
	upd.PostLogoutRedirectURIs = nil
	upd.Origins = []string{"https://grafana.example"}
	upd.Public = true
	upd.SecretHash = nil
	durNoErr(t, "UpdateClient", s.UpdateClient(ctx, upd))
	got, err = s.GetClient(ctx, rp.ID)
	durNoErr(t, "GetClient", err)
	durSame(t, "updated relying party", got, upd)
}

func durGrant(userID string) store.OIDCGrant {
	t0 := durNow()
	return store.OIDCGrant{ID: durID("grant"), ClientID: durID("client"), UserID: userID, SessionID: durID("session"),
		Scopes: []string{"openid", "offline_access"}, AMR: []string{"pwd", "otp"},
		AuthTime: t0.Add(-time.Minute), CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour)}
}

func durOIDCGrants(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	user := durID("user")
	g := durGrant(user)
	durNoErr(t, "CreateOIDCGrant", s.CreateOIDCGrant(ctx, g))
	durWantErr(t, "CreateOIDCGrant duplicate", s.CreateOIDCGrant(ctx, g), store.ErrAlreadyExists)
	got, err := s.GetOIDCGrant(ctx, g.ID)
	durNoErr(t, "GetOIDCGrant", err)
	durSame(t, "grant", got, g)
	_, err = s.GetOIDCGrant(ctx, durID("grant"))
	durWantErr(t, "GetOIDCGrant unknown", err, store.ErrNotFound)

	at := durNow()
	durNoErr(t, "RevokeOIDCGrant", s.RevokeOIDCGrant(ctx, g.ID, at))
	durNoErr(t, "RevokeOIDCGrant again", s.RevokeOIDCGrant(ctx, g.ID, at.Add(time.Hour)))
	got, err = s.GetOIDCGrant(ctx, g.ID)
	durNoErr(t, "GetOIDCGrant", err)
	if !got.RevokedAt.Equal(at) {
		t.Errorf("revoked at %v, want the first revocation %v", got.RevokedAt, at)
	}
	durWantErr(t, "RevokeOIDCGrant unknown", s.RevokeOIDCGrant(ctx, durID("grant"), at), store.ErrNotFound)

	// By user: only that user's live grants; by session: only that session's.
	a, b, other := durGrant(user), durGrant(user), durGrant(durID("user"))
	b.SessionID = a.SessionID
	c := durGrant(user)
	for _, x := range []store.OIDCGrant{a, b, c, other} {
		durNoErr(t, "CreateOIDCGrant", s.CreateOIDCGrant(ctx, x))
	}
	n, err := s.RevokeSessionOIDCGrants(ctx, a.SessionID, at)
	durNoErr(t, "RevokeSessionOIDCGrants", err)
	if n != 2 {
		t.Errorf("RevokeSessionOIDCGrants revoked %d, want 2", n)
	}
	if n, err := s.RevokeSessionOIDCGrants(ctx, "", at); err != nil || n != 0 {
		t.Errorf("RevokeSessionOIDCGrants with no session: %d, %v", n, err)
	}
	n, err = s.RevokeUserOIDCGrants(ctx, user, at)
	durNoErr(t, "RevokeUserOIDCGrants", err)
	if n != 1 {
		t.Errorf("RevokeUserOIDCGrants revoked %d, want 1 (the others were revoked already)", n)
	}
	got, err = s.GetOIDCGrant(ctx, c.ID)
	durNoErr(t, "GetOIDCGrant", err)
	if got.RevokedAt.IsZero() {
		t.Error("grant of the user not revoked")
	}
	got, err = s.GetOIDCGrant(ctx, other.ID)
	durNoErr(t, "GetOIDCGrant", err)
	if !got.RevokedAt.IsZero() {
		t.Error("another user's grant was revoked")
	}
}

func durOIDCRefreshTokens(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	g := durGrant(durID("user"))
	durNoErr(t, "CreateOIDCGrant", s.CreateOIDCGrant(ctx, g))
	t0 := durNow()
	rt := store.OIDCRefreshToken{TokenHash: durBytes(32), GrantID: g.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	durNoErr(t, "AddOIDCRefreshToken", s.AddOIDCRefreshToken(ctx, rt))
	durWantErr(t, "AddOIDCRefreshToken duplicate", s.AddOIDCRefreshToken(ctx, rt), store.ErrAlreadyExists)
	got, err := s.GetOIDCRefreshToken(ctx, rt.TokenHash)
	durNoErr(t, "GetOIDCRefreshToken", err)
	durSame(t, "refresh token", got, rt)
	_, err = s.GetOIDCRefreshToken(ctx, durBytes(32))
	durWantErr(t, "GetOIDCRefreshToken unknown", err, store.ErrNotFound)

	at := t0.Add(time.Minute)
	durNoErr(t, "UseOIDCRefreshToken", s.UseOIDCRefreshToken(ctx, rt.TokenHash, at))
	durWantErr(t, "UseOIDCRefreshToken again", s.UseOIDCRefreshToken(ctx, rt.TokenHash, at), store.ErrConflict)
	durWantErr(t, "UseOIDCRefreshToken unknown", s.UseOIDCRefreshToken(ctx, durBytes(32), at), store.ErrNotFound)
	got, err = s.GetOIDCRefreshToken(ctx, rt.TokenHash)
	durNoErr(t, "GetOIDCRefreshToken", err)
	if !got.UsedAt.Equal(at) {
		t.Errorf("used at %v, want %v", got.UsedAt, at)
	}
}

func durOIDCRefreshTokensConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	g := durGrant(durID("user"))
	durNoErr(t, "CreateOIDCGrant", s.CreateOIDCGrant(ctx, g))
	rt := store.OIDCRefreshToken{TokenHash: durBytes(32), GrantID: g.ID, CreatedAt: durNow()}
	durNoErr(t, "AddOIDCRefreshToken", s.AddOIDCRefreshToken(ctx, rt))
	errs := durRace(durWorkers, func(int) error { return s.UseOIDCRefreshToken(ctx, rt.TokenHash, durNow()) })
	durOneWins(t, "UseOIDCRefreshToken", errs, store.ErrConflict)
}

func durOIDCKeys(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	gen := durGeneration()
	rs := store.OIDCKey{Alg: "RS256", Generation: gen, KID: durID("kid"), Sealed: durBytes(200), CreatedAt: durNow()}
	es := store.OIDCKey{Alg: "ES256", Generation: gen, KID: durID("kid"), Sealed: durBytes(120), CreatedAt: durNow()}
	durNoErr(t, "AddOIDCKey RS256", s.AddOIDCKey(ctx, rs))
	durNoErr(t, "AddOIDCKey ES256 same generation", s.AddOIDCKey(ctx, es))
	dupGen := rs
	dupGen.KID = durID("kid")
	durWantErr(t, "AddOIDCKey same alg and generation", s.AddOIDCKey(ctx, dupGen), store.ErrAlreadyExists)
	dupKID := rs
	dupKID.Generation = gen + 1
	durWantErr(t, "AddOIDCKey same kid", s.AddOIDCKey(ctx, dupKID), store.ErrAlreadyExists)
	next := store.OIDCKey{Alg: "RS256", Generation: gen + 1, KID: durID("kid"), Sealed: durBytes(200), CreatedAt: durNow()}
	durNoErr(t, "AddOIDCKey next generation", s.AddOIDCKey(ctx, next))

	list, err := s.ListOIDCKeys(ctx)
	durNoErr(t, "ListOIDCKeys", err)
	pos := map[string]int{}
	for i, k := range list {
		if i > 0 && k.Generation > list[i-1].Generation {
			t.Fatalf("ListOIDCKeys not ordered by generation, highest first")
		}
		switch k.KID {
		case rs.KID:
			durSame(t, "listed key", k, rs)
		case es.KID:
			durSame(t, "listed key", k, es)
		}
		pos[k.KID] = i
	}
	for _, k := range []store.OIDCKey{rs, es, next} {
		if _, ok := pos[k.KID]; !ok {
			t.Fatalf("ListOIDCKeys misses %s", k.KID)
		}
	}
	if pos[next.KID] > pos[rs.KID] {
		t.Error("the newer generation is not listed first")
	}
	at := durNow()
	durNoErr(t, "RetireOIDCKey", s.RetireOIDCKey(ctx, "RS256", gen, at))
	durWantErr(t, "RetireOIDCKey unknown", s.RetireOIDCKey(ctx, "ES256", gen+1, at), store.ErrNotFound)
	list, err = s.ListOIDCKeys(ctx)
	durNoErr(t, "ListOIDCKeys", err)
	for _, k := range list {
		switch k.KID {
		case rs.KID:
			if !k.RetiredAt.Equal(at) {
				t.Errorf("retired key: retired at %v, want %v", k.RetiredAt, at)
			}
		case es.KID, next.KID:
			if !k.RetiredAt.IsZero() {
				t.Errorf("key %s retired with another", k.KID)
			}
		}
	}
}

func durOIDCKeysConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	gen := durGeneration()
	errs := durRace(durWorkers, func(int) error {
		return s.AddOIDCKey(ctx, store.OIDCKey{Alg: "RS256", Generation: gen, KID: durID("kid"), Sealed: durBytes(200), CreatedAt: durNow()})
	})
	durOneWins(t, "AddOIDCKey same generation", errs, store.ErrAlreadyExists)
}
