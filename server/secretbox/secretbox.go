package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a Box key in bytes (AES-256).
const KeySize = 32

const (
	version   byte = 1
	nonceSize      = 12
	tagSize        = 16
	overhead       = 1 + nonceSize + tagSize
)

// ErrDecrypt is returned by Open for any sealed value that does not open:
// wrong key, wrong additional data, tampered or truncated.
var ErrDecrypt = errors.New("secretbox: cannot decrypt")

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData and returns
// version || nonce || ciphertext.
func (b *Box) Seal(plaintext, additionalData []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("secretbox: reading random nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:1+nonceSize], plaintext, authData(additionalData)), nil
}

// Open decrypts a value made by Seal with the same additionalData. Every
// failure is ErrDecrypt.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < overhead || sealed[0] != version {
		return nil, ErrDecrypt
	}
	plaintext, err := b.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], authData(additionalData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// authData prefixes the caller's additional data with the format version.
func authData(additionalData []byte) []byte {
	ad := make([]byte, 0, 1+len(additionalData))
	ad = append(ad, version)
	return append(ad, additionalData...)
}
