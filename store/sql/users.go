package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"mutualauth/store"
)

const userColumns = "id, username, display_name, role, disabled, locked, password_hash, phrase, " +
	"totp_secret, totp_last_step, totp_pending, enrolled_at, created_at, updated_at, email"

type rowScanner interface {
	Scan(dest ...any) error
}

func scanUser(r rowScanner) (store.User, error) {
	var u store.User
	var role string
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &role, &u.Disabled, &u.Locked, &u.PasswordHash,
		&u.Phrase, &u.TOTPSecret, &u.TOTPLastStep, &u.TOTPPending,
		timeScan{&u.EnrolledAt}, timeScan{&u.CreatedAt}, timeScan{&u.UpdatedAt}, &u.Email)
	if err != nil {
		return store.User{}, err
	}
	u.Role = store.Role(role)
	u.Phrase = emptyToNil(u.Phrase)
	u.TOTPSecret = emptyToNil(u.TOTPSecret)
	u.TOTPPending = emptyToNil(u.TOTPPending)
	return u, nil
}

// CreateUser stores u. A zero CreatedAt or UpdatedAt is set to now.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	t := now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = t
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO users ("+userColumns+", username_skeleton) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		u.ID, u.Username, u.DisplayName, string(u.Role), u.Disabled, u.Locked, u.PasswordHash,
		bytesArg(u.Phrase), bytesArg(u.TOTPSecret), u.TOTPLastStep, bytesArg(u.TOTPPending),
		s.d.timeArg(u.EnrolledAt), s.d.timeArg(u.CreatedAt), s.d.timeArg(u.UpdatedAt), u.Email,
		store.Skeleton(u.Username))
	if isSkeletonViolation(err) {
		return s.lookAlike(ctx, "create user", "id = ? OR username = ?", u.ID, u.Username)
	}
	return wrap("create user", err)
}

// lookAlike reports a violation of the skeleton index: ErrLookAlike, or
// ErrAlreadyExists when a user matching taken (a condition on users) exists,
// since a database may check the skeleton index before the id's or the
// username's and an exact duplicate must read as one.
func (s *Store) lookAlike(ctx context.Context, op, taken string, args ...any) error {
	var exists bool
	if err := s.queryRow(ctx, s.db, "SELECT EXISTS (SELECT 1 FROM users WHERE "+taken+")", args...).Scan(&exists); err != nil {
		return wrap(op, err)
	}
	if exists {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrAlreadyExists)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, store.ErrLookAlike)
}

// GetUser returns the user with this id.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, s.db, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	return u, wrap("get user", err)
}

// GetUserByUsername returns the user with this (normalized) username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, s.db, "SELECT "+userColumns+" FROM users WHERE username = ?", username))
	return u, wrap("get user by username", err)
}

// UpdateUser reads the user (locking its row), applies fn and writes the
// result in one transaction. ID, CreatedAt and TOTPLastStep keep their
// stored values; UpdatedAt is set to now. fn must not use the store.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	var out store.User
	var fnErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanUser(s.queryRow(ctx, tx, "SELECT "+userColumns+" FROM users WHERE id = ?"+s.d.forUpdate, id))
		if err != nil {
			return err
		}
		u := old
		if err := fn(&u); err != nil {
			fnErr = err
			return err
		}
		u.ID, u.CreatedAt, u.TOTPLastStep = old.ID, old.CreatedAt, old.TOTPLastStep
		u.UpdatedAt = now()
		args := []any{u.Username, u.DisplayName, string(u.Role), u.Disabled, u.Locked,
			u.PasswordHash, bytesArg(u.Phrase), bytesArg(u.TOTPSecret), bytesArg(u.TOTPPending),
			s.d.timeArg(u.EnrolledAt), s.d.timeArg(u.UpdatedAt), u.Email}
		// The skeleton is written only with a new username: a row left
		// without one by backfillSkeletons keeps NULL until it can have it.
		skeleton := ""
		if u.Username != old.Username {
			skeleton = ", username_skeleton = ?"
			args = append(args, store.Skeleton(u.Username))
		}
		_, err = s.exec(ctx, tx, `UPDATE users SET username = ?, display_name = ?, role = ?, disabled = ?, locked = ?,
			password_hash = ?, phrase = ?, totp_secret = ?, totp_pending = ?, enrolled_at = ?, updated_at = ?, email = ?`+skeleton+`
			WHERE id = ?`, append(args, u.ID)...)
		out = u
		return err
	})
	if fnErr != nil {
		return store.User{}, fnErr
	}
	if isSkeletonViolation(err) {
		return store.User{}, s.lookAlike(ctx, "update user", "username = ? AND id <> ?", out.Username, id)
	}
	if err != nil {
		return store.User{}, wrap("update user", err)
	}
	out.Phrase = emptyToNil(out.Phrase)
	out.TOTPSecret = emptyToNil(out.TOTPSecret)
	out.TOTPPending = emptyToNil(out.TOTPPending)
	out.EnrolledAt = normalizeTime(out.EnrolledAt)
	return out, nil
}

// DeleteUser removes the user and, through ON DELETE CASCADE, its
// credentials, recovery codes, devices and invites. Audit events stay.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	res, err := s.exec(ctx, s.db, "DELETE FROM users WHERE id = ?", id)
	if err == nil {
		err = affectedOne(res, "user")
	}
	return wrap("delete user", err)
}

// ListUsers returns one page of users whose username or display name
// contains q.Search (case-insensitively; on SQLite only ASCII letters fold),
// ordered by username, and the number of all matching users. Limit
// defaults to 50 and is at most 500.
func (s *Store) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, int, error) {
	where := ""
	var args []any
	if q.Search != "" {
		pattern := "%" + likeEscape(strings.ToLower(q.Search)) + "%"
		where = ` WHERE LOWER(username) LIKE ? ESCAPE '\' OR LOWER(display_name) LIKE ? ESCAPE '\'`
		args = append(args, pattern, pattern)
	}
	var total int
	if err := s.queryRow(ctx, s.db, "SELECT COUNT(*) FROM users"+where, args...).Scan(&total); err != nil {
		return nil, 0, wrap("count users", err)
	}
	offset := max(q.Offset, 0)
	rows, err := s.query(ctx, s.db, "SELECT "+userColumns+" FROM users"+where+" ORDER BY username LIMIT ? OFFSET ?",
		append(args, pageLimit(q.Limit), offset)...)
	if err != nil {
		return nil, 0, wrap("list users", err)
	}
	defer rows.Close()
	var users []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, wrap("list users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list users", err)
	}
	return users, total, nil
}

// HasAdmin reports whether an admin account that has enrolled and is not
// disabled exists.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var ok bool
	err := s.queryRow(ctx, s.db, "SELECT EXISTS (SELECT 1 FROM users WHERE role = ? AND disabled = ? AND enrolled_at IS NOT NULL)",
		string(store.RoleAdmin), false).Scan(&ok)
	return ok, wrap("has admin", err)
}

// AcceptTOTPStep stores step as the last accepted TOTP step if it is
// greater than the stored one, in one conditional UPDATE.
func (s *Store) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	res, err := s.exec(ctx, s.db, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, userID, step)
	if err != nil {
		return wrap("accept totp step", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("accept totp step", err)
	}
	if n == 1 {
		return nil
	}
	var exists bool
	if err := s.queryRow(ctx, s.db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)", userID).Scan(&exists); err != nil {
		return wrap("accept totp step", err)
	}
	if !exists {
		return fmt.Errorf("sqlstore: accept totp step: user: %w", store.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: accept totp step %d: not after the last accepted step: %w", step, store.ErrConflict)
}
