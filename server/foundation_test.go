package server

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestHealthAndReadiness(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	if r := ts.do(t, "GET", "/healthz", nil, nil); r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if r := ts.do(t, "GET", "/readyz", nil, &ready); r.StatusCode != 200 || ready.Checks["database"] != "ok" || ready.Checks["session_store"] != "ok" {
		t.Fatalf("readyz %d %+v", r.StatusCode, ready)
	}
}

func TestJWKSAndDiscovery(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	var set struct{ Keys []map[string]string }
	r := ts.do(t, "GET", "/.well-known/jwks.json", nil, &set)
	if r.StatusCode != 200 || len(set.Keys) != 1 {
		t.Fatalf("jwks %d %+v", r.StatusCode, set)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["d"] != "" {
		t.Fatalf("key %+v", k)
	}
	canon := `{"crv":"P-256","kty":"EC","x":"` + k["x"] + `","y":"` + k["y"] + `"}`
	sum := sha256.Sum256([]byte(canon))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); k["kid"] != want {
		t.Fatalf("kid %s, RFC 7638 thumbprint %s", k["kid"], want)
	}
	xb, _ := base64.RawURLEncoding.DecodeString(k["x"])
	yb, _ := base64.RawURLEncoding.DecodeString(k["y"])
	if len(xb) != 32 || len(yb) != 32 {
		t.Fatalf("x, y lengths %d, %d", len(xb), len(yb))
	}
	if _, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, xb...), yb...)); err != nil {
		t.Fatalf("published key is not on P-256: %v", err)
	}
	var disc map[string]any
	ts.do(t, "GET", "/.well-known/mutualauth", nil, &disc)
	if disc["issuer"] != ts.URL || disc["jwks_uri"] != ts.URL+"/.well-known/jwks.json" {
		t.Fatalf("discovery %+v", disc)
	}
	algs, _ := json.Marshal(disc["proof_signing_alg_values_supported"])
	if string(algs) != `["ES256"]` {
		t.Fatalf("algs %s", algs)
	}
	if hs, ok := disc["key_handovers"].([]any); !ok || len(hs) != 0 {
		t.Fatalf("key_handovers before any rotation: %#v, want []", disc["key_handovers"])
	}
}

func TestProblemsAndHeaders(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	var p Problem
	r := ts.do(t, "GET", "/api/v1/nope", nil, &p)
	if r.StatusCode != 404 || p.Code != "not_found" || p.Status != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("404: %d %+v %s", r.StatusCode, p, r.Header.Get("Content-Type"))
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
		if r.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, d := range []string{"frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP lacks %s: %s", d, csp)
		}
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS under http")
	}
	big := `{"x":"` + strings.Repeat("a", 70*1024) + `"}`
	r = ts.do(t, "POST", "/api/v1/login/begin", big, &p)
	if r.StatusCode != http.StatusRequestEntityTooLarge || p.Code != "body_too_large" {
		t.Fatalf("big body: %d %+v", r.StatusCode, p)
	}
}

func TestMetricsCountRoutes(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	ts.do(t, "GET", "/healthz", nil, nil)
	r := ts.do(t, "GET", "/metrics", nil, nil)
	body, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(body), `mutualauth_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Fatalf("metrics lack the healthz request:\n%s", body)
	}
}
