package account

import (
	"context"
	"errors"

	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// Kind says what sort of refusal an Error is; the server answers each with
// its HTTP status (in parentheses).
type Kind int

// The kinds of Error.
const (
	Invalid         Kind = iota // the input breaks a rule (422)
	NotFound                    // no such thing (404)
	Conflict                    // the state forbids it (409)
	Forbidden                   // not allowed now (403)
	Unauthenticated             // no signed-in account (401)
	Unavailable                 // the server cannot do it (501)
)

// Error is an account or admin operation refused: a stable code (the
// problem type the API answers with, and what the audit log records) and a
// sentence for people that holds no secret.
type Error struct {
	Kind Kind
	Code string
	// Message is the sentence, in the catalogs (templates/i18n): the API
	// answers with its English (Detail), pages with their language's.
	Message i18n.Message
	// Err, when set, is matched by errors.Is (ErrAlreadyEnrolled,
	// ErrInvalidOrigin, ...).
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Err.Error() + ": " + e.Detail()
	}
	return e.Detail()
}

// Detail is the sentence in English.
func (e *Error) Detail() string { return e.Message.English() }

func (e *Error) Unwrap() error { return e.Err }

// Code is the code an operation's error is answered with, as its audit
// event records it: an Error's own code, or the server's codes for a store
// that cannot be reached, a deadline, and anything else.
func Code(err error) string {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, store.ErrUnavailable):
		return "store_unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "internal_error"
}

// Refusals of the admin operations.
var (
	ErrSelfAction = &Error{Kind: Conflict, Code: "self_action",
		Message: i18n.M("problem.self-action")}
	errEnrolled = &Error{Kind: Conflict, Code: "already_enrolled",
		Message: i18n.M("problem.already-enrolled"), Err: ErrAlreadyEnrolled}
	ErrNoUser    = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.no-user")}
	ErrNoClient  = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.no-client")}
	errNoSession = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.no-session")}
	errNoDevice  = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.no-device")}
	errNoCred    = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.no-credential")}
)
