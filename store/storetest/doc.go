// Package storetest is the conformance suite every store backend runs:
// RunDurable for store.Durable (SQLite, PostgreSQL) and RunEphemeral for
// store.Ephemeral (memory, Redis). It checks the documented semantics —
// sentinel errors, TTL expiry, single-use reads, atomic counters and
// compare-and-set — against the real backends, including under concurrent
// goroutines. Backends are never tested against mocks.
package storetest
