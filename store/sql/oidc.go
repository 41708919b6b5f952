package sqlstore

import (
	"context"
	"time"

	"mutualauth/store"
)

const grantColumns = "id, client_id, user_id, session_id, scopes, amr, auth_time, created_at, expires_at, revoked_at"

func scanGrant(r rowScanner) (store.OIDCGrant, error) {
	var g store.OIDCGrant
	var scopes, amr string
	err := r.Scan(&g.ID, &g.ClientID, &g.UserID, &g.SessionID, &scopes, &amr,
		timeScan{&g.AuthTime}, timeScan{&g.CreatedAt}, timeScan{&g.ExpiresAt}, timeScan{&g.RevokedAt})
	if err != nil {
		return store.OIDCGrant{}, err
	}
	if g.Scopes, err = parseStrings(scopes); err != nil {
		return store.OIDCGrant{}, err
	}
	if g.AMR, err = parseStrings(amr); err != nil {
		return store.OIDCGrant{}, err
	}
	return g, nil
}

// CreateOIDCGrant stores g: store.ErrAlreadyExists when the id is taken. A
// zero CreatedAt is set to now.
func (s *Store) CreateOIDCGrant(ctx context.Context, g store.OIDCGrant) error {
	scopes, err := stringsArg(g.Scopes)
	if err != nil {
		return wrap("create oidc grant", err)
	}
	amr, err := stringsArg(g.AMR)
	if err != nil {
		return wrap("create oidc grant", err)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	_, err = s.exec(ctx, s.db, "INSERT INTO oidc_grants ("+grantColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		g.ID, g.ClientID, g.UserID, g.SessionID, scopes, amr, s.d.timeArg(g.AuthTime),
		s.d.timeArg(g.CreatedAt), s.d.timeArg(g.ExpiresAt), s.d.timeArg(g.RevokedAt))
	return wrap("create oidc grant", err)
}

// GetOIDCGrant returns the grant with this id.
func (s *Store) GetOIDCGrant(ctx context.Context, id string) (store.OIDCGrant, error) {
	g, err := scanGrant(s.queryRow(ctx, s.db, "SELECT "+grantColumns+" FROM oidc_grants WHERE id = ?", id))
	return g, wrap("get oidc grant", err)
}

// RevokeOIDCGrant sets revoked_at once; store.ErrNotFound for an unknown id.
func (s *Store) RevokeOIDCGrant(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, s.db, "UPDATE oidc_grants SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
		s.d.timeArg(at), id)
	if err == nil {
		err = affectedOne(res, "oidc grant")
	}
	return wrap("revoke oidc grant", err)
}

// RevokeUserOIDCGrants revokes the user's live grants.
func (s *Store) RevokeUserOIDCGrants(ctx context.Context, userID string, at time.Time) (int, error) {
	return s.revokeGrantsWhere(ctx, "user_id", userID, at)
}

// RevokeSessionOIDCGrants revokes the live grants made in the session.
func (s *Store) RevokeSessionOIDCGrants(ctx context.Context, sessionID string, at time.Time) (int, error) {
	if sessionID == "" {
		return 0, nil
	}
	return s.revokeGrantsWhere(ctx, "session_id", sessionID, at)
}

func (s *Store) revokeGrantsWhere(ctx context.Context, column, value string, at time.Time) (int, error) {
	res, err := s.exec(ctx, s.db, "UPDATE oidc_grants SET revoked_at = ? WHERE "+column+" = ? AND revoked_at IS NULL",
		s.d.timeArg(at), value)
	if err != nil {
		return 0, wrap("revoke oidc grants", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("revoke oidc grants", err)
}

// AddOIDCRefreshToken stores t: store.ErrAlreadyExists for a known hash.
func (s *Store) AddOIDCRefreshToken(ctx context.Context, t store.OIDCRefreshToken) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)",
		t.TokenHash, t.GrantID, s.d.timeArg(t.CreatedAt), s.d.timeArg(t.ExpiresAt), s.d.timeArg(t.UsedAt))
	return wrap("add oidc refresh token", err)
}

// GetOIDCRefreshToken returns the refresh token with this hash.
func (s *Store) GetOIDCRefreshToken(ctx context.Context, hash []byte) (store.OIDCRefreshToken, error) {
	var t store.OIDCRefreshToken
	err := s.queryRow(ctx, s.db, "SELECT token_hash, grant_id, created_at, expires_at, used_at FROM oidc_refresh_tokens WHERE token_hash = ?", hash).
		Scan(&t.TokenHash, &t.GrantID, timeScan{&t.CreatedAt}, timeScan{&t.ExpiresAt}, timeScan{&t.UsedAt})
	return t, wrap("get oidc refresh token", err)
}

// UseOIDCRefreshToken marks the token used with one conditional UPDATE, so
// that of concurrent calls exactly one succeeds.
func (s *Store) UseOIDCRefreshToken(ctx context.Context, hash []byte, at time.Time) error {
	if at.IsZero() {
		at = now()
	}
	res, err := s.exec(ctx, s.db, "UPDATE oidc_refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
		s.d.timeArg(at), hash)
	if err != nil {
		return wrap("use oidc refresh token", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("use oidc refresh token", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.GetOIDCRefreshToken(ctx, hash); err != nil {
		return err
	}
	return wrap("use oidc refresh token", store.ErrConflict)
}

// AddOIDCKey stores k: store.ErrAlreadyExists when (alg, generation) or
// the kid is taken. A zero CreatedAt is set to now.
func (s *Store) AddOIDCKey(ctx context.Context, k store.OIDCKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO oidc_keys (alg, generation, kid, sealed, created_at, retired_at) VALUES (?, ?, ?, ?, ?, ?)",
		k.Alg, k.Generation, k.KID, k.Sealed, s.d.timeArg(k.CreatedAt), s.d.timeArg(k.RetiredAt))
	return wrap("add oidc key", err)
}

// ListOIDCKeys returns all keys, highest generation first.
func (s *Store) ListOIDCKeys(ctx context.Context) ([]store.OIDCKey, error) {
	rows, err := s.query(ctx, s.db, "SELECT alg, generation, kid, sealed, created_at, retired_at FROM oidc_keys ORDER BY generation DESC, alg")
	if err != nil {
		return nil, wrap("list oidc keys", err)
	}
	defer rows.Close()
	var list []store.OIDCKey
	for rows.Next() {
		var k store.OIDCKey
		if err := rows.Scan(&k.Alg, &k.Generation, &k.KID, &k.Sealed, timeScan{&k.CreatedAt}, timeScan{&k.RetiredAt}); err != nil {
			return nil, wrap("list oidc keys", err)
		}
		list = append(list, k)
	}
	return list, wrap("list oidc keys", rows.Err())
}

// RetireOIDCKey sets the key's retired_at; store.ErrNotFound when unknown.
func (s *Store) RetireOIDCKey(ctx context.Context, alg string, generation int, at time.Time) error {
	if at.IsZero() {
		at = now()
	}
	res, err := s.exec(ctx, s.db, "UPDATE oidc_keys SET retired_at = ? WHERE alg = ? AND generation = ?", s.d.timeArg(at), alg, generation)
	if err == nil {
		err = affectedOne(res, "oidc key")
	}
	return wrap("retire oidc key", err)
}
