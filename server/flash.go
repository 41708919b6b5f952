package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// The flash cookies of the account page and of the admin center.
const (
	accountFlashCookie = "mutualauth_flash"
	adminFlashCookie   = "mutualauth_admin_flash"
)

// maxFlashText is the longest flash message kept, in code points.
const maxFlashText = 300

// The kinds of flash message.
const (
	flashSuccess = "success"
	flashError   = "error"
)

// flash is one message shown once on the page a form post redirects to
// (post/redirect/get).
type flash struct {
	Kind string `json:"k"` // flashSuccess or flashError
	Text string `json:"t"`
	// Offer is the number of other sessions to offer ending after a change
	// of factor, phrase or password (the account page).
	Offer int `json:"o,omitempty"`
}

// flashes carries a flash message across a redirect in a short-lived
// cookie of one part of the site. The account page and the admin center
// each have one. A cookie the server did not write (another kind, an
// empty or overlong text) is dropped; the text is always rendered escaped.
type flashes struct {
	Cookie string
	Path   string
	Secure bool // under https
}

func (f flashes) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: f.Cookie, Value: value, Path: f.Path, HttpOnly: true, Secure: f.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

// set keeps m for the next page, for a minute.
func (f flashes) set(c echo.Context, m flash) {
	if r := []rune(m.Text); len(r) > maxFlashText {
		m.Text = string(r[:maxFlashText])
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return
	}
	c.SetCookie(f.cookie(base64.RawURLEncoding.EncodeToString(raw), 60))
}

// take reads the message, if any, and clears it.
func (f flashes) take(c echo.Context) *flash {
	ck, err := c.Cookie(f.Cookie)
	if err != nil {
		return nil
	}
	c.SetCookie(f.cookie("", -1))
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	var m flash
	if json.Unmarshal(raw, &m) != nil || (m.Kind != flashSuccess && m.Kind != flashError) ||
		m.Text == "" || utf8.RuneCountInString(m.Text) > maxFlashText {
		return nil
	}
	return &m
}
