package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"mutualauth/store"
)

const credentialColumns = "id, user_id, public_key, attestation_type, aaguid, sign_count, clone_warning, " +
	"user_present, user_verified, backup_eligible, backup_state, transports, attachment, name, created_at, last_used_at"

func scanCredential(r rowScanner) (store.Credential, error) {
	var c store.Credential
	var signCount int64
	var transports string
	err := r.Scan(&c.ID, &c.UserID, &c.PublicKey, &c.AttestationType, &c.AAGUID, &signCount, &c.CloneWarning,
		&c.UserPresent, &c.UserVerified, &c.BackupEligible, &c.BackupState, &transports, &c.Attachment, &c.Name,
		timeScan{&c.CreatedAt}, timeScan{&c.LastUsedAt})
	if err != nil {
		return store.Credential{}, err
	}
	if signCount < 0 || signCount > int64(^uint32(0)) {
		return store.Credential{}, fmt.Errorf("sqlstore: credential sign count %d out of range", signCount)
	}
	c.SignCount = uint32(signCount)
	c.AAGUID = emptyToNil(c.AAGUID)
	if c.Transports, err = parseStrings(transports); err != nil {
		return store.Credential{}, err
	}
	return c, nil
}

// AddCredential stores c: store.ErrAlreadyExists for a known credential
// id, store.ErrNotFound when the user does not exist. A zero CreatedAt is
// set to now.
func (s *Store) AddCredential(ctx context.Context, c store.Credential) error {
	transports, err := stringsArg(c.Transports)
	if err != nil {
		return wrap("add credential", err)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	_, err = s.exec(ctx, s.db, "INSERT INTO credentials ("+credentialColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.UserID, c.PublicKey, c.AttestationType, bytesArg(c.AAGUID), int64(c.SignCount), c.CloneWarning,
		c.UserPresent, c.UserVerified, c.BackupEligible, c.BackupState, transports, c.Attachment, c.Name,
		s.d.timeArg(c.CreatedAt), s.d.timeArg(c.LastUsedAt))
	return wrap("add credential", err)
}

// GetCredential returns the credential with this id.
func (s *Store) GetCredential(ctx context.Context, id []byte) (store.Credential, error) {
	c, err := scanCredential(s.queryRow(ctx, s.db, "SELECT "+credentialColumns+" FROM credentials WHERE id = ?", id))
	return c, wrap("get credential", err)
}

// ListCredentials returns the user's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	rows, err := s.query(ctx, s.db, "SELECT "+credentialColumns+" FROM credentials WHERE user_id = ? ORDER BY created_at, id", userID)
	if err != nil {
		return nil, wrap("list credentials", err)
	}
	defer rows.Close()
	var list []store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, wrap("list credentials", err)
		}
		list = append(list, c)
	}
	return list, wrap("list credentials", rows.Err())
}

// UpdateCredential writes the mutable fields of the credential with c.ID
// owned by c.UserID: SignCount, CloneWarning, the flags, Name, LastUsedAt.
func (s *Store) UpdateCredential(ctx context.Context, c store.Credential) error {
	res, err := s.exec(ctx, s.db, `UPDATE credentials SET sign_count = ?, clone_warning = ?, user_present = ?,
		user_verified = ?, backup_eligible = ?, backup_state = ?, name = ?, last_used_at = ?
		WHERE id = ? AND user_id = ?`,
		int64(c.SignCount), c.CloneWarning, c.UserPresent, c.UserVerified, c.BackupEligible, c.BackupState,
		c.Name, s.d.timeArg(c.LastUsedAt), c.ID, c.UserID)
	if err == nil {
		err = affectedOne(res, "credential")
	}
	return wrap("update credential", err)
}

// DeleteCredential removes the user's credential with this id;
// store.ErrNotFound when the user has none such.
func (s *Store) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	res, err := s.exec(ctx, s.db, "DELETE FROM credentials WHERE id = ? AND user_id = ?", id, userID)
	if err == nil {
		err = affectedOne(res, "credential")
	}
	return wrap("delete credential", err)
}

// DeleteUserCredentials removes all the user's credentials.
func (s *Store) DeleteUserCredentials(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, s.db, "DELETE FROM credentials WHERE user_id = ?", userID)
	return wrap("delete user credentials", err)
}

// ReplaceRecoveryCodes drops the user's codes and stores these hashes, in
// one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := s.exec(ctx, tx, "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)", userID, h); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("replace recovery codes", err)
}

// UseRecoveryCode marks the user's unused code with this hash as used, in
// one conditional UPDATE; store.ErrNotFound when no unused code matches.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error {
	if at.IsZero() {
		at = now()
	}
	res, err := s.exec(ctx, s.db, "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
		s.d.timeArg(at), userID, hash)
	if err == nil {
		err = affectedOne(res, "unused recovery code")
	}
	return wrap("use recovery code", err)
}

// CountRecoveryCodes returns the number of the user's unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.queryRow(ctx, s.db, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n)
	return n, wrap("count recovery codes", err)
}
