package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"mutualauth/server/keys"
)

// IdentityHandler publishes the server's identity: the JWKS of the proof
// signing keys (RFC 7517 §5) and the discovery document of API.md.
type IdentityHandler struct {
	Issuer string
	Keys   *keys.Ring
	// WidgetIntegrity is the SRI value of /widget.js, published as
	// widget_integrity when set.
	WidgetIntegrity string
}

// noCacheKeys lets caches keep the key set and the handovers only while
// they revalidate them: a rotation's new key signs after keys.ActivationDelay,
// and no client may still hold a key set without it by then.
const noCacheKeys = "no-cache"

// JWKS serves GET /.well-known/jwks.json.
func (h *IdentityHandler) JWKS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", noCacheKeys)
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	c.Response().Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	return c.Blob(http.StatusOK, "application/jwk-set+json", h.Keys.JWKS())
}

// handovers is the ring's handovers, oldest first, as a JSON array even
// when there are none.
func handovers(r *keys.Ring) []string {
	if hs := r.Handovers(); len(hs) > 0 {
		return hs
	}
	return []string{}
}

// Discovery serves GET /.well-known/mutualauth: the issuer, the endpoints,
// and the key handovers of API.md "Key continuity".
func (h *IdentityHandler) Discovery(c echo.Context) error {
	i := h.Issuer
	c.Response().Header().Set("Cache-Control", noCacheKeys)
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	c.Response().Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	doc := map[string]any{
		"issuer":                             i,
		"jwks_uri":                           i + "/.well-known/jwks.json",
		"proof_signing_alg_values_supported": []string{"ES256"},
		"proof_typ":                          "mutualauth-proof+jwt",
		"signing_kid":                        h.Keys.ActiveKID(),
		"login_begin_endpoint":               i + "/api/v1/login/begin",
		"login_password_endpoint":            i + "/api/v1/login/password",
		"login_otp_endpoint":                 i + "/api/v1/login/otp",
		"login_recovery_endpoint":            i + "/api/v1/login/recovery",
		"login_webauthn_options_endpoint":    i + "/api/v1/login/webauthn/options",
		"login_webauthn_endpoint":            i + "/api/v1/login/webauthn",
		"session_endpoint":                   i + "/api/v1/session",
		"sessions_endpoint":                  i + "/api/v1/sessions",
		"verify_endpoint":                    i + "/auth/verify",
		"token_endpoint":                     i + "/api/v1/token",
		"login_page":                         i + "/login",
		"widget_script":                      i + "/widget.js",
		"key_handovers":                      handovers(h.Keys),
	}
	if h.WidgetIntegrity != "" {
		doc["widget_integrity"] = h.WidgetIntegrity
	}
	return c.JSON(http.StatusOK, doc)
}
