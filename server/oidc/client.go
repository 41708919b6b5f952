package oidc

import (
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mutualauth/store"
)

// ScopeGroups asks for the groups claim (the user's role, as Remote-Groups).
const ScopeGroups = "groups"

// client is op.Client for a registered client.
type client struct {
	c store.Client
}

func (c client) GetID() string                    { return c.c.ID }
func (c client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

// ApplicationType: a confidential client is a web app; a public one is a
// native app when one of its redirect URIs is a loopback or a private-use
// scheme (RFC 8252 §7.1, §7.3: any port of a loopback URI then matches),
// otherwise a browser app.
func (c client) ApplicationType() op.ApplicationType {
	if !c.c.Public {
		return op.ApplicationTypeWeb
	}
	for _, raw := range c.c.RedirectURIs {
		if _, loopback := op.HTTPLoopbackOrLocalhost(raw); loopback {
			return op.ApplicationTypeNative
		}
		if u, err := url.Parse(raw); err == nil && u.Scheme != "http" && u.Scheme != "https" {
			return op.ApplicationTypeNative
		}
	}
	return op.ApplicationTypeUserAgent
}

// AuthMethod: client_secret_basic (client_secret_post is accepted too, see
// op.Config.AuthMethodPost) or none for a public client.
func (c client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
}

// LoginURL is the hand-off to our login: the browser goes there from the
// authorization endpoint.
func (c client) LoginURL(id string) string { return ContinuePath + "?id=" + url.QueryEscape(id) }

func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration       { return IDTokenLifetime }
func (c client) DevMode() bool                        { return false }
func (c client) IsScopeAllowed(scope string) bool     { return scope == ScopeGroups }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// isOIDC says whether a stored client takes part in OIDC at all.
func isOIDC(c store.Client) bool { return len(c.RedirectURIs) > 0 || c.Public }

// hasPrefixPath reports whether location is path or path?...
func hasPrefixPath(location, path string) bool {
	return location == path || strings.HasPrefix(location, path+"?")
}
