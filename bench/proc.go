package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildServer compiles the server (the module's main package) into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mutualauth")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the benchmark inside the mutualauth module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// serverProc is the running server binary.
type serverProc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	base    string // http://127.0.0.1:port
	host    string // 127.0.0.1:port
	issuer  string // http://localhost:port, MUTUALAUTH_PUBLIC_URL
	dataDir string
	logPath string
}

// serverEnv is the configuration the server runs with.
type serverEnv struct {
	RedisURL    string
	DatabaseURL string
	DataDir     string
	Extra       []string // more NAME=value pairs, e.g. MUTUALAUTH_HASH_CONCURRENCY
}

func startServer(ctx context.Context, bin string, se serverEnv, logPath string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	issuer := "http://localhost:" + strconv.Itoa(port)
	// Later entries win (os/exec keeps the last value of a name).
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MUTUALAUTH_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"MUTUALAUTH_LISTEN="+addr,
		"MUTUALAUTH_PUBLIC_URL="+issuer,
		"MUTUALAUTH_DATA_DIR="+se.DataDir,
		"MUTUALAUTH_REDIS_URL="+se.RedisURL,
		"MUTUALAUTH_IP_RATE_LIMIT=0",
	)
	if se.DatabaseURL != "" {
		env = append(env, "MUTUALAUTH_DATABASE_URL="+se.DatabaseURL)
	}
	env = append(env, se.Extra...)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{}), base: "http://" + addr, host: addr, issuer: issuer,
		dataDir: se.DataDir, logPath: logPath}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if err := p.waitHealthy(ctx, 60*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *serverProc) waitHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/healthz", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited at start:\n%s", p.logTail(4096))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not answer /healthz within %v:\n%s", within, p.logTail(4096))
		}
	}
}

// stop sends SIGTERM (graceful shutdown) and kills the server if it has not
// exited within 10 s.
func (p *serverProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

func (p *serverProc) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// procStatus reads fields such as VmRSS and VmHWM (kB) from
// /proc/<pid>/status (proc(5)).
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	return parseProcStatus(b), nil
}

func parseProcStatus(b []byte) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}

// resetPeakRSS sets VmHWM back to the current RSS (proc(5), clear_refs "5").
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
