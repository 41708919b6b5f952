package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/factor"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
)

// Lifetimes (docs/oidc.md lists them).
const (
	// ContinuePath is where the authorization endpoint hands the browser to
	// our login, and where the login page sends it back.
	ContinuePath = "/oidc/continue"
	// AuthRequestTTL is how long a user has to sign in.
	AuthRequestTTL = 15 * time.Minute
	// CodeTTL is the life of an authorization code (single use).
	CodeTTL = 60 * time.Second
	// AccessTokenLifetime and IDTokenLifetime bound the tokens a grant
	// issues; RefreshLifetime is the absolute life of a grant's refresh
	// tokens, rotated at every use.
	AccessTokenLifetime = 15 * time.Minute
	IDTokenLifetime     = 15 * time.Minute
	RefreshLifetime     = 30 * 24 * time.Hour
	// DeviceLifetime is the life of a device code; DevicePollInterval the
	// least time between two polls (RFC 8628 §3.2).
	DeviceLifetime     = 10 * time.Minute
	DevicePollInterval = 5 * time.Second
	// codeUsedTTL keeps the mark of a spent code, so that a replay revokes
	// what the first exchange issued (RFC 6749 §4.1.2).
	codeUsedTTL = 24 * time.Hour
)

// ephemeral keys
func authRequestKey(id string) string    { return "oidc:ar:" + id }
func codeKey(code string) string         { return "oidc:code:" + token.HashHex(code) }
func codeUsedKey(code string) string     { return "oidc:codeused:" + token.HashHex(code) }
func accessTokenKey(id string) string    { return "oidc:at:" + id }
func deviceKey(deviceCode string) string { return "oidc:dc:" + token.HashHex(deviceCode) }
func userCodeKey(userCode string) string { return "oidc:uc:" + NormalizeUserCode(userCode) }

// refreshTokenID is what op knows a refresh token by (revocation).
const refreshTokenIDPrefix = "rt."

// Storage implements op.Storage and op.DeviceAuthorizationStorage on our
// stores.
type Storage struct {
	Durable store.Durable
	KV      store.KV
	Keys    *KeyRing
	// ClientThrottle counts failed client authentications per client and
	// per IP (login.Throttle's schedule: 5 free, then 30 s doubling to 1 h).
	ClientThrottle *login.ClientAuth
	Audit          *audit.Auditor
	Now            func() time.Time
}

var (
	_ op.Storage                    = (*Storage)(nil)
	_ op.DeviceAuthorizationStorage = (*Storage)(nil)
)

// errInvalidGrant is the one answer to a code or refresh token that is
// unknown, spent, expired, revoked or belongs to an account that can no
// longer sign in.
func errInvalidGrant(reason string) error {
	return oidc.ErrInvalidGrant().WithDescription("The grant is not valid: %s.", reason)
}

func (s *Storage) audit(ctx context.Context, e store.AuditEvent) { s.Audit.Record(ctx, e) }

func putJSON(ctx context.Context, kv store.KV, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return kv.Put(ctx, key, b, ttl)
}

func getJSON(ctx context.Context, kv store.KV, key string, v any) ([]byte, error) {
	b, err := kv.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return b, json.Unmarshal(b, v)
}

// ---- auth requests and codes --------------------------------------------

// CreateAuthRequest stores a validated authorization request.
func (s *Storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	ar := newAuthRequest(account.NewID(), r, s.Now())
	if err := putJSON(ctx, s.KV, authRequestKey(ar.ID), ar, AuthRequestTTL); err != nil {
		return nil, err
	}
	return ar, nil
}

// AuthRequestByID returns the stored request.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.authRequest(ctx, id)
}

func (s *Storage) authRequest(ctx context.Context, id string) (*AuthRequest, error) {
	var ar AuthRequest
	if _, err := getJSON(ctx, s.KV, authRequestKey(id), &ar); err != nil {
		return nil, err
	}
	return &ar, nil
}

// updateAuthRequest applies fn to the stored request with compare-and-swap.
func (s *Storage) updateAuthRequest(ctx context.Context, id string, fn func(*AuthRequest) error) (*AuthRequest, error) {
	var out *AuthRequest
	_, err := store.UpdateKV(ctx, s.KV, authRequestKey(id), AuthRequestTTL, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, store.ErrNotFound
		}
		var ar AuthRequest
		if err := json.Unmarshal(old, &ar); err != nil {
			return nil, err
		}
		if err := fn(&ar); err != nil {
			return nil, err
		}
		out = &ar
		return json.Marshal(ar)
	})
	return out, err
}

// SaveAuthCode binds the one code of a completed request to it for
// CodeTTL. A second code for the same request is refused.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	_, err := s.updateAuthRequest(ctx, id, func(ar *AuthRequest) error {
		if !ar.IsDone || ar.CodeIssued {
			return oidc.ErrInvalidRequest().WithDescription("This sign-in request has been answered already.")
		}
		ar.CodeIssued = true
		return nil
	})
	if err != nil {
		return err
	}
	return s.KV.Put(ctx, codeKey(code), []byte(id), CodeTTL)
}

// AuthRequestByCode spends the code: it is taken from the store, so of
// concurrent exchanges one gets it. The request's grant is created at once
// and the code marked spent; a later use of the code revokes that grant and
// all it issued (RFC 6749 §4.1.2, RFC 9700 §4.2.4).
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	raw, err := s.KV.Take(ctx, codeKey(code))
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.codeReplayed(ctx, code)
	}
	if err != nil {
		return nil, err
	}
	ar, err := s.authRequest(ctx, string(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidGrant("the sign-in request expired")
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	err = s.Durable.CreateOIDCGrant(ctx, store.OIDCGrant{
		ID: ar.ID, ClientID: ar.ClientID, UserID: ar.UserID, SessionID: ar.SessionID,
		Scopes: ar.Scopes, AMR: ar.AMR, AuthTime: ar.AuthTime, CreatedAt: now, ExpiresAt: now.Add(RefreshLifetime),
	})
	if err != nil {
		return nil, err
	}
	if err := s.KV.Put(ctx, codeUsedKey(code), []byte(ar.ID), codeUsedTTL); err != nil {
		return nil, err
	}
	return ar, nil
}

func (s *Storage) codeReplayed(ctx context.Context, code string) error {
	grantID, err := s.KV.Get(ctx, codeUsedKey(code))
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidGrant("unknown or expired code")
	}
	if err != nil {
		return err
	}
	g, err := s.Durable.GetOIDCGrant(ctx, string(grantID))
	if err == nil {
		err = s.Durable.RevokeOIDCGrant(ctx, g.ID, s.Now())
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.audit(ctx, store.AuditEvent{Subject: g.UserID, Action: audit.OIDCToken, Result: "code_reuse",
		Detail: "client " + g.ClientID + ", grant " + string(grantID) + " revoked"})
	return errInvalidGrant("the code was used already; what it issued is revoked")
}

// DeleteAuthRequest ends the request once its tokens are issued.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.KV.Delete(ctx, authRequestKey(id))
}

// ---- grants and tokens ---------------------------------------------------

// grantFor returns the live grant a token request belongs to: the one its
// code created, the one of its refresh token, or a new one for a device
// authorization.
func (s *Storage) grantFor(ctx context.Context, req op.TokenRequest) (store.OIDCGrant, error) {
	var g store.OIDCGrant
	var err error
	switch r := req.(type) {
	case *AuthRequest:
		g, err = s.Durable.GetOIDCGrant(ctx, r.ID)
	case *refreshRequest:
		g = r.grant
	case *op.DeviceAuthorizationState:
		now := s.Now()
		g = store.OIDCGrant{ID: account.NewID(), ClientID: r.ClientID, UserID: r.Subject, Scopes: r.Scopes,
			AMR: r.AMR, AuthTime: r.AuthTime, CreatedAt: now, ExpiresAt: now.Add(RefreshLifetime)}
		err = s.Durable.CreateOIDCGrant(ctx, g)
	default:
		return g, fmt.Errorf("oidc: unexpected token request %T", req)
	}
	if errors.Is(err, store.ErrNotFound) {
		return g, errInvalidGrant("unknown grant")
	}
	if err != nil {
		return g, err
	}
	return g, s.checkGrant(ctx, g)
}

// checkGrant refuses a revoked or expired grant and one whose user can no
// longer sign in (deleted, disabled, locked, not enrolled).
func (s *Storage) checkGrant(ctx context.Context, g store.OIDCGrant) error {
	if !g.RevokedAt.IsZero() {
		return errInvalidGrant("revoked")
	}
	if !s.Now().Before(g.ExpiresAt) {
		return errInvalidGrant("expired")
	}
	u, err := s.Durable.GetUser(ctx, g.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidGrant("the account is gone")
	}
	if err != nil {
		return err
	}
	if reason := factor.Unusable(&u); reason != "" {
		return errInvalidGrant(reason)
	}
	return nil
}

func (s *Storage) newAccessToken(ctx context.Context, g store.OIDCGrant, scopes []string) (string, time.Time, error) {
	id := account.NewID()
	exp := s.Now().Add(AccessTokenLifetime)
	at := accessToken{GrantID: g.ID, UserID: g.UserID, ClientID: g.ClientID, Scopes: scopes, Expires: exp}
	if err := putJSON(ctx, s.KV, accessTokenKey(id), at, AccessTokenLifetime); err != nil {
		return "", time.Time{}, err
	}
	return id, exp, nil
}

func grantKind(req op.TokenRequest) string {
	switch req.(type) {
	case *refreshRequest:
		return "refresh_token"
	case *op.DeviceAuthorizationState:
		return "device_code"
	default:
		return "authorization_code"
	}
}

// CreateAccessToken issues an access token (no offline_access).
func (s *Storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := s.grantFor(ctx, req)
	if err != nil {
		return "", time.Time{}, err
	}
	id, exp, err := s.newAccessToken(ctx, g, req.GetScopes())
	if err != nil {
		return "", time.Time{}, err
	}
	s.audit(ctx, store.AuditEvent{Subject: g.UserID, Action: audit.OIDCToken, Result: "success",
		Detail: "client " + g.ClientID + ", grant " + g.ID + ", " + grantKind(req)})
	return id, exp, nil
}

// CreateAccessAndRefreshTokens issues an access token and a new refresh
// token. With currentRefreshToken it rotates: the current token is spent
// atomically first, and a token spent already (a reuse: two holders of one
// token) revokes the whole grant (RFC 9700 §4.14.2).
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	action := audit.OIDCToken
	if currentRefreshToken != "" {
		action = audit.OIDCRefresh
		err := s.Durable.UseOIDCRefreshToken(ctx, token.Hash(currentRefreshToken), s.Now())
		if errors.Is(err, store.ErrConflict) {
			if rr, ok := req.(*refreshRequest); ok {
				return "", "", time.Time{}, s.refreshReused(ctx, rr.grant)
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return "", "", time.Time{}, errInvalidGrant("unknown refresh token")
		}
		if err != nil {
			return "", "", time.Time{}, err
		}
	}
	g, err := s.grantFor(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	id, exp, err := s.newAccessToken(ctx, g, req.GetScopes())
	if err != nil {
		return "", "", time.Time{}, err
	}
	rt, err := token.New()
	if err != nil {
		return "", "", time.Time{}, err
	}
	err = s.Durable.AddOIDCRefreshToken(ctx, store.OIDCRefreshToken{TokenHash: token.Hash(rt), GrantID: g.ID,
		CreatedAt: s.Now(), ExpiresAt: g.ExpiresAt})
	if err != nil {
		return "", "", time.Time{}, err
	}
	s.audit(ctx, store.AuditEvent{Subject: g.UserID, Action: action, Result: "success",
		Detail: "client " + g.ClientID + ", grant " + g.ID + ", " + grantKind(req) + ", refresh token issued"})
	return id, rt, exp, nil
}

func (s *Storage) refreshReused(ctx context.Context, g store.OIDCGrant) error {
	if err := s.Durable.RevokeOIDCGrant(ctx, g.ID, s.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.audit(ctx, store.AuditEvent{Subject: g.UserID, Action: audit.OIDCRefresh, Result: "refresh_reuse",
		Detail: "client " + g.ClientID + ", grant " + g.ID + " revoked"})
	return errInvalidGrant("the refresh token was used already; its grant is revoked")
}

// TokenRequestByRefreshToken finds the live grant of a refresh token. A
// token rotated already is a reuse and revokes the grant.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	rt, err := s.Durable.GetOIDCRefreshToken(ctx, token.Hash(refreshToken))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidGrant("unknown refresh token")
	}
	if err != nil {
		return nil, err
	}
	g, err := s.Durable.GetOIDCGrant(ctx, rt.GrantID)
	if err != nil {
		return nil, err
	}
	if !rt.UsedAt.IsZero() {
		return nil, s.refreshReused(ctx, g)
	}
	if err := s.checkGrant(ctx, g); err != nil {
		return nil, err
	}
	return &refreshRequest{grant: g, tokenHash: rt.TokenHash, scopes: g.Scopes}, nil
}

// GetRefreshTokenInfo names a refresh token for revocation.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, _ string, refreshToken string) (string, string, error) {
	rt, err := s.Durable.GetOIDCRefreshToken(ctx, token.Hash(refreshToken))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", err
	}
	g, err := s.Durable.GetOIDCGrant(ctx, rt.GrantID)
	if err != nil {
		return "", "", err
	}
	return g.UserID, refreshTokenIDPrefix + g.ID, nil
}

// RevokeToken revokes (RFC 7009 §2.1) a refresh token, and with it its
// whole grant, or one access token. Unknown tokens are not an error
// (§2.2); a token of another client is.
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	if grantID, ok := strings.CutPrefix(tokenOrID, refreshTokenIDPrefix); ok {
		g, err := s.Durable.GetOIDCGrant(ctx, grantID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		if g.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("The token was issued to another client.")
		}
		if err := s.Durable.RevokeOIDCGrant(ctx, g.ID, s.Now()); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		s.audit(ctx, store.AuditEvent{Subject: g.UserID, Action: audit.OIDCRevoke, Result: "success",
			Detail: "client " + clientID + ", grant " + g.ID + " (refresh token)"})
		return nil
	}
	var at accessToken
	if _, err := getJSON(ctx, s.KV, accessTokenKey(tokenOrID), &at); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return oidc.ErrServerError().WithParent(err)
	}
	if at.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("The token was issued to another client.")
	}
	if err := s.KV.Delete(ctx, accessTokenKey(tokenOrID)); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	s.audit(ctx, store.AuditEvent{Subject: at.UserID, Action: audit.OIDCRevoke, Result: "success",
		Detail: "client " + clientID + ", grant " + at.GrantID + " (access token)"})
	return nil
}

// TerminateSession is not used: Provider.EndSession ends our session.
func (s *Storage) TerminateSession(context.Context, string, string) error { return nil }

// liveAccessToken returns the record of a live access token of a live
// grant.
func (s *Storage) liveAccessToken(ctx context.Context, id, subject string) (accessToken, error) {
	var at accessToken
	if _, err := getJSON(ctx, s.KV, accessTokenKey(id), &at); err != nil {
		return at, err
	}
	if at.UserID != subject || !s.Now().Before(at.Expires) {
		return at, errInvalidGrant("token expired")
	}
	g, err := s.Durable.GetOIDCGrant(ctx, at.GrantID)
	if err != nil {
		return at, err
	}
	return at, s.checkGrant(ctx, g)
}

// ---- keys ------------------------------------------------------------------

// SigningKey is the live ID-token key.
func (s *Storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.Keys.SigningKey(ctx)
}

// SignatureAlgorithms lists the algorithm ID tokens are signed with.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.Keys.alg()}, nil
}

// KeySet is the provider's jwks_uri content.
func (s *Storage) KeySet(ctx context.Context) ([]op.Key, error) { return s.Keys.KeySet(ctx) }

// ---- clients ---------------------------------------------------------------

// GetClientByClientID returns an OIDC client; a widget-only client or an
// unknown id is invalid_client (shown as an error page at the
// authorization endpoint, never redirected).
func (s *Storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Durable.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !isOIDC(c)) {
		return nil, oidc.ErrInvalidClient().WithDescription("Unknown client.")
	}
	if err != nil {
		return nil, err
	}
	return client{c: c}, nil
}

// dummySecretHash stands in for an unknown client's secret hash, so that
// unknown and known ids cost the same comparison.
var dummySecretHash = token.Hash("")

// AuthorizeClientIDSecret checks a confidential client's secret
// (client_secret_basic or client_secret_post). Failures are counted per
// client and per IP; over the limit the answer is 429 with Retry-After
// before the secret is looked at.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	ip := audit.ClientIP(ctx)
	if err := s.ClientThrottle.Check(ctx, id, ip); err != nil {
		var te *login.ThrottledError
		if errors.As(err, &te) {
			return s.throttled(ctx, id, te.RetryAfter)
		}
		return err
	}
	c, err := s.Durable.GetClient(ctx, id)
	known := err == nil && !c.Public && c.SecretHash != nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	want := dummySecretHash
	if known {
		want = c.SecretHash
	}
	if token.Equal(token.Hash(secret), want) && known {
		return s.ClientThrottle.Succeeded(ctx, id)
	}
	if err := s.ClientThrottle.Failed(ctx, id, ip); err != nil {
		return err
	}
	s.audit(ctx, store.AuditEvent{Action: audit.OIDCClientAuth, Result: "invalid_client", Detail: "client " + truncate(id, 64)})
	if h := responseHeader(ctx); h != nil {
		h.Set("WWW-Authenticate", `Basic realm="mutualauth", charset="UTF-8"`) // RFC 6749 §5.2
	}
	return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("The client credentials are not valid."), http.StatusUnauthorized)
}

func (s *Storage) throttled(ctx context.Context, id string, wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	if h := responseHeader(ctx); h != nil {
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	s.audit(ctx, store.AuditEvent{Action: audit.OIDCClientAuth, Result: "throttled", Detail: "client " + truncate(id, 64)})
	return op.NewStatusError(&oidc.Error{ErrorType: "too_many_requests",
		Description: "Too many failed client authentications. Retry after " + strconv.Itoa(secs) + " s."}, http.StatusTooManyRequests)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ---- claims ----------------------------------------------------------------

// SetUserinfoFromScopes fills the claims of the scopes (OpenID Connect
// Core 1.0 §5.4): profile → preferred_username, name; email → email,
// email_verified (an address an admin set is verified); groups → groups.
func (s *Storage) SetUserinfoFromScopes(ctx context.Context, info *oidc.UserInfo, userID, _ string, scopes []string) error {
	u, err := s.Durable.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	info.Subject = u.ID
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.PreferredUsername = u.Username
			info.Name = u.DisplayName
		case oidc.ScopeEmail:
			if u.Email != "" {
				info.Email = u.Email
				info.EmailVerified = true
			}
		case ScopeGroups:
			info.AppendClaims("groups", []string{string(u.Role)})
		}
	}
	return nil
}

// SetUserinfoFromToken answers userinfo for a live access token.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	at, err := s.liveAccessToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	return s.SetUserinfoFromScopes(ctx, info, at.UserID, at.ClientID, at.Scopes)
}

// SetIntrospectionFromToken answers introspection (RFC 7662 §2.2) for a
// live access token; op marks it active when this returns nil.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	at, err := s.liveAccessToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	info := new(oidc.UserInfo)
	if err := s.SetUserinfoFromScopes(ctx, info, at.UserID, at.ClientID, at.Scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = at.Scopes
	resp.ClientID = at.ClientID
	resp.Audience = []string{at.ClientID}
	resp.Expiration = oidc.FromTime(at.Expires)
	resp.TokenType = oidc.BearerToken
	return nil
}

// GetPrivateClaimsFromScopes adds nothing: access tokens are opaque.
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID: the JWT profile grant is not offered.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// ValidateJWTProfileScopes: the JWT profile grant is not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// Health reports the database.
func (s *Storage) Health(ctx context.Context) error { return s.Durable.Ping(ctx) }
