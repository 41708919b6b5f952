// Package memory implements [store.Ephemeral] inside the process: key-value
// entries with TTLs and login sessions with a per-user index, in maps guarded
// by one mutex.
//
// It is the default when no Redis is configured and suits exactly one server
// instance: nothing is shared between processes and everything is lost on
// restart.
//
// Expiry is checked on every read against the stored expiry time, so an
// expired entry is never returned. Expired entries are also removed from the
// maps by a sweep that runs during writes at most once per sweep interval;
// there is no background goroutine, so a Store needs no Close to avoid a leak
// (Close is still provided to satisfy the interface).
package memory
