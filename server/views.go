package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// The JSON views of a user and of a user's credentials, devices and
// sessions, one type per entity; the last three are shared by the account (GET /api/v1/account, the account
// page), the session list (GET /api/v1/sessions) and the admin center (GET
// /api/v1/admin/users/:id and its page). Times are UTC.

// userInfo is who a session, a login or a widget code is for.
type userInfo struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// credentialView is a WebAuthn credential.
type credentialView struct {
	ID             string     `json:"id"` // base64url
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at"` // null until first use
	Attachment     string     `json:"attachment,omitempty"`
	Transports     []string   `json:"transports"`
	BackupEligible bool       `json:"backup_eligible"`
	BackupState    bool       `json:"backup_state"`
	CloneWarning   bool       `json:"clone_warning"`
}

// Kind names the sort of authenticator for people: a catalog key.
func (c credentialView) Kind() string {
	switch {
	case c.Attachment == "cross-platform":
		return "credential.security-key"
	case c.BackupState:
		return "credential.synced"
	case c.BackupEligible:
		return "credential.can-sync"
	}
	return "credential.bound"
}

// transportNames are the WebAuthn transports (WebAuthn Level 3 §5.8.4) as
// people know them: catalog keys.
var transportNames = map[string]string{
	"internal": "transport.internal", "hybrid": "transport.hybrid", "usb": "transport.usb",
	"nfc": "transport.nfc", "ble": "transport.ble", "smart-card": "transport.smart-card",
}

// HowConnected lists the credential's transports in words ("USB, NFC"):
// what the account pages show instead of the raw values ("internal").
func (c credentialView) HowConnected() []i18n.Message {
	var keys []string
	for _, t := range c.Transports {
		if n, ok := transportNames[t]; ok && !slices.Contains(keys, n) {
			keys = append(keys, n)
		}
	}
	out := make([]i18n.Message, len(keys))
	for i, k := range keys {
		out[i] = i18n.M(k)
	}
	return out
}

func viewCredential(c store.Credential) credentialView {
	v := credentialView{
		ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, CreatedAt: c.CreatedAt.UTC(),
		Attachment: c.Attachment, Transports: nonNil(c.Transports),
		BackupEligible: c.BackupEligible, BackupState: c.BackupState, CloneWarning: c.CloneWarning,
	}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt.UTC()
		v.LastUsedAt = &t
	}
	return v
}

// factorsView says which factors a user has.
type factorsView struct {
	Password          bool             `json:"password"`
	Phrase            bool             `json:"phrase"`
	TOTP              bool             `json:"totp"`
	Credentials       []credentialView `json:"credentials"`
	RecoveryCodesLeft int              `json:"recovery_codes_left"`
}

func viewFactors(u store.User, creds []store.Credential, recoveryLeft int) factorsView {
	v := factorsView{
		Password: u.PasswordHash != "", Phrase: len(u.Phrase) > 0, TOTP: len(u.TOTPSecret) > 0,
		Credentials: make([]credentialView, 0, len(creds)), RecoveryCodesLeft: recoveryLeft,
	}
	for _, c := range creds {
		v.Credentials = append(v.Credentials, viewCredential(c))
	}
	return v
}

// deviceView is a recognized device; Current marks the one whose token the
// request carries.
type deviceView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

func viewDevice(d store.Device, requestDevice []byte) deviceView {
	return deviceView{
		ID: d.ID, Name: d.Name, CreatedAt: d.CreatedAt.UTC(), LastSeenAt: d.LastSeenAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(),
		Current: requestDevice != nil && bytes.Equal(requestDevice, d.TokenHash),
	}
}

// sessionView is a session in a list; Current marks the session of the
// request, Device is a readable name made from the User-Agent.
type sessionView struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent"`
	Device        string    `json:"device"`
	AMR           []string  `json:"amr"`
	Current       bool      `json:"current"`
}

// Methods names the session's authentication methods (RFC 8176 values)
// for people; a value without a name is shown as it is.
func (s sessionView) Methods() []i18n.Message {
	out := make([]i18n.Message, 0, len(s.AMR))
	for _, m := range s.AMR {
		if m == "mfa" { // says that the others are two factors, no method of its own
			continue
		}
		switch m {
		case "pwd", "otp", "hwk", "rec", "swk":
			out = append(out, i18n.M("amr."+m))
		default:
			out = append(out, i18n.Verbatim(m))
		}
	}
	return out
}

// DeviceLabel is Device in the page's language.
func (s sessionView) DeviceLabel() i18n.Message { return deviceLabel(s.UserAgent) }

func viewSessions(all []store.Session, current store.Session) []sessionView {
	out := make([]sessionView, 0, len(all))
	for _, s := range all {
		out = append(out, sessionView{
			ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			IdleExpiresAt: s.IdleExpiresAt.UTC(), IP: s.IP, UserAgent: s.UserAgent, Device: deviceName(s.UserAgent),
			AMR: nonNil(s.AMR), Current: s.TokenHash == current.TokenHash,
		})
	}
	return out
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// userActivity is what the account and the admin center show of a user
// besides the user: factors, recognized devices, sessions.
type userActivity struct {
	Factors  factorsView   `json:"factors"`
	Devices  []deviceView  `json:"devices"`
	Sessions []sessionView `json:"sessions"`
	// Certificates are the client certificates bound to the user.
	Certificates []certView `json:"certificates"`
}

// activityQuery says how to read a userActivity: me is the session of the
// request and requestDevice the token hash of its device (nil: none), to
// mark them current; with liveAt set, only devices unexpired at that time
// are listed.
type activityQuery struct {
	me            store.Session
	requestDevice []byte
	liveAt        time.Time
	// requestCert is the fingerprint of the request's verified client
	// certificate ("": none), to mark it current.
	requestCert string
}

func loadActivity(ctx context.Context, d store.Durable, sessions store.Sessions, u store.User, q activityQuery) (userActivity, error) {
	var a userActivity
	creds, err := d.ListCredentials(ctx, u.ID)
	if err != nil {
		return a, err
	}
	left, err := d.CountRecoveryCodes(ctx, u.ID)
	if err != nil {
		return a, err
	}
	a.Factors = viewFactors(u, creds, left)
	if a.Devices, err = loadDevices(ctx, d, u.ID, q); err != nil {
		return a, err
	}
	all, err := sessions.ListSessions(ctx, u.ID)
	if err != nil {
		return a, err
	}
	a.Sessions = viewSessions(all, q.me)
	if a.Certificates, err = loadCerts(ctx, d, u.ID, q.requestCert); err != nil {
		return a, err
	}
	return a, nil
}

func loadDevices(ctx context.Context, d store.Devices, userID string, q activityQuery) ([]deviceView, error) {
	all, err := d.ListDevices(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]deviceView, 0, len(all))
	for _, dv := range all {
		if !q.liveAt.IsZero() && !q.liveAt.Before(dv.ExpiresAt) {
			continue
		}
		out = append(out, viewDevice(dv, q.requestDevice))
	}
	return out, nil
}

// requestDevice is the token hash of the recognized device the request
// carries (cookie), or nil.
func requestDevice(c echo.Context) []byte {
	tok := TokenFrom(c, "")
	if !token.Valid(tok) {
		return nil
	}
	return token.Hash(tok)
}
