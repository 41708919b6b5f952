package passkey

import (
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Ceremony is what a caller keeps between the two halves of a ceremony: the
// library's session data and the top origins allowed for it.
type Ceremony struct {
	Session    webauthn.SessionData `json:"session"`
	TopOrigins []string             `json:"top_origins,omitempty"`
}

// BeginRegistration starts a registration ceremony (§7.1): resident key
// preferred, user verification preferred, no attestation, the user's
// existing credentials excluded.
func (rp *RP) BeginRegistration(u User) (*protocol.CredentialCreation, Ceremony, error) {
	wa, err := rp.webauthn(nil)
	if err != nil {
		return nil, Ceremony{}, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.WebAuthnCredentials() {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := wa.BeginRegistration(u,
		webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return nil, Ceremony{}, err
	}
	return creation, Ceremony{Session: *session}, nil
}

// FinishRegistration verifies the client's PublicKeyCredential JSON (§7.1
// steps 5-27). Every failure wraps ErrInvalid.
func (rp *RP) FinishRegistration(u User, c Ceremony, credentialJSON []byte) (*webauthn.Credential, error) {
	wa, err := rp.webauthn(c.TopOrigins)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credentialJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	cred, err := wa.CreateCredential(u, c.Session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// With attestation "none" nothing vouches for the key, and the library
	// stores it unchecked: refuse one that could never verify an assertion
	// (an EC2 point off its curve, say).
	if _, err := webauthncose.ParsePublicKey(cred.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: credential public key: %v", ErrInvalid, err)
	}
	return cred, nil
}

// BeginLogin starts an authentication ceremony (§7.2). With a user, the
// request lists that user's credentials; without one (nil), any
// discoverable credential of this RP may answer. topOrigins allows the
// ceremony inside frames of those origins.
func (rp *RP) BeginLogin(u *User, topOrigins []string) (*protocol.CredentialAssertion, Ceremony, error) {
	wa, err := rp.webauthn(topOrigins)
	if err != nil {
		return nil, Ceremony{}, err
	}
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
	)
	if u != nil && len(u.Credentials) > 0 {
		assertion, session, err = wa.BeginLogin(*u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	} else {
		assertion, session, err = wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	}
	if err != nil {
		return nil, Ceremony{}, err
	}
	return assertion, Ceremony{Session: *session, TopOrigins: topOrigins}, nil
}

// FinishLogin verifies an assertion (§7.2 steps 5-24). lookup finds the user
// owning the credential (by user handle for discoverable credentials). It
// returns the user id and the updated library credential, whose flags are
// this assertion's.
func (rp *RP) FinishLogin(c Ceremony, credentialJSON []byte, lookup func(userHandle []byte) (User, error)) (User, *webauthn.Credential, error) {
	wa, err := rp.webauthn(c.TopOrigins)
	if err != nil {
		return User{}, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credentialJSON)
	if err != nil {
		return User{}, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	handle := parsed.Response.UserHandle
	if len(c.Session.UserID) > 0 {
		handle = c.Session.UserID
	}
	u, err := lookup(handle)
	if err != nil {
		return User{}, nil, err
	}
	var cred *webauthn.Credential
	if len(c.Session.UserID) > 0 {
		cred, err = wa.ValidateLogin(u, c.Session, parsed)
	} else {
		cred, err = wa.ValidateDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			return u, nil
		}, c.Session, parsed)
	}
	if err != nil {
		return User{}, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// The library keeps the record's UV flag; whether this ceremony
	// verified the user is this assertion's own flag (§7.2 step 17).
	cred.Flags.UserVerified = parsed.Response.AuthenticatorData.Flags.HasUserVerified()
	return u, cred, nil
}

// MarshalCeremony and UnmarshalCeremony encode ceremony data for the store.
func MarshalCeremony(c Ceremony) ([]byte, error) { return json.Marshal(c) }

func UnmarshalCeremony(b []byte) (Ceremony, error) {
	var c Ceremony
	err := json.Unmarshal(b, &c)
	return c, err
}
