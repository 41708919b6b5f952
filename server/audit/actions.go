package audit

// The actions of the audit log, every one the server records. An event's
// actor is the user who acted (empty for an attempt nobody has proven to
// be), its subject the account acted on.
const (
	// Sign-in: "login." + the step (password, otp, recovery, webauthn),
	// and the completed login.
	LoginPrefix   = "login."
	LoginComplete = "login.complete"
	// LoginCert: a client certificate presented to begin, with its
	// fingerprint; success when it counted (docs/mtls.md).
	LoginCert = "login.cert"
	// LoginRecovery: a recovery-code step; its successes are shown on the
	// account page (a code is the factor a phishing proxy can still relay).
	LoginRecovery = LoginPrefix + "recovery"

	// AccountLocked: consecutive failures locked an account.
	AccountLocked = "account.locked"
	// AccountReauth: a re-authentication of a signed-in session.
	AccountReauth = "account.reauth"

	// Enrollment from an invite link; actor and subject are the user.
	EnrollPassword    = "enroll.password"
	EnrollPhrase      = "enroll.phrase"
	EnrollTOTP        = "enroll.totp"
	EnrollTOTPConfirm = "enroll.totp_confirm"
	EnrollWebAuthn    = "enroll.webauthn"
	EnrollComplete    = "enroll.complete"

	// Self-service on the account page; actor and subject are the user.
	AccountCredentialRename = "account.credential_rename"
	AccountCredentialRemove = "account.credential_remove"
	AccountWebAuthn         = "account.webauthn_add"
	AccountTOTP             = "account.totp"
	AccountTOTPConfirm      = "account.totp_confirm"
	AccountRecoveryCodes    = "account.recovery_codes"
	AccountPassword         = "account.password"
	AccountPhrase           = "account.phrase"
	AccountDeviceForget     = "account.device_forget"
	AccountRevokeOthers     = "account.sessions_revoke_others"
	AccountCertAdd          = "account.cert_add"
	AccountCertRemove       = "account.cert_remove"

	// Sessions ended by their user.
	SessionRevoke = "session.revoke"
	SessionLogout = "session.logout"

	// The admin center; the actor is the acting admin.
	AdminUserCreate       = "admin.user.create"
	AdminUserInvite       = "admin.user.invite"
	AdminUserDisable      = "admin.user.disable"
	AdminUserEnable       = "admin.user.enable"
	AdminUserUnlock       = "admin.user.unlock"
	AdminUserReset        = "admin.user.reset"
	AdminSessionRevoke    = "admin.session.revoke"
	AdminDeviceDelete     = "admin.device.delete"
	AdminCredentialDelete = "admin.credential.delete"
	AdminCertAdd          = "admin.cert.add"
	AdminCertRemove       = "admin.cert.remove"
	AdminClientCreate     = "admin.client.create"
	AdminClientRotate     = "admin.client.rotate"
	AdminClientUpdate     = "admin.client.update"
	AdminClientDelete     = "admin.client.delete"
	AdminUserEmail        = "admin.user.email"

	// WidgetToken: a widget client's backend exchanged (or failed to
	// exchange) a widget code.
	WidgetToken = "widget.token"

	// The OpenID Connect provider (server/oidc).
	OIDCAuthorize  = "oidc.authorize"   // an authorization request answered with a code
	OIDCToken      = "oidc.token"       // tokens issued for a code or a device grant; a replayed code
	OIDCRefresh    = "oidc.refresh"     // a refresh token rotated; a reused one
	OIDCRevoke     = "oidc.revoke"      // a token revoked (RFC 7009)
	OIDCLogout     = "oidc.logout"      // RP-initiated logout ended a session
	OIDCDevice     = "oidc.device"      // a device authorization approved or denied
	OIDCClientAuth = "oidc.client_auth" // a failed or throttled client authentication
)

// FilterSuggestions are the action filters the admin audit page offers: an
// action filter matches a whole action or, ending in ".", a prefix.
var FilterSuggestions = []string{"admin.", "admin.user.", "admin.session.", "admin.client.", LoginPrefix, LoginComplete,
	"enroll.", EnrollComplete, "session.", AccountLocked, "oidc."}

// FilterResults are the results the admin audit page offers as filters.
var FilterResults = []string{"success", "failure", "throttled", "locked"}
