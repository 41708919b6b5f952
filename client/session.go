package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// SessionInfo is GET /api/v1/session.
type SessionInfo struct {
	User          User      `json:"user"`
	AMR           []string  `json:"amr"`
	AuthTime      time.Time `json:"auth_time"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

// Prove makes the server prove itself with a fresh nonce (a login begin for
// username that goes no further) before the session is sent to it: a
// session token is a secret too.
func (c *Client) Prove(ctx context.Context, username string) error {
	_, err := c.Begin(ctx, username, "")
	return err
}

// WhoAmI proves the server, then asks it about s. ErrNotSignedIn when the
// server no longer knows the session.
func (c *Client) WhoAmI(ctx context.Context, s *Session) (SessionInfo, error) {
	var info SessionInfo
	if s == nil {
		return info, ErrNotSignedIn
	}
	if err := c.Prove(ctx, s.Username); err != nil {
		return info, err
	}
	r, err := c.do(ctx, http.MethodGet, "/api/v1/session", nil, s)
	if err != nil {
		return info, err
	}
	if r.status == http.StatusUnauthorized {
		return info, ErrNotSignedIn
	}
	if r.status != http.StatusOK {
		return info, problem(r)
	}
	return info, json.Unmarshal(r.body, &info)
}

// Logout proves the server, then ends s there. A session the server no
// longer knows counts as ended.
func (c *Client) Logout(ctx context.Context, s *Session) error {
	if s == nil {
		return nil
	}
	if err := c.Prove(ctx, s.Username); err != nil {
		return err
	}
	r, err := c.do(ctx, http.MethodDelete, "/api/v1/session", nil, s)
	if err != nil {
		return err
	}
	if r.status != http.StatusNoContent && r.status != http.StatusUnauthorized {
		return problem(r)
	}
	return nil
}

// endSession ends a session the client will not use (a completion whose
// proof failed), best effort: it is sent only to the server that set it.
func (c *Client) endSession(ctx context.Context, s *Session) {
	if s != nil {
		_, _ = c.do(ctx, http.MethodDelete, "/api/v1/session", nil, s)
	}
}

// Admin proves the server, then sends an admin API request with s
// (API.md "Command-line client": an admin session with a second factor)
// and decodes a 2xx answer into out.
func (c *Client) Admin(ctx context.Context, s *Session, method, path string, body, out any) error {
	if s == nil {
		return ErrNotSignedIn
	}
	if err := c.Prove(ctx, s.Username); err != nil {
		return err
	}
	r, err := c.do(ctx, method, "/api/v1/admin"+path, body, s)
	if err != nil {
		return err
	}
	if r.status == http.StatusUnauthorized {
		return ErrNotSignedIn
	}
	if r.status < 200 || r.status > 299 {
		return problem(r)
	}
	if out == nil || len(r.body) == 0 {
		return nil
	}
	return json.Unmarshal(r.body, out)
}
