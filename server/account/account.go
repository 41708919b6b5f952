package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"

	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// MaxUsernameLength is the longest username accepted, in code points.
const MaxUsernameLength = 64

// MaxDisplayNameLength is the longest display name accepted, in code points.
const MaxDisplayNameLength = 128

// ErrInvalidUsername is returned for a username that cannot be prepared.
var ErrInvalidUsername = errors.New("invalid username")

// ErrAlreadyEnrolled is returned when an invite is asked for a user who has
// finished enrollment; an admin resets such a user instead.
var ErrAlreadyEnrolled = errors.New("user has already enrolled")

// NormalizeUsername prepares a username for storage and lookup (RFC 8265
// §3.3.2, enforcement). It returns ErrInvalidUsername for empty, too long
// or disallowed input.
func NormalizeUsername(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxUsernameLength {
		return "", ErrInvalidUsername
	}
	out, err := precis.UsernameCaseMapped.String(s)
	if err != nil || out == "" || utf8.RuneCountInString(out) > MaxUsernameLength {
		return "", ErrInvalidUsername
	}
	return out, nil
}

// ErrInvalidDisplayName is returned for a display name that is too long or
// holds a control character or a bidirectional control.
var ErrInvalidDisplayName = errors.New("invalid display name")

// CleanDisplayName trims a display name and refuses control characters and
// the bidirectional controls (Bidi_Control, UAX #9 §2: embeddings,
// overrides, isolates and marks), with which a name could reorder the text
// around it (CVE-2021-42574).
func CleanDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayNameLength {
		return "", ErrInvalidDisplayName
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return "", ErrInvalidDisplayName
		}
	}
	return s, nil
}

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// InviteRequest asks for an enrollment invite.
type InviteRequest struct {
	Username    string
	DisplayName string
	Email       string // optional; set by an admin, so verified
	Admin       bool
	CreatedBy   string // acting admin's id, "cli" or "system"
	TTL         time.Duration
}

// Invite is an issued invite. Token is shown once and never stored.
type Invite struct {
	Token     string
	User      store.User
	ExpiresAt time.Time
	Created   bool // the user was created by this call
}

// IssueInvite creates the user if needed (as an admin when asked) and a
// fresh invite for them; earlier invites of that user stop working.
func IssueInvite(ctx context.Context, st store.Durable, now time.Time, req InviteRequest) (Invite, error) {
	username, err := NormalizeUsername(req.Username)
	if err != nil {
		return Invite{}, err
	}
	display, err := CleanDisplayName(req.DisplayName)
	if err != nil {
		return Invite{}, err
	}
	if display == "" {
		display = username
	}
	email, err := CleanEmail(req.Email)
	if err != nil {
		return Invite{}, err
	}
	role := store.RoleUser
	if req.Admin {
		role = store.RoleAdmin
	}
	created := false
	u, err := st.GetUserByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := CheckNewUsername(username); err != nil {
			return Invite{}, err
		}
		u = store.User{
			ID: NewID(), Username: username, DisplayName: display, Role: role, Email: email,
			CreatedAt: now, UpdatedAt: now,
		}
		if err := st.CreateUser(ctx, u); err != nil {
			switch {
			case errors.Is(err, store.ErrAlreadyExists):
				return IssueInvite(ctx, st, now, req)
			case errors.Is(err, store.ErrLookAlike):
				return Invite{}, lookAlikeError()
			}
			return Invite{}, fmt.Errorf("create user: %w", err)
		}
		created = true
	case err != nil:
		return Invite{}, fmt.Errorf("look up user: %w", err)
	case !u.EnrolledAt.IsZero():
		return Invite{}, ErrAlreadyEnrolled
	case (req.Admin && u.Role != store.RoleAdmin) || (email != "" && email != u.Email):
		u, err = st.UpdateUser(ctx, u.ID, func(u *store.User) error {
			if req.Admin {
				u.Role = store.RoleAdmin
			}
			if email != "" {
				u.Email = email
			}
			return nil
		})
		if err != nil {
			return Invite{}, fmt.Errorf("update user: %w", err)
		}
	}
	if err := st.DeleteUserInvites(ctx, u.ID); err != nil {
		return Invite{}, fmt.Errorf("drop old invites: %w", err)
	}
	tok, err := token.New()
	if err != nil {
		return Invite{}, err
	}
	ttl := req.TTL
	if ttl <= 0 {
		ttl = 72 * time.Hour
	}
	inv := store.Invite{
		TokenHash: token.Hash(tok), UserID: u.ID, CreatedBy: req.CreatedBy,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := st.CreateInvite(ctx, inv); err != nil {
		return Invite{}, fmt.Errorf("create invite: %w", err)
	}
	return Invite{Token: tok, User: u, ExpiresAt: inv.ExpiresAt, Created: created}, nil
}

// EnrollURL is the link an invitee opens.
func EnrollURL(issuer, tok string) string { return issuer + "/enroll/" + tok }

// truncate cuts s to at most n bytes, for details that quote user input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ErrInvalidEmail is matched by the error of an address that is not one
// plain addr-spec.
var ErrInvalidEmail = errors.New("invalid email address")

// CleanEmail checks an optional email address: empty, or one bare
// addr-spec (RFC 5322 §3.4.1) of at most 254 octets (RFC 5321 §4.5.3.1).
func CleanEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s, "@") {
		return "", &Error{Kind: Invalid, Code: "invalid_email", Err: ErrInvalidEmail,
			Message: i18n.M("problem.invalid-email")}
	}
	return s, nil
}
