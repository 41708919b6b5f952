package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
)

// Audit actions of the admin center. The actor is always the acting admin.
const (
	AuditAdminUserCreate       = "admin.user.create"
	AuditAdminUserInvite       = "admin.user.invite"
	AuditAdminUserDisable      = "admin.user.disable"
	AuditAdminUserEnable       = "admin.user.enable"
	AuditAdminUserUnlock       = "admin.user.unlock"
	AuditAdminUserReset        = "admin.user.reset"
	AuditAdminSessionRevoke    = "admin.session.revoke"
	AuditAdminDeviceDelete     = "admin.device.delete"
	AuditAdminCredentialDelete = "admin.credential.delete"
	AuditAdminClientCreate     = "admin.client.create"
	AuditAdminClientRotate     = "admin.client.rotate"
	AuditAdminClientUpdate     = "admin.client.update"
	AuditAdminClientDelete     = "admin.client.delete"
)

// Paging limits of the admin lists.
const (
	adminUsersDefaultLimit = 50
	adminUsersMaxLimit     = 200
	adminAuditDefaultLimit = 50
	adminAuditMaxLimit     = 500
	adminMaxQueryLength    = 200
	maxClientNameLength    = 100
	maxClientOrigins       = 20
)

// AdminHandler holds the admin operations and serves them as the admin
// JSON API under /api/v1/admin (docs/admin.md); AdminPages serves the same
// operations as server-rendered pages. Every state change is audited with
// the acting admin as Actor, refusals included. Routes using it sit behind
// RequireSession and RequireAdmin.
type AdminHandler struct {
	Store     store.Durable
	Sessions  *SessionManager // its Store holds the sessions admins list and end
	KV        store.KV        // the login failure counters that unlock clears
	Audit     *audit.Auditor
	Issuer    string
	InviteTTL time.Duration
	Now       func() time.Time
}

func errSelfAction() *Problem {
	return NewProblem(http.StatusConflict, "self_action",
		"You cannot do this to your own account. Ask another administrator.")
}

func errAlreadyEnrolled() *Problem {
	return NewProblem(http.StatusConflict, "already_enrolled",
		"This user has already enrolled. Reset the user to send a new invite.")
}

func errNoUser() *Problem {
	return NewProblem(http.StatusNotFound, "not_found", "There is no such user.")
}

func errNoClient() *Problem {
	return NewProblem(http.StatusNotFound, "not_found", "There is no such widget client.")
}

func unprocessable(code, detail string) *Problem {
	return NewProblem(http.StatusUnprocessableEntity, code, detail)
}

// ---- views --------------------------------------------------------------

type adminUser struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	Disabled    bool      `json:"disabled"`
	Locked      bool      `json:"locked"`
	Enrolled    bool      `json:"enrolled"`
	EnrolledAt  time.Time `json:"enrolled_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
}

func userView(u store.User) adminUser {
	return adminUser{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: string(u.Role),
		Disabled: u.Disabled, Locked: u.Locked, Enrolled: !u.EnrolledAt.IsZero(),
		EnrolledAt: u.EnrolledAt.UTC(), CreatedAt: u.CreatedAt.UTC(),
	}
}

type adminUserList struct {
	Users  []adminUser `json:"users"`
	Total  int         `json:"total"`
	Offset int         `json:"offset"`
	Limit  int         `json:"limit"`
}

type adminCredential struct {
	ID             string    `json:"id"` // base64url credential id
	Name           string    `json:"name"`
	CreatedAt      time.Time `json:"created_at"`
	LastUsedAt     time.Time `json:"last_used_at,omitzero"`
	Attachment     string    `json:"attachment,omitempty"`
	Transports     []string  `json:"transports"`
	BackupEligible bool      `json:"backup_eligible"`
	BackupState    bool      `json:"backup_state"`
	CloneWarning   bool      `json:"clone_warning"`
}

type adminFactors struct {
	Password          bool              `json:"password"`
	Phrase            bool              `json:"phrase"`
	TOTP              bool              `json:"totp"`
	Credentials       []adminCredential `json:"credentials"`
	RecoveryCodesLeft int               `json:"recovery_codes_left"`
}

type adminDevice struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

type adminSession struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent"`
	AMR           []string  `json:"amr"`
	// Current marks the session the acting admin is using.
	Current bool `json:"current"`
}

type adminUserDetail struct {
	User     adminUser      `json:"user"`
	Factors  adminFactors   `json:"factors"`
	Devices  []adminDevice  `json:"devices"`
	Sessions []adminSession `json:"sessions"`
}

type adminEvent struct {
	ID              int64     `json:"id"`
	Time            time.Time `json:"time"`
	Actor           string    `json:"actor"`
	ActorUsername   string    `json:"actor_username,omitempty"`
	Subject         string    `json:"subject"`
	SubjectUsername string    `json:"subject_username,omitempty"`
	Action          string    `json:"action"`
	Result          string    `json:"result"`
	IP              string    `json:"ip"`
	Detail          string    `json:"detail"`
}

type adminClient struct {
	ID        string    `json:"client_id"`
	Name      string    `json:"name"`
	Origins   []string  `json:"origins"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func clientView(c store.Client) adminClient {
	return adminClient{ID: c.ID, Name: c.Name, Origins: nonNil(c.Origins), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

// ---- audit ---------------------------------------------------------------

// auditNote is what an admin action's audit event says about its outcome.
type auditNote struct {
	Action  string // when set, replaces the action run was given
	Subject string
	Detail  string
}

// run performs one admin action and audits it: "success" with fn's note,
// or "failure" with the problem code added to the detail.
func (h *AdminHandler) run(c echo.Context, action, subject string, fn func(n *auditNote) error) error {
	n := auditNote{Subject: subject}
	err := fn(&n)
	result, detail := "success", n.Detail
	if err != nil {
		result = "failure"
		if detail != "" {
			detail += "; "
		}
		detail += toProblem(err).Code
	}
	if n.Action != "" {
		action = n.Action
	}
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: actorID(c), Subject: n.Subject, Action: action, Result: result, Detail: detail})
	return err
}

// actorID is the user id of the signed-in admin.
func actorID(c echo.Context) string {
	s, _ := sessionOf(c)
	return s.UserID
}

// ---- users ----------------------------------------------------------------

// listUsers returns one page of users matching q (a substring of the
// username or display name).
func (h *AdminHandler) listUsers(ctx context.Context, q string, offset, limit int) (adminUserList, error) {
	users, total, err := h.Store.ListUsers(ctx, store.UserQuery{Search: q, Offset: offset, Limit: limit})
	if err != nil {
		return adminUserList{}, err
	}
	out := adminUserList{Users: make([]adminUser, 0, len(users)), Total: total, Offset: offset, Limit: limit}
	for _, u := range users {
		out.Users = append(out.Users, userView(u))
	}
	return out, nil
}

type adminInviteRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Admin       bool   `json:"admin"`
}

// invite creates the user if needed and a fresh invite for them (the same
// invite links as the command line); an enrolled user is 409
// already_enrolled.
func (h *AdminHandler) invite(c echo.Context, req adminInviteRequest) (account.Invite, error) {
	var inv account.Invite
	err := h.run(c, AuditAdminUserCreate, truncate(req.Username, 64), func(n *auditNote) error {
		username, err := account.NormalizeUsername(req.Username)
		if err != nil {
			return unprocessable("invalid_username",
				"A username is 1 to 64 letters, digits or symbols, without spaces or control characters.")
		}
		n.Subject = username
		if _, err := account.CleanDisplayName(req.DisplayName); err != nil {
			return unprocessable("invalid_display_name",
				"A display name is at most 128 characters, without control characters.")
		}
		ctx := c.Request().Context()
		if u, err := h.Store.GetUserByUsername(ctx, username); err == nil {
			n.Action, n.Subject = AuditAdminUserInvite, u.ID
			if !u.EnrolledAt.IsZero() {
				return errAlreadyEnrolled()
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		inv, err = account.IssueInvite(ctx, h.Store, h.Now(), account.InviteRequest{
			Username: username, DisplayName: req.DisplayName, Admin: req.Admin, CreatedBy: actorID(c), TTL: h.InviteTTL,
		})
		if errors.Is(err, account.ErrAlreadyEnrolled) {
			return errAlreadyEnrolled()
		}
		if err != nil {
			return err
		}
		n.Subject = inv.User.ID
		if inv.Created {
			n.Action = AuditAdminUserCreate
			n.Detail = "user " + inv.User.Username + " created (role " + string(inv.User.Role) + "); invite issued"
		} else {
			n.Action = AuditAdminUserInvite
			n.Detail = "new invite for " + inv.User.Username + "; earlier invites revoked"
		}
		return nil
	})
	return inv, err
}

// getUser returns the user or 404 not_found.
func (h *AdminHandler) getUser(ctx context.Context, id string) (store.User, error) {
	u, err := h.Store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errNoUser()
	}
	return u, err
}

// userDetail collects what the admin center shows about one user.
func (h *AdminHandler) userDetail(c echo.Context, id string) (adminUserDetail, error) {
	ctx := c.Request().Context()
	u, err := h.getUser(ctx, id)
	if err != nil {
		return adminUserDetail{}, err
	}
	creds, err := h.Store.ListCredentials(ctx, id)
	if err != nil {
		return adminUserDetail{}, err
	}
	left, err := h.Store.CountRecoveryCodes(ctx, id)
	if err != nil {
		return adminUserDetail{}, err
	}
	devices, err := h.Store.ListDevices(ctx, id)
	if err != nil {
		return adminUserDetail{}, err
	}
	sessions, err := h.Sessions.Store.ListSessions(ctx, id)
	if err != nil {
		return adminUserDetail{}, err
	}
	d := adminUserDetail{
		User: userView(u),
		Factors: adminFactors{
			Password: u.PasswordHash != "", Phrase: len(u.Phrase) > 0, TOTP: len(u.TOTPSecret) > 0,
			Credentials: make([]adminCredential, 0, len(creds)), RecoveryCodesLeft: left,
		},
		Devices:  make([]adminDevice, 0, len(devices)),
		Sessions: make([]adminSession, 0, len(sessions)),
	}
	for _, cr := range creds {
		d.Factors.Credentials = append(d.Factors.Credentials, adminCredential{
			ID: base64.RawURLEncoding.EncodeToString(cr.ID), Name: cr.Name, CreatedAt: cr.CreatedAt.UTC(),
			LastUsedAt: cr.LastUsedAt.UTC(), Attachment: cr.Attachment, Transports: nonNil(cr.Transports),
			BackupEligible: cr.BackupEligible, BackupState: cr.BackupState, CloneWarning: cr.CloneWarning,
		})
	}
	for _, dv := range devices {
		d.Devices = append(d.Devices, adminDevice{
			ID: dv.ID, Name: dv.Name, CreatedAt: dv.CreatedAt.UTC(), LastSeenAt: dv.LastSeenAt.UTC(), ExpiresAt: dv.ExpiresAt.UTC(),
		})
	}
	me, _ := sessionOf(c)
	for _, s := range sessions {
		d.Sessions = append(d.Sessions, adminSession{
			ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			IdleExpiresAt: s.IdleExpiresAt.UTC(), IP: s.IP, UserAgent: s.UserAgent, AMR: nonNil(s.AMR),
			Current: s.TokenHash == me.TokenHash,
		})
	}
	return d, nil
}

// setDisabled disables (ending all the user's sessions at once) or enables
// a user. An admin cannot disable themselves.
func (h *AdminHandler) setDisabled(c echo.Context, id string, disabled bool) (store.User, int, error) {
	action := AuditAdminUserEnable
	if disabled {
		action = AuditAdminUserDisable
	}
	var (
		u     store.User
		ended int
	)
	err := h.run(c, action, id, func(n *auditNote) error {
		if disabled && id == actorID(c) {
			return errSelfAction()
		}
		ctx := c.Request().Context()
		var err error
		u, err = h.Store.UpdateUser(ctx, id, func(u *store.User) error {
			u.Disabled = disabled
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errNoUser()
		}
		if err != nil {
			return err
		}
		n.Detail = u.Username
		if !disabled {
			return nil
		}
		// Disabled first, then the sessions: a login that completes in
		// between is refused by the flag, and its session ends here.
		ended, err = h.Sessions.Store.DeleteUserSessions(ctx, id, "")
		if err != nil {
			return err
		}
		n.Detail += "; sessions ended: " + strconv.Itoa(ended)
		return nil
	})
	return u, ended, err
}

// clearCounters forgets the user's login failure counters: the one per
// username and the ones per recognized device (API.md, "Throttling").
func (h *AdminHandler) clearCounters(ctx context.Context, u store.User) error {
	if err := h.KV.Delete(ctx, login.UsernameCounter(u.Username)); err != nil {
		return err
	}
	devices, err := h.Store.ListDevices(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, d := range devices {
		if err := h.KV.Delete(ctx, login.DeviceCounter(d.ID)); err != nil {
			return err
		}
	}
	return nil
}

// unlock lifts a lock set after too many failed sign-ins and clears the
// failure counters, so the next attempt is not throttled.
func (h *AdminHandler) unlock(c echo.Context, id string) (store.User, error) {
	var u store.User
	err := h.run(c, AuditAdminUserUnlock, id, func(n *auditNote) error {
		ctx := c.Request().Context()
		var err error
		u, err = h.Store.UpdateUser(ctx, id, func(u *store.User) error {
			u.Locked = false
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errNoUser()
		}
		if err != nil {
			return err
		}
		n.Detail = u.Username
		return h.clearCounters(ctx, u)
	})
	return u, err
}

// reset clears every factor of the user (password, phrase, TOTP, WebAuthn
// credentials, recovery codes, recognized devices) and the enrollment, ends
// their sessions and issues a new invite. The role and the disabled flag
// stay; the lock and the failure counters go.
func (h *AdminHandler) reset(c echo.Context, id string) (account.Invite, int, error) {
	var (
		inv   account.Invite
		ended int
	)
	err := h.run(c, AuditAdminUserReset, id, func(n *auditNote) error {
		if id == actorID(c) {
			return errSelfAction()
		}
		ctx := c.Request().Context()
		// Unenrolled first: from here on no login can succeed.
		u, err := h.Store.UpdateUser(ctx, id, func(u *store.User) error {
			u.PasswordHash = ""
			u.Phrase = nil
			u.TOTPSecret = nil
			u.TOTPPending = nil
			u.EnrolledAt = time.Time{}
			u.Locked = false
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errNoUser()
		}
		if err != nil {
			return err
		}
		n.Detail = u.Username
		if ended, err = h.Sessions.Store.DeleteUserSessions(ctx, id, ""); err != nil {
			return err
		}
		if err := h.clearCounters(ctx, u); err != nil {
			return err
		}
		if err := h.Store.DeleteUserCredentials(ctx, id); err != nil {
			return err
		}
		if err := h.Store.ReplaceRecoveryCodes(ctx, id, nil); err != nil {
			return err
		}
		if err := h.Store.DeleteUserDevices(ctx, id); err != nil {
			return err
		}
		inv, err = account.IssueInvite(ctx, h.Store, h.Now(), account.InviteRequest{
			Username: u.Username, DisplayName: u.DisplayName, CreatedBy: actorID(c), TTL: h.InviteTTL,
		})
		if err != nil {
			return err
		}
		n.Detail += "; factors cleared; sessions ended: " + strconv.Itoa(ended) + "; new invite issued"
		return nil
	})
	return inv, ended, err
}

// revokeSession ends one of the user's sessions, named by its public id.
func (h *AdminHandler) revokeSession(c echo.Context, userID, sessionID string) error {
	return h.run(c, AuditAdminSessionRevoke, userID, func(n *auditNote) error {
		n.Detail = "session " + truncate(sessionID, 64)
		ctx := c.Request().Context()
		all, err := h.Sessions.Store.ListSessions(ctx, userID)
		if err != nil {
			return err
		}
		for _, s := range all {
			if s.ID != sessionID || s.UserID != userID {
				continue
			}
			if err := h.Sessions.Store.DeleteSession(ctx, s.TokenHash); err != nil {
				return err
			}
			if me, _ := sessionOf(c); me.TokenHash == s.TokenHash {
				h.Sessions.clearCookie(c)
			}
			return nil
		}
		return NewProblem(http.StatusNotFound, "not_found", "This user has no such session.")
	})
}

// deleteDevice forgets one of the user's recognized devices.
func (h *AdminHandler) deleteDevice(c echo.Context, userID, deviceID string) error {
	return h.run(c, AuditAdminDeviceDelete, userID, func(n *auditNote) error {
		n.Detail = "device " + truncate(deviceID, 64)
		ctx := c.Request().Context()
		err := h.Store.DeleteDevice(ctx, userID, deviceID)
		if errors.Is(err, store.ErrNotFound) {
			return NewProblem(http.StatusNotFound, "not_found", "This user has no such device.")
		}
		if err != nil {
			return err
		}
		return h.KV.Delete(ctx, login.DeviceCounter(deviceID))
	})
}

// deleteCredential removes one of the user's WebAuthn credentials, named by
// its id in base64url.
func (h *AdminHandler) deleteCredential(c echo.Context, userID, credentialID string) error {
	return h.run(c, AuditAdminCredentialDelete, userID, func(n *auditNote) error {
		n.Detail = "credential " + truncate(credentialID, 64)
		notFound := NewProblem(http.StatusNotFound, "not_found", "This user has no such credential.")
		raw, err := base64.RawURLEncoding.DecodeString(credentialID)
		if err != nil || len(raw) == 0 {
			return notFound
		}
		err = h.Store.DeleteCredential(c.Request().Context(), userID, raw)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		return err
	})
}

// ---- audit log -------------------------------------------------------------

// auditFilter is a parsed audit query, with the values as typed for forms.
type auditFilter struct {
	Query store.AuditQuery
	User  string // as typed: a user id or a username
	Actor string
	Since string
	Until string
}

// auditTimeLayouts are the accepted forms of since/until: RFC 3339, the
// value of an HTML datetime-local input, and a date. Times without a zone
// are UTC.
var auditTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly}

func parseAuditTime(name, s string) (time.Time, error) {
	for _, layout := range auditTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest(name + " must be an RFC 3339 time (or YYYY-MM-DD[THH:MM], read as UTC).")
}

// parseAuditFilter reads user, actor, action, result, since, until, before
// and limit from the query string.
func (h *AdminHandler) parseAuditFilter(c echo.Context) (auditFilter, error) {
	var f auditFilter
	get := func(name string) (string, error) {
		v := strings.TrimSpace(c.QueryParam(name))
		if len(v) > adminMaxQueryLength || !utf8.ValidString(v) {
			return "", badRequest(name + " is too long.")
		}
		return v, nil
	}
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{
		{"user", &f.User}, {"actor", &f.Actor}, {"action", &f.Query.Action}, {"result", &f.Query.Result},
		{"since", &f.Since}, {"until", &f.Until},
	} {
		if *p.dst, err = get(p.name); err != nil {
			return f, err
		}
	}
	if f.Since != "" {
		if f.Query.Since, err = parseAuditTime("since", f.Since); err != nil {
			return f, err
		}
	}
	if f.Until != "" {
		if f.Query.Until, err = parseAuditTime("until", f.Until); err != nil {
			return f, err
		}
	}
	if !f.Query.Since.IsZero() && !f.Query.Until.IsZero() && !f.Query.Since.Before(f.Query.Until) {
		return f, badRequest("since must be before until.")
	}
	if s := c.QueryParam("before"); s != "" {
		if f.Query.BeforeID, err = strconv.ParseInt(s, 10, 64); err != nil || f.Query.BeforeID < 0 {
			return f, badRequest("before must be an event id, a whole number.")
		}
	}
	if f.Query.Limit, err = intParam(c, "limit", adminAuditDefaultLimit, adminAuditMaxLimit); err != nil {
		return f, err
	}
	if f.Query.Limit == 0 {
		return f, badRequest("limit must be at least 1.")
	}
	ctx := c.Request().Context()
	if f.Query.Subject, err = h.resolveUser(ctx, f.User); err != nil {
		return f, err
	}
	if f.Query.Actor, err = h.resolveUser(ctx, f.Actor); err != nil {
		return f, err
	}
	return f, nil
}

// resolveUser maps a user id or a username to the id audit events carry.
// Anything else is kept as given (normalized when it is a valid username),
// since failed logins record the username that was tried.
func (h *AdminHandler) resolveUser(ctx context.Context, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if _, err := h.Store.GetUser(ctx, s); err == nil {
		return s, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	name, err := account.NormalizeUsername(s)
	if err != nil {
		return s, nil
	}
	u, err := h.Store.GetUserByUsername(ctx, name)
	switch {
	case err == nil:
		return u.ID, nil
	case errors.Is(err, store.ErrNotFound):
		return name, nil
	default:
		return "", err
	}
}

// listAudit returns the matching events, newest first, with the usernames
// of the user ids they name, and the before value of the next page (0 when
// this is the last page).
func (h *AdminHandler) listAudit(ctx context.Context, q store.AuditQuery) ([]adminEvent, int64, error) {
	events, err := h.Store.ListAudit(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	names := map[string]string{}
	name := func(id string) (string, error) {
		if id == "" || !isUserID(id) {
			return "", nil
		}
		if n, ok := names[id]; ok {
			return n, nil
		}
		u, err := h.Store.GetUser(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		names[id] = u.Username
		return u.Username, nil
	}
	out := make([]adminEvent, 0, len(events))
	for _, e := range events {
		v := adminEvent{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Subject: e.Subject, Action: e.Action,
			Result: e.Result, IP: e.IP, Detail: e.Detail}
		if v.ActorUsername, err = name(e.Actor); err != nil {
			return nil, 0, err
		}
		if v.SubjectUsername, err = name(e.Subject); err != nil {
			return nil, 0, err
		}
		out = append(out, v)
	}
	var next int64
	if len(events) > 0 && len(events) == q.Limit {
		next = events[len(events)-1].ID
	}
	return out, next, nil
}

// isUserID reports whether s has the shape of account.NewID: 32 hex digits.
func isUserID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// ---- widget clients --------------------------------------------------------

// cleanClientName applies the rules of account.CreateClient, and refuses
// control characters.
func cleanClientName(s string) (string, error) {
	name, err := account.CleanDisplayName(s)
	if err != nil || name == "" || utf8.RuneCountInString(name) > maxClientNameLength {
		return "", unprocessable("invalid_name", "A client needs a name of 1 to 100 characters, without control characters.")
	}
	return name, nil
}

// cleanOrigins normalizes and deduplicates 1 to 20 origins.
func cleanOrigins(origins []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, o := range origins {
		if strings.TrimSpace(o) == "" {
			continue
		}
		n, err := account.NormalizeOrigin(o)
		if err != nil {
			return nil, unprocessable("invalid_origin",
				"Each origin must be scheme://host[:port] with http or https, without a path: "+strconv.Quote(truncate(o, 100))+" is not.")
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 || len(out) > maxClientOrigins {
		return nil, unprocessable("invalid_origin", "A client needs 1 to 20 allowed origins.")
	}
	return out, nil
}

func (h *AdminHandler) listClients(ctx context.Context) ([]adminClient, error) {
	all, err := h.Store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminClient, 0, len(all))
	for _, cl := range all {
		out = append(out, clientView(cl))
	}
	return out, nil
}

// createClient registers a widget client; the secret is returned once.
func (h *AdminHandler) createClient(c echo.Context, name string, origins []string) (account.NewClient, error) {
	var nc account.NewClient
	err := h.run(c, AuditAdminClientCreate, "", func(n *auditNote) error {
		clean, err := cleanClientName(name)
		if err != nil {
			return err
		}
		n.Detail = "client " + clean
		list, err := cleanOrigins(origins)
		if err != nil {
			return err
		}
		nc, err = account.CreateClient(c.Request().Context(), h.Store, h.Now(), clean, list)
		if err != nil {
			return err
		}
		n.Subject = nc.Client.ID
		n.Detail += "; origins " + strings.Join(list, " ")
		return nil
	})
	return nc, err
}

func (h *AdminHandler) getClient(ctx context.Context, id string) (store.Client, error) {
	cl, err := h.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, errNoClient()
	}
	return cl, err
}

// rotateClient gives the client a new secret; the old one stops working.
func (h *AdminHandler) rotateClient(c echo.Context, id string) (string, error) {
	var secret string
	err := h.run(c, AuditAdminClientRotate, id, func(n *auditNote) error {
		ctx := c.Request().Context()
		cl, err := h.getClient(ctx, id)
		if err != nil {
			return err
		}
		n.Detail = "client " + cl.Name
		if secret, err = token.New(); err != nil {
			return err
		}
		cl.SecretHash = token.Hash(secret)
		cl.UpdatedAt = h.Now()
		err = h.Store.UpdateClient(ctx, cl)
		if errors.Is(err, store.ErrNotFound) {
			return errNoClient()
		}
		return err
	})
	return secret, err
}

// updateClient renames the client and/or replaces its origins (nil: keep).
func (h *AdminHandler) updateClient(c echo.Context, id string, name *string, origins []string) (store.Client, error) {
	var cl store.Client
	err := h.run(c, AuditAdminClientUpdate, id, func(n *auditNote) error {
		ctx := c.Request().Context()
		var err error
		if cl, err = h.getClient(ctx, id); err != nil {
			return err
		}
		n.Detail = "client " + cl.Name
		if name != nil {
			if cl.Name, err = cleanClientName(*name); err != nil {
				return err
			}
			n.Detail += "; name " + cl.Name
		}
		if origins != nil {
			if cl.Origins, err = cleanOrigins(origins); err != nil {
				return err
			}
			n.Detail += "; origins " + strings.Join(cl.Origins, " ")
		}
		cl.UpdatedAt = h.Now()
		err = h.Store.UpdateClient(ctx, cl)
		if errors.Is(err, store.ErrNotFound) {
			return errNoClient()
		}
		return err
	})
	return cl, err
}

func (h *AdminHandler) deleteClient(c echo.Context, id string) error {
	return h.run(c, AuditAdminClientDelete, id, func(n *auditNote) error {
		ctx := c.Request().Context()
		cl, err := h.getClient(ctx, id)
		if err != nil {
			return err
		}
		n.Detail = "client " + cl.Name
		err = h.Store.DeleteClient(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNoClient()
		}
		return err
	})
}

// ---- JSON API --------------------------------------------------------------

// intParam reads a non-negative integer query parameter, at most max;
// absent is def.
func intParam(c echo.Context, name string, def, max int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, badRequest(name + " must be a whole number from 0 to " + strconv.Itoa(max) + ".")
	}
	return n, nil
}

// userQuery reads q, offset and limit of a users listing.
func userQuery(c echo.Context, defLimit int) (string, int, int, error) {
	q := strings.TrimSpace(c.QueryParam("q"))
	if len(q) > adminMaxQueryLength || !utf8.ValidString(q) {
		return "", 0, 0, badRequest("q is too long.")
	}
	offset, err := intParam(c, "offset", 0, 1<<31-1)
	if err != nil {
		return "", 0, 0, err
	}
	limit, err := intParam(c, "limit", defLimit, adminUsersMaxLimit)
	if err != nil {
		return "", 0, 0, err
	}
	if limit == 0 {
		return "", 0, 0, badRequest("limit must be at least 1.")
	}
	return q, offset, limit, nil
}

// ListUsers serves GET /api/v1/admin/users?q=&offset=&limit=.
func (h *AdminHandler) ListUsers(c echo.Context) error {
	q, offset, limit, err := userQuery(c, adminUsersDefaultLimit)
	if err != nil {
		return err
	}
	list, err := h.listUsers(c.Request().Context(), q, offset, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

// CreateUser serves POST /api/v1/admin/users {"username", "display_name"?, "admin"?}.
func (h *AdminHandler) CreateUser(c echo.Context) error {
	var req adminInviteRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	inv, err := h.invite(c, req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{
		"user":       userView(inv.User),
		"enroll_url": account.EnrollURL(h.Issuer, inv.Token),
		"expires_at": inv.ExpiresAt.UTC(),
		"created":    inv.Created,
	})
}

// GetUser serves GET /api/v1/admin/users/:id.
func (h *AdminHandler) GetUser(c echo.Context) error {
	d, err := h.userDetail(c, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// DisableUser serves POST /api/v1/admin/users/:id/disable.
func (h *AdminHandler) DisableUser(c echo.Context) error {
	u, ended, err := h.setDisabled(c, c.Param("id"), true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u), "sessions_ended": ended})
}

// EnableUser serves POST /api/v1/admin/users/:id/enable.
func (h *AdminHandler) EnableUser(c echo.Context) error {
	u, _, err := h.setDisabled(c, c.Param("id"), false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u)})
}

// UnlockUser serves POST /api/v1/admin/users/:id/unlock.
func (h *AdminHandler) UnlockUser(c echo.Context) error {
	u, err := h.unlock(c, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u)})
}

// ResetUser serves POST /api/v1/admin/users/:id/reset.
func (h *AdminHandler) ResetUser(c echo.Context) error {
	inv, ended, err := h.reset(c, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"user":           userView(inv.User),
		"enroll_url":     account.EnrollURL(h.Issuer, inv.Token),
		"expires_at":     inv.ExpiresAt.UTC(),
		"sessions_ended": ended,
	})
}

// RevokeSession serves DELETE /api/v1/admin/users/:id/sessions/:sid.
func (h *AdminHandler) RevokeSession(c echo.Context) error {
	if err := h.revokeSession(c, c.Param("id"), c.Param("sid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// DeleteDevice serves DELETE /api/v1/admin/users/:id/devices/:did.
func (h *AdminHandler) DeleteDevice(c echo.Context) error {
	if err := h.deleteDevice(c, c.Param("id"), c.Param("did")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// DeleteCredential serves DELETE /api/v1/admin/users/:id/credentials/:cid.
func (h *AdminHandler) DeleteCredential(c echo.Context) error {
	if err := h.deleteCredential(c, c.Param("id"), c.Param("cid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ListAudit serves GET /api/v1/admin/audit?user=&actor=&action=&result=&since=&until=&before=&limit=.
func (h *AdminHandler) ListAudit(c echo.Context) error {
	f, err := h.parseAuditFilter(c)
	if err != nil {
		return err
	}
	events, next, err := h.listAudit(c.Request().Context(), f.Query)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Events     []adminEvent `json:"events"`
		NextBefore int64        `json:"next_before,omitzero"`
	}{events, next})
}

// ListClients serves GET /api/v1/admin/clients.
func (h *AdminHandler) ListClients(c echo.Context) error {
	list, err := h.listClients(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clients": list})
}

// CreateClient serves POST /api/v1/admin/clients {"name", "origins"}.
func (h *AdminHandler) CreateClient(c echo.Context) error {
	var req struct {
		Name    string   `json:"name"`
		Origins []string `json:"origins"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	nc, err := h.createClient(c, req.Name, req.Origins)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{
		"client_id": nc.Client.ID, "client_secret": nc.Secret, "client": clientView(nc.Client),
	})
}

// RotateClient serves POST /api/v1/admin/clients/:id/rotate.
func (h *AdminHandler) RotateClient(c echo.Context) error {
	secret, err := h.rotateClient(c, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"client_id": c.Param("id"), "client_secret": secret})
}

// UpdateClient serves PATCH /api/v1/admin/clients/:id {"name"?, "origins"?}.
func (h *AdminHandler) UpdateClient(c echo.Context) error {
	var req struct {
		Name    *string   `json:"name"`
		Origins *[]string `json:"origins"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	var origins []string
	if req.Origins != nil {
		origins = nonNil(*req.Origins)
	}
	cl, err := h.updateClient(c, c.Param("id"), req.Name, origins)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"client": clientView(cl)})
}

// DeleteClient serves DELETE /api/v1/admin/clients/:id.
func (h *AdminHandler) DeleteClient(c echo.Context) error {
	if err := h.deleteClient(c, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
