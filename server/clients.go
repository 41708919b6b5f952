package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/store"
)

// ClientOriginsMaxAge is how long ClientOrigins answers from one reading of
// the client list: a client created or changed while the server runs (by
// the CLI or the admin pages) is seen by the CORS and cross-site checks
// within this time.
const ClientOriginsMaxAge = 5 * time.Second

// ClientOrigins is the OriginChecker of the login API: it says whether an
// origin is one of the registered widget clients' origins. It keeps the set
// of origins in process and reads the client list again at most every
// MaxAge, on the first check after that time, so that a CORS preflight does
// not cost a database query. While one request reads the list, the others
// answer from the previous reading; the very first reading is waited for.
type ClientOrigins struct {
	Store store.Clients
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxAge is the life of one reading; 0 means ClientOriginsMaxAge.
	MaxAge time.Duration

	current   atomic.Pointer[originSet]
	refreshMu sync.Mutex
}

// originSet is one reading of the client list.
type originSet struct {
	at      time.Time
	origins map[string]struct{}
}

// IsClientOrigin implements OriginChecker.
func (o *ClientOrigins) IsClientOrigin(c echo.Context, origin string) (bool, error) {
	return o.Allowed(c.Request().Context(), origin)
}

// Allowed reports whether origin (a serialized origin, RFC 6454 §6.2,
// compared exactly) belongs to a registered widget client.
func (o *ClientOrigins) Allowed(ctx context.Context, origin string) (bool, error) {
	if origin == "" || origin == "null" {
		return false, nil
	}
	set, err := o.set(ctx)
	if err != nil {
		return false, err
	}
	_, ok := set.origins[origin]
	return ok, nil
}

func (o *ClientOrigins) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *ClientOrigins) maxAge() time.Duration {
	if o.MaxAge > 0 {
		return o.MaxAge
	}
	return ClientOriginsMaxAge
}

func (o *ClientOrigins) fresh(s *originSet, now time.Time) bool {
	return s != nil && !now.Before(s.at) && now.Sub(s.at) < o.maxAge()
}

// set returns a reading that is fresh, or a stale one while another request
// reads the list again.
func (o *ClientOrigins) set(ctx context.Context) (*originSet, error) {
	cur := o.current.Load()
	if o.fresh(cur, o.now()) {
		return cur, nil
	}
	if cur != nil {
		if !o.refreshMu.TryLock() {
			return cur, nil
		}
	} else {
		o.refreshMu.Lock()
	}
	defer o.refreshMu.Unlock()
	if latest := o.current.Load(); o.fresh(latest, o.now()) {
		return latest, nil
	}
	clients, err := o.Store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	next := &originSet{at: o.now(), origins: map[string]struct{}{}}
	for _, cl := range clients {
		for _, origin := range cl.Origins {
			next.origins[origin] = struct{}{}
		}
	}
	o.current.Store(next)
	return next, nil
}
