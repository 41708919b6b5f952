package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store/redis/redistest"
)

// Fault tests against the real binary: the session store and
// the database go away while the server runs and come back, and the server
// is stopped under load. The bars (DESIGN.md): fail closed with 503
// store_unavailable, never 200 for what could not be checked, never a hang
// or a panic; recover without a restart; lose no session with Redis AOF;
// lose no request in flight at shutdown.

// faultWithin bounds every request of these tests: an answer slower than
// this is the hang the bars forbid.
const faultWithin = 3 * time.Second

// recoverWithin bounds how long the server may take to notice that a
// store is back.
const recoverWithin = 20 * time.Second

// faultAccount is a user enrolled through the API.
type faultAccount struct {
	username, password string
	recovery           []string
	nextCode           int
}

// faultEnroll enrolls username with a password, a phrase and TOTP through
// the enrollment API, as a client would.
func faultEnroll(t *testing.T, s *Server, username string) *faultAccount {
	t.Helper()
	a := &faultAccount{username: username, password: "plum orchard under seven moons"}
	a.recovery = apiEnroll(t, newAPILoginClient(t, s.URL()), inviteToken(t, s, s.AdminInvite(t, username, "", false)), a.password)
	return a
}

// apiEnroll completes the enrollment of invite token tok through c with
// this password, the phrase "copper kettle at dawn" and TOTP, and returns
// the recovery codes.
func apiEnroll(t *testing.T, c *apiLoginClient, tok, password string) []string {
	t.Helper()
	api := "/api/v1/enroll/" + tok
	c.must("POST", api+"/password", map[string]string{"password": password}, 204, nil)
	c.must("POST", api+"/phrase", map[string]string{"phrase": "copper kettle at dawn"}, 204, nil)
	var setup struct {
		Secret string `json:"secret"`
	}
	c.must("POST", api+"/totp", nil, 200, &setup)
	c.must("POST", api+"/totp/confirm", map[string]string{"code": apiLoginTOTP(t, setup.Secret, time.Now())}, 204, nil)
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.must("POST", api+"/complete", nil, 200, &done)
	if len(done.RecoveryCodes) == 0 {
		t.Fatal("enrollment gave no recovery codes")
	}
	return done.RecoveryCodes
}

// begin starts a login for a on an unrecognized device and returns its id.
func (a *faultAccount) begin(t *testing.T, c *apiLoginClient) string {
	t.Helper()
	var st apiLoginStep
	c.must("POST", "/api/v1/login/begin", map[string]any{"username": a.username}, 200, &st)
	return st.LoginID
}

// login signs a in on c with the next recovery code and returns the
// session token.
func (a *faultAccount) login(t *testing.T, c *apiLoginClient) string {
	t.Helper()
	id := a.begin(t, c)
	a.finish(t, c, id)
	tok := c.cookie("mutualauth_session")
	if tok == "" {
		t.Fatal("login set no session cookie")
	}
	return tok
}

// finish completes the login id with the next recovery code and the
// password.
func (a *faultAccount) finish(t *testing.T, c *apiLoginClient, id string) {
	t.Helper()
	code := a.recovery[a.nextCode]
	a.nextCode++
	var st apiLoginStep
	c.must("POST", "/api/v1/login/recovery", map[string]any{"login_id": id, "code": code}, 200, &st)
	c.must("POST", "/api/v1/login/password", map[string]any{"login_id": id, "password": a.password}, 200, &st)
	if !st.Done {
		t.Fatalf("login not done: %+v", st)
	}
}

// faultAnswer is one bounded request's outcome.
type faultAnswer struct {
	status     int
	code       string
	err        error
	start, end time.Time
}

// faultCall sends one request that must be answered within faultWithin.
// body nil sends none; session, when set, goes in the session cookie.
func faultCall(base, method, path string, body any, session string) faultAnswer {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	a := faultAnswer{start: time.Now()}
	defer func() { a.end = time.Now() }()
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		a.err = err
		return a
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "mutualauth_session", Value: session})
	}
	resp, err := (&http.Client{Timeout: faultWithin}).Do(req)
	if err != nil {
		a.err = err
		a.end = time.Now()
		return a
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(raw, &p)
	a.status, a.code, a.end = resp.StatusCode, p.Code, time.Now()
	return a
}

// faultUnavailable requires 503 store_unavailable within faultWithin.
func faultUnavailable(t *testing.T, what string, a faultAnswer) {
	t.Helper()
	if a.err != nil {
		t.Fatalf("%s: no answer within %s: %v", what, faultWithin, a.err)
	}
	if a.status != http.StatusServiceUnavailable || a.code != "store_unavailable" {
		t.Fatalf("%s: %d %s, want 503 store_unavailable", what, a.status, a.code)
	}
}

func faultStatus(t *testing.T, what string, a faultAnswer, status int) {
	t.Helper()
	if a.err != nil || a.status != status {
		t.Fatalf("%s: %d %s %v, want %d", what, a.status, a.code, a.err, status)
	}
}

// faultWaitReady polls /readyz until it answers want, within recoverWithin.
func faultWaitReady(t *testing.T, s *Server, want int) time.Time {
	t.Helper()
	deadline := time.Now().Add(recoverWithin)
	for {
		a := faultCall(s.URL(), "GET", "/readyz", nil, "")
		if a.err == nil && a.status == want {
			return a.end
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer %d within %s (last: %d %v)", want, recoverWithin, a.status, a.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultAlive fails the test if the server process has exited.
func faultAlive(t *testing.T, s *Server) {
	t.Helper()
	select {
	case <-s.exited:
		t.Fatalf("the server exited: %v", s.waitErr)
	default:
	}
	if strings.Contains(s.Logs(), "panic") {
		t.Fatal("the server logged a panic")
	}
}

// faultLoad keeps session checks and login begins running against the
// server until stopped, and records every answer.
type faultLoad struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	session []faultAnswer
	begin   []faultAnswer
}

func startFaultLoad(base, session, username string) *faultLoad {
	l := &faultLoad{stop: make(chan struct{})}
	run := func(record *[]faultAnswer, call func() faultAnswer) {
		defer l.wg.Done()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			a := call()
			l.mu.Lock()
			*record = append(*record, a)
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}
	for range 2 {
		l.wg.Add(2)
		go run(&l.session, func() faultAnswer { return faultCall(base, "GET", "/api/v1/session", nil, session) })
		go run(&l.begin, func() faultAnswer {
			return faultCall(base, "POST", "/api/v1/login/begin", map[string]any{"username": username}, "")
		})
	}
	return l
}

// check stops the load and requires that every answer came in time and
// was 200 or 503 store_unavailable; none of those that started after
// downAt and ended before upAt may be 200.
func (l *faultLoad) check(t *testing.T, downAt, upAt time.Time) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	for what, answers := range map[string][]faultAnswer{"GET /api/v1/session": l.session, "POST /api/v1/login/begin": l.begin} {
		var ok, unavailable int
		for _, a := range answers {
			switch {
			case a.err != nil:
				t.Errorf("%s at %s: no answer within %s: %v", what, a.start.Format(time.StampMilli), faultWithin, a.err)
			case a.status == http.StatusOK:
				ok++
				if a.start.After(downAt) && a.end.Before(upAt) {
					t.Errorf("%s at %s: 200 while the store was down", what, a.start.Format(time.StampMilli))
				}
			case a.status == http.StatusServiceUnavailable && a.code == "store_unavailable":
				unavailable++
			default:
				t.Errorf("%s at %s: %d %s (a silent logout or an error the outage must not cause)", what,
					a.start.Format(time.StampMilli), a.status, a.code)
			}
		}
		if ok == 0 || unavailable == 0 {
			t.Errorf("%s: %d answers 200 and %d answers 503 under load; the load did not see both sides of the outage", what, ok, unavailable)
		}
		t.Logf("%s under load: %d answers, %d of them 200, %d 503", what, len(answers), ok, unavailable)
	}
}

// redisPID asks a Redis its process id (INFO server).
func redisPID(t *testing.T, redisURL string) int {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	info, err := rc.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err == nil && pid > 0 {
				return pid
			}
		}
	}
	t.Fatalf("INFO server has no process_id:\n%s", info)
	return 0
}

// TestFaultRedisKilledWithAOF kills the server's Redis (SIGKILL, no chance
// to flush) while sessions exist and logins run, then starts it again on
// its append-only file (appendfsync always).
func TestFaultRedisKilledWithAOF(t *testing.T) {
	rs := redistest.StartT(t, "--appendonly", "yes", "--appendfsync", "always")
	s := startServer(t, ServerOptions{RedisURL: rs.URL(), Env: []string{"MUTUALAUTH_IP_RATE_LIMIT=0"}})
	a := faultEnroll(t, s, "aof.user")
	c := newAPILoginClient(t, s.URL())
	session := a.login(t, c)
	pending := a.begin(t, newAPILoginClient(t, s.URL()))
	faultWaitReady(t, s, http.StatusOK)
	load := startFaultLoad(s.URL(), session, a.username)
	time.Sleep(300 * time.Millisecond) // some answers before the outage

	if err := syscall.Kill(redisPID(t, rs.URL()), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	downAt := faultWaitReady(t, s, http.StatusServiceUnavailable)
	faultAlive(t, s)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/session", nil},
		{"GET", "/api/v1/sessions", nil},
		{"GET", "/auth/verify", nil},
		{"DELETE", "/api/v1/session", nil},
		{"POST", "/api/v1/login/begin", map[string]any{"username": a.username}},
		{"POST", "/api/v1/login/recovery", map[string]any{"login_id": pending, "code": a.recovery[a.nextCode]}},
		{"POST", "/api/v1/login/otp", map[string]any{"login_id": pending, "code": "123456"}},
		{"GET", "/readyz", nil},
	} {
		faultUnavailable(t, req.method+" "+req.path+" with Redis down", faultCall(s.URL(), req.method, req.path, req.body, session))
	}
	if c.cookie("mutualauth_session") != session {
		t.Fatal("the outage cleared the session cookie")
	}
	faultStatus(t, "healthz with Redis down", faultCall(s.URL(), "GET", "/healthz", nil, ""), http.StatusOK)
	time.Sleep(300 * time.Millisecond) // some answers during the outage

	upAt := time.Now()
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	faultWaitReady(t, s, http.StatusOK)
	time.Sleep(300 * time.Millisecond) // some answers after it
	load.check(t, downAt, upAt)
	faultAlive(t, s)

	// Nothing was lost: the session, and the login that was under way.
	faultStatus(t, "the session after the restart", faultCall(s.URL(), "GET", "/api/v1/session", nil, session), http.StatusOK)
	req, _ := http.NewRequest("GET", s.URL()+"/auth/verify", nil)
	req.Header.Set("Authorization", "Bearer "+session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Remote-User") != a.username {
		t.Fatalf("forward auth after the restart: %d %q", resp.StatusCode, resp.Header.Get("Remote-User"))
	}
	a.finish(t, newAPILoginClient(t, s.URL()), pending)
	a.login(t, newAPILoginClient(t, s.URL()))
}

// TestFaultRedisRestartWithoutPersistence is the control: without
// persistence a Redis restart does lose the session, and the server says
// so with 401 (the session is gone), not 200 and not 503.
func TestFaultRedisRestartWithoutPersistence(t *testing.T) {
	rs := redistest.StartT(t)
	s := startServer(t, ServerOptions{RedisURL: rs.URL(), Env: []string{"MUTUALAUTH_IP_RATE_LIMIT=0"}})
	a := faultEnroll(t, s, "volatile.user")
	session := a.login(t, newAPILoginClient(t, s.URL()))
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	faultWaitReady(t, s, http.StatusOK)
	answer := faultCall(s.URL(), "GET", "/api/v1/session", nil, session)
	for deadline := time.Now().Add(recoverWithin); answer.status == http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		answer = faultCall(s.URL(), "GET", "/api/v1/session", nil, session)
	}
	if answer.err != nil || answer.status != http.StatusUnauthorized || answer.code != "unauthenticated" {
		t.Fatalf("a session lost with Redis: %d %s %v, want 401 unauthenticated", answer.status, answer.code, answer.err)
	}
	a.login(t, newAPILoginClient(t, s.URL()))
}

// TestFaultRedisHangs freezes the server's Redis (SIGSTOP: connections
// stay open, nothing answers), the case a read timeout must catch: every
// request that needs Redis answers 503 in time, and all is well once Redis
// runs again (SIGCONT).
func TestFaultRedisHangs(t *testing.T) {
	rs := redistest.StartT(t)
	s := startServer(t, ServerOptions{RedisURL: rs.URL(), Env: []string{"MUTUALAUTH_IP_RATE_LIMIT=0"}})
	a := faultEnroll(t, s, "frozen.user")
	session := a.login(t, newAPILoginClient(t, s.URL()))
	pid := redisPID(t, rs.URL())
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/session", nil},
		{"GET", "/auth/verify", nil},
		{"POST", "/api/v1/login/begin", map[string]any{"username": a.username}},
		{"GET", "/readyz", nil},
	} {
		faultUnavailable(t, req.method+" "+req.path+" with Redis frozen", faultCall(s.URL(), req.method, req.path, req.body, session))
	}
	faultAlive(t, s)
	resume()
	faultWaitReady(t, s, http.StatusOK)
	faultStatus(t, "the session once Redis runs again", faultCall(s.URL(), "GET", "/api/v1/session", nil, session), http.StatusOK)
	a.login(t, newAPILoginClient(t, s.URL()))
}

// faultProxy forwards connections to a target address. Cut closes its
// listener and every connection, so the target looks down (connections
// refused, open ones reset); Restore listens again on the same address.
type faultProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	p := &faultProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

func (p *faultProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				p.mu.Unlock()
				in.Close()
				out.Close()
				return
			}
			p.conns[in], p.conns[out] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(in, out)
			go pipe(out, in)
		}
	}()
}

// Cut makes the target unreachable through the proxy.
func (p *faultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore listens on the proxy's address again.
func (p *faultProxy) Restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("listen on %s again: %v", p.addr, err)
}

// TestFaultPostgresUnreachable runs the server on PostgreSQL through a TCP
// proxy and cuts it: the steps that need the database answer 503
// store_unavailable in time, sessions (in Redis) keep working, and
// everything recovers when the database is reachable again. Text
// PostgreSQL cannot store (NUL, as JSON \u0000) must not reach it as a
// server error either.
func TestFaultPostgresUnreachable(t *testing.T) {
	dbURL := postgresDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startFaultProxy(t, target)
	u.Host = proxy.addr
	s := startServer(t, ServerOptions{DatabaseURL: u.String()})
	a := faultEnroll(t, s, "pg.user")
	session := a.login(t, newAPILoginClient(t, s.URL()))
	pending := a.begin(t, newAPILoginClient(t, s.URL()))
	invite := inviteToken(t, s, s.AdminInvite(t, "pg.invitee", "", false))

	// Input PostgreSQL cannot hold is answered like any other.
	var st apiLoginStep
	c := newAPILoginClient(t, s.URL())
	c.must("POST", "/api/v1/login/begin", map[string]any{"username": "pg\x00user"}, 200, &st)
	c.refused("POST", "/api/v1/login/otp", map[string]any{"login_id": st.LoginID, "code": "123456"}, 401, "invalid_credentials")
	c.refused("POST", "/api/v1/login/begin", map[string]any{"username": "pg.user", "client_id": "mac_\x00"}, 400, "invalid_client")

	proxy.Cut()
	faultWaitReady(t, s, http.StatusServiceUnavailable)
	faultAlive(t, s)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/login/begin", map[string]any{"username": a.username}},
		{"POST", "/api/v1/login/recovery", map[string]any{"login_id": pending, "code": a.recovery[a.nextCode]}},
		{"GET", "/api/v1/enroll/" + invite, nil},
		{"POST", "/api/v1/enroll/" + invite + "/password", map[string]any{"password": "velvet harbor quietly sings"}},
		{"GET", "/readyz", nil},
	} {
		faultUnavailable(t, req.method+" "+req.path+" with the database down", faultCall(s.URL(), req.method, req.path, req.body, session))
	}
	// Sessions live in Redis: they still answer, from the session record.
	faultStatus(t, "session with the database down", faultCall(s.URL(), "GET", "/api/v1/session", nil, session), http.StatusOK)
	faultStatus(t, "forward auth with the database down", faultCall(s.URL(), "GET", "/auth/verify", nil, session), http.StatusOK)

	proxy.Restore()
	faultWaitReady(t, s, http.StatusOK)
	faultAlive(t, s)
	a.finish(t, newAPILoginClient(t, s.URL()), pending)
	a.login(t, newAPILoginClient(t, s.URL()))
	newAPILoginClient(t, s.URL()).must("GET", "/api/v1/enroll/"+invite, nil, 200, nil)
}

// TestFaultGracefulShutdownUnderLoad holds 50 requests that hash a
// password (enrollment's password step, argon2id at the real parameters)
// in flight, stops the server with SIGTERM, and only then sends their
// bodies: every one completes with its normal answer, and new connections
// are refused once shutdown began.
func TestFaultGracefulShutdownUnderLoad(t *testing.T) {
	const n = 50
	s := startServer(t, ServerOptions{})
	path := "/api/v1/enroll/" + inviteToken(t, s, s.AdminInvite(t, "shutdown.user", "", false)) + "/password"
	body := `{"password":"velvet harbor quietly sings"}`
	addr := "127.0.0.1:" + strconv.Itoa(s.Port())

	type held struct {
		conn net.Conn
		r    *bufio.Reader
	}
	conns := make([]held, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range conns {
		wg.Go(func() {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
			// Expect: 100-continue makes the server say when the handler
			// starts reading the body: then the request is surely in flight.
			head := "POST " + path + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(s.URL(), "http://") + "\r\n" +
				"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nExpect: 100-continue\r\n\r\n"
			if _, err := io.WriteString(conn, head); err != nil {
				errs <- err
				return
			}
			r := bufio.NewReader(conn)
			line, err := r.ReadString('\n')
			if err == nil && !strings.HasPrefix(line, "HTTP/1.1 100 ") {
				err = fmt.Errorf("the server answered %q before reading the body", strings.TrimSpace(line))
			}
			if err == nil {
				_, err = r.ReadString('\n') // the blank line after the interim response
			}
			if err != nil {
				errs <- err
				return
			}
			conns[i] = held{conn, r}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("holding a request in flight: %v", err)
	}
	t.Cleanup(func() {
		for _, h := range conns {
			if h.conn != nil {
				h.conn.Close()
			}
		}
	})

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Stop(t) // SIGTERM, then waits for a clean exit
	}()
	// Shutdown has begun once the listener refuses connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("a new connection during shutdown: %v, want it refused", err)
			}
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 10 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}

	statuses := make([]int, n)
	for i, h := range conns {
		wg.Go(func() {
			if _, err := io.WriteString(h.conn, body); err != nil {
				t.Errorf("request %d: sending the body after SIGTERM: %v", i, err)
				return
			}
			resp, err := http.ReadResponse(h.r, nil)
			if err != nil {
				t.Errorf("request %d: no answer after SIGTERM: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	<-stopped
	for i, st := range statuses {
		if st != http.StatusNoContent {
			t.Errorf("request %d in flight at SIGTERM: %d, want 204", i, st)
		}
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a new connection after shutdown: %v, want it refused", err)
	}
	if !strings.Contains(s.Logs(), "stopped") {
		t.Fatalf("the server did not log a clean stop:\n%s", s.Logs())
	}
}
