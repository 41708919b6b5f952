package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mutualauth/internal/testenv"
)

// EnvURL names the environment variable that points the tests at an existing
// Redis instead of a throwaway one.
const EnvURL = "MUTUALAUTH_TEST_REDIS_URL"

const (
	readyWithin = 15 * time.Second
	stopWithin  = 10 * time.Second
	logTail     = 8 << 10
)

// ErrNoRedisServer means no redis-server binary is on PATH.
var ErrNoRedisServer = errors.New("redis-server not found on PATH: install Redis (e.g. apt-get install redis-server) or set " + EnvURL + " to the URL of a running Redis")

var shared struct {
	once sync.Once
	url  string
	err  error
}

// Wanted reports whether tests that run on either ephemeral store (the
// in-memory one or Redis) should use Redis: when MUTUALAUTH_TEST_REDIS_URL
// is set, or where missing programs must fail the tests (testenv.Required:
// CI=true, MUTUALAUTH_TEST_REQUIRE=1). Elsewhere they use the in-memory
// store, which passes the same conformance suite and needs nothing.
func Wanted() bool {
	return os.Getenv(EnvURL) != "" || testenv.Required()
}

// Need ends the test (testenv.Missing: a skip, or a failure in CI) when
// there is no redis-server on PATH to start.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Missing(t, "redis-server", "apt-get install redis-server, or set "+EnvURL+" to a running Redis")
	}
}

// URL returns the Redis URL tests should use: MUTUALAUTH_TEST_REDIS_URL when
// set, otherwise the URL of a throwaway redis-server started once per test
// process. Without redis-server it ends the test with [Need]; it fails the
// test when the server does not start.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	Need(t)
	shared.once.Do(func() {
		srv, err := Start()
		if err != nil {
			shared.err = err
			return
		}
		shared.url = srv.URL()
		// Nothing is written without persistence; the server keeps running
		// until the test process exits.
		_ = os.RemoveAll(srv.dir)
	})
	if shared.err != nil {
		t.Fatalf("redistest: %v", shared.err)
	}
	return shared.url
}

// NewPrefix returns a random key prefix, such as "test:3f9a0c6e1b2d:".
func NewPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test:" + hex.EncodeToString(b) + ":"
}

// Server is a redis-server child process on 127.0.0.1 that can be stopped
// and restarted on the same port and data directory.
type Server struct {
	bin  string
	conf string // config file given first on the command line, if any
	// masterName is the primary a sentinel monitors.
	masterName string
	args       []string
	dir        string
	port       int
	log        *tail

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a redis-server on a free port of 127.0.0.1 with persistence
// off and a fresh temporary directory as its working directory. args are
// appended to the command line, so they override those defaults, e.g.
// Start("--appendonly", "yes").
func Start(args ...string) (*Server, error) {
	return start("", args)
}

// StartT is [Start] for a test: it ends the test with [Need] when there is no
// redis-server, fails it when the server does not start, and closes the
// server when the test ends.
func StartT(t testing.TB, args ...string) *Server {
	t.Helper()
	Need(t)
	s, err := Start(args...)
	return forTest(t, s, err)
}

// forTest fails t on err, else closes s when t ends.
func forTest(t testing.TB, s *Server, err error) *Server {
	t.Helper()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// start starts a server; conf, when not empty, is the name of a config file
// to create in the server's directory with the given content.
func start(conf string, args []string, confLines ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedisServer
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{bin: bin, args: args, dir: dir, log: &tail{}}
	if conf != "" {
		s.conf = filepath.Join(dir, conf)
		content := strings.Join(confLines, "\n") + "\n"
		if err := os.WriteFile(s.conf, []byte(content), 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("redistest: %w", err)
		}
	}
	// A free port may be taken by someone else before redis-server binds
	// it; try a few.
	for range 3 {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, err
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir returns the server's working directory (where AOF and RDB files go).
func (s *Server) Dir() string { return s.dir }

// Stop shuts the server down (SIGTERM, so an append-only file is flushed) and
// waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(stopWithin):
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("redistest: redis-server on %s did not stop within %v; killed", s.Addr(), stopWithin)
}

// Restart stops the server if it runs and starts it again with the same
// port, arguments and directory.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	if rmErr := os.RemoveAll(s.dir); err == nil {
		err = rmErr
	}
	return err
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("redistest: redis-server on %s is already running", s.Addr())
	}
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	)
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(readyWithin)
	for {
		if ping(s.Addr()) == nil {
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redistest: redis-server on %s exited at start:\n%s", s.Addr(), s.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redistest: redis-server on %s did not answer PING within %v:\n%s", s.Addr(), readyWithin, s.log)
		}
	}
}

// ping sends PING and expects +PONG (not -LOADING while an AOF is replayed).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last logTail bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > logTail {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-logTail:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// Pause stops the server process (SIGSTOP): it keeps its connections but
// answers nothing until [Server.Resume].
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("redistest: redis-server on %s is not running", s.Addr())
	}
	return s.cmd.Process.Signal(sig)
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it to
// exit. Killing a stopped server does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	err := cmd.Process.Kill()
	<-done
	return err
}
