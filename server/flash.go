package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"mutualauth/templates/i18n"
)

// The flash cookies of the account page and of the admin center.
const (
	accountFlashCookie = "mutualauth_flash"
	adminFlashCookie   = "mutualauth_admin_flash"
)

// maxFlashArg is the longest text argument of a flash message kept, in
// code points; maxFlashCookie the longest cookie value read.
const (
	maxFlashArg    = 300
	maxFlashCookie = 3000
)

// The kinds of flash message.
const (
	flashSuccess = "success"
	flashError   = "error"
)

// flash is one message shown once on the page a form post redirects to
// (post/redirect/get). It carries the message's key and arguments, not its
// words: the page puts it into its own language.
type flash struct {
	Kind    string       `json:"k"` // flashSuccess or flashError
	Message i18n.Message `json:"m"`
	// Offer is the number of other sessions to offer ending after a change
	// of factor, phrase or password (the account page).
	Offer int `json:"o,omitempty"`
}

// flashOf is a flash message of kind, the catalog's key with args.
func flashOf(kind, key string, args ...any) flash {
	return flash{Kind: kind, Message: i18n.M(key, args...)}
}

// flashes carries a flash message across a redirect in a short-lived
// cookie of one part of the site. The account page and the admin center
// each have one. A cookie the server did not write (another kind, a key
// the catalogs lack, an overlong argument) is dropped; the text is always
// rendered escaped.
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
	m.Message = clipArgs(m.Message)
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
	if len(ck.Value) > maxFlashCookie {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	var m flash
	if json.Unmarshal(raw, &m) != nil || (m.Kind != flashSuccess && m.Kind != flashError) ||
		m.Message.Key == "" || !catalog().Complete(m.Message) || !argsFit(m.Message) {
		return nil
	}
	return &m
}

// clipArgs cuts m's text arguments (names, addresses) to maxFlashArg code
// points.
func clipArgs(m i18n.Message) i18n.Message {
	out := i18n.Message{Key: m.Key, Args: make([]any, len(m.Args))}
	for i, a := range m.Args {
		switch v := a.(type) {
		case string:
			if r := []rune(v); len(r) > maxFlashArg {
				v = string(r[:maxFlashArg])
			}
			out.Args[i] = v
		case i18n.Message:
			out.Args[i] = clipArgs(v)
		default:
			out.Args[i] = a
		}
	}
	return out
}

func argsFit(m i18n.Message) bool {
	for _, a := range m.Args {
		switch v := a.(type) {
		case string:
			if utf8.RuneCountInString(v) > maxFlashArg {
				return false
			}
		case i18n.Message:
			if !argsFit(v) {
				return false
			}
		}
	}
	return true
}
