package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mutualauth/server/keys"
)

// Client talks to one mutualauth server.
type Client struct {
	// Server is the issuer, scheme://host[:port], as NormalizeServer gives it.
	Server string
	Pins   PinStore
	HTTP   *http.Client
	// Confirm is asked, on first contact (no pin), whether to trust the key
	// with this thumbprint; the proof has been verified against the server's
	// own key set. Nil refuses.
	Confirm func(kid string) bool
	// Repinned is told when a proof by a newer key was accepted through
	// handovers and the pin moved to it. Optional.
	Repinned func(oldKID, newKID string)
	// Now is the clock for proof expiry; nil means time.Now.
	Now func() time.Time
}

// maxBody bounds what is read of any answer.
const maxBody = 1 << 20

// New returns a client of server (see NormalizeServer) keeping pins in pins.
func New(server string, pins PinStore) (*Client, error) {
	s, err := NormalizeServer(server)
	if err != nil {
		return nil, err
	}
	return &Client{Server: s, Pins: pins, HTTP: &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirects}}, nil
}

// noRedirects: an answer is taken from the server asked, never from where
// it points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NormalizeServer checks that raw is an http(s) origin (a trailing slash is
// dropped) and returns it with scheme and host in lower case.
func NormalizeServer(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server %q must be https://host[:port] (or http:// for a local test server), without a path", raw)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

// NewNonce returns a fresh 32-byte client nonce, base64url.
func NewNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// response is one answer of the server.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a JSON request (body nil: none) with the session cookie when s is set.
func (c *Client) do(ctx context.Context, method, path string, body any, s *Session) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s != nil {
		req.AddCookie(&http.Cookie{Name: s.CookieName, Value: s.Token})
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, c.Server+path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, c.Server+path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// problem turns a non-2xx answer into a *Problem.
func problem(r response) *Problem {
	p := &Problem{}
	_ = json.Unmarshal(r.body, p)
	p.Status = r.status
	p.RetryAfter = r.header.Get("Retry-After")
	if p.Code == "" {
		p.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(r.status), " ", "_"))
	}
	return p
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	r, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return problem(r)
	}
	return json.Unmarshal(r.body, v)
}

// keySet fetches the JWKS, and the handovers when a proof's key is not the
// pinned one.
func (c *Client) keySet(ctx context.Context, withHandovers bool) ([]byte, []string, error) {
	r, err := c.do(ctx, http.MethodGet, "/.well-known/jwks.json", nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if r.status != http.StatusOK {
		return nil, nil, problem(r)
	}
	if !withHandovers {
		return r.body, nil, nil
	}
	var doc struct {
		Handovers []string `json:"key_handovers"`
	}
	if err := c.getJSON(ctx, "/.well-known/mutualauth", &doc); err != nil {
		return nil, nil, err
	}
	return r.body, doc.Handovers, nil
}

// proofKID reads the kid of a proof's header, unverified.
func proofKID(jws string) string {
	var h struct {
		Kid string `json:"kid"`
	}
	seg, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err == nil {
		_ = json.Unmarshal(b, &h)
	}
	return h.Kid
}

// Verify checks a proof over nonce for loginID as API.md's "Command-line
// client" asks, against the pinned key or through handovers from it, and
// moves the pin when handovers were followed. Every failure is a
// *NotProvenError.
func (c *Client) Verify(ctx context.Context, proof, nonce, loginID string) (keys.Verified, error) {
	if proof == "" {
		return keys.Verified{}, &NotProvenError{Reason: "the answer carries no proof"}
	}
	if loginID == "" {
		return keys.Verified{}, &NotProvenError{Reason: "the answer names no login"}
	}
	pinned, err := c.Pins.PinnedKey(c.Server)
	if err != nil {
		return keys.Verified{}, err
	}
	kid := proofKID(proof)
	jwks, handovers, err := c.keySet(ctx, pinned != "" && kid != pinned)
	if err != nil {
		return keys.Verified{}, &NotProvenError{Reason: "its key set could not be fetched", Err: err}
	}
	want := keys.VerifyOptions{
		Issuer: c.Server, Audience: c.Server, Nonce: nonce, LoginID: loginID,
		PinnedKID: pinned, Handovers: handovers, Now: c.now(),
	}
	v, err := keys.VerifyProof(proof, jwks, want)
	if errors.Is(err, keys.ErrPinMismatch) {
		return keys.Verified{}, &NotProvenError{Reason: "its key changed and no valid handover leads from the pinned key to it", Err: err, ServerKID: kid, PinnedKID: pinned}
	}
	if err != nil {
		return keys.Verified{}, &NotProvenError{Reason: "its proof does not verify", Err: err}
	}
	switch {
	case pinned == "":
		if c.Confirm == nil || !c.Confirm(v.KID) {
			return keys.Verified{}, &NotProvenError{Reason: "first contact: no key is pinned for this server, and nobody confirmed its key " + v.KID, Err: ErrNotPinned, ServerKID: v.KID}
		}
		if err := c.Pins.SetPinnedKey(c.Server, v.KID); err != nil {
			return keys.Verified{}, err
		}
	case v.KID != pinned:
		if err := c.Pins.SetPinnedKey(c.Server, v.KID); err != nil {
			return keys.Verified{}, err
		}
		if c.Repinned != nil {
			c.Repinned(pinned, v.KID)
		}
	}
	return v, nil
}
