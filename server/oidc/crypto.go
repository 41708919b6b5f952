package oidc

import (
	"encoding/base64"

	"mutualauth/server/secretbox"
)

// boxCrypto is op.Crypto on our encryption key: the library seals the
// authorization code (the auth request id) and the opaque access token
// (token id and subject) with it. AES-256-GCM, like the other secrets at
// rest, so every instance that shares the key reads every other's tokens.
type boxCrypto struct {
	box *secretbox.Box
}

var cryptoAD = []byte("oidc-token")

func (c boxCrypto) Encrypt(s string) (string, error) {
	sealed, err := c.box.Seal([]byte(s), cryptoAD)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (c boxCrypto) Decrypt(s string) (string, error) {
	sealed, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	plain, err := c.box.Open(sealed, cryptoAD)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
