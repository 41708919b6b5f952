package passkey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"

	"mutualauth/store"
)

// Scope names the flow a ceremony belongs to. With the flow's own id it
// makes the one key the ceremony is kept under: "wa:<scope>:<id>".
type Scope string

// The scopes of the server's ceremonies and the id each is keyed by.
const (
	// ScopeEnrollment: a registration from an invite link; the id is the
	// hex SHA-256 of the invite token.
	ScopeEnrollment Scope = "enroll"
	// ScopeAccount: a registration on the account page; the session id.
	ScopeAccount Scope = "account"
	// ScopeLogin: an authentication in a login transaction; its id.
	ScopeLogin Scope = "login"
	// ScopeReauth: an authentication re-authenticating a session; its id.
	ScopeReauth Scope = "reauth"
)

// MaxCredentialNameLength is the longest credential name kept, in code
// points.
const MaxCredentialNameLength = 64

// Errors of the ceremony store, besides ErrInvalid (a response that does not
// verify) and the store's sentinel errors.
var (
	// ErrUnavailable: passkeys are off (the public URL has no domain name
	// to serve as RP ID).
	ErrUnavailable = errors.New("passkey: passkeys are off")
	// ErrNoCeremony: no ceremony is pending under the key (none begun,
	// expired, or already answered).
	ErrNoCeremony = errors.New("passkey: no pending ceremony")
	// ErrNoCredential: the request carries no credential.
	ErrNoCredential = errors.New("passkey: no credential in the request")
	// ErrNotRegistered: the assertion's credential is not one of the
	// account's.
	ErrNotRegistered = errors.New("passkey: credential not registered to this account")
)

// Ceremonies runs WebAuthn ceremonies for every flow of the server and
// keeps their data between the two halves in the ephemeral store: one key
// scheme, single use (taken with read-and-delete before a response is
// verified), expiring after CeremonyTTL. A nil RP means passkeys are off.
type Ceremonies struct {
	RP          *RP
	KV          store.KV
	Credentials store.Credentials
	Now         func() time.Time
}

// CeremonyKey is the ephemeral store key of the ceremony of scope and id.
func CeremonyKey(scope Scope, id string) string { return "wa:" + string(scope) + ":" + id }

// Available reports whether passkeys are on.
func (c *Ceremonies) Available() bool { return c.RP != nil }

func (c *Ceremonies) put(ctx context.Context, scope Scope, id string, cer Ceremony) error {
	raw, err := MarshalCeremony(cer)
	if err != nil {
		return err
	}
	return c.KV.Put(ctx, CeremonyKey(scope, id), raw, CeremonyTTL)
}

// Take removes and returns the ceremony of scope and id: ErrNoCeremony when
// none is pending. A challenge is answered at most once, right or wrong.
func (c *Ceremonies) Take(ctx context.Context, scope Scope, id string) (Ceremony, error) {
	raw, err := c.KV.Take(ctx, CeremonyKey(scope, id))
	if errors.Is(err, store.ErrNotFound) {
		return Ceremony{}, ErrNoCeremony
	}
	if err != nil {
		return Ceremony{}, err
	}
	cer, err := UnmarshalCeremony(raw)
	if err != nil {
		return Ceremony{}, fmt.Errorf("decode ceremony: %w", err)
	}
	return cer, nil
}

// BeginRegistration starts a registration ceremony for u (WebAuthn L3 §7.1;
// u's credentials excluded) and keeps it under scope and id, replacing an
// earlier one.
func (c *Ceremonies) BeginRegistration(ctx context.Context, scope Scope, id string, u store.User) (*protocol.CredentialCreation, error) {
	if c.RP == nil {
		return nil, ErrUnavailable
	}
	creds, err := c.Credentials.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	creation, cer, err := c.RP.BeginRegistration(User{Account: u, Credentials: creds})
	if err != nil {
		return nil, err
	}
	if err := c.put(ctx, scope, id, cer); err != nil {
		return nil, err
	}
	return creation, nil
}

// FinishRegistration takes the ceremony of scope and id, verifies the
// client's PublicKeyCredential JSON against it (WebAuthn L3 §7.1 steps
// 5-27) and adds the credential to u's under name (CredentialName). Errors:
// ErrUnavailable, ErrNoCredential, ErrNoCeremony, ErrInvalid (wrapped),
// store.ErrAlreadyExists (the credential is registered already).
func (c *Ceremonies) FinishRegistration(ctx context.Context, scope Scope, id string, u store.User, credentialJSON []byte, name string) (store.Credential, error) {
	if c.RP == nil {
		return store.Credential{}, ErrUnavailable
	}
	if len(credentialJSON) == 0 || string(credentialJSON) == "null" {
		return store.Credential{}, ErrNoCredential
	}
	cer, err := c.Take(ctx, scope, id)
	if err != nil {
		return store.Credential{}, err
	}
	creds, err := c.Credentials.ListCredentials(ctx, u.ID)
	if err != nil {
		return store.Credential{}, err
	}
	cred, err := c.RP.FinishRegistration(User{Account: u, Credentials: creds}, cer, credentialJSON)
	if err != nil {
		return store.Credential{}, err
	}
	now := c.Now()
	rec := FromLibrary(u.ID, cred, CredentialName(name, now), now)
	if err := c.Credentials.AddCredential(ctx, rec); err != nil {
		return store.Credential{}, err
	}
	return rec, nil
}

// BeginLogin starts an authentication ceremony (WebAuthn L3 §7.2) and keeps
// it under scope and id. With a user it lists that user's credentials;
// with nil any discoverable credential may answer. topOrigins allows the
// ceremony inside frames of those origins.
func (c *Ceremonies) BeginLogin(ctx context.Context, scope Scope, id string, u *User, topOrigins []string) (*protocol.CredentialAssertion, error) {
	if c.RP == nil {
		return nil, ErrUnavailable
	}
	assertion, cer, err := c.RP.BeginLogin(u, topOrigins)
	if err != nil {
		return nil, err
	}
	if err := c.put(ctx, scope, id, cer); err != nil {
		return nil, err
	}
	return assertion, nil
}

// FinishLogin verifies an assertion answering cer (taken with Take) for one
// of u's own credentials — the user handle must be u's (WebAuthn L3 §7.2
// steps 5-24) — and stores the credential's new sign count, flags and last
// use; rec.UserVerified is this assertion's UV flag. cloneWarning reports
// that this assertion's signature counter did not increase (§6.1.1);
// deciding what that means is the caller's. Errors: ErrUnavailable,
// ErrInvalid (wrapped), ErrNotRegistered.
func (c *Ceremonies) FinishLogin(ctx context.Context, cer Ceremony, u store.User, credentialJSON []byte) (rec store.Credential, cloneWarning bool, err error) {
	_, rec, cloneWarning, err = c.finishLogin(ctx, cer, credentialJSON, func(string) (store.User, error) { return u, nil }, u.ID)
	return rec, cloneWarning, err
}

// FinishDiscoverableLogin verifies an assertion of a passkey-first login
// (§7.2 with a discoverable credential): the user handle names the
// account, which lookup reads (store.ErrNotFound for none). It returns the
// account besides what FinishLogin does.
func (c *Ceremonies) FinishDiscoverableLogin(ctx context.Context, cer Ceremony, credentialJSON []byte, lookup func(userID string) (store.User, error)) (u store.User, rec store.Credential, cloneWarning bool, err error) {
	return c.finishLogin(ctx, cer, credentialJSON, lookup, "")
}

// finishLogin verifies an assertion for the account lookup returns for the
// assertion's user handle; expect, when set, is the only account id
// accepted. The account's credentials are read only once the handle is
// known to be the expected account's, so that an assertion whose handle is
// another's costs the same whether or not the expected account exists
// (the caller passes an id no account has for an unknown username).
func (c *Ceremonies) finishLogin(ctx context.Context, cer Ceremony, credentialJSON []byte, lookup func(string) (store.User, error), expect string) (store.User, store.Credential, bool, error) {
	if c.RP == nil {
		return store.User{}, store.Credential{}, false, ErrUnavailable
	}
	var (
		account store.User
		creds   []store.Credential
	)
	_, cred, err := c.RP.FinishLogin(cer, credentialJSON, func(handle []byte) (User, error) {
		id := UserIDFromHandle(handle)
		if expect != "" && id != expect {
			return User{}, ErrInvalid
		}
		found, err := lookup(id)
		if errors.Is(err, store.ErrNotFound) {
			return User{}, ErrNotRegistered
		}
		if err != nil {
			return User{}, err
		}
		list, err := c.Credentials.ListCredentials(ctx, found.ID)
		if err != nil {
			return User{}, err
		}
		account, creds = found, list
		return User{Account: found, Credentials: list}, nil
	})
	if err != nil {
		return store.User{}, store.Credential{}, false, err
	}
	i := slices.IndexFunc(creds, func(x store.Credential) bool { return string(x.ID) == string(cred.ID) })
	if i < 0 {
		return store.User{}, store.Credential{}, false, ErrNotRegistered
	}
	rec := creds[i]
	Update(&rec, cred, c.Now())
	if err := c.Credentials.UpdateCredential(ctx, rec); err != nil {
		return store.User{}, store.Credential{}, false, err
	}
	return account, rec, cred.Authenticator.CloneWarning, nil
}

// CredentialName cleans a user-given credential name: control and format
// characters dropped, trimmed, at most MaxCredentialNameLength code points;
// "Passkey YYYY-MM-DD" when nothing is left.
func CredentialName(name string, now time.Time) string {
	if !utf8.ValidString(name) {
		name = ""
	}
	name = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if rs := []rune(name); len(rs) > MaxCredentialNameLength {
		name = strings.TrimSpace(string(rs[:MaxCredentialNameLength]))
	}
	if name == "" {
		return "Passkey " + now.UTC().Format(time.DateOnly)
	}
	return name
}
