package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"mutualauth/server/account"
	sqlstore "mutualauth/store/sql"
)

// The OpenID Connect token endpoint: code exchanges per second (each one
// spends a code, creates the grant, issues an access token, a refresh token
// and an RS256 ID token, and audits it) and refreshes per second (each one
// rotates the refresh token). Codes are made before the measurement through
// the real front channel (authorization endpoint and hand-off with a live
// session), since each can be exchanged once.

const oidcRedirect = "http://127.0.0.1:1/callback"

// oidcBench is a registered confidential client and a browser session.
type oidcBench struct {
	base, clientID, secret string
	session                *http.Cookie
	hc                     *http.Client // keeps connections, follows no redirects
	verifier, challenge    string
}

func newOIDCBench(ctx context.Context, databaseURL, dataDir, base string, session *http.Cookie, conns int) (*oidcBench, error) {
	st, err := sqlstore.Open(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, fmt.Errorf("open the server's database: %w", err)
	}
	defer st.Close()
	nc, err := account.RegisterClient(ctx, st, time.Now(), account.ClientSpec{Name: "bench", RedirectURIs: []string{oidcRedirect}})
	if err != nil {
		return nil, err
	}
	hc := newHTTPClient(conns)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	return &oidcBench{base: base, clientID: nc.Client.ID, secret: nc.Secret, session: session, hc: hc,
		verifier: verifier, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// code runs the front channel once and returns the code.
func (b *oidcBench) code(ctx context.Context) (string, error) {
	q := url.Values{"client_id": {b.clientID}, "redirect_uri": {oidcRedirect}, "response_type": {"code"},
		"scope": {"openid profile offline_access"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {b.challenge}, "code_challenge_method": {"S256"}}
	loc := "/oidc/authorize?" + q.Encode()
	for range 3 {
		req, err := http.NewRequestWithContext(ctx, "GET", b.base+loc, nil)
		if err != nil {
			return "", err
		}
		req.AddCookie(b.session)
		resp, err := b.hc.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		loc = resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || loc == "" {
			return "", fmt.Errorf("authorization: %d", resp.StatusCode)
		}
		if strings.HasPrefix(loc, oidcRedirect) {
			u, err := url.Parse(loc)
			if err != nil {
				return "", err
			}
			if c := u.Query().Get("code"); c != "" {
				return c, nil
			}
			return "", fmt.Errorf("authorization error %s", u.Query().Get("error"))
		}
	}
	return "", errors.New("authorization: too many redirects")
}

// token posts a token request and returns the new refresh token.
func (b *oidcBench) token(ctx context.Context, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", b.base+"/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(b.clientID), url.QueryEscape(b.secret))
	resp, err := b.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
		Error        string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || out.IDToken == "" || out.RefreshToken == "" {
		return "", fmt.Errorf("token: %d %s", resp.StatusCode, out.Error)
	}
	return out.RefreshToken, nil
}

func (b *oidcBench) exchange(ctx context.Context, code string) (string, error) {
	return b.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {oidcRedirect}, "code_verifier": {b.verifier}})
}

func (b *oidcBench) refresh(ctx context.Context, rt string) (string, error) {
	return b.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// codes makes n codes with workers front channels at once.
func (b *oidcBench) codes(ctx context.Context, n, workers int) ([]string, error) {
	out := make([]string, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				c, err := b.code(ctx)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
				out[i] = c
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// exchangeAll exchanges the codes with workers at once and measures the
// whole run: each code can be used once, so the run ends with the codes.
func (b *oidcBench) exchangeAll(ctx context.Context, codes []string, workers int) Stats {
	next := make(chan string, len(codes))
	for _, c := range codes {
		next <- c
	}
	close(next)
	recs := make([]*recorder, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		recs[w] = &recorder{}
		wg.Go(func() {
			for c := range next {
				t0 := time.Now()
				_, err := b.exchange(ctx, c)
				recs[w].add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return merge(recs, time.Since(start))
}

// rs256Ceiling is what the cores can sign with RSA-2048 (PKCS #1 v1.5,
// SHA-256), the ID token's signature: the bound of the token endpoint.
func rs256Ceiling(n int) (ceiling, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return ceiling{}, err
	}
	sum := sha256.Sum256([]byte("bench"))
	times := make([]time.Duration, n)
	for i := range times {
		t0 := time.Now()
		if _, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:]); err != nil {
			return ceiling{}, err
		}
		times[i] = time.Since(t0)
	}
	return ceiling{Median: median(times), Cores: runtime.NumCPU(), Samples: n}, nil
}

// oidcPhase measures the code exchange and the refresh and returns their
// rows.
func oidcPhase(ctx context.Context, o options, srv *serverProc, session *http.Cookie,
	measure func(string, func() (Stats, time.Duration)) (Stats, CPUShare), logf func(string, ...any)) ([]Row, error) {
	workers := max(2*runtime.NumCPU(), 4)
	b, err := newOIDCBench(ctx, o.DatabaseURL, srv.dataDir, srv.base, session, workers)
	if err != nil {
		return nil, err
	}
	rs, err := rs256Ceiling(50)
	if err != nil {
		return nil, err
	}
	limit := Row{Name: "RS256 ceiling", Value: rs.PerSecond(), Unit: "/s", P50ms: ms(rs.Median),
		Target: fmt.Sprintf("limit: %d cores / one RSA-2048 signature", rs.Cores)}

	n := o.OIDCCodes
	logf("OIDC: making %d codes through the authorization endpoint", n)
	codes, err := b.codes(ctx, n, workers)
	if err != nil {
		return nil, fmt.Errorf("OIDC codes: %w\nserver log:\n%s", err, srv.logTail(2048))
	}
	logf("OIDC: exchanging them at %d at a time", workers)
	st, cpu := measure("oidc-exchange", func() (Stats, time.Duration) { return b.exchangeAll(ctx, codes, workers), 0 })
	ex := statRow("OIDC code exchange", st, cpu)
	ex.Limit, ex.Ratio = "RS256 ceiling", ex.Value/rs.PerSecond()
	ex.Target = "measured (no target): grant, access, refresh and RS256 ID token, audited"

	// One grant per worker, each refreshed back to back.
	rts := make([]string, workers)
	seed, err := b.codes(ctx, workers, workers)
	if err != nil {
		return nil, err
	}
	for i, c := range seed {
		if rts[i], err = b.exchange(ctx, c); err != nil {
			return nil, err
		}
	}
	logf("OIDC: refreshing %d grants back to back for %v", workers, o.Duration)
	st, cpu = measure("oidc-refresh", func() (Stats, time.Duration) {
		return closedLoop(ctx, workers, o.Warmup, o.Duration, func(ctx context.Context, w int) error {
			next, err := b.refresh(ctx, rts[w])
			if err == nil {
				rts[w] = next
			}
			return err
		}), 0
	})
	rf := statRow("OIDC refresh", st, cpu)
	rf.Limit, rf.Ratio = "RS256 ceiling", rf.Value/rs.PerSecond()
	rf.Target = "measured (no target): rotation (spend + new token), access token, RS256 ID token, audited"
	return []Row{ex, rf, limit}, nil
}
