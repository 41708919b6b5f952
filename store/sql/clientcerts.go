package sqlstore

import (
	"context"
	"time"

	"mutualauth/store"
)

const clientCertColumns = "fingerprint, user_id, subject, issuer, serial, not_before, not_after, created_at, last_used_at"

func scanClientCert(r rowScanner) (store.ClientCert, error) {
	var c store.ClientCert
	err := r.Scan(&c.Fingerprint, &c.UserID, &c.Subject, &c.Issuer, &c.Serial,
		timeScan{&c.NotBefore}, timeScan{&c.NotAfter}, timeScan{&c.CreatedAt}, timeScan{&c.LastUsedAt})
	return c, err
}

// AddClientCert binds c: store.ErrAlreadyExists when the fingerprint is
// bound, store.ErrNotFound when the user does not exist. A zero CreatedAt
// is set to now.
func (s *Store) AddClientCert(ctx context.Context, c store.ClientCert) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO client_certs ("+clientCertColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.Fingerprint, c.UserID, c.Subject, c.Issuer, c.Serial, s.d.timeArg(c.NotBefore), s.d.timeArg(c.NotAfter),
		s.d.timeArg(c.CreatedAt), s.d.timeArg(c.LastUsedAt))
	return wrap("add client certificate", err)
}

// GetClientCert returns the binding of this fingerprint.
func (s *Store) GetClientCert(ctx context.Context, fingerprint string) (store.ClientCert, error) {
	c, err := scanClientCert(s.queryRow(ctx, s.db, "SELECT "+clientCertColumns+" FROM client_certs WHERE fingerprint = ?", fingerprint))
	return c, wrap("get client certificate", err)
}

// ListClientCerts returns the user's certificates, oldest first.
func (s *Store) ListClientCerts(ctx context.Context, userID string) ([]store.ClientCert, error) {
	rows, err := s.query(ctx, s.db, "SELECT "+clientCertColumns+" FROM client_certs WHERE user_id = ? ORDER BY created_at, fingerprint", userID)
	if err != nil {
		return nil, wrap("list client certificates", err)
	}
	defer rows.Close()
	var list []store.ClientCert
	for rows.Next() {
		c, err := scanClientCert(rows)
		if err != nil {
			return nil, wrap("list client certificates", err)
		}
		list = append(list, c)
	}
	return list, wrap("list client certificates", rows.Err())
}

// TouchClientCert sets the certificate's LastUsedAt.
func (s *Store) TouchClientCert(ctx context.Context, fingerprint string, at time.Time) error {
	res, err := s.exec(ctx, s.db, "UPDATE client_certs SET last_used_at = ? WHERE fingerprint = ?", s.d.timeArg(at), fingerprint)
	if err == nil {
		err = affectedOne(res, "client certificate")
	}
	return wrap("touch client certificate", err)
}

// DeleteClientCert removes the user's certificate with this fingerprint;
// store.ErrNotFound when the user has none such.
func (s *Store) DeleteClientCert(ctx context.Context, userID, fingerprint string) error {
	res, err := s.exec(ctx, s.db, "DELETE FROM client_certs WHERE fingerprint = ? AND user_id = ?", fingerprint, userID)
	if err == nil {
		err = affectedOne(res, "client certificate")
	}
	return wrap("delete client certificate", err)
}

// DeleteUserClientCerts removes all the user's certificates.
func (s *Store) DeleteUserClientCerts(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, s.db, "DELETE FROM client_certs WHERE user_id = ?", userID)
	return wrap("delete user client certificates", err)
}
