package passkey

import (
	"encoding/hex"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"mutualauth/store"
)

// CeremonyTTL is how long a challenge stays valid (WebAuthn §5.4.6 timeout).
const CeremonyTTL = 5 * time.Minute

// ErrInvalid wraps every failure of a ceremony response.
var ErrInvalid = errors.New("passkey: invalid credential")

// RP is a configured relying party.
type RP struct {
	ID     string
	Name   string
	Origin string
}

// New returns the relying party for the issuer origin and RP ID.
func New(rpID, name, origin string) (*RP, error) {
	rp := &RP{ID: rpID, Name: name, Origin: origin}
	if _, err := rp.webauthn(nil); err != nil {
		return nil, err
	}
	return rp, nil
}

// webauthn builds the library object. topOrigins lists the embedding
// origins allowed for a cross-origin (iframe) ceremony, §5.10.9
// CollectedClientData.topOrigin; none means same-origin only.
func (rp *RP) webauthn(topOrigins []string) (*webauthn.WebAuthn, error) {
	cfg := &webauthn.Config{
		RPID:                  rp.ID,
		RPDisplayName:         rp.Name,
		RPOrigins:             []string{rp.Origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	}
	if len(topOrigins) > 0 {
		cfg.RPAllowCrossOrigin = true
		cfg.RPTopOrigins = topOrigins
		cfg.RPTopOriginVerificationMode = protocol.TopOriginExplicitVerificationMode
	}
	return webauthn.New(cfg)
}

// User adapts a store user and its credentials to webauthn.User.
type User struct {
	Account     store.User
	Credentials []store.Credential
}

// WebAuthnID is the user handle: the 16 random bytes of the user id.
func (u User) WebAuthnID() []byte          { return UserHandle(u.Account.ID) }
func (u User) WebAuthnName() string        { return u.Account.Username }
func (u User) WebAuthnDisplayName() string { return u.Account.DisplayName }
func (u User) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.Credentials))
	for _, c := range u.Credentials {
		out = append(out, ToLibrary(c))
	}
	return out
}

// UserHandle encodes a user id as a WebAuthn user handle.
func UserHandle(userID string) []byte {
	if b, err := hex.DecodeString(userID); err == nil && len(b) > 0 && len(b) <= 64 {
		return b
	}
	return []byte(userID)
}

// UserIDFromHandle is the inverse of UserHandle.
func UserIDFromHandle(h []byte) string { return hex.EncodeToString(h) }

// ToLibrary converts a stored credential record to the library's form.
func ToLibrary(c store.Credential) webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	if c.UserPresent {
		flags |= protocol.FlagUserPresent
	}
	if c.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID:              c.ID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			AAGUID:       c.AAGUID,
			SignCount:    c.SignCount,
			CloneWarning: c.CloneWarning,
			Attachment:   protocol.AuthenticatorAttachment(c.Attachment),
		},
	}
}

// FromLibrary converts a newly registered credential to a store record.
func FromLibrary(userID string, c *webauthn.Credential, name string, now time.Time) store.Credential {
	out := store.Credential{
		ID: c.ID, UserID: userID, PublicKey: c.PublicKey, AttestationType: c.AttestationType,
		CreatedAt: now, Name: name,
	}
	for _, t := range c.Transport {
		out.Transports = append(out.Transports, string(t))
	}
	Update(&out, c, time.Time{})
	return out
}

// Update copies what an assertion changes into a stored record (§7.2 steps
// 22-24: signature counter, backup state, clone warning).
func Update(rec *store.Credential, c *webauthn.Credential, usedAt time.Time) {
	rec.AAGUID = c.Authenticator.AAGUID
	rec.SignCount = c.Authenticator.SignCount
	rec.CloneWarning = rec.CloneWarning || c.Authenticator.CloneWarning
	rec.Attachment = string(c.Authenticator.Attachment)
	rec.UserPresent = c.Flags.UserPresent
	rec.UserVerified = c.Flags.UserVerified
	rec.BackupEligible = c.Flags.BackupEligible
	rec.BackupState = c.Flags.BackupState
	if !usedAt.IsZero() {
		rec.LastUsedAt = usedAt
	}
}
