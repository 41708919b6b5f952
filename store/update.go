package store

import (
	"context"
	"errors"
	"time"
)

// UpdateKV applies fn to the value at key with compare-and-set, retrying when
// another writer won. fn gets nil when the key is missing. If fn returns an
// error, nothing is written and the error is returned.
func UpdateKV(ctx context.Context, kv KV, key string, ttl time.Duration, fn func(old []byte) ([]byte, error)) ([]byte, error) {
	for {
		old, err := kv.Get(ctx, key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		next, err := fn(old)
		if err != nil {
			return nil, err
		}
		if old == nil {
			err = kv.PutIfAbsent(ctx, key, next, ttl)
		} else {
			err = kv.Swap(ctx, key, old, next, ttl)
		}
		switch {
		case err == nil:
			return next, nil
		case errors.Is(err, ErrConflict), errors.Is(err, ErrAlreadyExists), errors.Is(err, ErrNotFound):
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		default:
			return nil, err
		}
	}
}
