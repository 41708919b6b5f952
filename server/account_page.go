package server

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/phrase"
	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/templates/i18n"
)

// The account page (GET /account) is rendered on the server and works
// without JavaScript: every action is a plain form posted to /account/...,
// answered with a redirect back to the page and a flash message
// (post/redirect/get). web/account.js, when it runs, sends the same
// actions to the JSON API instead and asks for re-authentication in a
// dialog. Only adding a passkey and re-authenticating with one need
// JavaScript (WebAuthn has no form-based API).

// accountPage is the data of templates/account.html.
type accountPage struct {
	Account        accountView
	Flash          *flash
	PasswordMinLen int
	PhraseMin      int
	PhraseMax      int
	ReauthMinutes  int
	HasCredentials bool
	// RecoverySession: this session began with a recovery code.
	RecoverySession bool
}

func (h *AccountHandler) pageUser(s store.Session, u store.User) *templates.PageUser {
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	return &templates.PageUser{
		Username: u.Username, DisplayName: name,
		Admin: u.Role == store.RoleAdmin && slices.Contains(s.Groups, string(store.RoleAdmin)) && hasSecondFactor(s.AMR),
	}
}

// Page serves GET /account.
func (h *AccountHandler) Page(c echo.Context) error {
	s, u, err := h.signedIn(c)
	if err != nil {
		return err
	}
	v, err := h.view(c, s, u)
	if err != nil {
		return err
	}
	webauthn := "off"
	if v.WebAuthnAvailable {
		webauthn = "on"
	}
	return render(c, "account", templates.Page{
		Title:   i18n.M("account.title"),
		Scripts: []string{"account.js"},
		Data:    map[string]string{"webauthn": webauthn},
		User:    h.pageUser(s, u),
		Body: accountPage{
			Account: v, Flash: h.Flash.take(c), PasswordMinLen: h.Self.Rules.PasswordMinLength(),
			PhraseMin: phrase.MinLength, PhraseMax: phrase.MaxLength, ReauthMinutes: int(ReauthTTL / time.Minute),
			HasCredentials:  len(v.Factors.Credentials) > 0,
			RecoverySession: slices.Contains(s.AMR, login.MethodRecovery),
		},
	})
}

// back ends a form post: a redirect to the account page with a flash
// message, ok or the problem's detail. A change that offers ending the
// other sessions says how many there are. Server errors (5xx) are returned
// as they are.
func (h *AccountHandler) back(c echo.Context, s store.Session, err error, ok i18n.Message, anchor string, offer bool) error {
	f := flash{Kind: flashSuccess, Message: ok}
	if err != nil {
		p := toProblem(err)
		if p.Status >= http.StatusInternalServerError {
			return err
		}
		f = flash{Kind: flashError, Message: p.Message}
		if p.Code == "reauth_required" {
			anchor = "reauth"
		}
	} else if offer {
		n, err := h.Self.OtherSessions(c.Request().Context(), s)
		if err != nil {
			return err
		}
		f.Offer = n
	}
	h.Flash.set(c, f)
	return c.Redirect(http.StatusSeeOther, "/account#"+anchor)
}

// FormReauth serves POST /account/reauth (password, code).
func (h *AccountHandler) FormReauth(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.Reauth.Confirm(c, s, reauthRequest{Password: c.FormValue("password"), Code: c.FormValue("code")})
	if p := toProblem(err); err != nil && p.Code == "invalid_credentials" {
		err = NewProblem(p.Status, p.Code, "problem.reauth-failed")
	}
	return h.back(c, s, err, i18n.M("flash.reauth-confirmed"), "reauth", false)
}

// FormPassword serves POST /account/password (password).
func (h *AccountHandler) FormPassword(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.Self.SetPassword(c.Request().Context(), s, c.FormValue("password"))
	return h.back(c, s, err, i18n.M("account.password-changed"), "password", true)
}

// FormPhrase serves POST /account/phrase (phrase).
func (h *AccountHandler) FormPhrase(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.Self.SetPhrase(c.Request().Context(), s, c.FormValue("phrase"))
	return h.back(c, s, err, i18n.M("account.phrase-changed"), "phrase", true)
}

// FormTOTP serves POST /account/totp: the new secret is shown on a page of
// its own, with the form that confirms it.
func (h *AccountHandler) FormTOTP(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	enr, err := h.Self.StartTOTP(c.Request().Context(), s)
	if err != nil {
		return h.back(c, s, err, i18n.Message{}, "totp", false)
	}
	u, err := h.Self.User(c.Request().Context(), s)
	if err != nil {
		return err
	}
	// The QR code (a data: URL) and the otpauth: URI are made here, so they
	// are trusted as URLs; html/template would refuse their schemes.
	return render(c, "account_totp", templates.Page{
		Title: i18n.M("totp.title"), User: h.pageUser(s, u),
		Body: struct {
			Secret  string
			QR, URI template.URL
		}{enr.Secret, template.URL(enr.QRPNG), template.URL(enr.OTPAuthURI)},
	})
}

// FormTOTPConfirm serves POST /account/totp/confirm (code).
func (h *AccountHandler) FormTOTPConfirm(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.Self.ConfirmTOTP(c.Request().Context(), s, c.FormValue("code"))
	return h.back(c, s, err, i18n.M("account.totp-ok"), "totp", true)
}

// FormRecoveryCodes serves POST /account/recovery-codes: the new codes are
// shown once, on a page of their own.
func (h *AccountHandler) FormRecoveryCodes(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	codes, err := h.Self.RegenerateCodes(c.Request().Context(), s)
	if err != nil {
		return h.back(c, s, err, i18n.Message{}, "recovery", false)
	}
	u, err := h.Self.User(c.Request().Context(), s)
	if err != nil {
		return err
	}
	return render(c, "account_codes", templates.Page{
		Title: i18n.M("codes.title"), Scripts: []string{"account.js"}, User: h.pageUser(s, u),
		Body: struct{ Codes []string }{codes},
	})
}

// FormRenameCredential serves POST /account/credentials/:id/rename (name).
func (h *AccountHandler) FormRenameCredential(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	v, err := h.Self.RenameCredential(c.Request().Context(), s, c.Param("id"), c.FormValue("name"))
	return h.back(c, s, err, i18n.M("flash.passkey-renamed", v.Name), "passkeys", false)
}

// FormRemoveCredential serves POST /account/credentials/:id/remove.
func (h *AccountHandler) FormRemoveCredential(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.Self.RemoveCredential(c.Request().Context(), s, c.Param("id"))
	return h.back(c, s, err, i18n.M("account.passkey-removed"), "passkeys", true)
}

// FormForgetDevice serves POST /account/devices/:id/forget.
func (h *AccountHandler) FormForgetDevice(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.forgetDevice(c, s, c.Param("id"))
	return h.back(c, s, err, i18n.M("flash.device-forgotten"), "devices", false)
}

// FormRevokeSession serves POST /account/sessions/:id/revoke. Ending the
// current session signs out: the browser goes to the login page.
func (h *AccountHandler) FormRevokeSession(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	current, err := h.revokeSession(c, s, c.Param("id"))
	if err == nil && current {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return h.back(c, s, err, i18n.M("account.session-ended"), "sessions", false)
}

// FormRevokeOthers serves POST /account/sessions/revoke-others.
func (h *AccountHandler) FormRevokeOthers(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	n, err := h.Self.RevokeOthers(c.Request().Context(), s)
	msg := i18n.M("flash.revoked-others", n)
	if n == 0 {
		msg = i18n.M("flash.revoked-others-none")
	}
	return h.back(c, s, err, msg, "sessions", false)
}

// FormSignOut serves POST /account/signout: this session ends and the
// browser goes to the login page.
func (h *AccountHandler) FormSignOut(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.Sessions.End(c); err != nil {
		return err
	}
	h.Self.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: audit.SessionLogout,
		Result: "success", Detail: "session " + s.ID})
	return c.Redirect(http.StatusSeeOther, "/login?signed_out=1")
}
