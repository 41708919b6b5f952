package secretbox

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func newTestBox(t *testing.T) *Box {
	t.Helper()
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key: no error", n)
		}
	}
	if _, err := New(make([]byte, 32)); err != nil {
		t.Errorf("New with a 32-byte key: %v", err)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := newTestBox(t)
	for _, pt := range [][]byte{nil, {}, []byte("x"), []byte("correct horse battery staple"), bytes.Repeat([]byte{0xff}, 4096)} {
		sealed, err := b.Seal(pt, []byte("phrase:u1"))
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != 1+12+len(pt)+16 {
			t.Errorf("sealed length %d for %d bytes of plaintext", len(sealed), len(pt))
		}
		if sealed[0] != 1 {
			t.Errorf("version byte %d, want 1", sealed[0])
		}
		if len(pt) >= 8 && bytes.Contains(sealed, pt) {
			t.Error("sealed value contains the plaintext")
		}
		got, err := b.Open(sealed, []byte("phrase:u1"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	b := newTestBox(t)
	seen := map[string]bool{}
	for range 100 {
		sealed, err := b.Seal([]byte("same"), nil)
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(sealed[1:13])
		if seen[nonce] {
			t.Fatal("nonce repeated")
		}
		seen[nonce] = true
	}
}

func TestOpenFailures(t *testing.T) {
	b := newTestBox(t)
	other := newTestBox(t)
	ad := []byte("phrase:alice")
	sealed, err := b.Seal([]byte("my secret phrase"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	cases := []struct {
		name   string
		box    *Box
		sealed []byte
		ad     []byte
	}{
		{"wrong key", other, sealed, ad},
		{"other owner", b, sealed, []byte("phrase:bob")},
		{"no additional data", b, sealed, nil},
		{"version changed", b, flip(0), ad},
		{"nonce tampered", b, flip(5), ad},
		{"ciphertext tampered", b, flip(14), ad},
		{"tag tampered", b, flip(len(sealed) - 1), ad},
		{"truncated by one", b, sealed[:len(sealed)-1], ad},
		{"only header", b, sealed[:13], ad},
		{"empty", b, nil, ad},
		{"extended", b, append(bytes.Clone(sealed), 0), ad},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.box.Open(c.sealed, c.ad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open err = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Errorf("Open returned %q with an error", got)
			}
		})
	}
}

func TestBoxConcurrentUse(t *testing.T) {
	b := newTestBox(t)
	done := make(chan error, 8)
	for i := range 8 {
		go func() {
			ad := []byte{byte(i)}
			for range 200 {
				s, err := b.Seal([]byte("v"), ad)
				if err != nil {
					done <- err
					return
				}
				if _, err := b.Open(s, ad); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
