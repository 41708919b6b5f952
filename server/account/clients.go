package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
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
			Detail: "A client needs a name of 1 to 100 characters, without control characters."}
	}
	return name, nil
}

// CleanOrigins normalizes (NormalizeOrigin) and deduplicates a client's
// allowed origins, ignoring blank ones: 1 to MaxClientOrigins must remain.
func CleanOrigins(origins []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, o := range origins {
		if strings.TrimSpace(o) == "" {
			continue
		}
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, &Error{Kind: Invalid, Code: "invalid_origin", Err: ErrInvalidOrigin,
				Detail: "Each origin must be scheme://host[:port] with http or https, without a path: " +
					strconv.Quote(truncate(o, 100)) + " is not."}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 || len(out) > MaxClientOrigins {
		return nil, &Error{Kind: Invalid, Code: "invalid_origin", Detail: "A client needs 1 to 20 allowed origins."}
	}
	return out, nil
}

// NewClient is a widget client just created; Secret is shown once.
type NewClient struct {
	Client store.Client
	Secret string
}

// CreateClient registers a widget client with its allowed origins, after
// CleanClientName and CleanOrigins.
func CreateClient(ctx context.Context, st store.Clients, now time.Time, name string, origins []string) (NewClient, error) {
	name, err := CleanClientName(name)
	if err != nil {
		return NewClient{}, err
	}
	clean, err := CleanOrigins(origins)
	if err != nil {
		return NewClient{}, err
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
