package login

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mutualauth/server/token"
	"mutualauth/store"
)

// IDBytes is the number of random bytes in a transaction id (128 bits).
const IDBytes = 16

var (
	// ErrUnknown: no such transaction (never begun, expired, finished, or
	// not an id at all).
	ErrUnknown = errors.New("login: unknown or expired transaction")
	// ErrStale: another request changed the transaction since it was read.
	ErrStale = errors.New("login: transaction changed by another request")
)

// Transactions keeps login transactions in the ephemeral store under
// "login:<id>".
type Transactions struct {
	KV  store.KV
	Now func() time.Time
}

func txKey(id string) string { return "login:" + id }

// Create stores a new transaction with a fresh random id and the current
// time as its start, and returns it.
func (s *Transactions) Create(ctx context.Context, tx Transaction) (Transaction, error) {
	id, err := token.NewN(IDBytes)
	if err != nil {
		return Transaction{}, err
	}
	tx.ID = id
	tx.CreatedAt = s.Now().UTC()
	tx.Done = false
	raw, err := json.Marshal(tx)
	if err != nil {
		return Transaction{}, fmt.Errorf("login: encoding transaction: %w", err)
	}
	if err := s.KV.PutIfAbsent(ctx, txKey(id), raw, TTL); err != nil {
		return Transaction{}, err
	}
	tx.raw = raw
	return tx, nil
}

// Load returns the live transaction with this id. Done and expired
// transactions are ErrUnknown, as are ids of the wrong shape (which are
// never looked up).
func (s *Transactions) Load(ctx context.Context, id string) (Transaction, error) {
	if !validID(id) {
		return Transaction{}, ErrUnknown
	}
	raw, err := s.KV.Get(ctx, txKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return Transaction{}, ErrUnknown
	}
	if err != nil {
		return Transaction{}, err
	}
	var tx Transaction
	if err := json.Unmarshal(raw, &tx); err != nil {
		return Transaction{}, fmt.Errorf("login: decoding transaction: %w", err)
	}
	tx.ID, tx.raw = id, raw
	if tx.Done || !s.Now().Before(tx.ExpiresAt()) {
		return Transaction{}, ErrUnknown
	}
	return tx, nil
}

// Save writes tx over the value it was loaded from, atomically: when
// another request changed the transaction in between, nothing is written
// and the result is ErrStale. The lifetime is not extended.
func (s *Transactions) Save(ctx context.Context, tx Transaction) (Transaction, error) {
	left := tx.ExpiresAt().Sub(s.Now())
	if left <= 0 || tx.raw == nil {
		return Transaction{}, ErrUnknown
	}
	raw, err := json.Marshal(tx)
	if err != nil {
		return Transaction{}, fmt.Errorf("login: encoding transaction: %w", err)
	}
	err = s.KV.Swap(ctx, txKey(tx.ID), tx.raw, raw, left)
	switch {
	case errors.Is(err, store.ErrConflict):
		return Transaction{}, ErrStale
	case errors.Is(err, store.ErrNotFound):
		return Transaction{}, ErrUnknown
	case err != nil:
		return Transaction{}, err
	}
	tx.raw = raw
	return tx, nil
}

// Finish marks tx done, atomically as Save does: of racing finishers
// exactly one gets nil. A done transaction behaves as unknown.
func (s *Transactions) Finish(ctx context.Context, tx Transaction) error {
	tx.Done = true
	_, err := s.Save(ctx, tx)
	return err
}

func validID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(IDBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil && len(b) == IDBytes
}
