package store

import "errors"

// Sentinel errors. Backends wrap driver errors so that callers can use
// errors.Is with these and nothing else.
var (
	// ErrNotFound: the record does not exist (or has expired).
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a record with the same unique key exists.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrConflict: a compare-and-set lost (the stored value is not the
	// expected one, a one-time value was already used, a TOTP step is not
	// newer than the last accepted one).
	ErrConflict = errors.New("store: conflict")
	// ErrLookAlike: the username's [Skeleton] is another user's (the
	// usernames look alike). It is apart from ErrAlreadyExists, which an
	// exact duplicate username gets, so that a caller can tell "this
	// account exists" from "this name imitates an account".
	ErrLookAlike = errors.New("store: username looks like another user's")
	// ErrUnavailable: the backend cannot be reached. The server answers 503.
	ErrUnavailable = errors.New("store: unavailable")
)
