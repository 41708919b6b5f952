package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/templates/i18n"
)

// AdminPages serves the admin center as server-rendered pages that work
// without JavaScript (templates/admin.html). Forms post to /admin/...;
// a successful post redirects (303) to a page that shows a flash message
// from a short-lived cookie. An invite link is kept in the ephemeral store
// for 15 minutes, bound to the admin's session, under a random id that the
// redirect's URL carries (?invite=), so reloading that page shows the same
// link and never issues another; the link itself never travels in a URL
// or a cookie. A new client secret is the POST's own answer.
type AdminPages struct {
	Admin *AdminHandler
	Flash flashes
	// KV keeps an invite link just made for the page after the post's
	// redirect (post/redirect/get: a reload shows it again, never makes
	// another).
	KV store.KV
}

// shownInviteTTL is how long the page after an invite shows its link.
const shownInviteTTL = 15 * time.Minute

// shownInviteKey binds a kept invite link to the admin's session.
func shownInviteKey(c echo.Context, id string) string {
	s, _ := sessionOf(c)
	return "admin-invite:" + s.ID + ":" + id
}

// showInvite keeps v and redirects to `to` with a flash, adding the
// ?invite= parameter under which the next GET finds v.
func (p *AdminPages) showInvite(c echo.Context, to string, m i18n.Message, v *adminInviteView) error {
	id, err := token.New()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := p.KV.Put(c.Request().Context(), shownInviteKey(c, id), raw, shownInviteTTL); err != nil {
		return err
	}
	return p.redirect(c, to+"?"+url.Values{"invite": {id}}.Encode(), flash{Kind: flashSuccess, Message: m})
}

// shownInvite is the invite link kept for this GET, if any.
func (p *AdminPages) shownInvite(c echo.Context) (*adminInviteView, error) {
	id := c.QueryParam("invite")
	if !token.Valid(id) {
		return nil, nil
	}
	raw, err := p.KV.Get(c.Request().Context(), shownInviteKey(c, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v adminInviteView
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, nil
	}
	return &v, nil
}

// adminPageSize is the number of users per page of the users list.
const adminPageSize = 25

// ---- view models -----------------------------------------------------------

type adminBase struct {
	View  string // which part of templates/admin.html renders
	Nav   string // the active tab: users, audit, clients
	Flash *flash
}

// adminBadge is a status pill; Key names its text in the message catalog
// (templates/i18n).
type adminBadge struct{ Key, Class string }

type adminUserRow struct {
	ID, Username, DisplayName, URL, Created, Email string
	Badges                                         []adminBadge
}

type adminInviteView struct {
	Username, URL, Expires string
	Reset                  bool
}

type adminInviteForm struct {
	Username, DisplayName string
	Admin                 bool
	Email                 string
}

type adminUsersView struct {
	adminBase
	Query            string
	Users            []adminUserRow
	Total, From, To  int
	PrevURL, NextURL string
	Form             adminInviteForm
	FormError        string
	Invite           *adminInviteView
}

type adminEventRow struct {
	Time, TimeISO, Action, Result, ResultClass string
	Subject, SubjectName, SubjectURL           string
	Actor, ActorName, ActorURL                 string
	IP, Detail                                 string
}

type adminUserView struct {
	adminBase
	adminUserRow
	Base                          string // form actions start here
	Role, Enrolled                string
	Self, Disabled, Locked        bool
	IsEnrolled, IsAdmin           bool
	Password, Phrase, TOTP        bool
	RecoveryLeft                  int
	Credentials                   []credentialView
	Devices                       []deviceView
	Sessions                      []sessionView
	Certificates                  []certView
	CertsEnabled                  bool // client CAs are configured
	Invite                        *adminInviteView
	Events                        []adminEventRow
	AuditURL                      string
	NoSecondFactor, FewRecovery   bool
	SessionCount, CredentialCount int
}

type adminAuditForm struct{ User, Actor, Action, Result, Since, Until, Limit string }

type adminAuditView struct {
	adminBase
	Filter             adminAuditForm
	Filtered           bool
	Error              string
	Events             []adminEventRow
	NewerURL, OlderURL string
	Actions, Results   []string
}

type adminClientRow struct {
	ID, Name, OriginsText, Created, Updated string
	RedirectText, PostLogoutText            string
	Origins, RedirectURIs, PostLogoutURIs   []string
	Public                                  bool
}

type adminClientForm struct {
	Name, Origins, RedirectURIs, PostLogoutURIs string
	Public                                      bool
}

// spec reads the form as a client registration.
func (f adminClientForm) spec() account.ClientSpec {
	return account.ClientSpec{Name: f.Name, Origins: splitOrigins(f.Origins), RedirectURIs: splitOrigins(f.RedirectURIs),
		PostLogoutRedirectURIs: splitOrigins(f.PostLogoutURIs), Public: f.Public}
}

func clientForm(c echo.Context) adminClientForm {
	return adminClientForm{Name: c.FormValue("name"), Origins: c.FormValue("origins"),
		RedirectURIs: c.FormValue("redirect_uris"), PostLogoutURIs: c.FormValue("post_logout_redirect_uris"),
		Public: c.FormValue("public") == "yes"}
}

type adminSecretView struct {
	ClientID, Name, Secret string
	Rotated                bool
}

type adminClientsView struct {
	adminBase
	Clients   []adminClientRow
	Form      adminClientForm
	FormError string
	Secret    *adminSecretView
}

// ---- helpers ---------------------------------------------------------------

func (p *AdminPages) base(c echo.Context, view, nav string) adminBase {
	return adminBase{View: view, Nav: nav, Flash: p.Flash.take(c)}
}

// page renders templates/admin.html with status.
func (p *AdminPages) page(c echo.Context, status int, title i18n.Message, body any) error {
	s, _ := sessionOf(c)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(status, "admin", templates.Page{
		Title:   title,
		Scripts: []string{"admin.js"},
		Data:    map[string]string{"layout": "wide"},
		User:    &templates.PageUser{Username: s.Username, DisplayName: s.DisplayName, Admin: true},
		Body:    body,
	})
}

// redirect answers a post with 303 to `to`, carrying a flash message.
func (p *AdminPages) redirect(c echo.Context, to string, f flash) error {
	p.Flash.set(c, f)
	return c.Redirect(http.StatusSeeOther, to)
}

// fail turns a refused post into a redirect back with the reason; server
// errors stay errors.
func (p *AdminPages) fail(c echo.Context, err error, back string) error {
	pr := toProblem(err)
	if pr.Status >= 500 {
		return err
	}
	return p.redirect(c, back, flash{Kind: flashError, Message: pr.Message})
}

// confirmed reports whether a destructive form carried its ticked
// confirmation box (the box is `required`, so browsers do not send the
// form without it; this check holds for any client).
func confirmed(c echo.Context) bool { return c.FormValue("confirm") == "yes" }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func userURL(id string) string { return "/admin/users/" + url.PathEscape(id) }

func userBadges(u adminUser) []adminBadge {
	var b []adminBadge
	if u.Role == string(store.RoleAdmin) {
		b = append(b, adminBadge{"admin.badge-admin", "pill-admin"})
	}
	switch {
	case u.Disabled:
		b = append(b, adminBadge{"admin.badge-disabled", "pill-bad"})
	case !u.Enrolled:
		b = append(b, adminBadge{"admin.badge-invited", "pill-warn"})
	default:
		b = append(b, adminBadge{"admin.badge-active", "pill-ok"})
	}
	if u.Locked {
		b = append(b, adminBadge{"admin.badge-locked", "pill-bad"})
	}
	return b
}

func userRow(u adminUser) adminUserRow {
	return adminUserRow{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, URL: userURL(u.ID),
		Created: fmtTime(u.CreatedAt), Badges: userBadges(u), Email: u.Email}
}

func inviteView(issuer string, inv account.Invite, reset bool) *adminInviteView {
	return &adminInviteView{Username: inv.User.Username, URL: account.EnrollURL(issuer, inv.Token),
		Expires: fmtTime(inv.ExpiresAt), Reset: reset}
}

func eventRows(events []adminEvent) []adminEventRow {
	rows := make([]adminEventRow, 0, len(events))
	for _, e := range events {
		r := adminEventRow{Time: fmtTime(e.Time), TimeISO: e.Time.Format(time.RFC3339), Action: e.Action, Result: e.Result,
			Subject: e.Subject, SubjectName: e.SubjectUsername, Actor: e.Actor, ActorName: e.ActorUsername,
			IP: e.IP, Detail: e.Detail}
		switch e.Result {
		case "success":
			r.ResultClass = "pill-ok"
		case "failure", "locked":
			r.ResultClass = "pill-bad"
		default:
			r.ResultClass = "pill-warn"
		}
		if e.SubjectUsername != "" {
			r.SubjectURL = userURL(e.Subject)
		}
		if e.ActorUsername != "" {
			r.ActorURL = userURL(e.Actor)
		}
		rows = append(rows, r)
	}
	return rows
}

// ---- users -----------------------------------------------------------------

// Users serves GET /admin: the users list with search and paging, and the
// invite form.
func (p *AdminPages) Users(c echo.Context) error {
	q, offset, limit, err := userQuery(c, adminPageSize)
	if err != nil {
		return err
	}
	v := adminUsersView{adminBase: p.base(c, "users", "users")}
	if v.Invite, err = p.shownInvite(c); err != nil {
		return err
	}
	return p.renderUsers(c, http.StatusOK, v, q, offset, limit)
}

func (p *AdminPages) renderUsers(c echo.Context, status int, v adminUsersView, q string, offset, limit int) error {
	list, err := p.Admin.listUsers(c.Request().Context(), q, offset, limit)
	if err != nil {
		return err
	}
	v.Query, v.Total = q, list.Total
	for _, u := range list.Users {
		v.Users = append(v.Users, userRow(u))
	}
	if len(v.Users) > 0 {
		v.From, v.To = offset+1, offset+len(v.Users)
	}
	link := func(off int) string {
		vals := url.Values{}
		if q != "" {
			vals.Set("q", q)
		}
		if off > 0 {
			vals.Set("offset", strconv.Itoa(off))
		}
		if limit != adminPageSize {
			vals.Set("limit", strconv.Itoa(limit))
		}
		if len(vals) == 0 {
			return "/admin"
		}
		return "/admin?" + vals.Encode()
	}
	if offset > 0 {
		v.PrevURL = link(max(offset-limit, 0))
	}
	if offset+len(list.Users) < list.Total {
		v.NextURL = link(offset + limit)
	}
	return p.page(c, status, i18n.M("admin.users"), v)
}

// CreateUser serves POST /admin/users: create a user (or renew the invite
// of one who has not enrolled) and show the invite link once.
func (p *AdminPages) CreateUser(c echo.Context) error {
	form := adminInviteForm{Username: c.FormValue("username"), DisplayName: c.FormValue("display_name"),
		Admin: c.FormValue("admin") == "yes", Email: c.FormValue("email")}
	v := adminUsersView{adminBase: adminBase{View: "users", Nav: "users"}, Form: form}
	inv, err := p.Admin.Ops.Invite(c.Request().Context(), actorID(c), account.InviteInput(form))
	if err != nil {
		pr := toProblem(err)
		if pr.Status >= 500 {
			return err
		}
		v.FormError = detailFor(c, pr)
		return p.renderUsers(c, pr.Status, v, "", 0, adminPageSize)
	}
	return p.showInvite(c, "/admin", i18n.M("flash.admin-invited", inv.User.Username), inviteView(p.Admin.Issuer, inv, false))
}

// User serves GET /admin/users/:id.
func (p *AdminPages) User(c echo.Context) error {
	inv, err := p.shownInvite(c)
	if err != nil {
		return err
	}
	return p.renderUser(c, p.base(c, "user", "users"), inv)
}

func (p *AdminPages) renderUser(c echo.Context, base adminBase, invite *adminInviteView) error {
	id := c.Param("id")
	d, err := p.Admin.userDetail(c, id)
	if err != nil {
		return err
	}
	v := adminUserView{
		adminBase: base, adminUserRow: userRow(d.User), Base: userURL(id), Role: d.User.Role,
		Enrolled: fmtTime(d.User.EnrolledAt), Self: id == actorID(c), Disabled: d.User.Disabled,
		Locked: d.User.Locked, IsEnrolled: d.User.Enrolled, IsAdmin: d.User.Role == string(store.RoleAdmin),
		Password: d.Factors.Password, Phrase: d.Factors.Phrase, TOTP: d.Factors.TOTP,
		RecoveryLeft: d.Factors.RecoveryCodesLeft, Invite: invite,
		AuditURL:     "/admin/audit?" + url.Values{"user": {id}}.Encode(),
		SessionCount: len(d.Sessions), CredentialCount: len(d.Factors.Credentials),
	}
	v.NoSecondFactor = d.User.Enrolled && !d.Factors.TOTP && len(d.Factors.Credentials) == 0
	v.FewRecovery = d.User.Enrolled && d.Factors.RecoveryCodesLeft < 3
	v.Credentials, v.Devices, v.Sessions = d.Factors.Credentials, d.Devices, d.Sessions
	v.Certificates, v.CertsEnabled = d.Certificates, p.Admin.Ops.Certs != nil
	events, _, err := p.Admin.listAudit(c.Request().Context(), store.AuditQuery{Subject: id, Limit: 10})
	if err != nil {
		return err
	}
	v.Events = eventRows(events)
	title := d.User.DisplayName
	if title == "" {
		title = d.User.Username
	}
	return p.page(c, http.StatusOK, i18n.Verbatim(title), v)
}

// InviteUser serves POST /admin/users/:id/invite: a new invite link for a
// user who has not enrolled yet (earlier links stop working).
func (p *AdminPages) InviteUser(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	u, err := p.Admin.Ops.User(c.Request().Context(), id)
	if err != nil {
		return p.fail(c, err, "/admin")
	}
	inv, err := p.Admin.Ops.Invite(c.Request().Context(), actorID(c), account.InviteInput{Username: u.Username})
	if err != nil {
		return p.fail(c, err, back)
	}
	return p.showInvite(c, back, i18n.M("flash.admin-reinvited"), inviteView(p.Admin.Issuer, inv, false))
}

// DisableUser serves POST /admin/users/:id/disable (confirmation required).
func (p *AdminPages) DisableUser(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if !confirmed(c) {
		return p.redirect(c, back, flashOf(flashError, "flash.admin-confirm-disable"))
	}
	u, ended, err := p.Admin.Ops.SetDisabled(c.Request().Context(), actorID(c), id, true)
	if err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-disabled", ended, u.Username))
}

// EnableUser serves POST /admin/users/:id/enable.
func (p *AdminPages) EnableUser(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	u, _, err := p.Admin.Ops.SetDisabled(c.Request().Context(), actorID(c), id, false)
	if err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-enabled", u.Username))
}

// SetEmail serves POST /admin/users/:id/email.
func (p *AdminPages) SetEmail(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	u, err := p.Admin.Ops.SetEmail(c.Request().Context(), actorID(c), id, c.FormValue("email"))
	if err != nil {
		return p.fail(c, err, back)
	}
	if u.Email == "" {
		return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-email-removed", u.Username))
	}
	return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-email-set", u.Username, u.Email))
}

// UnlockUser serves POST /admin/users/:id/unlock.
func (p *AdminPages) UnlockUser(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	u, err := p.Admin.Ops.Unlock(c.Request().Context(), actorID(c), id)
	if err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-unlocked", u.Username))
}

// ResetUser serves POST /admin/users/:id/reset (confirmation required) and
// shows the new invite link once.
func (p *AdminPages) ResetUser(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if !confirmed(c) {
		return p.redirect(c, back, flashOf(flashError, "flash.admin-confirm-reset"))
	}
	inv, ended, err := p.Admin.Ops.Reset(c.Request().Context(), actorID(c), id)
	if err != nil {
		return p.fail(c, err, back)
	}
	return p.showInvite(c, back, i18n.M("flash.admin-reset", ended, inv.User.Username),
		inviteView(p.Admin.Issuer, inv, true))
}

// RevokeSession serves POST /admin/users/:id/sessions/:sid/revoke.
func (p *AdminPages) RevokeSession(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if err := p.Admin.revokeSession(c, id, c.Param("sid")); err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "account.session-ended"))
}

// DeleteDevice serves POST /admin/users/:id/devices/:did/delete.
func (p *AdminPages) DeleteDevice(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if err := p.Admin.Ops.DeleteDevice(c.Request().Context(), actorID(c), id, c.Param("did")); err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-device-forgotten"))
}

// DeleteCredential serves POST /admin/users/:id/credentials/:cid/delete
// (confirmation required).
func (p *AdminPages) DeleteCredential(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if !confirmed(c) {
		return p.redirect(c, back, flashOf(flashError, "flash.admin-confirm-remove-passkey"))
	}
	if err := p.Admin.Ops.DeleteCredential(c.Request().Context(), actorID(c), id, c.Param("cid")); err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "account.passkey-removed"))
}

// ---- audit log ---------------------------------------------------------------

var ()

// Audit serves GET /admin/audit: the audit log with filters and paging.
func (p *AdminPages) Audit(c echo.Context) error {
	v := adminAuditView{adminBase: p.base(c, "audit", "audit"), Actions: audit.FilterSuggestions, Results: audit.FilterResults}
	f, err := p.Admin.parseAuditFilter(c)
	v.Filter = adminAuditForm{User: f.User, Actor: f.Actor, Action: f.Query.Action, Result: f.Query.Result,
		Since: f.Since, Until: f.Until, Limit: c.QueryParam("limit")}
	v.Filtered = f.User != "" || f.Actor != "" || f.Query.Action != "" || f.Query.Result != "" || f.Since != "" || f.Until != ""
	if err != nil {
		pr := toProblem(err)
		if pr.Status >= 500 {
			return err
		}
		v.Error = detailFor(c, pr)
		return p.page(c, pr.Status, i18n.M("admin.audit-log"), v)
	}
	events, next, err := p.Admin.listAudit(c.Request().Context(), f.Query)
	if err != nil {
		return err
	}
	v.Events = eventRows(events)
	link := func(before int64) string {
		vals := url.Values{}
		for k, s := range map[string]string{"user": f.User, "actor": f.Actor, "action": f.Query.Action,
			"result": f.Query.Result, "since": f.Since, "until": f.Until, "limit": c.QueryParam("limit")} {
			if s != "" {
				vals.Set(k, s)
			}
		}
		if before > 0 {
			vals.Set("before", strconv.FormatInt(before, 10))
		}
		if len(vals) == 0 {
			return "/admin/audit"
		}
		return "/admin/audit?" + vals.Encode()
	}
	if f.Query.BeforeID > 0 {
		v.NewerURL = link(0)
	}
	if next > 0 {
		v.OlderURL = link(next)
	}
	return p.page(c, http.StatusOK, i18n.M("admin.audit-log"), v)
}

// ---- widget clients ----------------------------------------------------------

// Clients serves GET /admin/clients.
func (p *AdminPages) Clients(c echo.Context) error {
	return p.renderClients(c, http.StatusOK, adminClientsView{adminBase: p.base(c, "clients", "clients")})
}

func (p *AdminPages) renderClients(c echo.Context, status int, v adminClientsView) error {
	list, err := p.Admin.listClients(c.Request().Context())
	if err != nil {
		return err
	}
	for _, cl := range list {
		v.Clients = append(v.Clients, adminClientRow{ID: cl.ID, Name: cl.Name, Origins: cl.Origins,
			OriginsText: strings.Join(cl.Origins, "\n"), Created: fmtTime(cl.CreatedAt), Updated: fmtTime(cl.UpdatedAt),
			RedirectURIs: cl.RedirectURIs, RedirectText: strings.Join(cl.RedirectURIs, "\n"),
			PostLogoutURIs: cl.PostLogoutRedirectURIs, PostLogoutText: strings.Join(cl.PostLogoutRedirectURIs, "\n"),
			Public: cl.Public})
	}
	return p.page(c, status, i18n.M("admin.clients"), v)
}

// splitOrigins reads the origins (or redirect URIs) of a form's textarea:
// one per line (or separated by spaces or commas).
func splitOrigins(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// CreateClient serves POST /admin/clients and shows the secret once.
func (p *AdminPages) CreateClient(c echo.Context) error {
	form := clientForm(c)
	v := adminClientsView{adminBase: adminBase{View: "clients", Nav: "clients"}, Form: form}
	nc, err := p.Admin.Ops.CreateClient(c.Request().Context(), actorID(c), form.spec())
	if err != nil {
		pr := toProblem(err)
		if pr.Status >= 500 {
			return err
		}
		v.FormError = detailFor(c, pr)
		return p.renderClients(c, pr.Status, v)
	}
	v.Form = adminClientForm{}
	v.Secret = &adminSecretView{ClientID: nc.Client.ID, Name: nc.Client.Name, Secret: nc.Secret}
	return p.renderClients(c, http.StatusOK, v)
}

// UpdateClient serves POST /admin/clients/:id: rename, replace the origins
// and redirect URIs, make public or confidential (then the new secret is
// shown once).
func (p *AdminPages) UpdateClient(c echo.Context) error {
	spec := clientForm(c).spec()
	origins, redirects, logouts := nonNil(spec.Origins), nonNil(spec.RedirectURIs), nonNil(spec.PostLogoutRedirectURIs)
	cl, secret, err := p.Admin.Ops.UpdateClient(c.Request().Context(), actorID(c), c.Param("id"), account.ClientUpdate{
		Name: &spec.Name, Origins: &origins, RedirectURIs: &redirects, PostLogoutRedirectURIs: &logouts, Public: &spec.Public})
	if err != nil {
		return p.fail(c, err, "/admin/clients")
	}
	if secret != "" {
		v := adminClientsView{adminBase: adminBase{View: "clients", Nav: "clients"},
			Secret: &adminSecretView{ClientID: cl.ID, Name: cl.Name, Secret: secret}}
		return p.renderClients(c, http.StatusOK, v)
	}
	return p.redirect(c, "/admin/clients", flashOf(flashSuccess, "flash.admin-client-saved", cl.Name))
}

// RotateClient serves POST /admin/clients/:id/rotate (confirmation
// required) and shows the new secret once.
func (p *AdminPages) RotateClient(c echo.Context) error {
	id := c.Param("id")
	if !confirmed(c) {
		return p.redirect(c, "/admin/clients", flashOf(flashError, "flash.admin-confirm-rotate"))
	}
	secret, err := p.Admin.Ops.RotateClient(c.Request().Context(), actorID(c), id)
	if err != nil {
		return p.fail(c, err, "/admin/clients")
	}
	cl, err := p.Admin.Ops.Client(c.Request().Context(), id)
	if err != nil {
		return err
	}
	v := adminClientsView{adminBase: adminBase{View: "clients", Nav: "clients"},
		Secret: &adminSecretView{ClientID: id, Name: cl.Name, Secret: secret, Rotated: true}}
	return p.renderClients(c, http.StatusOK, v)
}

// DeleteClient serves POST /admin/clients/:id/delete (confirmation required).
func (p *AdminPages) DeleteClient(c echo.Context) error {
	if !confirmed(c) {
		return p.redirect(c, "/admin/clients", flashOf(flashError, "flash.admin-confirm-delete-client"))
	}
	if err := p.Admin.Ops.DeleteClient(c.Request().Context(), actorID(c), c.Param("id")); err != nil {
		return p.fail(c, err, "/admin/clients")
	}
	return p.redirect(c, "/admin/clients", flashOf(flashSuccess, "flash.admin-client-deleted"))
}
