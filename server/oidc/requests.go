package oidc

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"mutualauth/store"
)

// AuthRequest is an authorization request (OpenID Connect Core 1.0
// §3.1.2.1) kept in the ephemeral store while the user signs in. It
// implements op.AuthRequest.
type AuthRequest struct {
	ID                  string    `json:"id"`
	ClientID            string    `json:"client_id"`
	RedirectURI         string    `json:"redirect_uri"`
	State               string    `json:"state,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	Scopes              []string  `json:"scopes"`
	ResponseType        string    `json:"response_type"`
	ResponseMode        string    `json:"response_mode,omitempty"`
	Prompt              []string  `json:"prompt,omitempty"`
	MaxAge              *uint     `json:"max_age,omitempty"`
	LoginHint           string    `json:"login_hint,omitempty"`
	CodeChallenge       string    `json:"code_challenge,omitempty"`
	CodeChallengeMethod string    `json:"code_challenge_method,omitempty"`
	CreatedAt           time.Time `json:"created_at"`

	// Set when the login completes.
	UserID    string    `json:"user_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	IsDone    bool      `json:"done,omitempty"`
	// CodeIssued is set with the one code this request may yield.
	CodeIssued bool `json:"code_issued,omitempty"`
}

func (a *AuthRequest) GetID() string                      { return a.ID }
func (a *AuthRequest) GetACR() string                     { return "" }
func (a *AuthRequest) GetAMR() []string                   { return a.AMR }
func (a *AuthRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *AuthRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *AuthRequest) GetClientID() string                { return a.ClientID }
func (a *AuthRequest) GetNonce() string                   { return a.Nonce }
func (a *AuthRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *AuthRequest) GetScopes() []string                { return a.Scopes }
func (a *AuthRequest) GetState() string                   { return a.State }
func (a *AuthRequest) GetSubject() string                 { return a.UserID }
func (a *AuthRequest) Done() bool                         { return a.IsDone }
func (a *AuthRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.ResponseType) }
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.ResponseMode) }

func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}

// PromptNone reports prompt=none: no page may be shown.
func (a *AuthRequest) PromptNone() bool { return slices.Contains(a.Prompt, oidc.PromptNone) }

// Satisfied reports whether a login with this auth time may answer the
// request (OpenID Connect Core 1.0 §3.1.2.1): prompt=login asks for a login
// after the request was made, max_age for one at most that many seconds
// old (the library turns prompt=login into max_age=0).
func (a *AuthRequest) Satisfied(authTime, now time.Time) bool {
	if slices.Contains(a.Prompt, oidc.PromptLogin) && authTime.Before(a.CreatedAt) {
		return false
	}
	if a.MaxAge != nil && *a.MaxAge > 0 && now.Sub(authTime) > time.Duration(*a.MaxAge)*time.Second {
		return false
	}
	if a.MaxAge != nil && *a.MaxAge == 0 && authTime.Before(a.CreatedAt) {
		return false
	}
	return true
}

func newAuthRequest(id string, r *oidc.AuthRequest, now time.Time) *AuthRequest {
	return &AuthRequest{
		ID: id, ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce,
		Scopes: r.Scopes, ResponseType: string(r.ResponseType), ResponseMode: string(r.ResponseMode),
		Prompt: r.Prompt, MaxAge: r.MaxAge, LoginHint: r.LoginHint,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: string(r.CodeChallengeMethod),
		CreatedAt: now,
	}
}

// refreshRequest is op.RefreshTokenRequest: a live grant reached through
// one of its refresh tokens.
type refreshRequest struct {
	grant     store.OIDCGrant
	tokenHash []byte
	scopes    []string
}

func (r *refreshRequest) GetAMR() []string            { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string       { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.grant.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// accessToken is what the ephemeral store keeps of an access token, under
// its id; the token itself is the id and subject sealed (boxCrypto).
type accessToken struct {
	GrantID  string    `json:"grant_id"`
	UserID   string    `json:"user_id"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	Expires  time.Time `json:"expires"`
}

// deviceGrant is the state of one device authorization (RFC 8628 §3.2).
type deviceGrant struct {
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	UserCode string    `json:"user_code"`
	Expires  time.Time `json:"expires"`
	Done     bool      `json:"done,omitempty"`
	Denied   bool      `json:"denied,omitempty"`
	UserID   string    `json:"user_id,omitempty"`
	AMR      []string  `json:"amr,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
}
