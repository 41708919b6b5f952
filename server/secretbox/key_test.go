package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadKeyFromConfiguration(t *testing.T) {
	key := randomKey(t)
	encodings := map[string]*base64.Encoding{
		"raw url": base64.RawURLEncoding, "url": base64.URLEncoding,
		"raw std": base64.RawStdEncoding, "std": base64.StdEncoding,
	}
	for name, enc := range encodings {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			got, err := LoadKey(" "+enc.EncodeToString(key)+"\n", dir)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key) {
				t.Error("decoded key differs")
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Error("a configured key must not touch the data directory")
			}
		})
	}
}

func TestLoadKeyConfigurationErrorsDoNotEchoValue(t *testing.T) {
	short := base64.RawURLEncoding.EncodeToString(randomKey(t)[:16])
	long := base64.StdEncoding.EncodeToString(append(randomKey(t), 1))
	cases := map[string]string{
		"short":     short,
		"long":      long,
		"not b64":   "this is not base64 at all!!",
		"hex":       strings.Repeat("ab", 32) + "zz",
		"mixed alp": strings.Repeat("+", 20) + strings.Repeat("-", 23),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadKey(v, t.TempDir())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), EnvKey) {
				t.Errorf("error %q does not name %s", err, EnvKey)
			}
			if strings.Contains(err.Error(), v) {
				t.Errorf("error %q echoes the configured value", err)
			}
		})
	}
}

func TestLoadKeyCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	key, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("key length %d", len(key))
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode %o, want 700", perm)
	}
	path := filepath.Join(dir, KeyFileName)
	st, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %o, want 600", perm)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatalf("key file is not raw base64url: %v", err)
	}
	if !bytes.Equal(decoded, key) {
		t.Error("key file does not hold the returned key")
	}
	again, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, key) {
		t.Error("second LoadKey returned another key")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key file", len(entries))
	}
}

func TestLoadKeyReadsExistingFile(t *testing.T) {
	dir := t.TempDir()
	key := randomKey(t)
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte(base64.RawURLEncoding.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, key) {
		t.Error("key differs from the file's")
	}
}

func TestLoadKeyConfigurationWinsOverFile(t *testing.T) {
	dir := t.TempDir()
	fileKey, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	envKey := randomKey(t)
	got, err := LoadKey(base64.RawURLEncoding.EncodeToString(envKey), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, envKey) || bytes.Equal(got, fileKey) {
		t.Error("configured key was not used")
	}
}

func TestLoadKeyBadFile(t *testing.T) {
	for name, content := range map[string]string{
		"empty":   "",
		"short":   base64.RawURLEncoding.EncodeToString([]byte("sixteen bytes!!!")),
		"garbage": "%%%%",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadKey("", dir); err == nil {
				t.Fatal("no error for a bad key file")
			}
			after, err := os.ReadFile(filepath.Join(dir, KeyFileName))
			if err != nil || string(after) != content {
				t.Error("a bad key file must be left alone, not replaced")
			}
		})
	}
}

func TestLoadKeyConcurrentCreation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			keys[i], errs[i] = LoadKey("", dir)
		}()
	}
	start.Done()
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadKey %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("LoadKey %d returned a different key", i)
		}
	}
	onDisk, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, keys[0]) {
		t.Error("the file holds a key nobody got")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries left in the data dir, want 1", len(entries))
	}
}

func TestLoadKeyWithoutDataDir(t *testing.T) {
	if _, err := LoadKey("", ""); err == nil {
		t.Fatal("no error without configured key or data dir")
	}
}

func TestLoadedKeyOpensSealedValues(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := New(k1)
	sealed, err := b1.Seal([]byte("totp secret"), []byte("totp:u"))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := New(k2)
	if got, err := b2.Open(sealed, []byte("totp:u")); err != nil || string(got) != "totp secret" {
		t.Fatalf("reloaded key: %q, %v", got, err)
	}
}
