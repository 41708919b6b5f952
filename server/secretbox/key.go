package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the name of the generated key file in the data directory.
const KeyFileName = "encryption.key"

// EnvKey names the configuration variable that holds the key.
const EnvKey = "MUTUALAUTH_ENCRYPTION_KEY"

// LoadKey returns the 32-byte encryption key.
//
// When configured is not empty (the value of MUTUALAUTH_ENCRYPTION_KEY) it
// must be the base64 or base64url encoding, padded or not, of 32 bytes.
// Otherwise the key is read from dataDir/encryption.key (base64url text),
// which is created when missing: dataDir with mode 0700, the file with mode
// 0600, written to a temporary file and hard-linked into place, so that of
// several processes starting at once exactly one creates it and all of them
// return the same key.
//
// Errors never contain the key or the configured value.
func LoadKey(configured string, dataDir string) ([]byte, error) {
	if configured != "" {
		key, err := decodeKey([]byte(configured))
		if err != nil {
			return nil, fmt.Errorf("secretbox: %s %w", EnvKey, err)
		}
		return key, nil
	}
	if dataDir == "" {
		return nil, errors.New("secretbox: no data directory for the encryption key file")
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err := readKeyFile(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return createKeyFile(dataDir, path)
}

// decodeKey accepts the four base64 variants and requires 32 bytes.
func decodeKey(text []byte) ([]byte, error) {
	text = bytes.TrimSpace(text)
	encodings := []*base64.Encoding{
		base64.RawURLEncoding, base64.URLEncoding,
		base64.RawStdEncoding, base64.StdEncoding,
	}
	for _, enc := range encodings {
		key := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Strict().Decode(key, text)
		if err != nil {
			continue
		}
		if n != KeySize {
			return nil, fmt.Errorf("must encode %d bytes, but it encodes %d", KeySize, n)
		}
		return key[:n], nil
	}
	return nil, fmt.Errorf("is not base64 or base64url text (it must encode %d random bytes)", KeySize)
}

func readKeyFile(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secretbox: reading the encryption key file: %w", err)
	}
	key, err := decodeKey(text)
	if err != nil {
		return nil, fmt.Errorf("secretbox: encryption key file %s %w", path, err)
	}
	return key, nil
}

func createKeyFile(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("secretbox: creating the data directory: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secretbox: generating the encryption key: %w", err)
	}
	tmp, err := writeTemp(dataDir, []byte(base64.RawURLEncoding.EncodeToString(key)+"\n"))
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)

	// A hard link publishes the complete file atomically and fails when
	// another process published first; that process's key is then the key.
	err = os.Link(tmp, path)
	switch {
	case err == nil:
		syncDir(dataDir)
		return key, nil
	case errors.Is(err, fs.ErrExist):
		return readKeyFile(path)
	default:
		return nil, fmt.Errorf("secretbox: publishing the encryption key file: %w", err)
	}
}

func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+KeyFileName+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("secretbox: creating the encryption key file: %w", err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("secretbox: writing the encryption key file: %w", err)
	}
	return name, nil
}

// syncDir makes the new directory entry durable where the platform allows.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
