package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mutualauth/server/secretbox"
	"mutualauth/store"
)

// ErrEncryptionKeyMismatch is returned by Load and Rotate when a stored
// signing key does not open with the configured encryption key.
var ErrEncryptionKeyMismatch = errors.New("keys: the stored signing key was sealed with a different encryption key; " +
	"MUTUALAUTH_ENCRYPTION_KEY (or the data directory's encryption.key) must be the same on every instance")

// ErrUnknownKID is returned by Revoke when no published key has the kid.
var ErrUnknownKID = errors.New("keys: no published signing key has this kid")

// ActivationDelay is how long a key added by Rotate is published before it
// signs. Every instance refreshes its ring well within it (RefreshInterval),
// so all of them know the new key, and its handover, before any of them
// signs with it, and they switch at the same moment by the clock.
const ActivationDelay = 6 * time.Second

// RefreshInterval is how often Watch rereads the shared ring.
const RefreshInterval = 2 * time.Second

// Ring is the set of published proof keys and the active signer. A ring
// from Load or Rotate follows the shared store: Refresh (or Watch) rereads
// it, so a rotation or revocation made by any instance or by the admin
// command reaches every instance. It is safe for concurrent use.
type Ring struct {
	cur atomic.Pointer[snapshot]
	st  store.SigningKeys // nil for a ring from LoadPEM
	box *secretbox.Box
}

// snapshot is one immutable state of the ring.
type snapshot struct {
	signers   []keySigner // published keys, highest generation first
	kids      []string
	jwks      []byte
	handovers []string // oldest first
	version   string   // what the store held when this was built
}

type keySigner struct {
	generation int
	kid        string
	activeFrom time.Time
	signer     jose.Signer
}

// active returns the signer for time t: the newest key whose activation
// time has come, else the oldest published one.
func (s *snapshot) active(t time.Time) keySigner {
	for _, k := range s.signers {
		if !k.activeFrom.After(t) {
			return k
		}
	}
	return s.signers[len(s.signers)-1]
}

// ActiveKID returns the thumbprint of the key that signs now.
func (r *Ring) ActiveKID() string { return r.ActiveKIDAt(time.Now()) }

// ActiveKIDAt returns the thumbprint of the key that signs at t.
func (r *Ring) ActiveKIDAt(t time.Time) string { return r.cur.Load().active(t).kid }

// Generation returns the store generation of the key that signs now (0 for LoadPEM).
func (r *Ring) Generation() int { return r.cur.Load().active(time.Now()).generation }

// KIDs returns the thumbprints of the published keys, newest first.
func (r *Ring) KIDs() []string { return append([]string(nil), r.cur.Load().kids...) }

// JWKS returns the published public keys as an encoded JWK Set,
// {"keys":[...]}, newest first. The slice is shared: do not modify it.
func (r *Ring) JWKS() []byte { return r.cur.Load().jwks }

// Handovers returns the published handovers (compact JWS), oldest first.
func (r *Ring) Handovers() []string { return append([]string(nil), r.cur.Load().handovers...) }

// Refresh rereads the shared store and switches to what it holds when that
// changed. A ring from LoadPEM has nothing to reread.
func (r *Ring) Refresh(ctx context.Context) error {
	if r.st == nil {
		return nil
	}
	stored, err := listKeys(ctx, r.st)
	if err != nil {
		return err
	}
	if len(published(stored)) == 0 {
		return errors.New("keys: the shared store holds no published signing key; keeping the current ring")
	}
	if storeVersion(stored) == r.cur.Load().version {
		return nil
	}
	snap, err := snapshotFromStore(stored, r.box)
	if err != nil {
		return err
	}
	r.cur.Store(snap)
	return nil
}

// Watch calls Refresh every RefreshInterval until ctx ends, logging
// failures (the ring in use stays).
func (r *Ring) Watch(ctx context.Context, log *slog.Logger) {
	if r.st == nil {
		return
	}
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			before := r.cur.Load()
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("signing key ring: refresh failed; keeping the current keys", "err", err)
			} else if after := r.cur.Load(); after != before {
				log.Info("signing key ring changed", "kids", strings.Join(after.kids, ","))
			}
		}
	}
}

// sealAD is the additional data binding a sealed private key to its kid.
func sealAD(kid string) []byte { return []byte("signing-key:" + kid) }

// Load returns the ring stored in st. When no key is published it creates
// one (generation 1, or one above the highest stored) with a fresh P-256
// key sealed by box; when another instance creates it first, that key is used.
func Load(ctx context.Context, st store.SigningKeys, box *secretbox.Box, now time.Time) (*Ring, error) {
	for range 5 {
		stored, err := listKeys(ctx, st)
		if err != nil {
			return nil, err
		}
		if len(published(stored)) > 0 {
			return ringFromStore(st, box, stored)
		}
		err = addKey(ctx, st, box, nextGeneration(stored), now, nil, "")
		if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return nil, err
		}
	}
	return nil, errors.New("keys: could not create a signing key: its generation was taken again and again")
}

// Rotate adds a new key one generation above the highest, with a handover
// signed by the newest published key (API.md, "Key continuity"). The new key
// signs from ActivationDelay after now; every earlier key stays published
// so that clients pinned to any of them can follow the handovers. When
// another instance adds that generation first, its key is used.
func Rotate(ctx context.Context, st store.SigningKeys, box *secretbox.Box, issuer string, now time.Time) (*Ring, error) {
	stored, err := listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	pub := published(stored)
	if len(pub) == 0 {
		return Load(ctx, st, box, now)
	}
	if issuer == "" {
		return nil, errors.New("keys: a handover needs the issuer")
	}
	prev, err := openKey(pub[0], box)
	if err != nil {
		return nil, err
	}
	err = addKey(ctx, st, box, nextGeneration(stored), now, prev, issuer)
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return nil, err
	}
	if stored, err = listKeys(ctx, st); err != nil {
		return nil, err
	}
	return ringFromStore(st, box, stored)
}

// Revoke removes the published key kid and every handover it signed (the
// handover into it goes with it), so no chain leads through it. When kid is
// the newest key, a fresh key without a handover is added first and signs at
// once: clients pinned to the revoked key must stop, not follow.
func Revoke(ctx context.Context, st store.SigningKeys, box *secretbox.Box, kid string, now time.Time) (*Ring, error) {
	stored, err := listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	pub := published(stored)
	i := indexOfKID(pub, kid)
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKID, kid)
	}
	if i == 0 {
		// Active at once: backdated past the activation delay.
		err := addKey(ctx, st, box, nextGeneration(stored), now.Add(-ActivationDelay), nil, "")
		if err != nil {
			return nil, err
		}
	}
	if err := st.RevokeSigningKey(ctx, kid); err != nil {
		return nil, fmt.Errorf("keys: revoking %s: %w", kid, err)
	}
	if stored, err = listKeys(ctx, st); err != nil {
		return nil, err
	}
	return ringFromStore(st, box, stored)
}

// KeyInfo describes a stored key for `admin keys list`.
type KeyInfo struct {
	Generation   int       `json:"generation"`
	KID          string    `json:"kid"`
	CreatedAt    time.Time `json:"created_at"`
	ActiveFrom   time.Time `json:"active_from"`
	Active       bool      `json:"active"`
	HandoverFrom string    `json:"handover_from,omitempty"`
	Retired      bool      `json:"retired,omitempty"`
}

// List describes the stored keys, newest first, with the one signing at now
// marked active.
func List(ctx context.Context, st store.SigningKeys, now time.Time) ([]KeyInfo, error) {
	stored, err := listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	activeKID := ""
	if pub := published(stored); len(pub) > 0 {
		activeKID = pub[len(pub)-1].KID
		for _, k := range pub {
			if !activeFrom(k).After(now) {
				activeKID = k.KID
				break
			}
		}
	}
	out := make([]KeyInfo, 0, len(stored))
	for _, k := range stored {
		out = append(out, KeyInfo{
			Generation: k.Generation, KID: k.KID, CreatedAt: k.CreatedAt.UTC(), ActiveFrom: activeFrom(k).UTC(),
			Active: k.KID == activeKID, HandoverFrom: k.HandoverFrom, Retired: !k.RetiredAt.IsZero(),
		})
	}
	return out, nil
}

func indexOfKID(keys []store.SigningKey, kid string) int {
	for i, k := range keys {
		if k.KID == kid {
			return i
		}
	}
	return -1
}

func activeFrom(k store.SigningKey) time.Time { return k.CreatedAt.Add(ActivationDelay) }

// listKeys returns the stored keys, highest generation first.
func listKeys(ctx context.Context, st store.SigningKeys) ([]store.SigningKey, error) {
	stored, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: listing signing keys: %w", err)
	}
	sort.SliceStable(stored, func(i, j int) bool { return stored[i].Generation > stored[j].Generation })
	return stored, nil
}

func published(stored []store.SigningKey) []store.SigningKey {
	var out []store.SigningKey
	for _, k := range stored {
		if k.RetiredAt.IsZero() {
			out = append(out, k)
		}
	}
	return out
}

// storeVersion names the published state: it changes with any key, its
// handover or its retirement.
func storeVersion(stored []store.SigningKey) string {
	var b strings.Builder
	for _, k := range published(stored) {
		b.WriteString(strconv.Itoa(k.Generation) + ":" + k.KID + ":" + strconv.FormatInt(k.CreatedAt.UnixNano(), 10) + ":" + k.Handover + ";")
	}
	return b.String()
}

func nextGeneration(stored []store.SigningKey) int {
	if len(stored) == 0 {
		return 1
	}
	return stored[0].Generation + 1
}

// addKey stores a fresh key as generation; with prev, a handover from prev
// to it, signed by prev, goes with it.
func addKey(ctx context.Context, st store.SigningKeys, box *secretbox.Box, generation int, now time.Time, prev *ecdsa.PrivateKey, issuer string) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("keys: generating a P-256 key: %w", err)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return err
	}
	k := store.SigningKey{Generation: generation, KID: kid, CreatedAt: now}
	if prev != nil {
		if k.HandoverFrom, err = Thumbprint(&prev.PublicKey); err != nil {
			return err
		}
		if k.Handover, err = signHandover(prev, issuer, &priv.PublicKey, now); err != nil {
			return err
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("keys: encoding the private key: %w", err)
	}
	k.Sealed, err = box.Seal(der, sealAD(kid))
	clear(der)
	if err != nil {
		return fmt.Errorf("keys: sealing the private key: %w", err)
	}
	if err := st.AddSigningKey(ctx, k); err != nil {
		return fmt.Errorf("keys: storing signing key generation %d: %w", generation, err)
	}
	return nil
}

func ringFromStore(st store.SigningKeys, box *secretbox.Box, stored []store.SigningKey) (*Ring, error) {
	snap, err := snapshotFromStore(stored, box)
	if err != nil {
		return nil, err
	}
	r := &Ring{st: st, box: box}
	r.cur.Store(snap)
	return r, nil
}

// snapshotFromStore opens the published keys.
func snapshotFromStore(stored []store.SigningKey, box *secretbox.Box) (*snapshot, error) {
	pub := published(stored)
	keys := make([]*ecdsa.PrivateKey, 0, len(pub))
	from := make([]time.Time, 0, len(pub))
	for _, k := range pub {
		priv, err := openKey(k, box)
		if err != nil {
			return nil, err
		}
		keys = append(keys, priv)
		from = append(from, activeFrom(k))
	}
	snap, err := newSnapshot(keys, from, func(i int) int { return pub[i].Generation })
	if err != nil {
		return nil, err
	}
	for i := len(pub) - 1; i >= 0; i-- {
		if pub[i].Handover != "" {
			snap.handovers = append(snap.handovers, pub[i].Handover)
		}
	}
	snap.version = storeVersion(stored)
	return snap, nil
}

func openKey(k store.SigningKey, box *secretbox.Box) (*ecdsa.PrivateKey, error) {
	der, err := box.Open(k.Sealed, sealAD(k.KID))
	if errors.Is(err, secretbox.ErrDecrypt) {
		return nil, fmt.Errorf("%w (generation %d)", ErrEncryptionKeyMismatch, k.Generation)
	}
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: stored signing key generation %d: %w", k.Generation, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !isP256(&priv.PublicKey) {
		return nil, fmt.Errorf("keys: stored signing key generation %d is not a P-256 key", k.Generation)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	if kid != k.KID {
		return nil, fmt.Errorf("keys: stored signing key generation %d does not match its kid", k.Generation)
	}
	return priv, nil
}

// LoadPEM returns a ring whose only key is the P-256 private key in
// pemBytes, a PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY" block (an "EC
// PARAMETERS" block before it, as openssl writes, is skipped).
func LoadPEM(pemBytes []byte) (*Ring, error) {
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New(`keys: signing key file: no "PRIVATE KEY" or "EC PRIVATE KEY" PEM block found`)
		}
		var parsed any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("keys: signing key file: PEM block %q is not a private key; "+
				`want "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC 1) holding a P-256 key`, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("keys: signing key file: %w", err)
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if !ok || !isP256(&priv.PublicKey) {
			return nil, errors.New("keys: signing key file: the key is not an ECDSA P-256 key (ES256 needs P-256)")
		}
		snap, err := newSnapshot([]*ecdsa.PrivateKey{priv}, []time.Time{{}}, func(int) int { return 0 })
		if err != nil {
			return nil, err
		}
		r := &Ring{}
		r.cur.Store(snap)
		return r, nil
	}
}

// newSnapshot builds signers and the JWKS for keys, newest first.
func newSnapshot(keys []*ecdsa.PrivateKey, from []time.Time, generation func(int) int) (*snapshot, error) {
	if len(keys) == 0 {
		return nil, errors.New("keys: no signing key")
	}
	s := &snapshot{}
	set := struct {
		Keys []jose.JSONWebKey `json:"keys"`
	}{}
	for i, priv := range keys {
		kid, err := Thumbprint(&priv.PublicKey)
		if err != nil {
			return nil, err
		}
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
			(&jose.SignerOptions{}).WithType(ProofType),
		)
		if err != nil {
			return nil, fmt.Errorf("keys: building the signer: %w", err)
		}
		s.signers = append(s.signers, keySigner{generation: generation(i), kid: kid, activeFrom: from[i], signer: signer})
		s.kids = append(s.kids, kid)
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid, Algorithm: Algorithm, Use: "sig"})
	}
	var err error
	if s.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("keys: encoding the JWKS: %w", err)
	}
	return s, nil
}
