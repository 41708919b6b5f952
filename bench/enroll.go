package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"mutualauth/server/account"
	"mutualauth/store"
	sqlstore "mutualauth/store/sql"
)

// user is an enrolled account and what its owner knows.
type user struct {
	Username string
	Password string
	Key      []byte // TOTP secret
	// LastStep is the last TOTP step the server accepted for the user; a
	// login needs a code of a later step.
	LastStep int64
	// Recovery are the recovery codes not used yet.
	Recovery []string
}

// issueInvites creates the users and their invites directly in the
// server's database, as `mutualauth admin invite` does (it works while the
// server runs), and returns the invite tokens.
func issueInvites(ctx context.Context, databaseURL, dataDir string, names []string) ([]string, error) {
	st, err := sqlstore.Open(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, fmt.Errorf("open the server's database: %w", err)
	}
	defer st.Close()
	tokens := make([]string, len(names))
	for i, name := range names {
		inv, err := account.IssueInvite(ctx, st, time.Now(), account.InviteRequest{
			Username: name, CreatedBy: "cli", TTL: time.Hour,
		})
		if err != nil {
			return nil, fmt.Errorf("invite %s: %w", name, err)
		}
		tokens[i] = inv.Token
	}
	return tokens, nil
}

var _ store.Durable = (*sqlstore.Store)(nil)

// enroll walks one invite through the enrollment JSON API (API.md
// "Enrollment"): phrase, password, TOTP set-up and confirmation, complete.
// The phrase goes first because setting it after the password costs
// argon2id verifications (the server checks the two differ).
func enroll(ctx context.Context, a *api, name, tok string) (*user, error) {
	u := &user{Username: name, Password: "pw-" + randomHex(12)}
	base := "/api/v1/enroll/" + tok
	if _, err := a.call(ctx, http.MethodPost, base+"/phrase", map[string]string{"phrase": "bench phrase " + randomHex(4)}, http.StatusNoContent, nil); err != nil {
		return nil, err
	}
	if _, err := a.call(ctx, http.MethodPost, base+"/password", map[string]string{"password": u.Password}, http.StatusNoContent, nil); err != nil {
		return nil, err
	}
	var setup struct {
		Secret string `json:"secret"`
	}
	if _, err := a.call(ctx, http.MethodPost, base+"/totp", nil, http.StatusOK, &setup); err != nil {
		return nil, err
	}
	key, err := decodeSecret(setup.Secret)
	if err != nil {
		return nil, fmt.Errorf("TOTP secret from the server: %w", err)
	}
	u.Key = key
	// Confirm with the previous step's code (the server accepts one step
	// back), so the current step stays free for the user's first login.
	// If the step turned in between, that code is too old: use the current.
	step := totpStep(time.Now()) - 1
	_, err = a.call(ctx, http.MethodPost, base+"/totp/confirm", map[string]string{"code": totpCode(key, step)}, http.StatusNoContent, nil)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusUnprocessableEntity {
		step = totpStep(time.Now())
		_, err = a.call(ctx, http.MethodPost, base+"/totp/confirm", map[string]string{"code": totpCode(key, step)}, http.StatusNoContent, nil)
	}
	if err != nil {
		return nil, err
	}
	u.LastStep = step
	if totpCode(key, step) == totpCode(key, step+1) {
		u.LastStep = step + 1 // the server may have matched the later step
	}
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if _, err := a.call(ctx, http.MethodPost, base+"/complete", nil, http.StatusOK, &done); err != nil {
		return nil, err
	}
	u.Recovery = done.RecoveryCodes
	return u, nil
}

// enrollAll enrolls n users named bench-00000... with conc enrollments at
// once and returns them with the elapsed time.
func enrollAll(ctx context.Context, a *api, databaseURL, dataDir string, n, conc int) ([]*user, time.Duration, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%05d", i)
	}
	start := time.Now()
	tokens, err := issueInvites(ctx, databaseURL, dataDir, names)
	if err != nil {
		return nil, 0, err
	}
	users := make([]*user, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				u, err := enroll(ctx, a, names[i], tokens[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("enroll %s: %w", names[i], err)
					}
					mu.Unlock()
					cancel()
					return
				}
				users[i] = u
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	return users, time.Since(start), nil
}
