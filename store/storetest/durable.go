package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mutualauth/store"
)

// UserDeleter is implemented by durable backends that can delete a user
// together with its credentials, recovery codes, devices and invites.
type UserDeleter interface {
	DeleteUser(ctx context.Context, id string) error
}

// RunDurable runs the conformance suite for [store.Durable] backends.
//
// newStore is called once per subtest, one subtest at a time; the suite
// closes the store when the subtest ends. The store may be fresh or share
// its data with earlier runs: every record the suite creates has random
// ids, names and key generations, and no check assumes an empty database.
//
// Backends must keep times to at least microsecond precision. Beyond the
// store package's documentation, the suite holds backends to these rules:
// records that reference an unknown user are refused with ErrNotFound;
// single-record updates and deletes of unknown records return ErrNotFound;
// a signing key KID is unique like its generation; ListAudit treats Since
// as inclusive and Until as exclusive and matches Action as a
// case-sensitive prefix; a rename frees the old username's skeleton, and
// so does DeleteUser; ListUsers searches case-insensitively (at least
// for ASCII) and treats LIKE wildcards in the search as plain characters.
func RunDurable(t *testing.T, newStore func(t *testing.T) store.Durable) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Durable)
	}{
		{"Ping", durPing},
		{"UserCreateGet", durUserCreateGet},
		{"UpdateUser", durUpdateUser},
		{"UpdateUserFnError", durUpdateUserFnError},
		{"UpdateUserConcurrent", durUpdateUserConcurrent},
		{"UserLookAlike", durUserLookAlike},
		{"UserLookAlikeConcurrent", durUserLookAlikeConcurrent},
		{"ListUsers", durListUsers},
		{"ListUsersWildcards", durListUsersWildcards},
		{"ListUsersDefaultLimit", durListUsersDefaultLimit},
		{"HasAdmin", durHasAdmin},
		{"AcceptTOTPStep", durAcceptTOTPStep},
		{"AcceptTOTPStepConcurrent", durAcceptTOTPStepConcurrent},
		{"Credentials", durCredentials},
		{"RecoveryCodes", durRecoveryCodes},
		{"RecoveryCodesConcurrent", durRecoveryCodesConcurrent},
		{"Devices", durDevices},
		{"ClientCerts", durClientCerts},
		{"Invites", durInvites},
		{"InvitesConcurrent", durInvitesConcurrent},
		{"UnknownUserReferences", durUnknownUserReferences},
		{"Clients", durClients},
		{"Audit", durAudit},
		{"AuditDefaultLimit", durAuditDefaultLimit},
		{"SigningKeys", durSigningKeys},
		{"SigningKeysConcurrent", durSigningKeysConcurrent},
		{"RevokeSigningKey", durRevokeSigningKey},
		{"DeleteUserCascades", durDeleteUserCascades},
		{"UserEmail", durUserEmail},
		{"OIDCClients", durOIDCClients},
		{"OIDCGrants", durOIDCGrants},
		{"OIDCRefreshTokens", durOIDCRefreshTokens},
		{"OIDCRefreshTokensConcurrent", durOIDCRefreshTokensConcurrent},
		{"OIDCKeys", durOIDCKeys},
		{"OIDCKeysConcurrent", durOIDCKeysConcurrent},
		{"TimeRoundTrip", durTimeRoundTrip},
		{"Context", durContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

func durPing(t *testing.T, s store.Durable) {
	durNoErr(t, "Ping", s.Ping(durCtx(t)))
}

func durUserCreateGet(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, func(u *store.User) {
		u.Role = store.RoleAdmin
		u.Locked = true
		u.TOTPLastStep = 123456
	})

	got, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	durSame(t, "GetUser", got, u)
	got, err = s.GetUserByUsername(ctx, u.Username)
	durNoErr(t, "GetUserByUsername", err)
	durSame(t, "GetUserByUsername", got, u)

	// A user with only the required fields reads back with nil and zero values.
	bare := store.User{ID: durID("user"), Username: "u" + durHex(8), Role: store.RoleUser, CreatedAt: durNow(), UpdatedAt: durNow()}
	durNoErr(t, "CreateUser bare", s.CreateUser(ctx, bare))
	got, err = s.GetUser(ctx, bare.ID)
	durNoErr(t, "GetUser bare", err)
	durSame(t, "GetUser bare", got, bare)
	if got.Phrase != nil || got.TOTPSecret != nil || got.TOTPPending != nil || !got.EnrolledAt.IsZero() {
		t.Errorf("bare user: unset fields read back as %+v", got)
	}

	_, err = s.GetUser(ctx, durID("missing"))
	durWantErr(t, "GetUser unknown", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "missing-"+durHex(8))
	durWantErr(t, "GetUserByUsername unknown", err, store.ErrNotFound)

	sameID := durUser()
	sameID.ID = u.ID
	durWantErr(t, "CreateUser with a taken id", s.CreateUser(ctx, sameID), store.ErrAlreadyExists)
	sameName := durUser()
	sameName.Username = u.Username
	durWantErr(t, "CreateUser with a taken username", s.CreateUser(ctx, sameName), store.ErrAlreadyExists)
	_, err = s.GetUser(ctx, sameName.ID)
	durWantErr(t, "GetUser after a refused create", err, store.ErrNotFound)
}

func durUpdateUser(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, func(u *store.User) { u.TOTPLastStep = 77 })
	before := durNow()

	newName := "u" + durHex(8)
	enrolled := durNow().Add(-time.Minute)
	calls := 0
	got, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error {
		calls++
		durSame(t, "user passed to fn", *x, u)
		x.Username = newName
		x.DisplayName = "Renamed"
		x.Role = store.RoleAdmin
		x.Disabled = true
		x.Locked = true
		x.PasswordHash = "new-hash"
		x.Phrase = nil
		x.TOTPSecret = []byte("new secret")
		x.TOTPPending = nil
		x.EnrolledAt = enrolled
		// These three are not the caller's to change.
		x.ID = "other-id"
		x.CreatedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		x.TOTPLastStep = 1
		return nil
	})
	durNoErr(t, "UpdateUser", err)
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
	want := u
	want.Username, want.DisplayName, want.Role = newName, "Renamed", store.RoleAdmin
	want.Disabled, want.Locked, want.PasswordHash = true, true, "new-hash"
	want.Phrase, want.TOTPSecret, want.TOTPPending = nil, []byte("new secret"), nil
	want.EnrolledAt = enrolled
	want.UpdatedAt = got.UpdatedAt
	durSame(t, "UpdateUser result", got, want)
	if got.UpdatedAt.Before(before) {
		t.Errorf("UpdatedAt = %v, want at or after %v", got.UpdatedAt, before)
	}

	stored, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	durSame(t, "stored user", stored, got)
	_, err = s.GetUser(ctx, "other-id")
	durWantErr(t, "GetUser with the id fn tried to set", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, u.Username)
	durWantErr(t, "GetUserByUsername old name", err, store.ErrNotFound)
	byName, err := s.GetUserByUsername(ctx, newName)
	durNoErr(t, "GetUserByUsername new name", err)
	if byName.ID != u.ID {
		t.Errorf("new username belongs to %q, want %q", byName.ID, u.ID)
	}

	// Renaming onto a taken username fails and writes nothing.
	other := durCreateUser(t, s, nil)
	_, err = s.UpdateUser(ctx, u.ID, func(x *store.User) error {
		x.Username = other.Username
		x.DisplayName = "must not be written"
		return nil
	})
	durWantErr(t, "UpdateUser to a taken username", err, store.ErrAlreadyExists)
	after, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	durSame(t, "user after refused rename", after, stored)

	called := false
	_, err = s.UpdateUser(ctx, durID("missing"), func(*store.User) error { called = true; return nil })
	durWantErr(t, "UpdateUser unknown", err, store.ErrNotFound)
	if called {
		t.Error("fn was called for an unknown user")
	}
}

func durUpdateUserFnError(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	errStop := errors.New("stop")
	got, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error {
		x.DisplayName = "must not be written"
		x.Disabled = true
		x.Phrase = nil
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("UpdateUser: got error %v, want fn's error", err)
	}
	if got.ID != "" {
		t.Errorf("UpdateUser returned user %q with an error", got.ID)
	}
	stored, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	durSame(t, "user after failed update", stored, u)
}

// durUpdateUserConcurrent checks that concurrent read-modify-write updates
// of one user lose nothing: each appends one character to DisplayName.
func durUpdateUserConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, func(u *store.User) { u.DisplayName = "" })
	errs := durRace(durWorkers, func(int) error {
		_, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error {
			x.DisplayName += "x"
			return nil
		})
		return err
	})
	for i, err := range errs {
		durNoErr(t, fmt.Sprintf("concurrent UpdateUser %d", i), err)
	}
	got, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	if want := strings.Repeat("x", durWorkers); got.DisplayName != want {
		t.Errorf("after %d concurrent updates DisplayName = %q, want %q", durWorkers, got.DisplayName, want)
	}
}

func durListUsers(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	tag := durHex(6)
	var names []string
	for i := range 12 {
		u := durCreateUser(t, s, func(u *store.User) {
			// Created out of order so that ordering is the store's doing.
			u.Username = "lu" + tag + "-" + string(rune('a'+(i*7)%12))
			u.DisplayName = "List Person"
		})
		names = append(names, u.Username)
	}
	sort.Strings(names)

	var seen []string
	for _, page := range []struct{ offset, want int }{{0, 5}, {5, 5}, {10, 2}, {12, 0}, {40, 0}} {
		users, total, err := s.ListUsers(ctx, store.UserQuery{Search: tag, Offset: page.offset, Limit: 5})
		durNoErr(t, "ListUsers", err)
		if total != 12 {
			t.Errorf("offset %d: total = %d, want 12", page.offset, total)
		}
		if len(users) != page.want {
			t.Fatalf("offset %d: %d users, want %d", page.offset, len(users), page.want)
		}
		for _, u := range users {
			seen = append(seen, u.Username)
		}
	}
	if !slices.Equal(seen, names) {
		t.Errorf("pages = %v, want %v (ordered by username)", seen, names)
	}

	// Full records come back, and the search folds case.
	users, total, err := s.ListUsers(ctx, store.UserQuery{Search: "LU" + strings.ToUpper(tag) + "-A"})
	durNoErr(t, "ListUsers upper case", err)
	if total != 1 || len(users) != 1 || users[0].Username != "lu"+tag+"-a" {
		t.Fatalf("upper-case search: total %d, users %v", total, users)
	}
	stored, err := s.GetUser(ctx, users[0].ID)
	durNoErr(t, "GetUser", err)
	durSame(t, "listed user", users[0], stored)

	// Display names are searched too.
	dn := durCreateUser(t, s, func(u *store.User) { u.DisplayName = "Ada Zq" + tag + " Lovelace" })
	users, total, err = s.ListUsers(ctx, store.UserQuery{Search: "zQ" + strings.ToUpper(tag)})
	durNoErr(t, "ListUsers display name", err)
	if total != 1 || len(users) != 1 || users[0].ID != dn.ID {
		t.Errorf("display-name search: total %d, users %v, want only %s", total, users, dn.ID)
	}

	users, total, err = s.ListUsers(ctx, store.UserQuery{Search: "no-such-user-" + durHex(8)})
	durNoErr(t, "ListUsers no match", err)
	if total != 0 || len(users) != 0 {
		t.Errorf("no-match search: total %d, %d users", total, len(users))
	}

	// Without a search every user counts, and the page is ordered.
	users, total, err = s.ListUsers(ctx, store.UserQuery{Limit: 20})
	durNoErr(t, "ListUsers all", err)
	if total < 13 || len(users) == 0 || len(users) > 20 {
		t.Errorf("all users: total %d, page %d", total, len(users))
	}
	if !slices.IsSortedFunc(users, func(a, b store.User) int { return strings.Compare(a.Username, b.Username) }) {
		t.Error("unfiltered page is not ordered by username")
	}
}

func durListUsersWildcards(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	tag := durHex(6)
	mk := func(username, display string) store.User {
		return durCreateUser(t, s, func(u *store.User) { u.Username, u.DisplayName = username, display })
	}
	under := mk("w"+tag+"_x", "")
	mk("w"+tag+"ax", "")
	pct := mk("p"+tag, "Tag "+tag+"100%")
	mk("q"+tag, "Tag "+tag+"1000")
	bs := mk("b"+tag, `Tag `+tag+`\z`)
	mk("c"+tag, `Tag `+tag+`z`)

	for _, c := range []struct {
		search string
		want   string
	}{
		{tag + "_x", under.ID},
		{tag + "100%", pct.ID},
		{tag + `\z`, bs.ID},
	} {
		users, total, err := s.ListUsers(ctx, store.UserQuery{Search: c.search})
		durNoErr(t, "ListUsers "+c.search, err)
		if total != 1 || len(users) != 1 || users[0].ID != c.want {
			var got []string
			for _, u := range users {
				got = append(got, u.Username)
			}
			t.Errorf("search %q: total %d, users %v; want only %s", c.search, total, got, c.want)
		}
	}
}

func durListUsersDefaultLimit(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	tag := durHex(6)
	for i := range 51 {
		durCreateUser(t, s, func(u *store.User) { u.Username = "dl" + tag + "-" + string(rune('A'+i/26)) + string(rune('a'+i%26)) })
	}
	users, total, err := s.ListUsers(ctx, store.UserQuery{Search: "dl" + tag})
	durNoErr(t, "ListUsers", err)
	if total != 51 || len(users) != 50 {
		t.Errorf("Limit 0: total %d, %d users; want 51 and the default page of 50", total, len(users))
	}
}

func durHasAdmin(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	initial, err := s.HasAdmin(ctx)
	durNoErr(t, "HasAdmin", err)

	check := func(what string, want bool) {
		t.Helper()
		got, err := s.HasAdmin(ctx)
		durNoErr(t, "HasAdmin", err)
		// With other admins in a shared database only "true" is telling.
		if got != (want || initial) {
			t.Errorf("HasAdmin %s = %v, want %v", what, got, want || initial)
		}
	}
	durCreateUser(t, s, nil)
	check("with a plain user", false)
	pending := durCreateUser(t, s, func(u *store.User) { u.Role, u.EnrolledAt = store.RoleAdmin, time.Time{} })
	check("with an admin who has not enrolled", false)
	_, err = s.UpdateUser(ctx, pending.ID, func(u *store.User) error { u.Disabled = true; return nil })
	durNoErr(t, "UpdateUser disable pending admin", err)
	admin := durCreateUser(t, s, func(u *store.User) {
		u.Role, u.Disabled, u.EnrolledAt = store.RoleAdmin, true, time.Now()
	})
	check("with a disabled admin", false)
	_, err = s.UpdateUser(ctx, admin.ID, func(u *store.User) error { u.Disabled = false; return nil })
	durNoErr(t, "UpdateUser enable", err)
	check("with an enabled admin", true)
	_, err = s.UpdateUser(ctx, admin.ID, func(u *store.User) error { u.Disabled = true; return nil })
	durNoErr(t, "UpdateUser disable", err)
	check("after disabling the admin", false)
}

func durAcceptTOTPStep(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	steps := []struct {
		step int64
		want error
	}{
		{56000000, nil},
		{56000000, store.ErrConflict},
		{55999999, store.ErrConflict},
		{0, store.ErrConflict},
		{56000001, nil},
		{56000003, nil},
		{56000002, store.ErrConflict},
	}
	for _, c := range steps {
		err := s.AcceptTOTPStep(ctx, u.ID, c.step)
		if c.want == nil {
			durNoErr(t, "AcceptTOTPStep", err)
		} else {
			durWantErr(t, "AcceptTOTPStep old step", err, c.want)
		}
	}
	got, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	if got.TOTPLastStep != 56000003 {
		t.Errorf("TOTPLastStep = %d, want 56000003", got.TOTPLastStep)
	}
	durWantErr(t, "AcceptTOTPStep unknown user", s.AcceptTOTPStep(ctx, durID("missing"), 1), store.ErrNotFound)
}

func durAcceptTOTPStepConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	errs := durRace(durWorkers, func(int) error { return s.AcceptTOTPStep(ctx, u.ID, 1000) })
	durOneWins(t, "AcceptTOTPStep same step", errs, store.ErrConflict)

	// Distinct steps: the highest always wins, whatever the order.
	errs = durRace(durWorkers, func(i int) error { return s.AcceptTOTPStep(ctx, u.ID, int64(2000+i)) })
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Errorf("step %d: unexpected error %v", 2000+i, err)
		}
	}
	if errs[durWorkers-1] != nil {
		t.Errorf("the highest step was refused: %v", errs[durWorkers-1])
	}
	got, err := s.GetUser(ctx, u.ID)
	durNoErr(t, "GetUser", err)
	if want := int64(2000 + durWorkers - 1); got.TOTPLastStep != want {
		t.Errorf("TOTPLastStep = %d, want %d", got.TOTPLastStep, want)
	}
}

func durCredential(userID string, created time.Time) store.Credential {
	return store.Credential{
		ID:              durBytes(32),
		UserID:          userID,
		PublicKey:       durBytes(77),
		AttestationType: "none",
		AAGUID:          durBytes(16),
		SignCount:       7,
		UserPresent:     true,
		UserVerified:    true,
		BackupEligible:  true,
		Transports:      []string{"internal", "hybrid"},
		Attachment:      "platform",
		Name:            "Laptop",
		CreatedAt:       created,
	}
}

func durCredentials(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	other := durCreateUser(t, s, nil)
	t0 := durNow()
	c1 := durCredential(u.ID, t0.Add(-time.Hour))
	c2 := durCredential(u.ID, t0)
	c2.Transports, c2.AAGUID, c2.Attachment = nil, nil, ""
	c2.SignCount = math.MaxUint32
	durNoErr(t, "AddCredential", s.AddCredential(ctx, c2))
	durNoErr(t, "AddCredential", s.AddCredential(ctx, c1))
	oc := durCredential(other.ID, t0)
	durNoErr(t, "AddCredential other user", s.AddCredential(ctx, oc))

	got, err := s.GetCredential(ctx, c1.ID)
	durNoErr(t, "GetCredential", err)
	durSame(t, "GetCredential", got, c1)
	got, err = s.GetCredential(ctx, c2.ID)
	durNoErr(t, "GetCredential", err)
	durSame(t, "GetCredential (max sign count, no transports)", got, c2)
	_, err = s.GetCredential(ctx, durBytes(32))
	durWantErr(t, "GetCredential unknown", err, store.ErrNotFound)

	dup := durCredential(other.ID, t0)
	dup.ID = c1.ID
	durWantErr(t, "AddCredential duplicate id", s.AddCredential(ctx, dup), store.ErrAlreadyExists)

	list, err := s.ListCredentials(ctx, u.ID)
	durNoErr(t, "ListCredentials", err)
	if len(list) != 2 {
		t.Fatalf("ListCredentials: %d credentials, want 2", len(list))
	}
	durSame(t, "first listed credential (oldest)", list[0], c1)
	durSame(t, "second listed credential", list[1], c2)
	list, err = s.ListCredentials(ctx, durID("missing"))
	durNoErr(t, "ListCredentials unknown user", err)
	if len(list) != 0 {
		t.Errorf("ListCredentials unknown user: %d credentials", len(list))
	}

	upd := c1
	upd.SignCount = 99
	upd.CloneWarning = true
	upd.UserPresent, upd.UserVerified, upd.BackupEligible, upd.BackupState = false, false, false, true
	upd.Name = "Renamed key"
	upd.LastUsedAt = t0.Add(time.Minute)
	upd.PublicKey = durBytes(77) // not a mutable field
	upd.AttestationType = "packed"
	durNoErr(t, "UpdateCredential", s.UpdateCredential(ctx, upd))
	got, err = s.GetCredential(ctx, c1.ID)
	durNoErr(t, "GetCredential", err)
	want := upd
	want.PublicKey, want.AttestationType = c1.PublicKey, c1.AttestationType
	durSame(t, "updated credential", got, want)

	unknown := durCredential(u.ID, t0)
	durWantErr(t, "UpdateCredential unknown", s.UpdateCredential(ctx, unknown), store.ErrNotFound)
	wrongOwner := upd
	wrongOwner.UserID = other.ID
	durWantErr(t, "UpdateCredential of another user", s.UpdateCredential(ctx, wrongOwner), store.ErrNotFound)

	durWantErr(t, "DeleteCredential of another user", s.DeleteCredential(ctx, other.ID, c1.ID), store.ErrNotFound)
	durNoErr(t, "DeleteCredential", s.DeleteCredential(ctx, u.ID, c1.ID))
	_, err = s.GetCredential(ctx, c1.ID)
	durWantErr(t, "GetCredential deleted", err, store.ErrNotFound)
	durWantErr(t, "DeleteCredential again", s.DeleteCredential(ctx, u.ID, c1.ID), store.ErrNotFound)

	durNoErr(t, "DeleteUserCredentials", s.DeleteUserCredentials(ctx, u.ID))
	list, err = s.ListCredentials(ctx, u.ID)
	durNoErr(t, "ListCredentials", err)
	if len(list) != 0 {
		t.Errorf("after DeleteUserCredentials: %d credentials", len(list))
	}
	_, err = s.GetCredential(ctx, oc.ID)
	durNoErr(t, "other user's credential survives", err)
}

func durRecoveryCodes(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	other := durCreateUser(t, s, nil)
	count := func(userID string, want int) {
		t.Helper()
		n, err := s.CountRecoveryCodes(ctx, userID)
		durNoErr(t, "CountRecoveryCodes", err)
		if n != want {
			t.Errorf("CountRecoveryCodes = %d, want %d", n, want)
		}
	}
	count(u.ID, 0)

	var hashes [][]byte
	for range 10 {
		hashes = append(hashes, durBytes(32))
	}
	durNoErr(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, hashes))
	durNoErr(t, "ReplaceRecoveryCodes other", s.ReplaceRecoveryCodes(ctx, other.ID, hashes[:2]))
	count(u.ID, 10)

	at := durNow()
	durNoErr(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, u.ID, hashes[0], at))
	durWantErr(t, "UseRecoveryCode again", s.UseRecoveryCode(ctx, u.ID, hashes[0], at), store.ErrNotFound)
	durWantErr(t, "UseRecoveryCode unknown", s.UseRecoveryCode(ctx, u.ID, durBytes(32), at), store.ErrNotFound)
	durWantErr(t, "UseRecoveryCode of another user", s.UseRecoveryCode(ctx, durCreateUser(t, s, nil).ID, hashes[1], at), store.ErrNotFound)
	count(u.ID, 9)
	// The same hash held by another user is that user's own code.
	durNoErr(t, "UseRecoveryCode other user", s.UseRecoveryCode(ctx, other.ID, hashes[0], at))
	count(other.ID, 1)

	fresh := [][]byte{durBytes(32), durBytes(32), durBytes(32)}
	durNoErr(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, fresh))
	count(u.ID, 3)
	durWantErr(t, "UseRecoveryCode replaced code", s.UseRecoveryCode(ctx, u.ID, hashes[1], at), store.ErrNotFound)
	durNoErr(t, "UseRecoveryCode new code", s.UseRecoveryCode(ctx, u.ID, fresh[2], at))
	count(u.ID, 2)

	durNoErr(t, "ReplaceRecoveryCodes empty", s.ReplaceRecoveryCodes(ctx, u.ID, nil))
	count(u.ID, 0)
	count(other.ID, 1)
}

func durRecoveryCodesConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	h := durBytes(32)
	durNoErr(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{h, durBytes(32)}))
	errs := durRace(durWorkers, func(int) error { return s.UseRecoveryCode(ctx, u.ID, h, durNow()) })
	durOneWins(t, "UseRecoveryCode", errs, store.ErrNotFound)
	n, err := s.CountRecoveryCodes(ctx, u.ID)
	durNoErr(t, "CountRecoveryCodes", err)
	if n != 1 {
		t.Errorf("CountRecoveryCodes = %d, want 1", n)
	}
}

func durDevices(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	other := durCreateUser(t, s, nil)
	t0 := durNow()
	d1 := store.Device{ID: durID("dev"), UserID: u.ID, TokenHash: durBytes(32), Name: "Firefox on Linux",
		CreatedAt: t0.Add(-time.Hour), LastSeenAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(90 * 24 * time.Hour)}
	d2 := store.Device{ID: durID("dev"), UserID: u.ID, TokenHash: durBytes(32), Name: "Phone",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	od := store.Device{ID: durID("dev"), UserID: other.ID, TokenHash: durBytes(32), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, d := range []store.Device{d2, d1, od} {
		durNoErr(t, "CreateDevice", s.CreateDevice(ctx, d))
	}

	got, err := s.GetDeviceByTokenHash(ctx, d1.TokenHash)
	durNoErr(t, "GetDeviceByTokenHash", err)
	durSame(t, "GetDeviceByTokenHash", got, d1)
	got, err = s.GetDeviceByTokenHash(ctx, d2.TokenHash)
	durNoErr(t, "GetDeviceByTokenHash", err)
	durSame(t, "GetDeviceByTokenHash (never seen)", got, d2)
	_, err = s.GetDeviceByTokenHash(ctx, durBytes(32))
	durWantErr(t, "GetDeviceByTokenHash unknown", err, store.ErrNotFound)

	sameID := d1
	sameID.TokenHash = durBytes(32)
	durWantErr(t, "CreateDevice duplicate id", s.CreateDevice(ctx, sameID), store.ErrAlreadyExists)
	sameHash := d1
	sameHash.ID = durID("dev")
	durWantErr(t, "CreateDevice duplicate token hash", s.CreateDevice(ctx, sameHash), store.ErrAlreadyExists)

	seen := t0.Add(time.Minute)
	durNoErr(t, "TouchDevice", s.TouchDevice(ctx, d1.ID, seen))
	got, err = s.GetDeviceByTokenHash(ctx, d1.TokenHash)
	durNoErr(t, "GetDeviceByTokenHash", err)
	want := d1
	want.LastSeenAt = seen
	durSame(t, "touched device", got, want)
	durWantErr(t, "TouchDevice unknown", s.TouchDevice(ctx, durID("dev"), seen), store.ErrNotFound)

	list, err := s.ListDevices(ctx, u.ID)
	durNoErr(t, "ListDevices", err)
	if len(list) != 2 {
		t.Fatalf("ListDevices: %d devices, want 2", len(list))
	}
	durSame(t, "first listed device (oldest)", list[0], want)
	durSame(t, "second listed device", list[1], d2)

	durWantErr(t, "DeleteDevice of another user", s.DeleteDevice(ctx, other.ID, d1.ID), store.ErrNotFound)
	durNoErr(t, "DeleteDevice", s.DeleteDevice(ctx, u.ID, d1.ID))
	_, err = s.GetDeviceByTokenHash(ctx, d1.TokenHash)
	durWantErr(t, "GetDeviceByTokenHash deleted", err, store.ErrNotFound)
	durWantErr(t, "DeleteDevice again", s.DeleteDevice(ctx, u.ID, d1.ID), store.ErrNotFound)

	durNoErr(t, "DeleteUserDevices", s.DeleteUserDevices(ctx, u.ID))
	list, err = s.ListDevices(ctx, u.ID)
	durNoErr(t, "ListDevices", err)
	if len(list) != 0 {
		t.Errorf("after DeleteUserDevices: %d devices", len(list))
	}
	_, err = s.GetDeviceByTokenHash(ctx, od.TokenHash)
	durNoErr(t, "other user's device survives", err)
}

func durInvite(userID string) store.Invite {
	t0 := durNow()
	return store.Invite{TokenHash: durBytes(32), UserID: userID, CreatedBy: "cli", CreatedAt: t0, ExpiresAt: t0.Add(72 * time.Hour)}
}

func durInvites(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	inv := durInvite(u.ID)
	durNoErr(t, "CreateInvite", s.CreateInvite(ctx, inv))
	got, err := s.GetInvite(ctx, inv.TokenHash)
	durNoErr(t, "GetInvite", err)
	durSame(t, "GetInvite", got, inv)
	_, err = s.GetInvite(ctx, durBytes(32))
	durWantErr(t, "GetInvite unknown", err, store.ErrNotFound)
	durWantErr(t, "CreateInvite duplicate", s.CreateInvite(ctx, inv), store.ErrAlreadyExists)

	at := durNow().Add(time.Minute)
	durNoErr(t, "UseInvite", s.UseInvite(ctx, inv.TokenHash, at))
	got, err = s.GetInvite(ctx, inv.TokenHash)
	durNoErr(t, "GetInvite", err)
	want := inv
	want.UsedAt = at
	durSame(t, "used invite", got, want)
	durWantErr(t, "UseInvite again", s.UseInvite(ctx, inv.TokenHash, at.Add(time.Minute)), store.ErrConflict)
	got, err = s.GetInvite(ctx, inv.TokenHash)
	durNoErr(t, "GetInvite", err)
	durSame(t, "invite after a second use", got, want)
	durWantErr(t, "UseInvite unknown", s.UseInvite(ctx, durBytes(32), at), store.ErrNotFound)

	second := durInvite(u.ID)
	durNoErr(t, "CreateInvite", s.CreateInvite(ctx, second))
	otherUser := durCreateUser(t, s, nil)
	kept := durInvite(otherUser.ID)
	durNoErr(t, "CreateInvite", s.CreateInvite(ctx, kept))
	durNoErr(t, "DeleteUserInvites", s.DeleteUserInvites(ctx, u.ID))
	for _, h := range [][]byte{inv.TokenHash, second.TokenHash} {
		_, err = s.GetInvite(ctx, h)
		durWantErr(t, "GetInvite after DeleteUserInvites", err, store.ErrNotFound)
	}
	_, err = s.GetInvite(ctx, kept.TokenHash)
	durNoErr(t, "other user's invite survives", err)
}

func durInvitesConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	inv := durInvite(u.ID)
	durNoErr(t, "CreateInvite", s.CreateInvite(ctx, inv))
	errs := durRace(durWorkers, func(int) error { return s.UseInvite(ctx, inv.TokenHash, durNow()) })
	durOneWins(t, "UseInvite", errs, store.ErrConflict)
}

func durUnknownUserReferences(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	missing := durID("missing")
	t0 := durNow()
	durWantErr(t, "AddCredential", s.AddCredential(ctx, durCredential(missing, t0)), store.ErrNotFound)
	durWantErr(t, "CreateDevice", s.CreateDevice(ctx, store.Device{ID: durID("dev"), UserID: missing, TokenHash: durBytes(32), CreatedAt: t0}), store.ErrNotFound)
	durWantErr(t, "CreateInvite", s.CreateInvite(ctx, durInvite(missing)), store.ErrNotFound)
	durWantErr(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, missing, [][]byte{durBytes(32)}), store.ErrNotFound)
}

func durClients(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	t0 := durNow()
	c := store.Client{ID: durID("client"), Name: "Shop", SecretHash: durBytes(32),
		Origins: []string{"https://shop.example", "http://localhost:3000"}, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour)}
	bare := store.Client{ID: durID("client"), Name: "Bare", SecretHash: durBytes(32), CreatedAt: t0, UpdatedAt: t0}
	durNoErr(t, "CreateClient", s.CreateClient(ctx, c))
	durNoErr(t, "CreateClient without origins", s.CreateClient(ctx, bare))
	durWantErr(t, "CreateClient duplicate", s.CreateClient(ctx, c), store.ErrAlreadyExists)

	got, err := s.GetClient(ctx, c.ID)
	durNoErr(t, "GetClient", err)
	durSame(t, "GetClient", got, c)
	got, err = s.GetClient(ctx, bare.ID)
	durNoErr(t, "GetClient", err)
	durSame(t, "GetClient without origins", got, bare)
	_, err = s.GetClient(ctx, durID("client"))
	durWantErr(t, "GetClient unknown", err, store.ErrNotFound)

	list, err := s.ListClients(ctx)
	durNoErr(t, "ListClients", err)
	found := 0
	for _, x := range list {
		switch x.ID {
		case c.ID:
			durSame(t, "listed client", x, c)
			found++
		case bare.ID:
			found++
		}
	}
	if found != 2 {
		t.Errorf("ListClients: found %d of the 2 created clients", found)
	}

	upd := c
	upd.Name = "Shop 2"
	upd.SecretHash = durBytes(32)
	upd.Origins = []string{"https://shop2.example"}
	upd.UpdatedAt = t0
	upd.CreatedAt = t0.Add(time.Hour) // not written
	durNoErr(t, "UpdateClient", s.UpdateClient(ctx, upd))
	got, err = s.GetClient(ctx, c.ID)
	durNoErr(t, "GetClient", err)
	want := upd
	want.CreatedAt = c.CreatedAt
	durSame(t, "updated client", got, want)
	upd.Origins = nil
	durNoErr(t, "UpdateClient clearing origins", s.UpdateClient(ctx, upd))
	got, err = s.GetClient(ctx, c.ID)
	durNoErr(t, "GetClient", err)
	if len(got.Origins) != 0 {
		t.Errorf("origins after clearing: %v", got.Origins)
	}
	durWantErr(t, "UpdateClient unknown", s.UpdateClient(ctx, store.Client{ID: durID("client"), SecretHash: durBytes(32)}), store.ErrNotFound)

	durNoErr(t, "DeleteClient", s.DeleteClient(ctx, c.ID))
	_, err = s.GetClient(ctx, c.ID)
	durWantErr(t, "GetClient deleted", err, store.ErrNotFound)
	durWantErr(t, "DeleteClient again", s.DeleteClient(ctx, c.ID), store.ErrNotFound)
	_, err = s.GetClient(ctx, bare.ID)
	durNoErr(t, "other client survives", err)
}

func durAudit(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	actor := durID("actor")
	s1, s2 := durID("subject"), durID("subject")
	t0 := durNow().Add(-time.Hour)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	events := []store.AuditEvent{
		{Time: at(0), Actor: actor, Subject: s1, Action: "login.password", Result: "success", IP: "192.0.2.1", Detail: "first"},
		{Time: at(1), Actor: actor, Subject: s1, Action: "login.otp", Result: "failure", IP: "2001:db8::1"},
		{Time: at(2), Actor: actor, Subject: s2, Action: "admin.disable", Result: "success"},
		{Time: at(3), Actor: actor, Subject: s2, Action: "login.password", Result: "throttled", Detail: "5 failures"},
		{Time: at(4), Actor: actor, Subject: s1, Action: "login.webauthn", Result: "success"},
		{Time: at(5), Actor: actor, Subject: s2, Action: "enroll.totp", Result: "success"},
	}
	for _, e := range events {
		durNoErr(t, "AppendAudit", s.AppendAudit(ctx, e))
	}

	all, err := s.ListAudit(ctx, store.AuditQuery{Actor: actor})
	durNoErr(t, "ListAudit", err)
	if len(all) != len(events) {
		t.Fatalf("ListAudit by actor: %d events, want %d", len(all), len(events))
	}
	for i, got := range all {
		want := events[len(events)-1-i]
		want.ID = got.ID
		durSame(t, "audit event (newest first)", got, want)
		if got.ID <= 0 || (i > 0 && got.ID >= all[i-1].ID) {
			t.Errorf("event %d has ID %d; IDs must be positive and decreasing", i, got.ID)
		}
	}
	// byIdx maps event indexes to the IDs the store assigned.
	byIdx := func(idx ...int) []int64 {
		var ids []int64
		for _, i := range idx {
			ids = append(ids, all[len(events)-1-i].ID)
		}
		return ids
	}

	cases := []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"subject", store.AuditQuery{Subject: s1}, byIdx(4, 1, 0)},
		{"actor and subject", store.AuditQuery{Actor: actor, Subject: s2}, byIdx(5, 3, 2)},
		{"action prefix", store.AuditQuery{Actor: actor, Action: "login."}, byIdx(4, 3, 1, 0)},
		{"longer action prefix", store.AuditQuery{Actor: actor, Action: "login.p"}, byIdx(3, 0)},
		{"whole action", store.AuditQuery{Actor: actor, Action: "admin.disable"}, byIdx(2)},
		{"action prefix is case-sensitive", store.AuditQuery{Actor: actor, Action: "LOGIN."}, nil},
		{"action prefix has no wildcards", store.AuditQuery{Actor: actor, Action: "login%"}, nil},
		{"action prefix has no single wildcard", store.AuditQuery{Actor: actor, Action: "login_"}, nil},
		{"result", store.AuditQuery{Actor: actor, Result: "success"}, byIdx(5, 4, 2, 0)},
		{"subject and result", store.AuditQuery{Subject: s2, Result: "throttled"}, byIdx(3)},
		{"since (inclusive)", store.AuditQuery{Actor: actor, Since: at(2)}, byIdx(5, 4, 3, 2)},
		{"until (exclusive)", store.AuditQuery{Actor: actor, Until: at(2)}, byIdx(1, 0)},
		{"since and until", store.AuditQuery{Actor: actor, Since: at(1), Until: at(3)}, byIdx(2, 1)},
		{"before id", store.AuditQuery{Actor: actor, BeforeID: all[2].ID}, byIdx(2, 1, 0)},
		{"limit", store.AuditQuery{Actor: actor, Limit: 2}, byIdx(5, 4)},
		{"unknown actor", store.AuditQuery{Actor: durID("actor")}, nil},
	}
	for _, c := range cases {
		list, err := s.ListAudit(ctx, c.q)
		durNoErr(t, "ListAudit "+c.name, err)
		var ids []int64
		for _, e := range list {
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("ListAudit %s: ids %v, want %v", c.name, ids, c.want)
		}
	}

	// Paging with BeforeID walks the whole result, newest first.
	var paged []int64
	q := store.AuditQuery{Actor: actor, Limit: 4}
	for range 10 {
		page, err := s.ListAudit(ctx, q)
		durNoErr(t, "ListAudit page", err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		q.BeforeID = page[len(page)-1].ID
	}
	if want := byIdx(5, 4, 3, 2, 1, 0); !slices.Equal(paged, want) {
		t.Errorf("paged ids %v, want %v", paged, want)
	}

	// Later events get higher IDs; a zero Time is filled in.
	late := durID("actor")
	durNoErr(t, "AppendAudit", s.AppendAudit(ctx, store.AuditEvent{Actor: late, Action: "login.begin"}))
	list, err := s.ListAudit(ctx, store.AuditQuery{Actor: late})
	durNoErr(t, "ListAudit", err)
	if len(list) != 1 || list[0].ID <= all[0].ID || list[0].Time.IsZero() {
		t.Errorf("appended event = %+v; want an ID above %d and a time set", list, all[0].ID)
	}
}

func durAuditDefaultLimit(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	actor := durID("actor")
	for range 55 {
		durNoErr(t, "AppendAudit", s.AppendAudit(ctx, store.AuditEvent{Time: durNow(), Actor: actor, Action: "login.password", Result: "failure"}))
	}
	list, err := s.ListAudit(ctx, store.AuditQuery{Actor: actor})
	durNoErr(t, "ListAudit", err)
	if len(list) != 50 {
		t.Errorf("Limit 0: %d events, want the default page of 50", len(list))
	}
}

// durGeneration returns a random key generation, so that runs against a
// shared database do not collide.
func durGeneration() int { return 1_000_000 + rand.IntN(1_000_000_000) }

func durSigningKeys(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	base := durGeneration()
	t0 := durNow()
	var keys []store.SigningKey
	for _, g := range []int{1, 3, 2} {
		k := store.SigningKey{Generation: base + g, KID: durID("kid"), Sealed: durBytes(120), CreatedAt: t0.Add(time.Duration(g) * time.Minute)}
		durNoErr(t, "AddSigningKey", s.AddSigningKey(ctx, k))
		keys = append(keys, k)
	}
	dupGen := store.SigningKey{Generation: base + 3, KID: durID("kid"), Sealed: durBytes(120), CreatedAt: t0}
	durWantErr(t, "AddSigningKey taken generation", s.AddSigningKey(ctx, dupGen), store.ErrAlreadyExists)
	dupKID := store.SigningKey{Generation: base + 4, KID: keys[0].KID, Sealed: durBytes(120), CreatedAt: t0}
	durWantErr(t, "AddSigningKey taken KID", s.AddSigningKey(ctx, dupKID), store.ErrAlreadyExists)

	ours := func() []store.SigningKey {
		t.Helper()
		list, err := s.ListSigningKeys(ctx)
		durNoErr(t, "ListSigningKeys", err)
		for i := 1; i < len(list); i++ {
			if list[i].Generation >= list[i-1].Generation {
				t.Fatalf("ListSigningKeys not ordered by generation, highest first: %d after %d", list[i].Generation, list[i-1].Generation)
			}
		}
		var mine []store.SigningKey
		for _, k := range list {
			if k.Generation > base && k.Generation <= base+4 {
				mine = append(mine, k)
			}
		}
		return mine
	}
	mine := ours()
	if len(mine) != 3 {
		t.Fatalf("ListSigningKeys: %d of ours, want 3", len(mine))
	}
	durSame(t, "highest generation", mine[0], keys[1])
	durSame(t, "middle generation", mine[1], keys[2])
	durSame(t, "lowest generation", mine[2], keys[0])

	retired := t0.Add(time.Hour)
	durNoErr(t, "RetireSigningKey", s.RetireSigningKey(ctx, base+1, retired))
	mine = ours()
	want := keys[0]
	want.RetiredAt = retired
	durSame(t, "retired key", mine[2], want)
	if !mine[0].RetiredAt.IsZero() || !mine[1].RetiredAt.IsZero() {
		t.Error("retiring one key retired others")
	}
	durWantErr(t, "RetireSigningKey unknown", s.RetireSigningKey(ctx, base+5, retired), store.ErrNotFound)
}

// durRevokeSigningKey: a chain of three keys, each introduced by a handover
// from the one before; revoking the middle one removes it and the handover
// it signed, and leaves the others and their data alone.
func durRevokeSigningKey(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	base := durGeneration()
	t0 := durNow()
	var keys []store.SigningKey
	for g := 1; g <= 3; g++ {
		k := store.SigningKey{Generation: base + g, KID: durID("kid"), Sealed: durBytes(120), CreatedAt: t0.Add(time.Duration(g) * time.Minute)}
		if g > 1 {
			k.Handover, k.HandoverFrom = durID("handover"), keys[g-2].KID
		}
		durNoErr(t, "AddSigningKey", s.AddSigningKey(ctx, k))
		keys = append(keys, k)
	}
	ours := func() map[string]store.SigningKey {
		t.Helper()
		list, err := s.ListSigningKeys(ctx)
		durNoErr(t, "ListSigningKeys", err)
		mine := map[string]store.SigningKey{}
		for _, k := range list {
			if k.Generation > base && k.Generation <= base+3 {
				mine[k.KID] = k
			}
		}
		return mine
	}
	mine := ours()
	for _, k := range keys {
		durSame(t, "stored key with its handover", mine[k.KID], k)
	}

	durNoErr(t, "RevokeSigningKey", s.RevokeSigningKey(ctx, keys[1].KID))
	mine = ours()
	if len(mine) != 2 {
		t.Fatalf("after revoking one of 3 keys, %d remain", len(mine))
	}
	if _, still := mine[keys[1].KID]; still {
		t.Fatal("the revoked key is still listed")
	}
	durSame(t, "key before the revoked one", mine[keys[0].KID], keys[0])
	after := keys[2]
	after.Handover, after.HandoverFrom = "", ""
	durSame(t, "key the revoked one handed over to", mine[keys[2].KID], after)

	durWantErr(t, "RevokeSigningKey again", s.RevokeSigningKey(ctx, keys[1].KID), store.ErrNotFound)
	durWantErr(t, "RevokeSigningKey unknown", s.RevokeSigningKey(ctx, durID("kid")), store.ErrNotFound)
}

func durSigningKeysConcurrent(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	gen := durGeneration()
	errs := durRace(durWorkers, func(int) error {
		return s.AddSigningKey(ctx, store.SigningKey{Generation: gen, KID: durID("kid"), Sealed: durBytes(120), CreatedAt: durNow()})
	})
	durOneWins(t, "AddSigningKey same generation", errs, store.ErrAlreadyExists)
}

func durDeleteUserCascades(t *testing.T, s store.Durable) {
	del, ok := s.(UserDeleter)
	if !ok {
		t.Skip("backend does not implement DeleteUser")
	}
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	keep := durCreateUser(t, s, nil)
	t0 := durNow()
	cred := durCredential(u.ID, t0)
	dev := store.Device{ID: durID("dev"), UserID: u.ID, TokenHash: durBytes(32), CreatedAt: t0}
	inv := durInvite(u.ID)
	keptCred := durCredential(keep.ID, t0)
	durNoErr(t, "AddCredential", s.AddCredential(ctx, cred))
	durNoErr(t, "AddCredential", s.AddCredential(ctx, keptCred))
	durNoErr(t, "CreateDevice", s.CreateDevice(ctx, dev))
	durNoErr(t, "CreateInvite", s.CreateInvite(ctx, inv))
	durNoErr(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{durBytes(32), durBytes(32)}))

	durNoErr(t, "DeleteUser", del.DeleteUser(ctx, u.ID))
	_, err := s.GetUser(ctx, u.ID)
	durWantErr(t, "GetUser deleted", err, store.ErrNotFound)
	_, err = s.GetCredential(ctx, cred.ID)
	durWantErr(t, "GetCredential of deleted user", err, store.ErrNotFound)
	_, err = s.GetDeviceByTokenHash(ctx, dev.TokenHash)
	durWantErr(t, "GetDeviceByTokenHash of deleted user", err, store.ErrNotFound)
	_, err = s.GetInvite(ctx, inv.TokenHash)
	durWantErr(t, "GetInvite of deleted user", err, store.ErrNotFound)
	n, err := s.CountRecoveryCodes(ctx, u.ID)
	durNoErr(t, "CountRecoveryCodes", err)
	if n != 0 {
		t.Errorf("deleted user still has %d recovery codes", n)
	}
	_, err = s.GetCredential(ctx, keptCred.ID)
	durNoErr(t, "other user's credential survives", err)
	durWantErr(t, "DeleteUser again", del.DeleteUser(ctx, u.ID), store.ErrNotFound)
}

func durTimeRoundTrip(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	times := []time.Time{
		time.Date(2031, 5, 6, 7, 8, 9, 123456789, zone),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Now(), // carries a monotonic reading
	}
	for _, tm := range times {
		u := durCreateUser(t, s, func(u *store.User) { u.EnrolledAt, u.CreatedAt, u.UpdatedAt = tm, tm, tm })
		got, err := s.GetUser(ctx, u.ID)
		durNoErr(t, "GetUser", err)
		for _, x := range []time.Time{got.EnrolledAt, got.CreatedAt, got.UpdatedAt} {
			if !durTimeClose(x, tm) {
				t.Errorf("time %v read back as %v", tm, x)
			}
		}
		dev := store.Device{ID: durID("dev"), UserID: u.ID, TokenHash: durBytes(32), CreatedAt: tm, LastSeenAt: tm, ExpiresAt: tm}
		durNoErr(t, "CreateDevice", s.CreateDevice(ctx, dev))
		d, err := s.GetDeviceByTokenHash(ctx, dev.TokenHash)
		durNoErr(t, "GetDeviceByTokenHash", err)
		if !durTimeClose(d.ExpiresAt, tm) || !durTimeClose(d.LastSeenAt, tm) {
			t.Errorf("device time %v read back as %v / %v", tm, d.ExpiresAt, d.LastSeenAt)
		}
	}

	// The audit time filters compare instants, not zone-local clock readings.
	actor := durID("actor")
	e := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	durNoErr(t, "AppendAudit", s.AppendAudit(ctx, store.AuditEvent{Time: e.In(zone), Actor: actor, Action: "x"}))
	list, err := s.ListAudit(ctx, store.AuditQuery{Actor: actor, Since: e.Add(-time.Second).In(time.FixedZone("west", -8*3600)), Until: e.Add(time.Second)})
	durNoErr(t, "ListAudit", err)
	if len(list) != 1 || !durTimeClose(list[0].Time, e) {
		t.Errorf("ListAudit around %v = %+v", e, list)
	}
}

func durContext(t *testing.T, s store.Durable) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	u := durUser()
	err := s.CreateUser(canceled, u)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser with a canceled context: got %v, want context.Canceled", err)
	}
	_, err = s.GetUser(durCtx(t), u.ID)
	durWantErr(t, "GetUser after a canceled create", err, store.ErrNotFound)

	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, _, err = s.ListUsers(expired, store.UserQuery{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ListUsers with an expired context: got %v, want context.DeadlineExceeded", err)
	}
}
