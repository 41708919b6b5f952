package account

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"mutualauth/server/audit"
	"mutualauth/server/passkey"
	"mutualauth/server/totp"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// Self holds the changes signed-in users make to their own account. Each
// takes the user's session (its user is actor and subject), refuses a
// deleted or disabled account with ErrSignedOut, checks the
// re-authentication when the change needs one (factors, the phrase, the
// password), and audits its outcome; refusals are *Error values.
type Self struct {
	Durable    store.Durable
	Sessions   store.Sessions
	Ceremonies *passkey.Ceremonies
	Rules      *FactorRules
	Audit      *audit.Auditor
	// RequireReauth returns nil when the session re-authenticated recently
	// enough for a change of factors, else ErrReauthRequired.
	RequireReauth func(ctx context.Context, s store.Session) error
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer string
	Now        func() time.Time
}

// Refusals of the self-service operations.
var (
	// ErrSignedOut: the session's account is gone or disabled; the
	// conversation ends as if the session were.
	ErrSignedOut = &Error{Kind: Unauthenticated, Code: "unauthenticated", Message: i18n.M("problem.sign-in-first")}
	// ErrReauthRequired: the change needs a fresh re-authentication
	// (NIST SP 800-63B §7.2).
	ErrReauthRequired = &Error{Kind: Forbidden, Code: "reauth_required",
		Message: i18n.M("problem.reauth-required")}
	errNothing    = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.not-found")}
	errLastFactor = &Error{Kind: Conflict, Code: "last_factor",
		Message: i18n.M("problem.last-factor")}
)

// User loads the session's account: ErrSignedOut when it is deleted or
// disabled.
func (a *Self) User(ctx context.Context, s store.Session) (store.User, error) {
	u, err := a.Durable.GetUser(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return store.User{}, ErrSignedOut
	}
	return u, err
}

// act runs one change of the session's account, after the
// re-authentication check when reauth is set, and writes its audit event.
// fn returns a detail for the log (never a secret).
func (a *Self) act(ctx context.Context, s store.Session, action string, reauth bool, fn func(u store.User) (string, error)) error {
	var detail string
	err := func() error {
		if reauth {
			if err := a.RequireReauth(ctx, s); err != nil {
				return err
			}
		}
		u, err := a.User(ctx, s)
		if err != nil {
			return err
		}
		detail, err = fn(u)
		return err
	}()
	result := "success"
	if err != nil {
		result = "failure"
		if detail == "" {
			detail = Code(err)
		}
	}
	a.Audit.Record(ctx, store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: action, Result: result, Detail: detail})
	return err
}

// ParseCredentialID decodes a credential id given in base64url.
func ParseCredentialID(raw string) ([]byte, bool) {
	id, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	return id, err == nil && len(id) > 0 && len(id) <= 1023
}

func shortID(id []byte) string {
	return truncate(base64.RawURLEncoding.EncodeToString(id), 16)
}

// RenameCredential renames one of the user's credentials
// (passkey.CredentialName cleans the name).
func (a *Self) RenameCredential(ctx context.Context, s store.Session, rawID, name string) (store.Credential, error) {
	var out store.Credential
	id, ok := ParseCredentialID(rawID)
	if !ok {
		return out, errNothing
	}
	err := a.act(ctx, s, audit.AccountCredentialRename, false, func(u store.User) (string, error) {
		cred, err := a.Durable.GetCredential(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && cred.UserID != u.ID) {
			return "unknown credential", errNothing
		}
		if err != nil {
			return "", err
		}
		cred.Name = passkey.CredentialName(name, a.Now())
		if err := a.Durable.UpdateCredential(ctx, cred); err != nil {
			return "", err
		}
		out = cred
		return "credential " + shortID(id), nil
	})
	return out, err
}

// RemoveCredential deletes one of the user's credentials, but never the
// last second factor: with no authenticator app, the last credential stays
// (last_factor). The check is repeated after the delete, so that of
// concurrent removals one that would leave no second factor puts its
// credential back.
func (a *Self) RemoveCredential(ctx context.Context, s store.Session, rawID string) error {
	id, ok := ParseCredentialID(rawID)
	if !ok {
		return errNothing
	}
	return a.act(ctx, s, audit.AccountCredentialRemove, true, func(u store.User) (string, error) {
		creds, err := a.Durable.ListCredentials(ctx, u.ID)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(creds, func(x store.Credential) bool { return bytes.Equal(x.ID, id) })
		if i < 0 {
			return "unknown credential", errNothing
		}
		if len(creds) == 1 && len(u.TOTPSecret) == 0 {
			return "last second factor", errLastFactor
		}
		err = a.Durable.DeleteCredential(ctx, u.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return "unknown credential", errNothing
		}
		if err != nil {
			return "", err
		}
		left, err := a.Durable.ListCredentials(ctx, u.ID)
		if err != nil {
			return "", err
		}
		if len(left) == 0 {
			fresh, err := a.Durable.GetUser(ctx, u.ID)
			if err != nil {
				return "", err
			}
			if len(fresh.TOTPSecret) == 0 {
				if err := a.Durable.AddCredential(ctx, creds[i]); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
					return "", err
				}
				return "last second factor (concurrent removal)", errLastFactor
			}
		}
		return "credential " + shortID(id), nil
	})
}

// WebAuthnOptions begins the registration of a new passkey (WebAuthn L3
// §7.1), under the session's account ceremony.
func (a *Self) WebAuthnOptions(ctx context.Context, s store.Session) (*protocol.CredentialCreation, error) {
	if !a.Ceremonies.Available() {
		return nil, ErrWebAuthnUnavailable
	}
	if err := a.RequireReauth(ctx, s); err != nil {
		return nil, err
	}
	u, err := a.User(ctx, s)
	if err != nil {
		return nil, err
	}
	creation, err := a.Ceremonies.BeginRegistration(ctx, passkey.ScopeAccount, s.ID, u)
	if errors.Is(err, passkey.ErrUnavailable) {
		return nil, ErrWebAuthnUnavailable
	}
	return creation, err
}

// AddCredential finishes the registration WebAuthnOptions began and adds
// the passkey under name.
func (a *Self) AddCredential(ctx context.Context, s store.Session, credentialJSON []byte, name string) (store.Credential, error) {
	var out store.Credential
	err := a.act(ctx, s, audit.AccountWebAuthn, true, func(u store.User) (string, error) {
		rec, err := a.Ceremonies.FinishRegistration(ctx, passkey.ScopeAccount, s.ID, u, credentialJSON, name)
		if err != nil {
			return RegistrationRefused(err)
		}
		out = rec
		return "credential " + shortID(rec.ID), nil
	})
	return out, err
}

// StartTOTP issues a new TOTP secret, pending until ConfirmTOTP; the
// current one keeps working until then.
func (a *Self) StartTOTP(ctx context.Context, s store.Session) (totp.Enrollment, error) {
	var enr totp.Enrollment
	err := a.act(ctx, s, audit.AccountTOTP, true, func(u store.User) (string, error) {
		var err error
		enr, err = a.Rules.StartTOTP(ctx, a.TOTPIssuer, u)
		return "secret issued, pending confirmation", err
	})
	return enr, err
}

// ConfirmTOTP makes the pending secret the authenticator app of the
// account, replacing an earlier one.
func (a *Self) ConfirmTOTP(ctx context.Context, s store.Session, code string) error {
	return a.act(ctx, s, audit.AccountTOTPConfirm, true, func(u store.User) (string, error) {
		replaced := len(u.TOTPSecret) > 0
		if detail, err := a.Rules.ConfirmTOTP(ctx, u, code); err != nil {
			return detail, err
		}
		if replaced {
			return "authenticator app replaced", nil
		}
		return "authenticator app added", nil
	})
}

// RegenerateCodes replaces the user's recovery codes with
// RecoveryCodeCount new ones, returned once.
func (a *Self) RegenerateCodes(ctx context.Context, s store.Session) ([]string, error) {
	var codes []string
	err := a.act(ctx, s, audit.AccountRecoveryCodes, true, func(u store.User) (string, error) {
		fresh, hashes, err := NewRecoveryCodes(RecoveryCodeCount)
		if err != nil {
			return "", err
		}
		if err := a.Durable.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
			return "", err
		}
		codes = fresh
		return strconv.Itoa(len(fresh)) + " new codes; the old ones no longer work", nil
	})
	return codes, err
}

// SetPassword replaces the password (FactorRules.PasswordHash).
func (a *Self) SetPassword(ctx context.Context, s store.Session, pw string) error {
	return a.act(ctx, s, audit.AccountPassword, true, func(u store.User) (string, error) {
		phc, detail, err := a.Rules.PasswordHash(ctx, u, pw)
		if err != nil {
			return detail, err
		}
		_, err = a.Durable.UpdateUser(ctx, u.ID, func(x *store.User) error {
			x.PasswordHash = phc
			return nil
		})
		return "", err
	})
}

// SetPhrase replaces the security phrase (FactorRules.SealPhrase).
func (a *Self) SetPhrase(ctx context.Context, s store.Session, p string) error {
	return a.act(ctx, s, audit.AccountPhrase, true, func(u store.User) (string, error) {
		sealed, detail, err := a.Rules.SealPhrase(ctx, u, p)
		if err != nil {
			return detail, err
		}
		_, err = a.Durable.UpdateUser(ctx, u.ID, func(x *store.User) error {
			x.Phrase = sealed
			return nil
		})
		return "", err
	})
}

// ForgetDevice deletes one of the user's recognized devices and returns it.
func (a *Self) ForgetDevice(ctx context.Context, s store.Session, id string) (store.Device, error) {
	var gone store.Device
	err := a.act(ctx, s, audit.AccountDeviceForget, false, func(u store.User) (string, error) {
		all, err := a.Durable.ListDevices(ctx, u.ID)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(all, func(d store.Device) bool { return d.ID == id })
		if i < 0 {
			return "unknown device", errNothing
		}
		err = a.Durable.DeleteDevice(ctx, u.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return "unknown device", errNothing
		}
		if err != nil {
			return "", err
		}
		gone = all[i]
		return "device " + id, nil
	})
	return gone, err
}

// RevokeSession ends one of the user's sessions by its public id and
// returns it.
func (a *Self) RevokeSession(ctx context.Context, s store.Session, id string) (store.Session, error) {
	var ended store.Session
	err := a.act(ctx, s, audit.SessionRevoke, false, func(u store.User) (string, error) {
		all, err := a.Sessions.ListSessions(ctx, u.ID)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(all, func(x store.Session) bool { return x.ID == id && x.UserID == u.ID })
		if i < 0 {
			return "unknown session", errNothing
		}
		if err := RevokeSession(ctx, a.Sessions, a.Durable, all[i], a.Now()); err != nil {
			return "", err
		}
		ended = all[i]
		return "session " + id, nil
	})
	return ended, err
}

// RevokeOthers ends the user's sessions but this one and returns how many
// ended.
func (a *Self) RevokeOthers(ctx context.Context, s store.Session) (int, error) {
	n := 0
	err := a.act(ctx, s, audit.AccountRevokeOthers, false, func(u store.User) (string, error) {
		var err error
		n, err = a.Sessions.DeleteUserSessions(ctx, u.ID, s.TokenHash)
		return "ended " + strconv.Itoa(n) + " other sessions", err
	})
	return n, err
}

// OtherSessions counts the user's live sessions besides this one.
func (a *Self) OtherSessions(ctx context.Context, s store.Session) (int, error) {
	all, err := a.Sessions.ListSessions(ctx, s.UserID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range all {
		if x.TokenHash != s.TokenHash {
			n++
		}
	}
	return n, nil
}
