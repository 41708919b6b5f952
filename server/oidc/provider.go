package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/secretbox"
	"mutualauth/store"
)

// Endpoint paths; clients find them only through the discovery document.
const (
	AuthorizationPath = "/oidc/authorize"
	TokenPath         = "/oidc/token"
	UserinfoPath      = "/oidc/userinfo"
	IntrospectionPath = "/oidc/introspect"
	RevocationPath    = "/oidc/revoke"
	EndSessionPath    = "/oidc/end_session"
	JWKSPath          = "/oidc/jwks"
	DeviceAuthPath    = "/oidc/device_authorization"
	// DevicePath is the verification page (RFC 8628 §3.3), served by
	// package server.
	DevicePath = "/oidc/device"
	// DiscoveryPath is OpenID Connect Discovery 1.0 §4.
	DiscoveryPath = oidc.DiscoveryEndpoint
)

// SessionEnder ends the login session of a request (RP-initiated logout).
type SessionEnder interface {
	// EndSessionOf ends the session whose token the request header carries
	// and returns the header that clears its cookie; ok is false when the
	// request had no live session.
	EndSessionOf(ctx context.Context, header http.Header) (userID string, clear http.Header, ok bool, err error)
}

// ErrorPage renders an error the authorization endpoint must not redirect
// (unknown client, unregistered redirect URI) as an HTML page.
type ErrorPage func(w http.ResponseWriter, r *http.Request, status int, code, description string)

// Config is what New needs.
type Config struct {
	Issuer     string // PUBLIC_URL's origin
	Durable    store.Durable
	KV         store.KV
	Box        *secretbox.Box
	IDTokenAlg string // RS256 when empty
	Sessions   SessionEnder
	ErrorPage  ErrorPage
	Audit      *audit.Auditor
	Log        *slog.Logger
	Now        func() time.Time
}

// Provider is the OpenID Connect provider: op.LegacyServer with our
// overrides, and the methods the hand-off and device pages call.
type Provider struct {
	*op.LegacyServer
	Storage  *Storage
	op       *op.Provider
	issuer   string
	sessions SessionEnder
	page     ErrorPage
	log      *slog.Logger
	handler  http.Handler
}

// New builds the provider and loads (or creates) its signing keys.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	keys := &KeyRing{Store: cfg.Durable, Box: cfg.Box, Alg: jose.SignatureAlgorithm(cfg.IDTokenAlg), Now: cfg.Now}
	if err := keys.Load(ctx); err != nil {
		return nil, fmt.Errorf("oidc: signing keys: %w", err)
	}
	st := &Storage{Durable: cfg.Durable, KV: cfg.KV, Keys: keys,
		ClientThrottle: &login.ClientAuth{Throttle: &login.Throttle{KV: cfg.KV, Now: cfg.Now}}, Audit: cfg.Audit, Now: cfg.Now}
	opCfg := &op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		DefaultLogoutRedirectURI: "/login",
		SupportedUILocales:       []language.Tag{language.English},
		SupportedClaims: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp",
			"at_hash", "c_hash", "preferred_username", "name", "email", "email_verified", "groups"},
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, ScopeGroups, oidc.ScopeOfflineAccess},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime: DeviceLifetime, PollInterval: DevicePollInterval, UserFormPath: DevicePath, UserCode: op.UserCodeBase20,
		},
	}
	opts := []op.Option{op.WithCrypto(boxCrypto{box: cfg.Box})}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	prov, err := op.NewProvider(opCfg, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, err
	}
	endpoints := op.Endpoints{
		Authorization:       op.NewEndpoint(AuthorizationPath),
		Token:               op.NewEndpoint(TokenPath),
		Introspection:       op.NewEndpoint(IntrospectionPath),
		Userinfo:            op.NewEndpoint(UserinfoPath),
		Revocation:          op.NewEndpoint(RevocationPath),
		EndSession:          op.NewEndpoint(EndSessionPath),
		JwksURI:             op.NewEndpoint(JWKSPath),
		DeviceAuthorization: op.NewEndpoint(DeviceAuthPath),
	}
	p := &Provider{LegacyServer: op.NewLegacyServer(prov, endpoints), Storage: st, op: prov,
		issuer: cfg.Issuer, sessions: cfg.Sessions, page: cfg.ErrorPage, log: cfg.Log}
	// Browsers may call the token, userinfo and other JSON endpoints from
	// any origin (SPAs), but never with cookies.
	corsOpts := &cors.Options{
		AllowOriginFunc: func(string) bool { return true },
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type"},
	}
	p.handler = op.RegisterServer(p, endpoints,
		op.WithHTTPMiddleware(op.NewIssuerInterceptor(prov.IssuerFromRequest).Handler, p.responses),
		op.WithServerCORSOptions(corsOpts))
	return p, nil
}

// ServeHTTP serves the discovery document and the /oidc/ endpoints.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// KeyRing gives the ID-token keys (rotation).
func (p *Provider) KeyRing() *KeyRing { return p.Storage.Keys }

// ---- overrides of op.LegacyServer -----------------------------------------

// discovery adds what op's document lacks.
type discovery struct {
	*oidc.DiscoveryConfiguration
	// RFC 9207 §3: every authorization response carries iss.
	IssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// Discovery is OpenID Connect Discovery 1.0 §3, with only the grants we
// offer and RFC 9207's flag.
func (p *Provider) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := p.LegacyServer.Discovery(ctx, r)
	if err != nil {
		return nil, err
	}
	d, ok := resp.Data.(*oidc.DiscoveryConfiguration)
	if !ok {
		return resp, nil
	}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	d.RevocationEndpointAuthMethodsSupported = d.TokenEndpointAuthMethodsSupported
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.RequestParameterSupported = false
	return op.NewResponse(discovery{DiscoveryConfiguration: d, IssParameterSupported: true}), nil
}

// VerifyAuthRequest refuses response modes other than query before
// anything is stored: only the query mode carries iss here.
func (p *Provider) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	cr, err := p.LegacyServer.VerifyAuthRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	if m := r.Data.ResponseMode; m != "" && m != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("Only response_mode=query is supported.")
	}
	return cr, nil
}

// Authorize asks for PKCE with S256 (RFC 7636 §4.2; plain is refused) and
// requires it of public clients (RFC 9700 §2.1.1). op has validated the
// redirect URI already, so these errors go back to it.
func (p *Provider) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	if r.Data.CodeChallenge != "" && r.Data.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256.")
	}
	if r.Client.AuthMethod() == oidc.AuthMethodNone && r.Data.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("A public client must send a PKCE code_challenge (S256).")
	}
	return p.LegacyServer.Authorize(ctx, r)
}

// CodeExchange is op's, except that a code issued with a PKCE challenge
// always needs its verifier (RFC 7636 §4.6; op checks it only for public
// clients or when a verifier is sent, which would let an attacker holding a
// confidential client's code skip PKCE).
func (p *Provider) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	authReq, err := op.AuthRequestByCode(ctx, p.Storage, r.Data.Code)
	if err != nil {
		return nil, err
	}
	if challenge := authReq.GetCodeChallenge(); challenge != nil || r.Client.AuthMethod() == oidc.AuthMethodNone {
		if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, challenge); err != nil {
			return nil, err
		}
	}
	if r.Client.GetID() != authReq.GetClientID() {
		return nil, oidc.ErrInvalidGrant().WithDescription("The code was issued to another client.")
	}
	if r.Data.RedirectURI != authReq.GetRedirectURI() {
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri does not match the authorization request.")
	}
	resp, err := op.CreateTokenResponse(ctx, authReq, r.Client, p.op, true, r.Data.Code, "")
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

// JWTProfile: the JWT bearer grant is not offered.
func (p *Provider) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("Only authorization_code, refresh_token and device_code are offered.")
}

// VerifyClient answers a failed client authentication with 401
// invalid_client (RFC 6749 §5.2) instead of op's 400.
func (p *Provider) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := p.LegacyServer.VerifyClient(ctx, r)
	if err == nil {
		return c, nil
	}
	var se op.StatusError
	if errors.As(err, &se) {
		return nil, err
	}
	var oe *oidc.Error
	if errors.As(err, &oe) && (oe.ErrorType == oidc.InvalidClient || oe.ErrorType == oidc.UnauthorizedClient) {
		return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("%s", oe.Description), http.StatusUnauthorized)
	}
	return nil, err
}

// UserInfo answers 401 invalid_token (RFC 6750 §3.1) for a token that is
// expired or whose grant was revoked, where op would answer 403.
func (p *Provider) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	resp, err := p.LegacyServer.UserInfo(ctx, r)
	if err == nil {
		return resp, nil
	}
	if h := responseHeader(ctx); h != nil {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.ServerError {
		return nil, err
	}
	return nil, op.NewStatusError(&oidc.Error{ErrorType: "invalid_token", Description: "The access token is not valid."}, http.StatusUnauthorized)
}

// LogoutPath is the page that asks the user to confirm a logout that came
// without a valid id_token_hint from another site (served by package
// server; it posts the same parameters back to the end_session endpoint).
const LogoutPath = "/oidc/logout"

// EndSession is RP-Initiated Logout 1.0 §2-3: op validates id_token_hint,
// client_id and the post-logout redirect URI (registered ones only). With a
// valid id_token_hint, or when the user confirmed on our own page (a
// same-origin request), the browser's login session ends and its cookie is
// cleared; otherwise the user is asked first (§2: the OP SHOULD ask), so
// that another site cannot sign the user out by itself.
func (p *Provider) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	req, err := op.ValidateEndSessionRequest(ctx, r.Data, p.op)
	if err != nil {
		return nil, err
	}
	if req.IDTokenHintClaims == nil && !p.sameOrigin(r.Header) {
		q := url.Values{}
		for k, v := range map[string]string{"client_id": req.ClientID, "post_logout_redirect_uri": r.Data.PostLogoutRedirectURI,
			"state": r.Data.State} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return op.NewRedirect(LogoutPath + "?" + q.Encode()), nil
	}
	red := op.NewRedirect(req.RedirectURI)
	if p.sessions != nil {
		userID, clear, ok, err := p.sessions.EndSessionOf(ctx, r.Header)
		if err != nil {
			return nil, err
		}
		for k, v := range clear {
			red.Header[k] = v
		}
		if ok {
			p.Storage.audit(ctx, store.AuditEvent{Actor: userID, Subject: userID, Action: audit.OIDCLogout, Result: "success",
				Detail: "client " + req.ClientID})
		}
	}
	return red, nil
}

// sameOrigin reports a request from our own pages (Fetch Metadata, or the
// Origin header where a browser sends no Sec-Fetch-Site).
func (p *Provider) sameOrigin(h http.Header) bool {
	if site := h.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	return h.Get("Origin") == p.issuer
}

// ---- responses -------------------------------------------------------------

// responses post-processes what the provider writes. A redirect from the
// authorization endpoint to the client gets iss (RFC 9207 §2); its only
// other redirect goes to our hand-off (ContinuePath) and is left alone. An
// authorization error that must not be redirected is shown as a page. A
// server error never shows its internal detail (op copies it into
// error_description) and is 503 when a store is unreachable.
func (p *Provider) responses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(withResponseHeader(r.Context(), w.Header()))
		cw := &captureWriter{ResponseWriter: w, issuer: p.issuer, authorize: r.URL.Path == AuthorizationPath}
		next.ServeHTTP(cw, r)
		if cw.held == 0 {
			return
		}
		var e oidc.Error
		_ = json.Unmarshal(cw.body.Bytes(), &e)
		status, code, desc := cw.held, string(e.ErrorType), e.Description
		if code == "" {
			code = string(oidc.InvalidRequest)
		}
		if status >= 500 {
			p.log.Error("oidc request failed", "path", r.URL.Path, "status", status, "err", desc)
			status, code, desc = http.StatusInternalServerError, string(oidc.ServerError), "Something went wrong on the server."
			if strings.Contains(e.Description, store.ErrUnavailable.Error()) {
				status, code, desc = http.StatusServiceUnavailable, "temporarily_unavailable", "A store is unreachable. Try again soon."
			}
		}
		w.Header().Del("Content-Length")
		if cw.authorize && p.page != nil {
			w.Header().Del("Content-Type")
			p.page(w, r, status, code, desc)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	})
}

// captureWriter holds back the responses that responses rewrites.
type captureWriter struct {
	http.ResponseWriter
	issuer    string
	authorize bool
	held      int
	body      bytes.Buffer
}

func (w *captureWriter) WriteHeader(code int) {
	switch {
	case w.authorize && (code == http.StatusFound || code == http.StatusSeeOther):
		if loc := w.Header().Get("Location"); !hasPrefixPath(loc, ContinuePath) {
			w.Header().Set("Location", withIss(loc, w.issuer))
		}
	case code >= 500 || (w.authorize && code >= 400):
		w.held = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.held != 0 {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// withIss adds iss to the query of an authorization response URL.
func withIss(raw, issuer string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// ---- the hand-off ------------------------------------------------------------

// AuthRequest returns a pending authorization request; store.ErrNotFound
// when it is unknown or expired.
func (p *Provider) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	return p.Storage.authRequest(ctx, id)
}

// ClientName is the name the login page shows for a client.
func (p *Provider) ClientName(ctx context.Context, clientID string) string {
	c, err := p.Storage.Durable.GetClient(ctx, clientID)
	if err != nil || c.Name == "" {
		return clientID
	}
	return c.Name
}

// ErrAnswered is returned for an authorization request that was answered
// already (a second tab, a reload).
var ErrAnswered = errors.New("oidc: the authorization request was answered already")

// Complete answers an authorization request with the login l: it records
// the login on the request and returns the redirect to the client with the
// code, state and iss (OpenID Connect Core 1.0 §3.1.2.5, RFC 9207).
func (p *Provider) Complete(ctx context.Context, id string, l Login) (string, error) {
	ar, err := p.Storage.updateAuthRequest(ctx, id, func(ar *AuthRequest) error {
		if ar.IsDone {
			return ErrAnswered
		}
		ar.IsDone, ar.UserID, ar.SessionID, ar.AMR, ar.AuthTime = true, l.UserID, l.SessionID, l.AMR, l.AuthTime
		return nil
	})
	if err != nil {
		return "", err
	}
	ctx = op.ContextWithIssuer(ctx, p.issuer)
	u, err := op.BuildAuthResponseCallbackURL(ctx, ar, p.op)
	if err != nil {
		return "", err
	}
	p.Storage.audit(ctx, store.AuditEvent{Actor: l.UserID, Subject: l.UserID, Action: audit.OIDCAuthorize, Result: "success",
		Detail: "client " + ar.ClientID + ", scopes " + fmt.Sprint(ar.Scopes) + ", session " + l.SessionID})
	return withIss(u, p.issuer), nil
}

// Fail answers an authorization request with an OAuth error at its
// (validated) redirect URI, with state and iss, and forgets the request.
func (p *Provider) Fail(ctx context.Context, ar *AuthRequest, e *oidc.Error) (string, error) {
	e.State = ar.State
	u, err := op.AuthResponseURL(ar.RedirectURI, ar.GetResponseType(), ar.GetResponseMode(), e, p.op.Encoder())
	if err != nil {
		return "", err
	}
	if err := p.Storage.DeleteAuthRequest(ctx, ar.ID); err != nil {
		return "", err
	}
	return withIss(u, p.issuer), nil
}

// RequiresFreshLogin reports prompt=login or max_age in the request.
func (a *AuthRequest) RequiresFreshLogin() bool {
	return slices.Contains(a.Prompt, oidc.PromptLogin) || a.MaxAge != nil
}
