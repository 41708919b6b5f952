package audit

// AccountLocked is recorded when consecutive failures lock an account.
const AccountLocked = "account.locked"

// The OpenID Connect provider's actions (server/oidc).
const (
	OIDCAuthorize  = "oidc.authorize"   // an authorization request answered with a code
	OIDCToken      = "oidc.token"       // tokens issued for a code or a device grant; a replayed code
	OIDCRefresh    = "oidc.refresh"     // a refresh token rotated; a reused one
	OIDCRevoke     = "oidc.revoke"      // a token revoked (RFC 7009)
	OIDCLogout     = "oidc.logout"      // RP-initiated logout ended a session
	OIDCDevice     = "oidc.device"      // a device authorization approved or denied
	OIDCClientAuth = "oidc.client_auth" // a failed or throttled client authentication
)
