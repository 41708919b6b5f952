package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters (RFC 9106 §3.1).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	KeyLen  uint32 // bytes of output
	SaltLen uint32 // bytes of random salt
}

// DefaultParams are OWASP's argon2id parameters (Password Storage Cheat
// Sheet): 19 MiB, two passes, one lane; a 32-byte hash and a 16-byte salt.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// Limits on parameters, both configured and read from stored hashes, so
// that a damaged or hostile hash string cannot make one verification take
// unbounded memory or time.
const (
	MaxMemory  = 256 * 1024 // KiB (256 MiB)
	MaxTime    = 10
	MaxThreads = 16
	minKeyLen  = 16
	maxKeyLen  = 64
	minSaltLen = 8
	maxSaltLen = 64
)

// ErrMalformedHash is returned by Verify for a string that is not an
// argon2id PHC string within the limits above.
var ErrMalformedHash = errors.New("password: malformed argon2id hash")

type hookEvent int

const (
	hookWait  hookEvent = iota // a derivation is waiting for a slot
	hookStart                  // a derivation holds a slot and starts
	hookEnd                    // a derivation is done and gives the slot back
)

// Hasher hashes and verifies passwords with argon2id, running at most a
// fixed number of derivations at once. It is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{}
	dummy  string

	// hook, when set by tests, observes the semaphore.
	hook func(hookEvent)
}

// NewHasher returns a Hasher for p that runs at most concurrency
// derivations at once (runtime.NumCPU() when concurrency ≤ 0). Each running
// derivation holds p.Memory KiB. It computes one hash to serve VerifyDummy.
func NewHasher(p Params, concurrency int) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	h := &Hasher{params: p, sem: make(chan struct{}, concurrency)}
	filler := make([]byte, 32)
	if _, err := rand.Read(filler); err != nil {
		return nil, fmt.Errorf("password: reading random bytes: %w", err)
	}
	dummy, err := h.Hash(context.Background(), base64.RawStdEncoding.EncodeToString(filler))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("password: argon2 time %d out of range 1..%d", p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("password: argon2 threads %d out of range 1..%d", p.Threads, MaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("password: argon2 memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), MaxMemory)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password: argon2 key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	case p.SaltLen < 16 || p.SaltLen > maxSaltLen:
		return fmt.Errorf("password: salt length %d out of range 16..%d", p.SaltLen, maxSaltLen)
	}
	return nil
}

// Hash returns the PHC string of password under a new random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, both in unpadded standard
// base64. It waits for a free slot, or returns ctx.Err().
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading random salt: %w", err)
	}
	key, err := h.derive(ctx, []byte(password), salt, h.params)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string phc, comparing in
// constant time, and whether the hash should be replaced because it was made
// with other parameters than the Hasher's. A string that does not parse is
// ErrMalformedHash; a cancelled wait is ctx.Err().
func (h *Hasher) Verify(ctx context.Context, phc, password string) (ok bool, needsRehash bool, err error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, []byte(password), salt, p)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify against a hash made with the
// Hasher's parameters, and discards the result. Use it for unknown users so
// they cost the same time as known ones. It returns only ctx.Err().
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, h.dummy, password)
	return err
}

func (h *Hasher) derive(ctx context.Context, password, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.hook != nil {
		h.hook(hookWait)
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	if h.hook != nil {
		h.hook(hookStart)
		defer h.hook(hookEnd)
	}
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}
