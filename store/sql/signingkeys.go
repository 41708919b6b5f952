package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"mutualauth/store"
)

// AddSigningKey stores k: store.ErrAlreadyExists when the generation (or
// the KID) is taken. A zero CreatedAt is set to now.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO signing_keys (generation, kid, sealed, created_at, retired_at, handover, handover_from) VALUES (?, ?, ?, ?, ?, ?, ?)",
		k.Generation, k.KID, k.Sealed, s.d.timeArg(k.CreatedAt), s.d.timeArg(k.RetiredAt), k.Handover, k.HandoverFrom)
	return wrap("add signing key", err)
}

// ListSigningKeys returns all keys, highest generation first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.query(ctx, s.db, "SELECT generation, kid, sealed, created_at, retired_at, handover, handover_from FROM signing_keys ORDER BY generation DESC")
	if err != nil {
		return nil, wrap("list signing keys", err)
	}
	defer rows.Close()
	var list []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		if err := rows.Scan(&k.Generation, &k.KID, &k.Sealed, timeScan{&k.CreatedAt}, timeScan{&k.RetiredAt}, &k.Handover, &k.HandoverFrom); err != nil {
			return nil, wrap("list signing keys", err)
		}
		list = append(list, k)
	}
	return list, wrap("list signing keys", rows.Err())
}

// RetireSigningKey sets the key's RetiredAt; store.ErrNotFound when the
// generation is unknown.
func (s *Store) RetireSigningKey(ctx context.Context, generation int, at time.Time) error {
	if at.IsZero() {
		at = now()
	}
	res, err := s.exec(ctx, s.db, "UPDATE signing_keys SET retired_at = ? WHERE generation = ?", s.d.timeArg(at), generation)
	if err == nil {
		err = affectedOne(res, "signing key")
	}
	return wrap("retire signing key", err)
}

// RevokeSigningKey deletes the key with this kid and clears the handovers
// it signed, in one transaction; store.ErrNotFound when no key has the kid.
func (s *Store) RevokeSigningKey(ctx context.Context, kid string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, "DELETE FROM signing_keys WHERE kid = ?", kid)
		if err == nil {
			err = affectedOne(res, "signing key")
		}
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, "UPDATE signing_keys SET handover = '', handover_from = '' WHERE handover_from = ?", kid)
		return err
	})
	return wrap("revoke signing key", err)
}
