package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"mutualauth/internal/testenv"
	"mutualauth/store/redis/redistest"
)

// Environment variables the harness reads (see the package comment).
const (
	envChrome      = "MUTUALAUTH_E2E_CHROME"
	envScreenshots = "MUTUALAUTH_E2E_SCREENSHOTS"
	envTestRedis   = redistest.EnvURL
	envTestPG      = testenv.EnvPostgresURL
)

const (
	healthyWithin  = 20 * time.Second
	stopWithin     = 30 * time.Second // the server itself gives requests 20 s to finish
	commandWithin  = 30 * time.Second
	browserTimeout = 90 * time.Second
)

// serverBin is the server binary that TestMain builds for every test.
var serverBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mutualauth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "mutualauth")
	if err := buildServer(serverBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the server:", err)
		return 1
	}
	return m.Run()
}

// buildServer builds the module's main package into bin, with the race
// detector when this test binary has it.
func buildServer(bin string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("not inside the mutualauth module")
	}
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// ServerOptions configure startServer. The zero value gives SQLite in a fresh
// data directory and a redis-server of the server's own.
type ServerOptions struct {
	// DatabaseURL selects PostgreSQL (see postgresDatabase); empty means
	// SQLite in the data directory.
	DatabaseURL string
	// RedisURL is the session store. Empty means MUTUALAUTH_TEST_REDIS_URL
	// when that is set, and otherwise a redis-server started for this server
	// alone (Server.Redis), stopped at cleanup.
	RedisURL string
	// MemorySessions runs the server without Redis (in-memory sessions).
	MemorySessions bool
	// DataDir reuses a data directory, e.g. to restart a server on the same
	// keys and SQLite file. Empty means a fresh one.
	DataDir string
	// Port reuses a port, so that a restarted server keeps its public URL
	// (and so its origin and WebAuthn RP). 0 means a free one.
	Port int
	// Env holds extra KEY=VALUE settings; they override the harness's.
	Env []string
	// HTTPS, when set, makes the public URL https:// (the test passes the
	// MUTUALAUTH_TLS_* settings in Env) and is the TLS configuration the
	// harness's own requests use.
	HTTPS *tls.Config
}

// Server is a running mutualauth binary.
type Server struct {
	url      string
	port     int
	dataDir  string
	redisURL string
	redis    *redistest.Server
	env      []string
	logs     *logBuffer

	https    *tls.Config
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error // set before exited is closed
	stopOnce sync.Once
}

// startServer starts the server binary and waits until GET /healthz answers
// 200. At cleanup it stops the server with SIGTERM, fails the test if the
// server did not shut down cleanly or reported a data race, and prints the
// server's output when the test has failed.
func startServer(t *testing.T, opts ServerOptions) *Server {
	t.Helper()
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	var redisURL string
	var own *redistest.Server
	switch {
	case opts.MemorySessions:
	case opts.RedisURL != "":
		redisURL = opts.RedisURL
	case os.Getenv(envTestRedis) != "":
		redisURL = redistest.URL(t)
	default:
		own = redistest.StartT(t)
		redisURL = own.URL()
	}

	// A free port can be taken by another process before the server binds
	// it; then try another.
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			port = freePort(t)
		}
		scheme := "http"
		if opts.HTTPS != nil {
			scheme = "https"
		}
		s := &Server{
			https:    opts.HTTPS,
			url:      scheme + "://localhost:" + strconv.Itoa(port),
			port:     port,
			dataDir:  dataDir,
			redisURL: redisURL,
			redis:    own,
			logs:     &logBuffer{},
		}
		s.env = s.environ(opts)
		err := s.start(t)
		if err == nil {
			return s
		}
		if opts.Port == 0 && attempt < 3 && strings.Contains(s.Logs(), "address already in use") {
			t.Logf("port %d was taken; trying another", port)
			continue
		}
		t.Fatalf("server: %v\n--- server output ---\n%s", err, s.Logs())
	}
}

// environ is the server's environment: this process's, without any
// MUTUALAUTH_ setting, plus the harness's settings and opts.Env.
func (s *Server) environ(opts ServerOptions) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MUTUALAUTH_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"MUTUALAUTH_LISTEN=127.0.0.1:"+strconv.Itoa(s.port),
		"MUTUALAUTH_PUBLIC_URL="+s.url,
		"MUTUALAUTH_DATA_DIR="+s.dataDir,
		"MUTUALAUTH_LOG_LEVEL=debug",
	)
	if s.redisURL != "" {
		env = append(env, "MUTUALAUTH_REDIS_URL="+s.redisURL)
	}
	if opts.DatabaseURL != "" {
		env = append(env, "MUTUALAUTH_DATABASE_URL="+opts.DatabaseURL)
	}
	return append(env, opts.Env...)
}

func (s *Server) start(t *testing.T) error {
	s.cmd = exec.Command(serverBin, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitHealthy(); err != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		return err
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("--- output of the server at %s ---\n%s", s.url, s.Logs())
		}
	})
	return nil
}

// HTTPClient is a client for the server: plain, or with the TLS
// configuration of ServerOptions.HTTPS.
func (s *Server) HTTPClient(timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if s.https != nil {
		c.Transport = &http.Transport{TLSClientConfig: s.https.Clone()}
	}
	return c
}

func (s *Server) waitHealthy() error {
	client := s.HTTPClient(2 * time.Second)
	deadline := time.Now().Add(healthyWithin)
	var last string
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited before it was healthy: %v", s.waitErr)
		default:
		}
		resp, err := client.Get(s.url + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /healthz did not answer 200 within %s (last: %s)", healthyWithin, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the server to exit; it fails the test if
// the server had already died, did not exit cleanly, or reported a data race.
// Stopping twice does nothing. Cleanup calls it; call it directly to restart
// a server (startServer again with the same DataDir and Port).
func (s *Server) Stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			t.Errorf("the server at %s had exited before the test stopped it: %v", s.url, s.waitErr)
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				t.Errorf("the server at %s did not shut down cleanly after SIGTERM: %v", s.url, s.waitErr)
			}
		case <-time.After(stopWithin):
			_ = s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("the server at %s did not stop within %s of SIGTERM; killed it", s.url, stopWithin)
		}
		if strings.Contains(s.Logs(), "WARNING: DATA RACE") {
			t.Errorf("the server at %s reported a data race", s.url)
		}
	})
}

// URL is the server's public URL (its issuer), http://localhost:PORT.
func (s *Server) URL() string { return s.url }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.port }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// RedisURL is the server's session store, or "" for in-memory sessions.
func (s *Server) RedisURL() string { return s.redisURL }

// Redis is the redis-server started for this server alone, or nil when the
// server uses a shared Redis or none. Tests may Stop and Restart it.
func (s *Server) Redis() *redistest.Server { return s.redis }

// Logs returns what the server has printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// Command runs the server binary with args and the server's configuration
// (data directory, database, public URL), as an operator would next to the
// running server, and returns its standard output. It fails the test when
// the command fails.
func (s *Server) Command(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin, args...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mutualauth %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// AdminInvite runs `mutualauth admin invite` and returns the enrollment URL
// it prints, failing the test unless it prints exactly one line.
func (s *Server) AdminInvite(t *testing.T, username, displayName string, admin bool) string {
	t.Helper()
	args := []string{"admin", "invite", "--username", username}
	if displayName != "" {
		args = append(args, "--display-name", displayName)
	}
	if admin {
		args = append(args, "--admin")
	}
	out := s.Command(t, args...)
	line, rest, _ := strings.Cut(out, "\n")
	if line == "" || rest != "" {
		t.Fatalf("admin invite printed %q; want one line, the enrollment URL", out)
	}
	return line
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a process's output; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// postgresDatabase creates an empty database on the PostgreSQL server of
// MUTUALAUTH_TEST_POSTGRES_URL, drops it at cleanup, and returns its URL.
// When that variable is unset it skips the test (fails it in CI).
func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", envTestPG)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "mutualauth_e2e_" + hex.EncodeToString(suffix)

	run := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := run("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := run("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// httpGet sends GET url and returns the response (its body read and closed)
// and the body.
func httpGet(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, body
}

// getJSON sends GET url, requires 200 with a JSON body (application/json or
// a +json type such as application/jwk-set+json), and decodes it into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, body := httpGet(t, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, want 200\n%s", url, resp.Status, body)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		t.Fatalf("GET %s: Content-Type %q, want application/json or a +json type", url, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
}

// newBrowser starts a headless Chromium with a fresh profile and returns the
// context of its first tab, which expires after browserTimeout. When the test
// has failed, cleanup saves a screenshot and prints the page's console before
// it closes the browser. Without a browser the test skips, or fails when
// CI=true or MUTUALAUTH_TEST_REQUIRE=1 (testenv.Missing). In -short mode it
// skips. extra adds options to the browser's (HOME for an NSS database, say).
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	exe := chromeBinary(t)
	profile, err := os.MkdirTemp("", "mutualauth-e2e-chrome-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	closeBrowser := func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		_ = os.RemoveAll(profile)
	}
	// The first Run binds the browser's life to its context, so it gets the
	// tab's context, which has no deadline.
	if err := chromedp.Do(tabCtx); err != nil {
		closeBrowser()
		t.Fatalf("start %s: %v", exe, err)
	}
	console := &logBuffer{}
	messages := chromedp.Console(tabCtx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(console, "%s %s\n", m.Time.Format("15:04:05.000"), m)
		}
	}()

	ctx, cancel := context.WithTimeout(tabCtx, browserTimeout)
	t.Cleanup(func() {
		if t.Failed() {
			sctx, cancelShot := context.WithTimeout(tabCtx, 10*time.Second)
			if path, err := saveScreenshot(t, sctx, "failure"); err != nil {
				t.Logf("no failure screenshot: %v", err)
			} else {
				t.Logf("failure screenshot: %s", path)
			}
			cancelShot()
			if loc, err := chromedp.Run(tabCtx, chromedp.Location()); err == nil {
				t.Logf("the browser was at %s", loc)
			}
			t.Logf("--- browser console ---\n%s", console.String())
		}
		cancel()
		closeBrowser()
	})
	return ctx
}

// chromeBinary finds the browser: MUTUALAUTH_E2E_CHROME, else the first of
// the usual names on PATH.
func chromeBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envChrome); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("%s=%s: %v", envChrome, p, err)
		}
		return found
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if found, err := exec.LookPath(name); err == nil {
			return found
		}
	}
	testenv.Missing(t, "Chromium", "apt-get install chromium, or set "+envChrome+" to a Chrome binary")
	return ""
}

// screenshot saves a full-page PNG of the tab as
// <screenshots>/<TestName>/NN-name.png, logs its path and returns it.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	path, err := saveScreenshot(t, ctx, name)
	if err != nil {
		t.Fatalf("screenshot %q: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

var shots = struct {
	sync.Mutex
	count map[string]int // screenshots taken so far, by test name
}{count: map[string]int{}}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func saveScreenshot(t *testing.T, ctx context.Context, name string) (string, error) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	root := os.Getenv(envScreenshots)
	if root == "" {
		root = "screenshots"
	}
	dir, err := filepath.Abs(filepath.Join(root, unsafeChars.ReplaceAllString(t.Name(), "_")))
	if err != nil {
		return "", err
	}

	shots.Lock()
	n := shots.count[t.Name()] + 1
	shots.count[t.Name()] = n
	shots.Unlock()
	if n == 1 {
		// Drop the previous run's screenshots of this test.
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", n, unsafeChars.ReplaceAllString(name, "_")))
	return path, os.WriteFile(path, png, 0o644)
}

// enableVirtualAuthenticator attaches a CTAP 2.1 platform authenticator to
// the tab (DevTools WebAuthn domain) that holds resident keys, verifies the
// user and answers presence checks by itself, and returns its id.
func enableVirtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	if res.AuthenticatorID == "" {
		t.Fatal("WebAuthn.addVirtualAuthenticator returned no id")
	}
	return res.AuthenticatorID
}

// virtualCredentials lists the credentials the virtual authenticator holds.
func virtualCredentials(t *testing.T, ctx context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
