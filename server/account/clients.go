package account

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// ErrInvalidOrigin is returned for an origin that is not scheme://host[:port].
var ErrInvalidOrigin = errors.New("invalid origin")

// NormalizeOrigin returns the serialized origin (RFC 6454 §6.2) of an http(s)
// URL given as an origin: lower-case scheme and host, no path, query,
// fragment or user info, default ports dropped.
func NormalizeOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: %q must be scheme://host[:port]", ErrInvalidOrigin, s)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if !validOriginHost(host) {
		return "", fmt.Errorf("%w: %q must name one host (no wildcard; ASCII or punycode)", ErrInvalidOrigin, s)
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

// validOriginHost accepts an IP literal or a host name of dot-separated
// labels of ASCII letters, digits, "-" and "_": browsers serialize an
// origin's host in that form (IDNA A-labels), so anything else — a "*"
// wildcard above all — could never match an Origin header and would only
// widen frame-ancestors (CSP3 reads "*" there as a wildcard).
func validOriginHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// Limits of a widget client.
const (
	MaxClientNameLength = 100
	MaxClientOrigins    = 20
)

// CleanClientName applies the rules of a client's name, the same from the
// admin API, the admin pages and the command line: the display-name rules
// (trimmed, no control characters), 1 to MaxClientNameLength characters.
func CleanClientName(s string) (string, error) {
	name, err := CleanDisplayName(s)
	if err != nil || name == "" || utf8.RuneCountInString(name) > MaxClientNameLength {
		return "", &Error{Kind: Invalid, Code: "invalid_name",
			Message: i18n.M("problem.invalid-client-name")}
	}
	return name, nil
}

// CleanOrigins normalizes (NormalizeOrigin) and deduplicates a client's
// allowed origins, ignoring blank ones: 1 to MaxClientOrigins must remain.
func CleanOrigins(origins []string) ([]string, error) {
	out, err := cleanOriginList(origins)
	if err == nil && len(out) == 0 {
		err = &Error{Kind: Invalid, Code: "invalid_origin", Message: i18n.M("problem.origin-count")}
	}
	return out, err
}

// cleanOriginList is CleanOrigins allowing none.
func cleanOriginList(origins []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, o := range origins {
		if strings.TrimSpace(o) == "" {
			continue
		}
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, &Error{Kind: Invalid, Code: "invalid_origin", Err: ErrInvalidOrigin,
				Message: i18n.M("problem.invalid-origin", strconv.Quote(truncate(o, 100)))}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) > MaxClientOrigins {
		return nil, &Error{Kind: Invalid, Code: "invalid_origin", Message: i18n.M("problem.origin-count")}
	}
	return out, nil
}

// MaxClientRedirectURIs bounds a client's redirect URIs and post-logout
// redirect URIs, each.
const MaxClientRedirectURIs = 20

// ErrInvalidRedirectURI is matched by the error of a redirect URI that is
// not an absolute URI without fragment or wildcard.
var ErrInvalidRedirectURI = errors.New("invalid redirect URI")

// CheckRedirectURI checks a redirection endpoint as registered (RFC 6749
// §3.1.2): absolute, no fragment, no user info, no wildcard; http(s) or a
// private-use scheme with a dot in it for native apps (RFC 8252 §7.1). It is
// kept exactly as given: authorization requests must match it exactly.
func CheckRedirectURI(s string) error {
	u, err := url.Parse(s)
	bad := err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(s, "#") || u.User != nil ||
		strings.ContainsAny(s, "* \t\r\n\\") || len(s) > 2000 || !utf8.ValidString(s)
	if !bad {
		switch u.Scheme {
		case "http", "https":
			bad = u.Hostname() == ""
		default:
			bad = !strings.Contains(u.Scheme, ".")
		}
	}
	if bad {
		return &Error{Kind: Invalid, Code: "invalid_redirect_uri", Err: ErrInvalidRedirectURI,
			Message: i18n.M("problem.invalid-redirect-uri", strconv.Quote(truncate(s, 100)))}
	}
	return nil
}

func cleanRedirectURIs(list []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		if err := CheckRedirectURI(s); err != nil {
			return nil, err
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) > MaxClientRedirectURIs {
		return nil, &Error{Kind: Invalid, Code: "invalid_redirect_uri", Message: i18n.M("problem.redirect-uri-count")}
	}
	return out, nil
}

// ClientSpec is what a client is registered with. One client may be a
// widget client (Origins) and an OpenID Connect client (RedirectURIs) at
// once.
type ClientSpec struct {
	Name                   string
	Origins                []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool // no secret; PKCE required (OIDC)
}

// CleanClientSpec applies the registration rules: CleanClientName, the
// origins of CleanOrigins and redirect URIs of CheckRedirectURI, without
// duplicates, at least one origin or redirect URI.
func CleanClientSpec(spec ClientSpec) (ClientSpec, error) {
	var err error
	if spec.Name, err = CleanClientName(spec.Name); err != nil {
		return spec, err
	}
	if spec.Origins, err = cleanOriginList(spec.Origins); err != nil {
		return spec, err
	}
	if spec.RedirectURIs, err = cleanRedirectURIs(spec.RedirectURIs); err != nil {
		return spec, err
	}
	if spec.PostLogoutRedirectURIs, err = cleanRedirectURIs(spec.PostLogoutRedirectURIs); err != nil {
		return spec, err
	}
	if len(spec.Origins) == 0 && len(spec.RedirectURIs) == 0 {
		return spec, &Error{Kind: Invalid, Code: "invalid_origin",
			Message: i18n.M("problem.client-needs-uses")}
	}
	return spec, nil
}

// NewClient is a client just created; Secret is shown once ("" for a
// public client).
type NewClient struct {
	Client store.Client
	Secret string
}

// CreateClient registers a widget client with its allowed origins, after
// CleanClientName and CleanOrigins.
func CreateClient(ctx context.Context, st store.Clients, now time.Time, name string, origins []string) (NewClient, error) {
	if _, err := CleanOrigins(origins); err != nil {
		return NewClient{}, err
	}
	return RegisterClient(ctx, st, now, ClientSpec{Name: name, Origins: origins})
}

// RegisterClient registers a client after CleanClientSpec. A confidential
// client gets a secret (shown once, stored as its hash); a public one none.
func RegisterClient(ctx context.Context, st store.Clients, now time.Time, spec ClientSpec) (NewClient, error) {
	spec, err := CleanClientSpec(spec)
	if err != nil {
		return NewClient{}, err
	}
	c := store.Client{
		ID: "mac_" + NewID(), Name: spec.Name, Origins: spec.Origins, RedirectURIs: spec.RedirectURIs,
		PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs, Public: spec.Public, CreatedAt: now, UpdatedAt: now,
	}
	var secret string
	if !spec.Public {
		if secret, err = token.New(); err != nil {
			return NewClient{}, err
		}
		c.SecretHash = token.Hash(secret)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return NewClient{}, fmt.Errorf("create client: %w", err)
	}
	return NewClient{Client: c, Secret: secret}, nil
}
