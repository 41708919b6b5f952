package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mutualauth/store/redis/redistest"
)

// The multi-instance test: two server instances share PostgreSQL and Redis
// behind a real load balancer (nginx from the Debian package), logins,
// verifies and logouts spread over both, and one instance is killed with
// SIGKILL mid-load. The bars: no verify answered 200 for a session more
// than revocationGrace after its logout returned (and none at all by the
// instance that ended it, see TestCacheEnderNeverStale in store/redis); no
// login half-applied (a login whose last step answered 200 has a working
// session; one that failed leaves the account able to log in again);
// every failure a clean 5xx from the balancer or a retry it made, never a
// hang or a dropped connection.

// revocationGrace is how long after a logout returned another instance may
// still answer 200 from its client-side cache (docs/PERFORMANCE.md).
const revocationGrace = 100 * time.Millisecond

// nginxBinary returns nginx's path, or skips the test when it is missing,
// unless CI=true (then the missing balancer fails the test).
func nginxBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				return p
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed; .ci/run installs it (CI=true)")
		}
		t.Skip("nginx is not installed; the multi-instance test needs it as the load balancer")
	}
	return bin
}

// startNginx runs nginx in the foreground, balancing 127.0.0.1:port over
// the upstream ports, and stops it at cleanup. GETs (verify) that fail on a
// dead upstream are retried on the other (nginx's proxy_next_upstream
// default); POSTs and DELETEs are not, since they may have been applied:
// their client gets 502.
func startNginx(t *testing.T, bin string, port int, upstreams ...int) {
	t.Helper()
	dir := t.TempDir()
	var servers strings.Builder
	for _, p := range upstreams {
		fmt.Fprintf(&servers, "    server 127.0.0.1:%d max_fails=1 fail_timeout=30s;\n", p)
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream mutualauth {
%[2]s    keepalive 32;
  }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://mutualauth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_connect_timeout 1s;
      proxy_read_timeout 10s;
    }
  }
}
`, dir, servers.String(), port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Its output goes to a file: nginx's workers would hold a pipe open.
	outPath := filepath.Join(dir, "output.log")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	out.Close()
	if err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	logs := func() string {
		o, _ := os.ReadFile(outPath)
		e, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(o) + string(e)
	}
	t.Cleanup(func() {
		// SIGTERM: the master stops its workers (fast shutdown).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("--- nginx output ---\n%s", logs())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer on port %d: %v\n%s", port, err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill ends the server with SIGKILL, as a crash would; the cleanup then
// does not ask for a clean shutdown.
func (s *Server) Kill(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

// servedRequests sums the server's mutualauth_http_requests_total.
func servedRequests(t *testing.T, s *Server) int {
	t.Helper()
	resp, body := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(s.Port())+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics of %s: %d", s.URL(), resp.StatusCode)
	}
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "mutualauth_http_requests_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			n += int(v)
		}
	}
	return n
}

// lbAccount is an account enrolled through the balancer; it logs in with
// its recovery codes, so logins never wait for a TOTP step.
type lbAccount struct {
	username, password string
	codes              []string
}

func lbEnroll(t *testing.T, s *Server, base, username string) *lbAccount {
	t.Helper()
	u, err := url.Parse(s.AdminInvite(t, username, "", false))
	if err != nil || !strings.HasPrefix(u.Path, "/enroll/") {
		t.Fatalf("invite URL %q", u)
	}
	a := &lbAccount{username: username, password: "plum orchard under seven moons"}
	a.codes = apiEnroll(t, newAPILoginClient(t, base), strings.TrimPrefix(u.Path, "/enroll/"), a.password)
	return a
}

// lbAnswer is one request's outcome through the balancer.
type lbAnswer struct {
	status int
	cookie string // the session cookie it set, if any
	body   []byte
	err    error
}

var lbClient = &http.Client{Timeout: faultWithin}

func lbCall(base, method, path string, body any, session string) lbAnswer {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return lbAnswer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "mutualauth_session", Value: session})
	}
	resp, err := lbClient.Do(req)
	if err != nil {
		return lbAnswer{err: err}
	}
	defer resp.Body.Close()
	a := lbAnswer{status: resp.StatusCode}
	a.body, _ = io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == "mutualauth_session" && c.Value != "" {
			a.cookie = c.Value
		}
	}
	return a
}

// cleanFailure reports whether a is a failure the bars allow while an
// instance dies: the balancer's 502 or 504, or the server's 503.
func cleanFailure(a lbAnswer) bool {
	return a.err == nil && (a.status == http.StatusBadGateway || a.status == http.StatusServiceUnavailable ||
		a.status == http.StatusGatewayTimeout)
}

// lbLog collects what the load saw.
type lbLog struct {
	mu         sync.Mutex
	violations []string
	logins     atomic.Int64 // completed
	loginFails atomic.Int64 // a step failed cleanly
	verifies   atomic.Int64
	verify5xx  atomic.Int64
	logouts    atomic.Int64
	inGrace    atomic.Int64 // 200 for a session within revocationGrace of its logout
}

func (l *lbLog) violate(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 20 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

// lbSession is a session the load knows about; ended is when its logout
// returned (zero while live).
type lbSession struct {
	token  string
	ending atomic.Bool  // a logout was sent
	ended  atomic.Int64 // UnixNano
}

// login runs one whole login of a with its next recovery code. It returns
// the session token, or "" after a clean failure (a violation is recorded
// for anything else).
func (l *lbLog) login(base string, a *lbAccount, keep int) string {
	if len(a.codes) <= keep {
		return ""
	}
	step := func(what string, ans lbAnswer, want int) bool {
		if ans.err == nil && ans.status == want {
			return true
		}
		if cleanFailure(ans) {
			l.loginFails.Add(1)
			return false
		}
		l.violate("login %s of %s: %d %v %s", what, a.username, ans.status, ans.err, ans.body)
		return false
	}
	begin := lbCall(base, "POST", "/api/v1/login/begin", map[string]any{"username": a.username}, "")
	if !step("begin", begin, 200) {
		return ""
	}
	var st apiLoginStep
	_ = json.Unmarshal(begin.body, &st)
	code := a.codes[len(a.codes)-1]
	a.codes = a.codes[:len(a.codes)-1]
	rec := lbCall(base, "POST", "/api/v1/login/recovery", map[string]any{"login_id": st.LoginID, "code": code}, "")
	if !step("recovery", rec, 200) {
		return ""
	}
	pw := lbCall(base, "POST", "/api/v1/login/password", map[string]any{"login_id": st.LoginID, "password": a.password}, "")
	if !step("password", pw, 200) {
		return ""
	}
	if pw.cookie == "" {
		l.violate("login of %s answered 200 without a session cookie", a.username)
		return ""
	}
	l.logins.Add(1)
	return pw.cookie
}

// verify checks s through the balancer: a live session must answer 200
// (or a clean 5xx), an ended one 401 once revocationGrace has passed.
func (l *lbLog) verify(base string, s *lbSession) {
	sent := time.Now().UnixNano()
	ended := s.ended.Load()
	ans := lbCall(base, "GET", "/auth/verify", nil, s.token)
	l.verifies.Add(1)
	switch {
	case cleanFailure(ans):
		l.verify5xx.Add(1)
	case ans.err != nil:
		l.violate("verify: no answer: %v", ans.err)
	case ended == 0 && ans.status != http.StatusOK && !s.ending.Load():
		l.violate("verify of a live session: %d %s", ans.status, ans.body)
	case ended != 0 && ans.status == http.StatusOK:
		if after := time.Duration(sent - ended); after > revocationGrace {
			l.violate("verify sent %v after the logout returned: 200", after)
		} else {
			l.inGrace.Add(1)
		}
	case ended != 0 && ans.status != http.StatusUnauthorized:
		l.violate("verify of an ended session: %d %s", ans.status, ans.body)
	}
}

// TestMultiInstanceBehindLoadBalancer is described at the top of the file.
func TestMultiInstanceBehindLoadBalancer(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-instance load test")
	}
	nginx := nginxBinary(t)
	pg := postgresDatabase(t)
	rs := redistest.StartT(t)
	lbPort := freePort(t)
	base := "http://localhost:" + strconv.Itoa(lbPort)
	dataDir := t.TempDir() // the shared secretbox key; the data is in PostgreSQL
	opts := ServerOptions{DatabaseURL: pg, RedisURL: rs.URL(), DataDir: dataDir,
		Env: []string{"MUTUALAUTH_PUBLIC_URL=" + base, "MUTUALAUTH_IP_RATE_LIMIT=0"}}
	a := startServer(t, opts)
	b := startServer(t, opts)
	startNginx(t, nginx, lbPort, a.Port(), b.Port())

	const accounts = 12
	var accts []*lbAccount
	for i := range accounts {
		accts = append(accts, lbEnroll(t, a, base, fmt.Sprintf("multi%d", i)))
	}

	l := &lbLog{}
	var (
		mu       sync.Mutex
		sessions []*lbSession
	)
	pick := func(i int) *lbSession {
		mu.Lock()
		defer mu.Unlock()
		if len(sessions) == 0 {
			return nil
		}
		return sessions[i%len(sessions)]
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
			}
		}()
	}
	// Logins: three workers, four accounts each.
	for w := range 3 {
		run(func(i int) {
			acct := accts[w*4+i%4]
			if tok := l.login(base, acct, 2); tok != "" {
				mu.Lock()
				sessions = append(sessions, &lbSession{token: tok})
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		})
	}
	// Verifies of live and ended sessions.
	for range 3 {
		run(func(i int) {
			if s := pick(i*7 + 3); s != nil {
				l.verify(base, s)
			} else {
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	// Logouts: end every third session, then check it at once.
	run(func(i int) {
		s := pick(i * 3)
		if s == nil || s.ended.Load() != 0 {
			time.Sleep(20 * time.Millisecond)
			return
		}
		s.ending.Store(true)
		for try := 0; try < 5; try++ {
			ans := lbCall(base, "DELETE", "/api/v1/session", nil, s.token)
			if ans.err == nil && (ans.status == http.StatusNoContent || ans.status == http.StatusUnauthorized && try > 0) {
				s.ended.Store(time.Now().UnixNano())
				l.logouts.Add(1)
				break
			}
			if !cleanFailure(ans) {
				l.violate("logout: %d %v %s", ans.status, ans.err, ans.body)
				return
			}
		}
		time.Sleep(revocationGrace)
		l.verify(base, s)
		time.Sleep(30 * time.Millisecond)
	})

	time.Sleep(3 * time.Second)
	// The balancer spreads the load over both instances.
	for _, s := range []*Server{a, b} {
		if n := servedRequests(t, s); n < 100 {
			t.Errorf("instance %s served %d requests before the kill, want both to share the load", s.URL(), n)
		} else {
			t.Logf("instance on port %d served %d requests before the kill", s.Port(), n)
		}
	}
	before := l.logins.Load()
	killedAt := time.Now()
	b.Kill(t)
	t.Logf("killed instance B (SIGKILL) after %d logins", before)
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("logins %d (%d failed cleanly), verifies %d (%d clean 5xx), logouts %d, 200s within %v of a logout: %d",
		l.logins.Load(), l.loginFails.Load(), l.verifies.Load(), l.verify5xx.Load(), l.logouts.Load(), revocationGrace, l.inGrace.Load())
	for _, v := range l.violations {
		t.Error(v)
	}
	if l.logins.Load() == before {
		t.Errorf("no login completed in the %v after instance B was killed", time.Since(killedAt).Round(time.Second))
	}
	if l.logouts.Load() == 0 || l.verifies.Load() == 0 {
		t.Error("the load ran no logout or no verify")
	}

	// Every session still live works on the surviving instance, and no
	// failed login left its account unable to log in.
	mu.Lock()
	defer mu.Unlock()
	for _, s := range sessions {
		ans := lbCall(base, "GET", "/auth/verify", nil, s.token)
		want := http.StatusOK
		if s.ended.Load() != 0 {
			want = http.StatusUnauthorized
		}
		if ans.err != nil || ans.status != want {
			t.Errorf("after the load, verify of a session (ended %v): %d %v, want %d", s.ended.Load() != 0, ans.status, ans.err, want)
		}
	}
	for _, acct := range accts {
		if len(acct.codes) == 0 {
			continue
		}
		if l.login(base, acct, 0) == "" {
			t.Errorf("after the load, %s cannot log in", acct.username)
		}
	}
}
