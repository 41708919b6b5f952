package sqlstore

import (
	"context"
	"fmt"
	"time"

	"mutualauth/store"
)

const deviceColumns = "id, user_id, token_hash, name, created_at, last_seen_at, expires_at"

func scanDevice(r rowScanner) (store.Device, error) {
	var d store.Device
	err := r.Scan(&d.ID, &d.UserID, &d.TokenHash, &d.Name,
		timeScan{&d.CreatedAt}, timeScan{&d.LastSeenAt}, timeScan{&d.ExpiresAt})
	return d, err
}

// CreateDevice stores d: store.ErrAlreadyExists when the id or token hash
// is taken, store.ErrNotFound when the user does not exist. A zero
// CreatedAt is set to now.
func (s *Store) CreateDevice(ctx context.Context, d store.Device) error {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO devices ("+deviceColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.UserID, d.TokenHash, d.Name, s.d.timeArg(d.CreatedAt), s.d.timeArg(d.LastSeenAt), s.d.timeArg(d.ExpiresAt))
	return wrap("create device", err)
}

// GetDeviceByTokenHash returns the device with this token hash, expired or
// not: the caller checks ExpiresAt.
func (s *Store) GetDeviceByTokenHash(ctx context.Context, hash []byte) (store.Device, error) {
	d, err := scanDevice(s.queryRow(ctx, s.db, "SELECT "+deviceColumns+" FROM devices WHERE token_hash = ?", hash))
	return d, wrap("get device", err)
}

// TouchDevice sets the device's LastSeenAt.
func (s *Store) TouchDevice(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, s.db, "UPDATE devices SET last_seen_at = ? WHERE id = ?", s.d.timeArg(at), id)
	if err == nil {
		err = affectedOne(res, "device")
	}
	return wrap("touch device", err)
}

// ListDevices returns the user's devices, oldest first.
func (s *Store) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	rows, err := s.query(ctx, s.db, "SELECT "+deviceColumns+" FROM devices WHERE user_id = ? ORDER BY created_at, id", userID)
	if err != nil {
		return nil, wrap("list devices", err)
	}
	defer rows.Close()
	var list []store.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, wrap("list devices", err)
		}
		list = append(list, d)
	}
	return list, wrap("list devices", rows.Err())
}

// DeleteDevice removes the user's device with this id; store.ErrNotFound
// when the user has none such.
func (s *Store) DeleteDevice(ctx context.Context, userID, id string) error {
	res, err := s.exec(ctx, s.db, "DELETE FROM devices WHERE id = ? AND user_id = ?", id, userID)
	if err == nil {
		err = affectedOne(res, "device")
	}
	return wrap("delete device", err)
}

// DeleteUserDevices removes all the user's devices.
func (s *Store) DeleteUserDevices(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, s.db, "DELETE FROM devices WHERE user_id = ?", userID)
	return wrap("delete user devices", err)
}

const inviteColumns = "token_hash, user_id, created_by, created_at, expires_at, used_at"

// CreateInvite stores inv: store.ErrAlreadyExists when the token hash is
// taken, store.ErrNotFound when the user does not exist. A zero CreatedAt
// is set to now.
func (s *Store) CreateInvite(ctx context.Context, inv store.Invite) error {
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO invites ("+inviteColumns+") VALUES (?, ?, ?, ?, ?, ?)",
		inv.TokenHash, inv.UserID, inv.CreatedBy, s.d.timeArg(inv.CreatedAt), s.d.timeArg(inv.ExpiresAt), s.d.timeArg(inv.UsedAt))
	return wrap("create invite", err)
}

// GetInvite returns the invite with this token hash, used or expired or
// not: the caller checks UsedAt and ExpiresAt.
func (s *Store) GetInvite(ctx context.Context, tokenHash []byte) (store.Invite, error) {
	var inv store.Invite
	err := s.queryRow(ctx, s.db, "SELECT "+inviteColumns+" FROM invites WHERE token_hash = ?", tokenHash).Scan(
		&inv.TokenHash, &inv.UserID, &inv.CreatedBy, timeScan{&inv.CreatedAt}, timeScan{&inv.ExpiresAt}, timeScan{&inv.UsedAt})
	return inv, wrap("get invite", err)
}

// UseInvite sets UsedAt once, in one conditional UPDATE: store.ErrConflict
// when the invite was already used, store.ErrNotFound when it is unknown.
func (s *Store) UseInvite(ctx context.Context, tokenHash []byte, at time.Time) error {
	if at.IsZero() {
		at = now()
	}
	res, err := s.exec(ctx, s.db, "UPDATE invites SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", s.d.timeArg(at), tokenHash)
	if err != nil {
		return wrap("use invite", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("use invite", err)
	}
	if n == 1 {
		return nil
	}
	var exists bool
	if err := s.queryRow(ctx, s.db, "SELECT EXISTS (SELECT 1 FROM invites WHERE token_hash = ?)", tokenHash).Scan(&exists); err != nil {
		return wrap("use invite", err)
	}
	if !exists {
		return fmt.Errorf("sqlstore: use invite: %w", store.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: use invite: already used: %w", store.ErrConflict)
}

// DeleteUserInvites removes all the user's invites.
func (s *Store) DeleteUserInvites(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, s.db, "DELETE FROM invites WHERE user_id = ?", userID)
	return wrap("delete user invites", err)
}
