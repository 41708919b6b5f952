package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/store"
)

// Paging limits of the admin lists.
const (
	adminUsersDefaultLimit = 50
	adminUsersMaxLimit     = 200
	adminAuditDefaultLimit = 50
	adminAuditMaxLimit     = 500
	adminMaxQueryLength    = 200
)

// AdminHandler serves the admin operations (account.Admin, which audits
// every state change with the acting admin as actor) and the admin lists as
// the admin JSON API under /api/v1/admin (docs/admin.md); AdminPages serves
// the same as server-rendered pages. Routes using it sit behind
// RequireSession and RequireAdmin.
type AdminHandler struct {
	Ops      *account.Admin
	Durable  store.Durable
	Sessions *SessionManager // its Store holds the sessions admins list and end
	Issuer   string
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
	Email       string    `json:"email"`
}

func userView(u store.User) adminUser {
	return adminUser{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: string(u.Role), Email: u.Email,
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

type adminUserDetail struct {
	User adminUser `json:"user"`
	userActivity
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
	ID                     string    `json:"client_id"`
	Name                   string    `json:"name"`
	Origins                []string  `json:"origins"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Public                 bool      `json:"public"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

func clientView(c store.Client) adminClient {
	return adminClient{ID: c.ID, Name: c.Name, Origins: nonNil(c.Origins), RedirectURIs: nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs), Public: c.Public,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
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
	users, total, err := h.Durable.ListUsers(ctx, store.UserQuery{Search: q, Offset: offset, Limit: limit})
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
	Email       string `json:"email"`
}

// userDetail collects what the admin center shows about one user.
func (h *AdminHandler) userDetail(c echo.Context, id string) (adminUserDetail, error) {
	ctx := c.Request().Context()
	u, err := h.Ops.User(ctx, id)
	if err != nil {
		return adminUserDetail{}, err
	}
	me, _ := sessionOf(c)
	a, err := loadActivity(ctx, h.Durable, h.Sessions.Store, u, activityQuery{me: me, requestDevice: requestDevice(c)})
	if err != nil {
		return adminUserDetail{}, err
	}
	d := adminUserDetail{User: userView(u), userActivity: a}
	return d, nil
}

// revokeSession ends one of the user's sessions; when it is the acting
// admin's own, the session cookie goes too.
func (h *AdminHandler) revokeSession(c echo.Context, userID, sessionID string) error {
	ended, err := h.Ops.RevokeSession(c.Request().Context(), actorID(c), userID, sessionID)
	if err != nil {
		return err
	}
	if me, _ := sessionOf(c); me.TokenHash == ended.TokenHash {
		h.Sessions.clearCookie(c)
	}
	return nil
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
	return time.Time{}, badRequest("problem.bad-time", name)
}

// parseAuditFilter reads user, actor, action, result, since, until, before
// and limit from the query string.
func (h *AdminHandler) parseAuditFilter(c echo.Context) (auditFilter, error) {
	var f auditFilter
	get := func(name string) (string, error) {
		v := strings.TrimSpace(c.QueryParam(name))
		if len(v) > adminMaxQueryLength || !utf8.ValidString(v) {
			return "", badRequest("problem.too-long", name)
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
		return f, badRequest("problem.since-until")
	}
	if s := c.QueryParam("before"); s != "" {
		if f.Query.BeforeID, err = strconv.ParseInt(s, 10, 64); err != nil || f.Query.BeforeID < 0 {
			return f, badRequest("problem.bad-before")
		}
	}
	if f.Query.Limit, err = intParam(c, "limit", adminAuditDefaultLimit, adminAuditMaxLimit); err != nil {
		return f, err
	}
	if f.Query.Limit == 0 {
		return f, badRequest("problem.limit-min")
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
	if _, err := h.Durable.GetUser(ctx, s); err == nil {
		return s, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	name, err := account.NormalizeUsername(s)
	if err != nil {
		return s, nil
	}
	u, err := h.Durable.GetUserByUsername(ctx, name)
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
	events, err := h.Durable.ListAudit(ctx, q)
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
		u, err := h.Durable.GetUser(ctx, id)
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

func (h *AdminHandler) listClients(ctx context.Context) ([]adminClient, error) {
	all, err := h.Durable.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminClient, 0, len(all))
	for _, cl := range all {
		out = append(out, clientView(cl))
	}
	return out, nil
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
		return 0, badRequest("problem.bad-number", name, max)
	}
	return n, nil
}

// userQuery reads q, offset and limit of a users listing.
func userQuery(c echo.Context, defLimit int) (string, int, int, error) {
	q := strings.TrimSpace(c.QueryParam("q"))
	if len(q) > adminMaxQueryLength || !utf8.ValidString(q) {
		return "", 0, 0, badRequest("problem.too-long", "q")
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
		return "", 0, 0, badRequest("problem.limit-min")
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

// CreateUser serves POST /api/v1/admin/users {"username", "display_name"?,
// "admin"?, "email"?}.
func (h *AdminHandler) CreateUser(c echo.Context) error {
	var req adminInviteRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	inv, err := h.Ops.Invite(c.Request().Context(), actorID(c), account.InviteInput(req))
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

// UpdateUser serves PATCH /api/v1/admin/users/:id {"email"}: "" removes it.
func (h *AdminHandler) UpdateUser(c echo.Context) error {
	var req struct {
		Email *string `json:"email"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Email == nil {
		return NewProblem(http.StatusUnprocessableEntity, "invalid_request", "problem.patch-email")
	}
	u, err := h.Ops.SetEmail(c.Request().Context(), actorID(c), c.Param("id"), *req.Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u)})
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
	u, ended, err := h.Ops.SetDisabled(c.Request().Context(), actorID(c), c.Param("id"), true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u), "sessions_ended": ended})
}

// EnableUser serves POST /api/v1/admin/users/:id/enable.
func (h *AdminHandler) EnableUser(c echo.Context) error {
	u, _, err := h.Ops.SetDisabled(c.Request().Context(), actorID(c), c.Param("id"), false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u)})
}

// UnlockUser serves POST /api/v1/admin/users/:id/unlock.
func (h *AdminHandler) UnlockUser(c echo.Context) error {
	u, err := h.Ops.Unlock(c.Request().Context(), actorID(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": userView(u)})
}

// ResetUser serves POST /api/v1/admin/users/:id/reset.
func (h *AdminHandler) ResetUser(c echo.Context) error {
	inv, ended, err := h.Ops.Reset(c.Request().Context(), actorID(c), c.Param("id"))
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
	if err := h.Ops.DeleteDevice(c.Request().Context(), actorID(c), c.Param("id"), c.Param("did")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// DeleteCredential serves DELETE /api/v1/admin/users/:id/credentials/:cid.
func (h *AdminHandler) DeleteCredential(c echo.Context) error {
	if err := h.Ops.DeleteCredential(c.Request().Context(), actorID(c), c.Param("id"), c.Param("cid")); err != nil {
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

// CreateClient serves POST /api/v1/admin/clients {"name", "origins"?,
// "redirect_uris"?, "post_logout_redirect_uris"?, "public"?}.
func (h *AdminHandler) CreateClient(c echo.Context) error {
	var req struct {
		Name                   string   `json:"name"`
		Origins                []string `json:"origins"`
		RedirectURIs           []string `json:"redirect_uris"`
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
		Public                 bool     `json:"public"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	nc, err := h.Ops.CreateClient(c.Request().Context(), actorID(c), account.ClientSpec{Name: req.Name, Origins: req.Origins,
		RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs, Public: req.Public})
	if err != nil {
		return err
	}
	out := map[string]any{"client_id": nc.Client.ID, "client": clientView(nc.Client)}
	if nc.Secret != "" {
		out["client_secret"] = nc.Secret
	}
	return c.JSON(http.StatusCreated, out)
}

// RotateClient serves POST /api/v1/admin/clients/:id/rotate.
func (h *AdminHandler) RotateClient(c echo.Context) error {
	secret, err := h.Ops.RotateClient(c.Request().Context(), actorID(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"client_id": c.Param("id"), "client_secret": secret})
}

// UpdateClient serves PATCH /api/v1/admin/clients/:id {"name"?,
// "origins"?, "redirect_uris"?, "post_logout_redirect_uris"?, "public"?}.
// Making a public client confidential returns its new secret, once.
func (h *AdminHandler) UpdateClient(c echo.Context) error {
	var req struct {
		Name                   *string   `json:"name"`
		Origins                *[]string `json:"origins"`
		RedirectURIs           *[]string `json:"redirect_uris"`
		PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
		Public                 *bool     `json:"public"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	cl, secret, err := h.Ops.UpdateClient(c.Request().Context(), actorID(c), c.Param("id"), account.ClientUpdate{
		Name: req.Name, Origins: req.Origins, RedirectURIs: req.RedirectURIs,
		PostLogoutRedirectURIs: req.PostLogoutRedirectURIs, Public: req.Public})
	if err != nil {
		return err
	}
	out := map[string]any{"client": clientView(cl)}
	if secret != "" {
		out["client_secret"] = secret
	}
	return c.JSON(http.StatusOK, out)
}

// DeleteClient serves DELETE /api/v1/admin/clients/:id.
func (h *AdminHandler) DeleteClient(c echo.Context) error {
	if err := h.Ops.DeleteClient(c.Request().Context(), actorID(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
