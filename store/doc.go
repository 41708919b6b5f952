// Package store holds mutualauth's domain types, the small interfaces the
// server talks to, and the sentinel errors every backend returns.
//
// Durable data (users, factors, devices, invites, widget clients, audit
// events, signing keys) lives behind [Durable], implemented by store/sql for
// SQLite and PostgreSQL. Ephemeral data with TTLs (sessions, login
// transactions, WebAuthn ceremony data, throttling counters, widget codes)
// lives behind [Ephemeral], implemented by store/redis and store/memory.
//
// No driver type appears here: handlers and domain logic depend only on this
// package. Every backend runs the one conformance suite in store/storetest.
package store
