package account

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	sqlstore "mutualauth/store/sql"
)

// Invites racing for one name and for its look-alike: the name whose user
// is created first wins, every invite for it succeeds (one of them creating
// the user), and every invite for the other is refused as a look-alike.
func TestIssueInviteRacesForLookAlikes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names := []string{"mill", "rnill"}
	const each = 10
	type result struct {
		name string
		inv  Invite
		err  error
	}
	results := make([]result, 2*each)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			name := names[i%2]
			inv, err := IssueInvite(ctx, st, time.Now(), InviteRequest{Username: name, CreatedBy: "test"})
			results[i] = result{name, inv, err}
		}()
	}
	close(start)
	wg.Wait()

	won := map[string]int{}
	created := 0
	for _, r := range results {
		if r.err == nil {
			won[r.name]++
			if r.inv.Created {
				created++
			}
		}
	}
	if len(won) != 1 || created != 1 {
		t.Fatalf("successes by name %v with %d users created; want one name, one user", won, created)
	}
	for _, r := range results {
		if _, ok := won[r.name]; ok {
			if r.err != nil {
				t.Errorf("invite for the winning name %s: %v", r.name, r.err)
			}
			continue
		}
		var e *Error
		if !errors.Is(r.err, ErrLookAlike) || !errors.As(r.err, &e) || e.Code != "invalid_username" || e.Kind != Invalid {
			t.Errorf("invite for the look-alike %s: %v, want the invalid_username look-alike error", r.name, r.err)
		}
	}
}
