package account

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"mutualauth/server/audit"
	"mutualauth/server/clientcert"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// Admin holds the operations of the admin center on accounts and widget
// clients. Each takes the acting admin's user id and audits its outcome
// with that actor, refusals included; refusals are *Error values.
type Admin struct {
	Durable  store.Durable
	Sessions store.Sessions
	// KV holds the login failure counters that unlock and reset clear
	// (API.md, "Throttling").
	KV        store.KV
	Audit     *audit.Auditor
	InviteTTL time.Duration
	// Certs checks the client certificates an admin binds; nil: no client
	// CAs are configured, and a certificate is only parsed.
	Certs *clientcert.Source
	Now   func() time.Time
}

// note is what an operation's audit event says about its outcome.
type note struct {
	Action  string // when set, replaces the action run was given
	Subject string
	Detail  string
}

// run performs one operation and audits it: "success" with fn's note, or
// "failure" with the error's code added to the detail.
func (a *Admin) run(ctx context.Context, actor, action, subject string, fn func(n *note) error) error {
	n := note{Subject: subject}
	err := fn(&n)
	result, detail := "success", n.Detail
	if err != nil {
		result = "failure"
		if detail != "" {
			detail += "; "
		}
		detail += Code(err)
	}
	if n.Action != "" {
		action = n.Action
	}
	a.Audit.Record(ctx, store.AuditEvent{Actor: actor, Subject: n.Subject, Action: action, Result: result, Detail: detail})
	return err
}

// User returns the user or ErrNoUser.
func (a *Admin) User(ctx context.Context, id string) (store.User, error) {
	u, err := a.Durable.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrNoUser
	}
	return u, err
}

// updateUser changes the user with fn: ErrNoUser when there is none.
func (a *Admin) updateUser(ctx context.Context, id string, fn func(*store.User)) (store.User, error) {
	u, err := a.Durable.UpdateUser(ctx, id, func(u *store.User) error {
		fn(u)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrNoUser
	}
	return u, err
}

// InviteInput is what an admin asks an invite for.
type InviteInput struct {
	Username    string
	DisplayName string
	Admin       bool
	Email       string
}

// Invite creates the user if needed and a fresh invite for them (the same
// invite links as the command line); an enrolled user is refused with
// already_enrolled.
func (a *Admin) Invite(ctx context.Context, actor string, in InviteInput) (Invite, error) {
	var inv Invite
	err := a.run(ctx, actor, audit.AdminUserCreate, truncate(in.Username, 64), func(n *note) error {
		username, err := NormalizeUsername(in.Username)
		if err != nil {
			return &Error{Kind: Invalid, Code: "invalid_username",
				Message: i18n.M("problem.invalid-username"), Err: err}
		}
		n.Subject = username
		if _, err := CleanDisplayName(in.DisplayName); err != nil {
			return &Error{Kind: Invalid, Code: "invalid_display_name",
				Message: i18n.M("problem.invalid-display-name")}
		}
		if _, err := CleanEmail(in.Email); err != nil {
			return err
		}
		if u, err := a.Durable.GetUserByUsername(ctx, username); err == nil {
			n.Action, n.Subject = audit.AdminUserInvite, u.ID
			if !u.EnrolledAt.IsZero() {
				return errEnrolled
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		inv, err = IssueInvite(ctx, a.Durable, a.Now(), InviteRequest{
			Username: username, DisplayName: in.DisplayName, Admin: in.Admin, Email: in.Email, CreatedBy: actor, TTL: a.InviteTTL,
		})
		if errors.Is(err, ErrAlreadyEnrolled) {
			return errEnrolled
		}
		if err != nil {
			return err
		}
		n.Subject = inv.User.ID
		if inv.Created {
			n.Action = audit.AdminUserCreate
			n.Detail = "user " + inv.User.Username + " created (role " + string(inv.User.Role) + "); invite issued"
		} else {
			n.Action = audit.AdminUserInvite
			n.Detail = "new invite for " + inv.User.Username + "; earlier invites revoked"
		}
		return nil
	})
	return inv, err
}

// SetEmail sets (or, with "", removes) the user's email address. An
// address an admin set counts as verified (email_verified in OIDC).
func (a *Admin) SetEmail(ctx context.Context, actor, id, email string) (store.User, error) {
	var u store.User
	err := a.run(ctx, actor, audit.AdminUserEmail, id, func(n *note) error {
		clean, err := CleanEmail(email)
		if err != nil {
			return err
		}
		if u, err = a.updateUser(ctx, id, func(u *store.User) { u.Email = clean }); err != nil {
			return err
		}
		n.Detail = u.Username + "; email " + clean
		if clean == "" {
			n.Detail = u.Username + "; email removed"
		}
		return nil
	})
	return u, err
}

// SetDisabled disables (ending all the user's sessions at once) or enables
// a user, and returns the user and the number of sessions ended. An admin
// cannot disable themselves.
func (a *Admin) SetDisabled(ctx context.Context, actor, id string, disabled bool) (store.User, int, error) {
	action := audit.AdminUserEnable
	if disabled {
		action = audit.AdminUserDisable
	}
	var (
		u     store.User
		ended int
	)
	err := a.run(ctx, actor, action, id, func(n *note) error {
		if disabled && id == actor {
			return ErrSelfAction
		}
		var err error
		if u, err = a.updateUser(ctx, id, func(u *store.User) { u.Disabled = disabled }); err != nil {
			return err
		}
		n.Detail = u.Username
		if !disabled {
			return nil
		}
		// Disabled first, then the sessions: a login that completes in
		// between is refused by the flag, and its session ends here.
		ended, err = a.Sessions.DeleteUserSessions(ctx, id, "")
		if err != nil {
			return err
		}
		n.Detail += "; sessions ended: " + strconv.Itoa(ended)
		return nil
	})
	return u, ended, err
}

// clearCounters forgets the user's login failure counters: the one per
// username and the ones per recognized device.
func (a *Admin) clearCounters(ctx context.Context, u store.User) error {
	if err := a.KV.Delete(ctx, login.UsernameCounter(u.Username)); err != nil {
		return err
	}
	devices, err := a.Durable.ListDevices(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, d := range devices {
		if err := a.KV.Delete(ctx, login.DeviceCounter(d.ID)); err != nil {
			return err
		}
	}
	return nil
}

// Unlock lifts a lock set after too many failed sign-ins and clears the
// failure counters, so the next attempt is not throttled.
func (a *Admin) Unlock(ctx context.Context, actor, id string) (store.User, error) {
	var u store.User
	err := a.run(ctx, actor, audit.AdminUserUnlock, id, func(n *note) error {
		var err error
		if u, err = a.updateUser(ctx, id, func(u *store.User) { u.Locked = false }); err != nil {
			return err
		}
		n.Detail = u.Username
		return a.clearCounters(ctx, u)
	})
	return u, err
}

// Reset clears every factor of the user (password, phrase, TOTP, WebAuthn
// credentials, recovery codes, recognized devices) and the enrollment, ends
// their sessions and issues a new invite; it returns the invite and the
// number of sessions ended. The role and the disabled flag stay; the lock
// and the failure counters go.
func (a *Admin) Reset(ctx context.Context, actor, id string) (Invite, int, error) {
	var (
		inv   Invite
		ended int
	)
	err := a.run(ctx, actor, audit.AdminUserReset, id, func(n *note) error {
		if id == actor {
			return ErrSelfAction
		}
		// Unenrolled first: from here on no login can succeed.
		u, err := a.updateUser(ctx, id, func(u *store.User) {
			u.PasswordHash = ""
			u.Phrase = nil
			u.TOTPSecret = nil
			u.TOTPPending = nil
			u.EnrolledAt = time.Time{}
			u.Locked = false
		})
		if err != nil {
			return err
		}
		n.Detail = u.Username
		if ended, err = a.Sessions.DeleteUserSessions(ctx, id, ""); err != nil {
			return err
		}
		if err := a.clearCounters(ctx, u); err != nil {
			return err
		}
		if err := a.Durable.DeleteUserCredentials(ctx, id); err != nil {
			return err
		}
		if err := a.Durable.ReplaceRecoveryCodes(ctx, id, nil); err != nil {
			return err
		}
		if err := a.Durable.DeleteUserDevices(ctx, id); err != nil {
			return err
		}
		if err := a.Durable.DeleteUserClientCerts(ctx, id); err != nil {
			return err
		}
		inv, err = IssueInvite(ctx, a.Durable, a.Now(), InviteRequest{
			Username: u.Username, DisplayName: u.DisplayName, CreatedBy: actor, TTL: a.InviteTTL,
		})
		if err != nil {
			return err
		}
		n.Detail += "; factors cleared; sessions ended: " + strconv.Itoa(ended) + "; new invite issued"
		return nil
	})
	return inv, ended, err
}

// RevokeSession ends one of the user's sessions, named by its public id,
// and returns it.
func (a *Admin) RevokeSession(ctx context.Context, actor, userID, sessionID string) (store.Session, error) {
	var ended store.Session
	err := a.run(ctx, actor, audit.AdminSessionRevoke, userID, func(n *note) error {
		n.Detail = "session " + truncate(sessionID, 64)
		all, err := a.Sessions.ListSessions(ctx, userID)
		if err != nil {
			return err
		}
		for _, s := range all {
			if s.ID != sessionID || s.UserID != userID {
				continue
			}
			if err := RevokeSession(ctx, a.Sessions, a.Durable, s, a.Now()); err != nil {
				return err
			}
			ended = s
			return nil
		}
		return errNoSession
	})
	return ended, err
}

// DeleteDevice forgets one of the user's recognized devices and its
// failure counter.
func (a *Admin) DeleteDevice(ctx context.Context, actor, userID, deviceID string) error {
	return a.run(ctx, actor, audit.AdminDeviceDelete, userID, func(n *note) error {
		n.Detail = "device " + truncate(deviceID, 64)
		err := a.Durable.DeleteDevice(ctx, userID, deviceID)
		if errors.Is(err, store.ErrNotFound) {
			return errNoDevice
		}
		if err != nil {
			return err
		}
		return a.KV.Delete(ctx, login.DeviceCounter(deviceID))
	})
}

// DeleteCredential removes one of the user's WebAuthn credentials, named by
// its id in base64url.
func (a *Admin) DeleteCredential(ctx context.Context, actor, userID, credentialID string) error {
	return a.run(ctx, actor, audit.AdminCredentialDelete, userID, func(n *note) error {
		n.Detail = "credential " + truncate(credentialID, 64)
		raw, err := base64.RawURLEncoding.DecodeString(credentialID)
		if err != nil || len(raw) == 0 {
			return errNoCred
		}
		err = a.Durable.DeleteCredential(ctx, userID, raw)
		if errors.Is(err, store.ErrNotFound) {
			return errNoCred
		}
		return err
	})
}

// Client returns the widget client or ErrNoClient.
func (a *Admin) Client(ctx context.Context, id string) (store.Client, error) {
	cl, err := a.Durable.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, ErrNoClient
	}
	return cl, err
}

// CreateClient registers a client (RegisterClient's rules); the secret is
// returned once.
func (a *Admin) CreateClient(ctx context.Context, actor string, spec ClientSpec) (NewClient, error) {
	var nc NewClient
	err := a.run(ctx, actor, audit.AdminClientCreate, "", func(n *note) error {
		var err error
		nc, err = RegisterClient(ctx, a.Durable, a.Now(), spec)
		if clean, nerr := CleanClientName(spec.Name); nerr == nil {
			n.Detail = "client " + clean
		}
		if err != nil {
			return err
		}
		n.Subject = nc.Client.ID
		n.Detail = clientDetail(nc.Client)
		return nil
	})
	return nc, err
}

// clientDetail is what the audit log says of a client.
func clientDetail(c store.Client) string {
	d := "client " + c.Name
	for _, part := range []struct {
		label string
		list  []string
	}{{"origins", c.Origins}, {"redirect URIs", c.RedirectURIs}, {"post-logout URIs", c.PostLogoutRedirectURIs}} {
		if len(part.list) > 0 {
			d += "; " + part.label + " " + strings.Join(part.list, " ")
		}
	}
	if c.Public {
		d += "; public"
	}
	return d
}

// RotateClient gives the client a new secret; the old one stops working.
func (a *Admin) RotateClient(ctx context.Context, actor, id string) (string, error) {
	var secret string
	err := a.run(ctx, actor, audit.AdminClientRotate, id, func(n *note) error {
		cl, err := a.Client(ctx, id)
		if err != nil {
			return err
		}
		n.Detail = "client " + cl.Name
		if cl.Public {
			return &Error{Kind: Invalid, Code: "public_client", Message: i18n.M("problem.public-client")}
		}
		if secret, err = token.New(); err != nil {
			return err
		}
		cl.SecretHash = token.Hash(secret)
		cl.UpdatedAt = a.Now()
		err = a.Durable.UpdateClient(ctx, cl)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoClient
		}
		return err
	})
	return secret, err
}

// ClientUpdate holds the fields UpdateClient replaces (nil: keep).
type ClientUpdate struct {
	Name                   *string
	Origins                *[]string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	Public                 *bool
}

// UpdateClient replaces the given fields, with the rules of RegisterClient.
// A client made public loses its secret; one made confidential gets one,
// returned once.
func (a *Admin) UpdateClient(ctx context.Context, actor, id string, upd ClientUpdate) (store.Client, string, error) {
	var (
		cl     store.Client
		secret string
	)
	err := a.run(ctx, actor, audit.AdminClientUpdate, id, func(n *note) error {
		var err error
		if cl, err = a.Client(ctx, id); err != nil {
			return err
		}
		n.Detail = "client " + cl.Name
		spec := ClientSpec{Name: cl.Name, Origins: cl.Origins, RedirectURIs: cl.RedirectURIs,
			PostLogoutRedirectURIs: cl.PostLogoutRedirectURIs, Public: cl.Public}
		if upd.Name != nil {
			spec.Name = *upd.Name
		}
		for _, f := range []struct{ dst, src *[]string }{{&spec.Origins, upd.Origins}, {&spec.RedirectURIs, upd.RedirectURIs},
			{&spec.PostLogoutRedirectURIs, upd.PostLogoutRedirectURIs}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		if upd.Public != nil {
			spec.Public = *upd.Public
		}
		if spec, err = CleanClientSpec(spec); err != nil {
			return err
		}
		switch {
		case spec.Public && !cl.Public:
			cl.SecretHash = nil
		case !spec.Public && cl.Public:
			if secret, err = token.New(); err != nil {
				return err
			}
			cl.SecretHash = token.Hash(secret)
		}
		cl.Name, cl.Origins, cl.RedirectURIs, cl.PostLogoutRedirectURIs, cl.Public =
			spec.Name, spec.Origins, spec.RedirectURIs, spec.PostLogoutRedirectURIs, spec.Public
		n.Detail = clientDetail(cl)
		cl.UpdatedAt = a.Now()
		err = a.Durable.UpdateClient(ctx, cl)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoClient
		}
		return err
	})
	return cl, secret, err
}

// DeleteClient removes a widget client.
func (a *Admin) DeleteClient(ctx context.Context, actor, id string) error {
	return a.run(ctx, actor, audit.AdminClientDelete, id, func(n *note) error {
		cl, err := a.Client(ctx, id)
		if err != nil {
			return err
		}
		n.Detail = "client " + cl.Name
		err = a.Durable.DeleteClient(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoClient
		}
		return err
	})
}

// RevokeSession ends a session on purpose (its user or an admin revoking
// it, not a logout) and revokes the OpenID Connect grants made in it.
func RevokeSession(ctx context.Context, sessions store.Sessions, grants store.OIDC, s store.Session, now time.Time) error {
	if err := sessions.DeleteSession(ctx, s.TokenHash); err != nil {
		return err
	}
	_, err := grants.RevokeSessionOIDCGrants(ctx, s.ID, now)
	return err
}
