package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"mutualauth/server/token"
	"mutualauth/store"
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

// NewClient is a client just created; Secret is shown once ("" for a
// public client).
type NewClient struct {
	Client store.Client
	Secret string
}

// ClientSpec is what a client is registered with. One client may be a
// widget client (Origins) and an OpenID Connect client (RedirectURIs) at
// once.
type ClientSpec struct {
	Name                   string
	Origins                []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
}

// Limits of a client's lists.
const (
	MaxClientOrigins      = 20
	MaxClientRedirectURIs = 20
)

// ErrInvalidRedirectURI is returned for a redirect URI that is not an
// absolute URI without fragment.
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
		return fmt.Errorf("%w: %q must be an absolute http(s) URI (or a native app's reverse-domain scheme) without fragment or wildcard",
			ErrInvalidRedirectURI, s)
	}
	return nil
}

// CleanClientSpec applies the registration rules: a name of 1 to 100
// characters, normalized unique origins, valid unique redirect URIs, at
// least one origin or redirect URI.
func CleanClientSpec(spec ClientSpec) (ClientSpec, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Name == "" || !utf8.ValidString(spec.Name) || utf8.RuneCountInString(spec.Name) > 100 {
		return spec, errors.New("a client needs a name of 1 to 100 characters")
	}
	var err error
	if spec.Origins, err = uniq(spec.Origins, MaxClientOrigins, NormalizeOrigin); err != nil {
		return spec, err
	}
	check := func(s string) (string, error) { s = strings.TrimSpace(s); return s, CheckRedirectURI(s) }
	if spec.RedirectURIs, err = uniq(spec.RedirectURIs, MaxClientRedirectURIs, check); err != nil {
		return spec, err
	}
	if spec.PostLogoutRedirectURIs, err = uniq(spec.PostLogoutRedirectURIs, MaxClientRedirectURIs, check); err != nil {
		return spec, err
	}
	if len(spec.Origins) == 0 && len(spec.RedirectURIs) == 0 {
		return spec, errors.New("a client needs at least one origin or redirect URI")
	}
	return spec, nil
}

func uniq(list []string, max int, clean func(string) (string, error)) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if strings.TrimSpace(s) == "" {
			continue
		}
		n, err := clean(s)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) > max {
		return nil, fmt.Errorf("a client takes at most %d entries of each kind", max)
	}
	return out, nil
}

// CreateClient registers a widget client with its allowed origins.
func CreateClient(ctx context.Context, st store.Clients, now time.Time, name string, origins []string) (NewClient, error) {
	if len(origins) == 0 {
		return NewClient{}, errors.New("a client needs 1 to 20 allowed origins")
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
