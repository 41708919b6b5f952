package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// bareFlag makes the bench binary serve the bare net/http limit instead of
// benchmarking: `bench -serve-bare 127.0.0.1:PORT`.
const bareFlag = "serve-bare"

// serveBare is the bare net/http limit: a trivial handler answering 200
// with one header (Remote-User, so the verify load client accepts it), in
// a process of its own as the server is.
func serveBare(addr string) error {
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Remote-User"] = bareUser
		w.WriteHeader(http.StatusOK)
	}))
}

var bareUser = []string{"bare"}

// bareProc is the running bare server.
type bareProc struct {
	cmd  *exec.Cmd
	host string
}

// startBare runs this binary again as the bare server and waits until it
// answers.
func startBare(ctx context.Context) (*bareProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(self, "-"+bareFlag, host)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &bareProc{cmd: cmd, host: host}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b.stop()
			return nil, fmt.Errorf("bare net/http server did not listen on %s: %v", host, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bareProc) pid() int { return b.cmd.Process.Pid }

func (b *bareProc) stop() {
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}

// LagStats is what the revocation phase measured.
type LagStats struct {
	Sessions int
	// Lag is, per session, how long after the logout on instance A
	// returned instance B still answered 200 (0 when B's first verify after
	// it was already 401).
	Lag []time.Duration
	// StaleA counts 200 answers of A to verifies sent after A's logout
	// returned; the rule is none.
	StaleA     int
	Errors     int
	FirstError string
}

// revocationLag logs in n sessions on A and ends each with a logout on A
// while a poller on B verifies it back to back; it records when B first
// answers 401 and whether A ever answers 200 after its logout returned.
func revocationLag(ctx context.Context, a *api, pl *pool, cookieName string, aHost, bHost string, n int) LagStats {
	st := LagStats{Sessions: n}
	fail := func(err error) {
		st.Errors++
		if st.FirstError == "" {
			st.FirstError = err.Error()
		}
	}
	for range n {
		sess, err := poolLogin(ctx, a, pl, cookieName, nil)
		if err != nil {
			fail(err)
			continue
		}
		cookie := sess.Name + "=" + sess.Value
		lcA, lcB := newLoadClient(aHost, 1), newLoadClient(bHost, 1)
		reqA, reqB := lcA.verifyRequest(cookie), lcB.verifyRequest(cookie)
		// B has the session in its cache before the logout.
		if r, err := lcB.conns[0].do(reqB, ""); err != nil || r.status != http.StatusOK {
			fail(fmt.Errorf("verify on B before the logout: %d, %v", r.status, err))
			lcA.close()
			lcB.close()
			continue
		}
		firstGone := make(chan time.Time, 1)
		go func() {
			for {
				r, err := lcB.conns[0].do(reqB, "")
				if err == nil && r.status == http.StatusUnauthorized {
					firstGone <- time.Now()
					return
				}
				if err != nil || r.status != http.StatusOK {
					firstGone <- time.Time{}
					return
				}
			}
		}()
		time.Sleep(2 * time.Millisecond)
		_, err = a.call(ctx, http.MethodDelete, "/api/v1/session", nil, http.StatusNoContent, nil, sess)
		returned := time.Now()
		if err != nil {
			fail(fmt.Errorf("logout on A: %w", err))
		}
		for range 5 {
			r, err := lcA.conns[0].do(reqA, "")
			if err == nil && r.status == http.StatusOK {
				st.StaleA++
			}
		}
		var gone time.Time
		select {
		case gone = <-firstGone:
		case <-time.After(5 * time.Second):
			fail(fmt.Errorf("instance B still answered 200 5 s after the logout"))
		}
		lcA.close()
		lcB.close()
		if gone.IsZero() {
			if err == nil {
				fail(fmt.Errorf("polling B failed"))
			}
			continue
		}
		st.Lag = append(st.Lag, max(gone.Sub(returned), 0))
	}
	slices.Sort(st.Lag)
	return st
}
