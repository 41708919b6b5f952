package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"mutualauth/store"
)

// durWorkers is how many goroutines race in the concurrency checks.
const durWorkers = 20

// durPrecision is the time precision the durable suite requires.
const durPrecision = time.Microsecond

func durCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func durHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func durID(kind string) string { return kind + "-" + durHex(8) }

func durBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// durNow is the current time at the precision the suite requires.
func durNow() time.Time { return time.Now().UTC().Truncate(durPrecision) }

func durNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func durWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// durRace runs fn in n goroutines released at once and returns their errors.
func durRace(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// durOneWins checks that exactly one error is nil and all others match lost.
func durOneWins(t *testing.T, what string, errs []error, lost error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, lost):
			t.Errorf("%s: goroutine %d: got error %v, want nil or %v", what, i, err, lost)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d of %d concurrent calls succeeded, want exactly 1", what, wins, len(errs))
	}
}

// durNormalize returns a copy of the struct v with every time.Time in UTC
// and truncated to durPrecision, and empty byte and string slices set to
// nil, so that values can be compared with reflect.DeepEqual.
func durNormalize[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch x := f.Interface().(type) {
		case time.Time:
			if x.IsZero() {
				f.Set(reflect.ValueOf(time.Time{}))
			} else {
				f.Set(reflect.ValueOf(x.UTC().Truncate(durPrecision)))
			}
		case []byte:
			if len(x) == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		case []string:
			if len(x) == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		}
	}
	return v
}

// durDiff describes the fields in which got and want differ after
// normalization; empty when they are equal.
func durDiff[T any](got, want T) string {
	g, w := reflect.ValueOf(durNormalize(got)), reflect.ValueOf(durNormalize(want))
	var diff string
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			diff += fmt.Sprintf("\n\t%s: got %v, want %v", g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
	return diff
}

func durSame[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := durDiff(got, want); d != "" {
		t.Errorf("%s differs:%s", what, d)
	}
}

// durTimeClose reports whether a and b are both zero or within 1µs.
func durTimeClose(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() && b.IsZero()
	}
	d := a.Sub(b)
	return d < durPrecision && d > -durPrecision
}

// durUser returns a user with every field set and unique id and username.
func durUser() store.User {
	t := durNow()
	id := durID("user")
	return store.User{
		ID:           id,
		Username:     "u" + durHex(8),
		DisplayName:  "Test User " + id,
		Role:         store.RoleUser,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Phrase:       durBytes(40),
		TOTPSecret:   durBytes(48),
		TOTPLastStep: 0,
		TOTPPending:  durBytes(48),
		EnrolledAt:   t.Add(-time.Hour),
		CreatedAt:    t.Add(-2 * time.Hour),
		UpdatedAt:    t.Add(-time.Hour),
	}
}

// durCreateUser stores durUser() changed by edit and returns it.
func durCreateUser(t *testing.T, s store.Durable, edit func(*store.User)) store.User {
	t.Helper()
	u := durUser()
	if edit != nil {
		edit(&u)
	}
	durNoErr(t, "CreateUser", s.CreateUser(durCtx(t), u))
	return u
}
