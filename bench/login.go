package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// pool hands out users who can log in now: with TOTP when their code can
// be used, else with one of their recovery codes. The server accepts each
// time step of a user once (API.md "Throttling": single use), the current
// step or the one before; so a user logs in with TOTP at most twice per
// step (see loginStep), and then with each of the ten recovery codes of
// its enrollment once. Logins wait for a step to turn only when both run
// out, so the login figure measures the server, not the clock.
type pool struct {
	mu        sync.Mutex
	ready     []*user
	used      []*user
	waited    time.Duration // time callers spent waiting for a step to turn
	handout   int
	recovered int           // logins handed out with a recovery code
	released  chan struct{} // closed (and replaced) when a user comes back
}

func newPool(users []*user) *pool {
	return &pool{used: slices.Clone(users), released: make(chan struct{})}
}

// acquire returns a user whose last accepted step is before the current
// one, else one with a recovery code left (recovery is true), waiting for
// the next step when there is neither.
func (p *pool) acquire(ctx context.Context) (u *user, recovery bool, err error) {
	for {
		p.mu.Lock()
		now := time.Now()
		step := totpStep(now)
		p.used = slices.DeleteFunc(p.used, func(u *user) bool {
			if u.LastStep < step {
				p.ready = append(p.ready, u)
				return true
			}
			return false
		})
		if n := len(p.ready); n > 0 {
			u := p.ready[n-1]
			p.ready = p.ready[:n-1]
			p.handout++
			p.mu.Unlock()
			return u, false, nil
		}
		if i := slices.IndexFunc(p.used, func(u *user) bool { return len(u.Recovery) > 0 }); i >= 0 {
			u := p.used[i]
			p.used = slices.Delete(p.used, i, i+1)
			p.handout++
			p.recovered++
			p.mu.Unlock()
			return u, true, nil
		}
		released := p.released
		p.mu.Unlock()
		wait := time.Unix((step+1)*totpPeriod, 0).Sub(now) + 10*time.Millisecond
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(wait):
		case <-released:
		}
		p.mu.Lock()
		p.waited += time.Since(t0)
		p.mu.Unlock()
	}
}

// release gives u back once its step has been spent.
func (p *pool) release(u *user) {
	p.mu.Lock()
	p.used = append(p.used, u)
	close(p.released)
	p.released = make(chan struct{})
	p.mu.Unlock()
}

// stepGuard is how close to the end of a time step a login stops using
// the previous step's code: the server accepts it only until the step
// turns, and the request takes a moment to arrive.
const stepGuard = 3 * time.Second

// loginStep chooses the time step of the code to log in with at now, for a
// user whose last accepted step is last: the previous step when it is
// still unused and not about to become too old, else the current one.
func loginStep(now time.Time, last int64) int64 {
	cur := totpStep(now)
	if last < cur-1 && totpStep(now.Add(stepGuard)) == cur {
		return cur - 1
	}
	return cur
}

type stepAnswer struct {
	LoginID string   `json:"login_id"`
	Proof   string   `json:"proof"`
	Next    []string `json:"next"`
	Done    bool     `json:"done"`
}

// fullLogin logs u in from an unrecognized device (API.md "Login"): begin
// with a client_nonce, then the second factor (TOTP, or with recovery the
// last of u's recovery codes), then the password. It returns the session
// cookie. steps, when not nil, gets each step's latency.
func fullLogin(ctx context.Context, a *api, u *user, recovery bool, cookieName string, steps *stepTimes) (*http.Cookie, error) {
	t0 := time.Now()
	var begin stepAnswer
	_, err := a.call(ctx, http.MethodPost, "/api/v1/login/begin",
		map[string]string{"username": u.Username, "client_nonce": newNonce()}, http.StatusOK, &begin)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	factor := "otp"
	if recovery {
		factor = "recovery"
	}
	if begin.Proof == "" || !slices.Contains(begin.Next, factor) {
		return nil, fmt.Errorf("begin: no proof or no %s step: next %q", factor, begin.Next)
	}
	var second stepAnswer
	if recovery {
		code := u.Recovery[len(u.Recovery)-1]
		u.Recovery = u.Recovery[:len(u.Recovery)-1] // spent, whatever the answer
		_, err = a.call(ctx, http.MethodPost, "/api/v1/login/recovery",
			map[string]string{"login_id": begin.LoginID, "code": code}, http.StatusOK, &second)
	} else {
		step := loginStep(time.Now(), u.LastStep)
		if step <= u.LastStep {
			return nil, fmt.Errorf("user %s: step %d already used", u.Username, step)
		}
		_, err = a.call(ctx, http.MethodPost, "/api/v1/login/otp",
			map[string]string{"login_id": begin.LoginID, "code": totpCode(u.Key, step)}, http.StatusOK, &second)
		u.LastStep = step // spent, whatever the answer
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(second.Next, "password") {
		return nil, fmt.Errorf("%s: next %q, want password", factor, second.Next)
	}
	t2 := time.Now()
	var done stepAnswer
	resp, err := a.call(ctx, http.MethodPost, "/api/v1/login/password",
		map[string]string{"login_id": begin.LoginID, "password": u.Password}, http.StatusOK, &done)
	if err != nil {
		return nil, err
	}
	if !done.Done {
		return nil, errors.New("password: login not done")
	}
	steps.add(t1.Sub(t0), t2.Sub(t1), time.Since(t2))
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			return c, nil
		}
	}
	return nil, fmt.Errorf("password: no %s cookie", cookieName)
}

// poolLogin takes a user from the pool, logs in and gives the user back.
func poolLogin(ctx context.Context, a *api, p *pool, cookieName string, steps *stepTimes) (*http.Cookie, error) {
	u, recovery, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer p.release(u)
	return fullLogin(ctx, a, u, recovery, cookieName, steps)
}

// stepTimes collects the latency of each step of successful logins.
type stepTimes struct {
	mu                   sync.Mutex
	begin, otp, password []time.Duration
}

func (s *stepTimes) add(begin, otp, password time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.begin = append(s.begin, begin)
	s.otp = append(s.otp, otp)
	s.password = append(s.password, password)
	s.mu.Unlock()
}

// StepLatency is the median latency of each login step, in milliseconds.
type StepLatency struct {
	Begin    float64 `json:"begin_p50_ms"`
	OTP      float64 `json:"otp_p50_ms"`
	Password float64 `json:"password_p50_ms"`
}

func (s *stepTimes) medians() StepLatency {
	s.mu.Lock()
	defer s.mu.Unlock()
	p50 := func(d []time.Duration) float64 {
		d = slices.Clone(d)
		slices.Sort(d)
		return ms(percentile(d, 50))
	}
	return StepLatency{Begin: p50(s.begin), OTP: p50(s.otp), Password: p50(s.password)}
}

// loadClient sends the requests of the verify and begin phases, one
// keep-alive connection per worker.
type loadClient struct {
	host  string // host:port
	conns []*rawConn
	bufs  [][]byte
}

func newLoadClient(host string, workers int) *loadClient {
	l := &loadClient{host: host, conns: make([]*rawConn, workers), bufs: make([][]byte, workers)}
	for i := range l.conns {
		l.conns[i] = &rawConn{addr: host}
	}
	return l
}

func (l *loadClient) close() {
	for _, c := range l.conns {
		c.close()
	}
}

// begin sends POST /api/v1/login/begin for username with a fresh
// client_nonce and expects 200 with a proof.
func (l *loadClient) begin(w int, username string) error {
	body := make([]byte, 0, 128)
	body = append(body, `{"username":"`...)
	body = append(body, username...)
	body = append(body, `","client_nonce":"`...)
	body = append(body, newNonce()...)
	body = append(body, `"}`...)
	req := l.bufs[w][:0]
	req = append(req, "POST /api/v1/login/begin HTTP/1.1\r\nHost: "...)
	req = append(req, l.host...)
	req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	l.bufs[w] = req
	r, err := l.conns[w].do(req, "")
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"proof":"`)) {
		return &statusError{method: http.MethodPost, path: "/api/v1/login/begin", status: r.status, body: string(bytes.TrimSpace(r.body))}
	}
	return nil
}

// verifyRequest is GET /auth/verify with the session cookie, prepared once.
func (l *loadClient) verifyRequest(cookie string) []byte {
	return []byte("GET /auth/verify HTTP/1.1\r\nHost: " + l.host + "\r\nCookie: " + cookie + "\r\n\r\n")
}

// verify sends req and expects 200 with Remote-User wantUser.
func (l *loadClient) verify(w int, req []byte, wantUser string) error {
	r, err := l.conns[w].do(req, "Remote-User")
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return &statusError{method: http.MethodGet, path: "/auth/verify", status: r.status, body: string(bytes.TrimSpace(r.body))}
	}
	if r.header != wantUser {
		return fmt.Errorf("/auth/verify: Remote-User %q, want %q", r.header, wantUser)
	}
	return nil
}
