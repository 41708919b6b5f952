package factor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/password"
	"mutualauth/store"
	"mutualauth/store/memory"
	sqlstore "mutualauth/store/sql"
)

type fixture struct {
	v     *Verifier
	users store.Durable
	kv    store.KV
	clock time.Time
	locks prometheus.Counter
	user  store.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	durable, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { durable.Close() })
	kv := memory.New()
	hasher, err := password.NewHasher(password.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{users: durable, kv: kv, clock: time.Now().UTC().Truncate(time.Second),
		locks: prometheus.NewCounter(prometheus.CounterOpts{Name: "locks"})}
	now := func() time.Time { return f.clock }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.v = &Verifier{
		Users: durable, RecoveryCodes: durable, Throttle: &login.Throttle{KV: kv, Now: now},
		Hasher: hasher, Audit: &audit.Auditor{Store: durable, Log: log, Now: now}, Locks: f.locks, Log: log, Now: now,
	}
	phc, err := hasher.Hash(ctx, "right horse battery")
	if err != nil {
		t.Fatal(err)
	}
	f.user = store.User{ID: "0123456789abcdef0123456789abcdef", Username: "ann", Role: store.RoleUser,
		PasswordHash: phc, CreatedAt: f.clock, UpdatedAt: f.clock, EnrolledAt: f.clock}
	if err := durable.CreateUser(ctx, f.user); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) lockCount(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := f.locks.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// attempt checks pw as one attempt on ann's username counter.
func (f *fixture) attempt(t *testing.T, pw string) (Result, error) {
	t.Helper()
	ctx := context.Background()
	u, err := f.users.GetUser(ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	a := Attempt{Counter: login.UsernameCounter(u.Username), Lockable: true, User: &u}
	return f.v.Check(ctx, a, func() (Result, error) { return f.v.Password(ctx, &u, pw) })
}

// The LockAfter-th consecutive failure locks the account once, audits it
// and counts it; a throttled attempt does not run the check.
func TestCheckLocksAfterLockAfterFailures(t *testing.T) {
	f := newFixture(t)
	failures := 0
	for failures < login.LockAfter {
		res, err := f.attempt(t, "wrong")
		var te *login.ThrottledError
		switch {
		case errors.As(err, &te):
			f.clock = f.clock.Add(te.RetryAfter)
			continue
		case err != nil:
			t.Fatal(err)
		case res.OK || res.AuditResult() != "failure":
			t.Fatalf("a wrong password: %+v", res)
		}
		failures++
		if locked := f.lockCount(t); (failures < login.LockAfter) != (locked == 0) {
			t.Fatalf("after %d failures: %v locks", failures, locked)
		}
	}
	u, _ := f.users.GetUser(context.Background(), f.user.ID)
	if !u.Locked {
		t.Fatal("not locked")
	}
	ev, err := f.users.ListAudit(context.Background(), store.AuditQuery{Action: audit.AccountLocked, Limit: 10})
	if err != nil || len(ev) != 1 || ev[0].Subject != f.user.ID {
		t.Fatalf("lock audit %+v, %v", ev, err)
	}
	// Locked: the right password fails too, with the real reason.
	f.clock = f.clock.Add(login.MaxDelay)
	res, err := f.attempt(t, "right horse battery")
	if err != nil || res.OK || res.Reason != "account locked" {
		t.Fatalf("locked account: %+v, %v", res, err)
	}
}

// A success resets the counter; an unthrottled attempt is not reserved.
func TestCheckResetsOnSuccess(t *testing.T) {
	f := newFixture(t)
	for range login.FreeFailures - 1 {
		if res, err := f.attempt(t, "wrong"); err != nil || res.OK {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	if res, err := f.attempt(t, "right horse battery"); err != nil || !res.OK {
		t.Fatalf("right password: %+v, %v", res, err)
	}
	for range login.FreeFailures {
		if _, err := f.attempt(t, "wrong"); err != nil {
			t.Fatalf("the counter was not reset: %v", err)
		}
	}
	if _, err := f.attempt(t, "wrong"); !errors.Is(err, login.ErrThrottled) {
		t.Fatalf("the sixth failure in a row is not throttled: %v", err)
	}
	ran := false
	ctx := context.Background()
	res, err := f.v.Check(ctx, Attempt{Counter: login.UsernameCounter("ann"), Unthrottled: true},
		func() (Result, error) { ran = true; return Result{OK: true}, nil })
	if err != nil || !res.OK || !ran {
		t.Fatalf("an unthrottled attempt while throttled: %+v, %v (ran %v)", res, err, ran)
	}
	if _, err := f.attempt(t, "wrong"); err != nil {
		t.Fatalf("the unthrottled success did not reset the counter: %v", err)
	}
}

// An unknown username costs a dummy verification and fails.
func TestPasswordUnknownUser(t *testing.T) {
	f := newFixture(t)
	res, err := f.v.Password(context.Background(), nil, "anything")
	if err != nil || res.OK || res.Reason != "unknown username" {
		t.Fatalf("%+v, %v", res, err)
	}
}
