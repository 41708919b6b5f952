package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// DeviceCookie holds the recognized-device token.
const DeviceCookie = "mutualauth_device"

// DeviceManager issues and recognizes device tokens: random, expiring,
// revocable, bound to one user, stored as hashes (DESIGN.md threat model).
type DeviceManager struct {
	Store  store.Devices
	TTL    time.Duration
	Secure bool
	Now    func() time.Time
}

// Issue creates a recognized device for userID, sets the cookie and returns
// the token (also returned in JSON for clients that keep it themselves).
func (m *DeviceManager) Issue(c echo.Context, userID, name string) (string, error) {
	tok, err := token.New()
	if err != nil {
		return "", err
	}
	now := m.Now()
	if name == "" {
		name = deviceName(c.Request().UserAgent())
	}
	d := store.Device{
		ID: account.NewID()[:16], UserID: userID, TokenHash: token.Hash(tok), Name: name,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.TTL),
	}
	if err := m.Store.CreateDevice(c.Request().Context(), d); err != nil {
		return "", err
	}
	c.SetCookie(&http.Cookie{
		Name: DeviceCookie, Value: tok, Path: "/", HttpOnly: true, Secure: m.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(m.TTL / time.Second),
	})
	return tok, nil
}

// Recognize returns the device for tok if it is valid, unexpired and bound
// to userID. Any other case is (Device{}, false, nil); store errors are
// returned.
func (m *DeviceManager) Recognize(ctx context.Context, tok, userID string) (store.Device, bool, error) {
	if !token.Valid(tok) || userID == "" {
		return store.Device{}, false, nil
	}
	d, err := m.Store.GetDeviceByTokenHash(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, false, nil
	}
	if err != nil {
		return store.Device{}, false, err
	}
	now := m.Now()
	if d.UserID != userID || !now.Before(d.ExpiresAt) {
		return store.Device{}, false, nil
	}
	if now.Sub(d.LastSeenAt) > time.Minute {
		_ = m.Store.TouchDevice(ctx, d.ID, now)
	}
	return d, true, nil
}

// TokenFrom returns the device token from the field, else from the cookie.
func TokenFrom(c echo.Context, field string) string {
	if field != "" {
		return field
	}
	if ck, err := c.Cookie(DeviceCookie); err == nil {
		return ck.Value
	}
	return ""
}

// deviceName makes a readable name from a User-Agent, in English: the
// name a recognized device is stored with, and the sessions' "device" in
// the JSON API.
func deviceName(ua string) string {
	browser, os := deviceParts(ua)
	if browser == "" {
		browser = "Browser"
	}
	if os == "" {
		return browser
	}
	return browser + " on " + os
}

// deviceLabel is deviceName for a page, in its language.
func deviceLabel(ua string) i18n.Message {
	browser, os := deviceParts(ua)
	b := i18n.M("ua.browser")
	if browser != "" {
		b = i18n.Verbatim(browser)
	}
	if os == "" {
		return b
	}
	return i18n.M("ua.on", b, os)
}

// deviceParts finds the browser and the operating system in a User-Agent
// ("" each when unknown).
func deviceParts(ua string) (browser, os string) {
	for _, b := range []struct{ key, name string }{
		{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.key) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ key, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Mac OS X", "macOS"}, {"Windows", "Windows"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.key) {
			os = o.name
			break
		}
	}
	return browser, os
}
