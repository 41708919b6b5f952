package keys

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"time"

	"mutualauth/store"
)

// memKeys is a map-based store.SigningKeys for this package's tests; the
// real backends run the store conformance suite.
type memKeys struct {
	mu   sync.Mutex
	keys map[int]store.SigningKey

	// holdLists > 0 makes that many first ListSigningKeys calls wait for one
	// another and answer with what was stored before any of them, so that
	// concurrent Loads all see an empty store and race to add generation 1.
	holdLists int
	arrived   int
	released  chan struct{}
	snapshot  []store.SigningKey
	adds      int
}

func newMemKeys() *memKeys {
	return &memKeys{keys: map[int]store.SigningKey{}}
}

func (m *memKeys) AddSigningKey(_ context.Context, k store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.adds++
	if _, ok := m.keys[k.Generation]; ok {
		return store.ErrAlreadyExists
	}
	for _, other := range m.keys {
		if other.KID == k.KID {
			return store.ErrAlreadyExists
		}
	}
	k.Sealed = bytes.Clone(k.Sealed)
	m.keys[k.Generation] = k
	return nil
}

func (m *memKeys) ListSigningKeys(_ context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	if m.holdLists > 0 {
		if m.arrived == 0 {
			m.released = make(chan struct{})
			m.snapshot = m.listLocked()
		}
		m.arrived++
		snapshot, released := m.snapshot, m.released
		if m.arrived == m.holdLists {
			m.holdLists = 0
			close(released)
		}
		m.mu.Unlock()
		<-released
		return snapshot, nil
	}
	defer m.mu.Unlock()
	return m.listLocked(), nil
}

func (m *memKeys) listLocked() []store.SigningKey {
	out := make([]store.SigningKey, 0, len(m.keys))
	for _, k := range m.keys {
		k.Sealed = bytes.Clone(k.Sealed)
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Generation > out[j].Generation })
	return out
}

func (m *memKeys) RetireSigningKey(_ context.Context, generation int, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[generation]
	if !ok {
		return store.ErrNotFound
	}
	k.RetiredAt = at
	m.keys[generation] = k
	return nil
}

func (m *memKeys) RevokeSigningKey(_ context.Context, kid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	found := false
	for g, k := range m.keys {
		if k.KID == kid {
			delete(m.keys, g)
			found = true
		}
	}
	if !found {
		return store.ErrNotFound
	}
	for g, k := range m.keys {
		if k.HandoverFrom == kid {
			k.Handover, k.HandoverFrom = "", ""
			m.keys[g] = k
		}
	}
	return nil
}

var _ store.SigningKeys = (*memKeys)(nil)
