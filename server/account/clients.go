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
