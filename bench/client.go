package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// api calls the server's JSON API the way a non-browser client does: no
// Origin or Sec-Fetch-Site headers, no cookie jar.
type api struct {
	base string
	hc   *http.Client
}

// call sends method path with body (a value to encode as JSON, or nil) and
// the given cookies, expects status want and decodes the answer into out
// (when not nil). It returns the response for its headers and cookies.
func (a *api) call(ctx context.Context, method, path string, body any, want int, out any, cookies ...*http.Cookie) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return resp, &statusError{method: method, path: shortPath(path), status: resp.StatusCode, body: strings.TrimSpace(string(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode answer: %w", method, shortPath(path), err)
		}
	}
	return resp, nil
}

// shortPath drops the secret part of enrollment paths from messages.
func shortPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/api/v1/enroll/"); ok {
		if _, tail, ok := strings.Cut(rest, "/"); ok {
			return "/api/v1/enroll/…/" + tail
		}
		return "/api/v1/enroll/…"
	}
	return p
}

// newNonce returns a client_nonce: 32 random bytes, base64url (API.md "Login").
func newNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
