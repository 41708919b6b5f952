package account

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	if !validOriginHost(host) {
		return "", fmt.Errorf("%w: %q must name one host (no wildcard, ASCII or punycode)", ErrInvalidOrigin, s)
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
// wildcard above all — could never match an Origin header and only widen
// frame-ancestors (CSP3 §7.2 reads "*" there as a wildcard).
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

// NewClient is a widget client just created; Secret is shown once.
type NewClient struct {
	Client store.Client
	Secret string
}

// CreateClient registers a widget client with its allowed origins.
func CreateClient(ctx context.Context, st store.Clients, now time.Time, name string, origins []string) (NewClient, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 {
		return NewClient{}, errors.New("a client needs a name of 1 to 100 characters")
	}
	if len(origins) == 0 || len(origins) > 20 {
		return NewClient{}, errors.New("a client needs 1 to 20 allowed origins")
	}
	seen := map[string]bool{}
	var clean []string
	for _, o := range origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return NewClient{}, err
		}
		if !seen[n] {
			seen[n] = true
			clean = append(clean, n)
		}
	}
	secret, err := token.New()
	if err != nil {
		return NewClient{}, err
	}
	c := store.Client{
		ID: "mac_" + NewID(), Name: name, SecretHash: token.Hash(secret), Origins: clean,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return NewClient{}, fmt.Errorf("create client: %w", err)
	}
	return NewClient{Client: c, Secret: secret}, nil
}
