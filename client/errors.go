package client

import (
	"errors"
	"fmt"
	"net/http"
)

// NotProvenError means the server did not prove itself: no proof, a proof
// that does not verify, a key that is neither pinned nor reached through
// valid handovers, or an answer that contradicts its proof. After it the
// client sends nothing more in that login.
type NotProvenError struct {
	Reason string
	Err    error // the verifier's error, when there is one
	// ServerKID and PinnedKID are set when the key changed and could not be
	// followed: the fingerprint to compare with the one the operator
	// publishes, and the one pinned before.
	ServerKID, PinnedKID string
}

func (e *NotProvenError) Error() string {
	if e.Err != nil && !errors.Is(e.Err, ErrNotPinned) {
		return "the server did not prove itself: " + e.Reason + ": " + e.Err.Error()
	}
	return "the server did not prove itself: " + e.Reason
}

func (e *NotProvenError) Unwrap() error { return e.Err }

// ErrNotPinned: no key is pinned for the server and nobody confirmed the
// one it presented (no Confirm, or Confirm said no).
var ErrNotPinned = errors.New("no server key is pinned and none was confirmed")

// ErrNotSignedIn: no stored session for the server, or the server no longer
// knows it.
var ErrNotSignedIn = errors.New("not signed in")

// Problem is a refusal from the server: an RFC 9457 problem document.
type Problem struct {
	Status     int    `json:"status"`
	Code       string `json:"code"`
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	RetryAfter string `json:"-"`
}

func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	out := fmt.Sprintf("%s (%d %s)", msg, p.Status, p.Code)
	if p.RetryAfter != "" {
		out += "; try again in " + p.RetryAfter + " s"
	}
	return out
}
