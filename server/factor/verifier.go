package factor

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/server/token"
	"mutualauth/server/totp"
	"mutualauth/store"
)

// Verifier checks factors of accounts. Its fields are its dependencies.
type Verifier struct {
	Users         store.Users
	RecoveryCodes store.RecoveryCodes
	Ceremonies    *passkey.Ceremonies
	Throttle      *login.Throttle
	Hasher        *password.Hasher
	Box           *secretbox.Box
	Audit         *audit.Auditor
	// Locks counts the accounts locked; nil counts nothing.
	Locks prometheus.Counter
	Log   *slog.Logger
	Now   func() time.Time
}

// Result is the outcome of checking one factor.
type Result struct {
	OK bool
	// Reason says why the check failed, for the audit log only.
	Reason string
	// CloneWarning marks a WebAuthn assertion refused because its
	// signature counter did not increase (WebAuthn L3 §6.1.1).
	CloneWarning bool
	// UserVerified: the WebAuthn assertion carried the UV flag (§6.1).
	UserVerified bool
	// User is the account a passkey-first assertion named.
	User *store.User
}

// AuditResult is the result column of the audit event of r: "success",
// "clone_warning" or "failure".
func (r Result) AuditResult() string {
	switch {
	case r.OK:
		return "success"
	case r.CloneWarning:
		return "clone_warning"
	}
	return "failure"
}

func fail(reason string) Result { return Result{Reason: reason} }

var ok = Result{OK: true}

// Attempt is one factor check under a failure counter.
type Attempt struct {
	// Counter is the throttle key of the attempt (login.UsernameCounter,
	// login.DeviceCounter).
	Counter string
	// Unthrottled attempts are not reserved on the counter and cannot lock
	// (a WebAuthn assertion answers a fresh single-use challenge and cannot
	// be guessed); their success still resets it.
	Unthrottled bool
	// Lockable: the counter is the username's (an unrecognized device), so
	// LockAfter consecutive failures on it lock the account, and a locked
	// account's right secret is refused.
	Lockable bool
	// User is the account; nil when the username names none.
	User *store.User
}

// Check runs check as attempt a: the attempt is reserved on a's counter
// before any secret is looked at, so that however many requests race no
// more failures are evaluated than the throttle allows (a throttled attempt
// returns the *login.ThrottledError of Throttle.Reserve and check does not
// run); a failure that reaches login.LockAfter on a lockable counter locks
// the account; a success resets the counter. On a lockable counter a
// locked account fails after its check ran in full (API contract v1.1,
// "Lockout": the lock refuses unrecognized devices; recognized ones count
// on their own counter and keep working).
func (v *Verifier) Check(ctx context.Context, a Attempt, check func() (Result, error)) (Result, error) {
	count := 0
	if !a.Unthrottled {
		var err error
		if count, err = v.Throttle.Reserve(ctx, a.Counter); err != nil {
			return Result{}, err
		}
	}
	res, err := check()
	if err != nil {
		return Result{}, err
	}
	u := a.User
	if u == nil {
		u = res.User
	}
	if res.OK && a.Lockable && u != nil && u.Locked {
		res = fail("account locked")
	}
	if !res.OK {
		if !a.Unthrottled && a.Lockable && count >= login.LockAfter && u != nil && !u.Locked {
			v.lock(ctx, u, count)
		}
		return res, nil
	}
	if err := v.Throttle.Reset(ctx, a.Counter); err != nil {
		return Result{}, err
	}
	return res, nil
}

// lock locks an account after login.LockAfter consecutive failures on its
// username counter; an admin unlocks it. The lock is audited and counted.
func (v *Verifier) lock(ctx context.Context, u *store.User, count int) {
	_, err := v.Users.UpdateUser(ctx, u.ID, func(x *store.User) error {
		x.Locked = true
		return nil
	})
	if err != nil {
		v.Log.Error("locking account failed", "user", u.ID, "err", err)
		return
	}
	v.Audit.Record(ctx, store.AuditEvent{Subject: u.ID, Action: audit.AccountLocked, Result: "locked",
		Detail: "consecutive failed sign-in attempts: " + strconv.Itoa(count)})
	if v.Locks != nil {
		v.Locks.Inc()
	}
}

// Unusable returns why an account may not sign in on any device, or "".
// The failure lock is not among the reasons: it bars unrecognized devices
// only, and Check applies it.
func Unusable(u *store.User) string {
	switch {
	case u.Disabled:
		return "account disabled"
	case u.EnrolledAt.IsZero():
		return "enrollment not completed"
	}
	return ""
}

// Password verifies pw. Unknown accounts (nil) and accounts without a
// password get a dummy verification of the same cost; disabled, locked and
// unenrolled accounts are refused after a real one. A hash made with older
// parameters is replaced (password.Hasher.Verify's needsRehash).
func (v *Verifier) Password(ctx context.Context, u *store.User, pw string) (Result, error) {
	if u == nil || u.PasswordHash == "" {
		if err := v.Hasher.VerifyDummy(ctx, pw); err != nil {
			return Result{}, err
		}
		if u == nil {
			return fail("unknown username"), nil
		}
		return fail("no password set"), nil
	}
	right, rehash, err := v.Hasher.Verify(ctx, u.PasswordHash, pw)
	if errors.Is(err, password.ErrMalformedHash) {
		v.Log.Error("stored password hash is malformed", "user", u.ID)
		return fail("stored password hash is malformed"), nil
	}
	if err != nil {
		return Result{}, err
	}
	if reason := Unusable(u); reason != "" {
		return fail(reason), nil
	}
	if !right {
		return fail("wrong password"), nil
	}
	if rehash {
		v.rehash(ctx, u, pw)
	}
	return ok, nil
}

// rehash replaces a hash made with older parameters, unless the password
// changed meanwhile; a failure only logs.
func (v *Verifier) rehash(ctx context.Context, u *store.User, pw string) {
	phc, err := v.Hasher.Hash(ctx, pw)
	if err == nil {
		_, err = v.Users.UpdateUser(ctx, u.ID, func(x *store.User) error {
			if x.PasswordHash == u.PasswordHash {
				x.PasswordHash = phc
			}
			return nil
		})
	}
	if err != nil {
		v.Log.Warn("password rehash failed", "user", u.ID, "err", err)
	}
}

// Digits drops the spaces people type inside a code ("123 456").
func Digits(code string) string { return strings.Join(strings.Fields(code), "") }

// dummyTOTPSecret is checked against for unknown usernames, so that their
// code check costs what an account's does. No account has it: secrets are
// sealed random 160-bit values.
const dummyTOTPSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// TOTP checks a code of u's authenticator app (RFC 6238 §5.2: the current
// time step or the one before) and accepts its time step at most once,
// atomically in the store, so a code cannot be replayed.
func (v *Verifier) TOTP(ctx context.Context, u *store.User, code string) (Result, error) {
	if u == nil {
		// The same code check as for an account, against a secret no one has.
		_, _ = totp.Check(dummyTOTPSecret, Digits(code), v.Now())
		return fail("unknown username"), nil
	}
	if reason := Unusable(u); reason != "" {
		return fail(reason), nil
	}
	if u.TOTPSecret == nil {
		return fail("no authenticator app enrolled"), nil
	}
	secret, err := v.Box.Open(u.TOTPSecret, TOTPAD(u.ID))
	if err != nil {
		v.Log.Error("TOTP secret cannot be opened", "user", u.ID, "err", err)
		return fail("TOTP secret cannot be opened"), nil
	}
	step, err := totp.Check(string(secret), Digits(code), v.Now())
	if errors.Is(err, totp.ErrInvalidCode) {
		return fail("wrong code"), nil
	}
	if err != nil {
		return Result{}, err
	}
	err = v.Users.AcceptTOTPStep(ctx, u.ID, step)
	if errors.Is(err, store.ErrConflict) {
		return fail("code already used (replay)"), nil
	}
	if err != nil {
		return Result{}, err
	}
	return ok, nil
}

// RecoveryCode spends one of u's recovery codes, atomically in the store
// (NIST SP 800-63B §5.1.2: a look-up secret is used once). An unknown
// username costs the same store round trip, with an id no account has.
func (v *Verifier) RecoveryCode(ctx context.Context, u *store.User, code string) (Result, error) {
	if u != nil {
		if reason := Unusable(u); reason != "" {
			return fail(reason), nil
		}
	}
	if !token.ValidRecoveryCode(code) {
		return fail("not a recovery code"), nil
	}
	owner := "-"
	if u != nil {
		owner = u.ID
	}
	err := v.RecoveryCodes.UseRecoveryCode(ctx, owner, token.HashRecoveryCode(code), v.Now())
	if u == nil && (err == nil || errors.Is(err, store.ErrNotFound)) {
		return fail("unknown username"), nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown or used recovery code"), nil
	}
	if err != nil {
		return Result{}, err
	}
	return ok, nil
}

// Assertion verifies a WebAuthn assertion (WebAuthn L3 §7.2) answering cer,
// the ceremony the caller took from the ceremony store (nil: none was
// pending), for one of u's own credentials; the credential record gets the
// new sign count, flags and last use. A clone warning (§6.1.1: the counter
// did not increase) refuses the assertion and stays on the credential. An
// unknown username (nil) goes through the same verification against an
// account id no account has, so that the answer takes as long.
func (v *Verifier) Assertion(ctx context.Context, u *store.User, cer *passkey.Ceremony, credentialJSON []byte) (Result, error) {
	if cer == nil {
		return fail("no pending WebAuthn challenge"), nil
	}
	subject := store.User{ID: unknownAccountID}
	if u != nil {
		subject = *u
	}
	rec, clone, err := v.Ceremonies.FinishLogin(ctx, *cer, subject, credentialJSON)
	if res, done, err := v.assertionOutcome(subject.ID, rec, clone, err); done {
		return res, err
	}
	if u == nil {
		return fail("unknown username"), nil
	}
	if reason := Unusable(u); reason != "" {
		return fail(reason), nil
	}
	return Result{OK: true, UserVerified: rec.UserVerified}, nil
}

// unknownAccountID stands for an unknown username where a check needs an
// account id; no account has it (ids are hex).
const unknownAccountID = "-"

// DiscoverableAssertion verifies the assertion of a passkey-first login
// (WebAuthn L3 §7.2, a discoverable credential): its user handle names the
// account (Result.User).
func (v *Verifier) DiscoverableAssertion(ctx context.Context, cer *passkey.Ceremony, credentialJSON []byte) (Result, error) {
	if cer == nil {
		return fail("no pending WebAuthn challenge"), nil
	}
	u, rec, clone, err := v.Ceremonies.FinishDiscoverableLogin(ctx, *cer, credentialJSON, func(id string) (store.User, error) {
		return v.Users.GetUser(ctx, id)
	})
	if res, done, err := v.assertionOutcome(u.ID, rec, clone, err); done {
		return res, err
	}
	if reason := Unusable(&u); reason != "" {
		return Result{Reason: reason, User: &u}, nil
	}
	return Result{OK: true, UserVerified: rec.UserVerified, User: &u}, nil
}

// assertionOutcome turns the errors and clone warning of a finished
// assertion into a refusal (or the store error it met); done is false when
// the assertion verified.
func (v *Verifier) assertionOutcome(userID string, rec store.Credential, clone bool, err error) (Result, bool, error) {
	switch {
	case errors.Is(err, passkey.ErrUnavailable):
		return fail("passkeys are off"), true, nil
	case errors.Is(err, passkey.ErrNotRegistered):
		return fail("credential not registered to this account"), true, nil
	case errors.Is(err, passkey.ErrInvalid):
		v.Log.Debug("webauthn assertion refused", "user", userID, "err", err)
		return fail("assertion not valid"), true, nil
	case err != nil:
		return Result{}, true, err
	case clone:
		v.Log.Warn("webauthn clone warning: signature counter did not increase; refused",
			"user", userID, "credential", base64.RawURLEncoding.EncodeToString(rec.ID), "sign_count", rec.SignCount)
		return Result{Reason: "signature counter did not increase (possible cloned authenticator)", CloneWarning: true}, true, nil
	}
	return Result{}, false, nil
}

// TakeAssertionCeremony takes the ceremony an assertion of scope and id
// answers: nil when none is pending.
func (v *Verifier) TakeAssertionCeremony(ctx context.Context, scope passkey.Scope, id string) (*passkey.Ceremony, error) {
	cer, err := v.Ceremonies.Take(ctx, scope, id)
	if errors.Is(err, passkey.ErrNoCeremony) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &cer, nil
}
