package sqlstore

import (
	"context"

	"mutualauth/store"
)

const clientColumns = "id, name, secret_hash, origins, created_at, updated_at, " +
	"redirect_uris, post_logout_redirect_uris, public"

func scanClient(r rowScanner) (store.Client, error) {
	var c store.Client
	var origins, redirects, logouts string
	err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &origins, timeScan{&c.CreatedAt}, timeScan{&c.UpdatedAt},
		&redirects, &logouts, &c.Public)
	if err != nil {
		return store.Client{}, err
	}
	c.SecretHash = emptyToNil(c.SecretHash)
	if c.Origins, err = parseStrings(origins); err != nil {
		return store.Client{}, err
	}
	if c.RedirectURIs, err = parseStrings(redirects); err != nil {
		return store.Client{}, err
	}
	if c.PostLogoutRedirectURIs, err = parseStrings(logouts); err != nil {
		return store.Client{}, err
	}
	return c, nil
}

// clientArgs are the JSON-encoded lists of c and its secret hash (an empty
// byte string for a public client: the column is NOT NULL).
func clientArgs(c store.Client) (secret []byte, origins, redirects, logouts string, err error) {
	secret = c.SecretHash
	if secret == nil {
		secret = []byte{}
	}
	if origins, err = stringsArg(c.Origins); err != nil {
		return nil, "", "", "", err
	}
	if redirects, err = stringsArg(c.RedirectURIs); err != nil {
		return nil, "", "", "", err
	}
	logouts, err = stringsArg(c.PostLogoutRedirectURIs)
	return secret, origins, redirects, logouts, err
}

// CreateClient stores c: store.ErrAlreadyExists when the id is taken. A
// zero CreatedAt or UpdatedAt is set to now.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	secret, origins, redirects, logouts, err := clientArgs(c)
	if err != nil {
		return wrap("create client", err)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	_, err = s.exec(ctx, s.db, "INSERT INTO clients ("+clientColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.Name, secret, origins, s.d.timeArg(c.CreatedAt), s.d.timeArg(c.UpdatedAt),
		redirects, logouts, c.Public)
	return wrap("create client", err)
}

// GetClient returns the client with this id.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.queryRow(ctx, s.db, "SELECT "+clientColumns+" FROM clients WHERE id = ?", id))
	return c, wrap("get client", err)
}

// ListClients returns all clients ordered by name.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.query(ctx, s.db, "SELECT "+clientColumns+" FROM clients ORDER BY name, id")
	if err != nil {
		return nil, wrap("list clients", err)
	}
	defer rows.Close()
	var list []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, wrap("list clients", err)
		}
		list = append(list, c)
	}
	return list, wrap("list clients", rows.Err())
}

// UpdateClient writes Name, SecretHash, Origins, RedirectURIs,
// PostLogoutRedirectURIs, Public and UpdatedAt (now when zero).
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	secret, origins, redirects, logouts, err := clientArgs(c)
	if err != nil {
		return wrap("update client", err)
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now()
	}
	res, err := s.exec(ctx, s.db, `UPDATE clients SET name = ?, secret_hash = ?, origins = ?, updated_at = ?,
		redirect_uris = ?, post_logout_redirect_uris = ?, public = ? WHERE id = ?`,
		c.Name, secret, origins, s.d.timeArg(c.UpdatedAt), redirects, logouts, c.Public, c.ID)
	if err == nil {
		err = affectedOne(res, "client")
	}
	return wrap("update client", err)
}

// DeleteClient removes the client; store.ErrNotFound when it is unknown.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.exec(ctx, s.db, "DELETE FROM clients WHERE id = ?", id)
	if err == nil {
		err = affectedOne(res, "client")
	}
	return wrap("delete client", err)
}
