package storetest

import (
	"errors"
	"testing"
	"time"

	"mutualauth/store"
)

// durLookAlikes returns n (at most 32) distinct usernames that share one
// skeleton, unique to this call: each of the letters of "aceop" is either
// Latin or its Cyrillic twin (а с е о р).
func durLookAlikes(t *testing.T, n int) []string {
	t.Helper()
	latin, cyrillic := []rune("aceop"), []rune("асеор")
	prefix := "la" + durHex(6) + "-"
	names := make([]string, n)
	for i := range names {
		word := make([]rune, len(latin))
		for j := range word {
			word[j] = latin[j]
			if i>>j&1 == 1 {
				word[j] = cyrillic[j]
			}
		}
		names[i] = prefix + string(word)
	}
	skel := store.Skeleton(names[0])
	for _, name := range names[1:] {
		if store.Skeleton(name) != skel {
			t.Fatalf("Skeleton(%q) = %q, want %q as for %q", name, store.Skeleton(name), skel, names[0])
		}
	}
	return names
}

func durUserLookAlike(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	names := durLookAlikes(t, 4)
	// A pending user (invited, not enrolled) holds its skeleton like any.
	first := durCreateUser(t, s, func(u *store.User) { u.Username, u.EnrolledAt = names[0], time.Time{} })

	refused := durUserNamed(names[1])
	err := s.CreateUser(ctx, refused)
	durWantErr(t, "CreateUser with a look-alike username", err, store.ErrLookAlike)
	if errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateUser with a look-alike username: %v also matches ErrAlreadyExists", err)
	}
	_, err = s.GetUser(ctx, refused.ID)
	durWantErr(t, "GetUser after a refused look-alike", err, store.ErrNotFound)

	// An exact duplicate is ErrAlreadyExists, whichever index the backend
	// checks first.
	dup := durUser()
	dup.Username = names[0]
	err = s.CreateUser(ctx, dup)
	durWantErr(t, "CreateUser with a taken username", err, store.ErrAlreadyExists)
	if errors.Is(err, store.ErrLookAlike) {
		t.Errorf("CreateUser with a taken username: %v also matches ErrLookAlike", err)
	}

	// Renaming to a look-alike is refused and changes nothing.
	other := durCreateUser(t, s, nil)
	_, err = s.UpdateUser(ctx, other.ID, func(u *store.User) error { u.Username = names[2]; return nil })
	durWantErr(t, "UpdateUser to a look-alike username", err, store.ErrLookAlike)
	got, err := s.GetUser(ctx, other.ID)
	durNoErr(t, "GetUser after a refused rename", err)
	durSame(t, "user after a refused rename", got, other)
	_, err = s.UpdateUser(ctx, other.ID, func(u *store.User) error { u.Username = names[0]; return nil })
	durWantErr(t, "UpdateUser to a taken username", err, store.ErrAlreadyExists)

	// Updates that keep the username keep its skeleton.
	_, err = s.UpdateUser(ctx, first.ID, func(u *store.User) error { u.DisplayName = "Renamed Display"; return nil })
	durNoErr(t, "UpdateUser keeping the username", err)
	durWantErr(t, "CreateUser with a look-alike after an update", s.CreateUser(ctx, refused), store.ErrLookAlike)

	// A rename frees the old skeleton and takes the new one.
	_, err = s.UpdateUser(ctx, first.ID, func(u *store.User) error { u.Username = "lr" + durHex(8); return nil })
	durNoErr(t, "UpdateUser to a fresh username", err)
	durNoErr(t, "CreateUser with the skeleton a rename freed", s.CreateUser(ctx, refused))

	// Deleting the holder frees the skeleton too.
	if del, ok := s.(UserDeleter); ok {
		durNoErr(t, "DeleteUser", del.DeleteUser(ctx, refused.ID))
		durNoErr(t, "CreateUser with the skeleton a delete freed", s.CreateUser(ctx, durUserNamed(names[3])))
	}
}

func durUserNamed(username string) store.User {
	u := durUser()
	u.Username = username
	return u
}

func durUserLookAlikeConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	names := durLookAlikes(t, durWorkers)
	users := make([]store.User, durWorkers)
	for i := range users {
		users[i] = durUserNamed(names[i])
	}
	errs := durRace(durWorkers, func(i int) error { return s.CreateUser(ctx, users[i]) })
	durOneWins(t, "concurrent CreateUser of look-alikes", errs, store.ErrLookAlike)
	stored := 0
	for i, u := range users {
		_, err := s.GetUser(ctx, u.ID)
		switch {
		case err == nil:
			stored++
			if errs[i] != nil {
				t.Errorf("user %d was refused (%v) but is stored", i, errs[i])
			}
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("GetUser %d: %v", i, err)
		}
	}
	if stored != 1 {
		t.Errorf("%d of the %d look-alike users are stored, want 1", stored, durWorkers)
	}
}
