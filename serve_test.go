package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startRun runs the program in process with env (a listen address and a
// data dir are added when missing) until the test ends, once /healthz
// answers. It returns the listen address and the log.
func startRun(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	if env["MUTUALAUTH_LISTEN"] == "" {
		env["MUTUALAUTH_LISTEN"] = freeAddr(t)
	}
	addr := env["MUTUALAUTH_LISTEN"]
	if env["MUTUALAUTH_PUBLIC_URL"] == "" {
		_, port, _ := net.SplitHostPort(addr)
		env["MUTUALAUTH_PUBLIC_URL"] = "http://localhost:" + port
	}
	if env["MUTUALAUTH_DATA_DIR"] == "" {
		env["MUTUALAUTH_DATA_DIR"] = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"mutualauth"}, envOf(env), out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(25 * time.Second):
			t.Error("no shutdown")
		}
	})
	waitHealthy(t, http.DefaultClient, "http://"+addr, done, out)
	return addr, out
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMetricsOnTheirOwnListenerWithAToken(t *testing.T) {
	maddr := freeAddr(t)
	const tok = "metrics-token-0123456789"
	addr, _ := startRun(t, map[string]string{"MUTUALAUTH_METRICS_LISTEN": maddr, "MUTUALAUTH_METRICS_TOKEN": tok})
	if resp, _ := get(t, "http://"+addr+"/metrics"); resp.StatusCode != 404 {
		t.Fatalf("/metrics on the main listener: %d, want 404", resp.StatusCode)
	}
	resp, _ := get(t, "http://"+maddr+"/metrics")
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("/metrics without the token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := get(t, "http://"+maddr+"/metrics", "Authorization", "Bearer wrong"); resp.StatusCode != 401 {
		t.Fatalf("/metrics with a wrong token: %d", resp.StatusCode)
	}
	resp, body := get(t, "http://"+maddr+"/metrics", "Authorization", "Bearer "+tok)
	if resp.StatusCode != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics with the token: %d", resp.StatusCode)
	}
}

func TestMetricsTokenOnTheMainListener(t *testing.T) {
	const tok = "metrics-token-0123456789"
	addr, _ := startRun(t, map[string]string{"MUTUALAUTH_METRICS_TOKEN": tok})
	if resp, _ := get(t, "http://"+addr+"/metrics"); resp.StatusCode != 401 {
		t.Fatalf("/metrics without the token: %d", resp.StatusCode)
	}
	if resp, _ := get(t, "http://"+addr+"/metrics", "Authorization", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("/metrics with the token: %d", resp.StatusCode)
	}
}

func TestStartWarnsWhenTheLocalPublicURLNamesAnotherPort(t *testing.T) {
	_, out := startRun(t, map[string]string{"MUTUALAUTH_PUBLIC_URL": "http://localhost:8080"})
	if !strings.Contains(out.String(), "the public URL names another port than the server listens on") {
		t.Fatalf("no warning about the port mismatch:\n%s", out.String())
	}
	_, out = startRun(t, map[string]string{})
	if strings.Contains(out.String(), "names another port") {
		t.Fatalf("a warning though the ports match:\n%s", out.String())
	}
}

func TestHelpSucceeds(t *testing.T) {
	for _, args := range [][]string{{"mutualauth", "serve", "--help"}, {"mutualauth", "-h"}, {"mutualauth", "help"}} {
		var out syncBuffer
		if err := run(context.Background(), args, envOf(nil), &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(out.String(), "-public-url") && !strings.Contains(out.String(), "usage") {
			t.Fatalf("%v printed no usage:\n%s", args, out.String())
		}
	}
}
