package server

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exchangeFrom posts to /api/v1/token as the client at ip (through the
// trusted proxy's X-Forwarded-For).
func (e *loginEnv) exchangeFrom(ip, id, secret string) httpReply {
	e.t.Helper()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	return e.client().call("POST", "/api/v1/token", map[string]string{"code": strings.Repeat("A", 43)},
		"Authorization", basic, "X-Forwarded-For", ip)
}

func requireThrottled(t *testing.T, what string, r httpReply) {
	t.Helper()
	requireProblem(t, what, r, 429, "throttled")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 30 {
		t.Fatalf("%s: Retry-After %q", what, r.header.Get("Retry-After"))
	}
}

func TestTokenClientAuthenticationThrottled(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"MUTUALAUTH_TRUSTED_PROXIES": "127.0.0.0/8,::1/128"})
	shop := e.widgetClient("Shop", "https://shop.example")
	other := e.widgetClient("Other", "https://other.example")

	// Per client: five wrong secrets, then even the right one from another
	// IP waits.
	for i := range 5 {
		requireProblem(t, "wrong secret "+strconv.Itoa(i), e.exchangeFrom("192.0.2.1", shop.ID, "wrong"), 401, "invalid_client")
	}
	requireThrottled(t, "shop from another IP", e.exchangeFrom("192.0.2.2", shop.ID, shop.Secret))
	// Per IP: five unknown clients from one IP, then a good client from
	// that IP waits.
	for i := range 5 {
		requireProblem(t, "unknown client", e.exchangeFrom("192.0.2.3", fmt.Sprintf("mac_%032d", i), "x"), 401, "invalid_client")
	}
	requireThrottled(t, "other from the flooding IP", e.exchangeFrom("192.0.2.3", other.ID, other.Secret))
	requireProblem(t, "other from a quiet IP", e.exchangeFrom("192.0.2.4", other.ID, other.Secret), 401, "invalid_grant")
	if n := len(e.audit("widget.token", "throttled")); n != 2 {
		t.Fatalf("%d throttled refusals audited, want 2", n)
	}
	// The delay runs out.
	e.clk.Advance(31 * time.Second)
	requireProblem(t, "shop after the delay", e.exchangeFrom("192.0.2.2", shop.ID, shop.Secret), 401, "invalid_grant")
}

func TestTokenClientAuthenticationFloodAuditAggregated(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"MUTUALAUTH_TRUSTED_PROXIES": "127.0.0.0/8,::1/128"})
	const flood = 250
	for i := range flood {
		ip := fmt.Sprintf("198.51.100.%d", i%250)
		r := e.exchangeFrom(ip, fmt.Sprintf("mac_%032d", i), "x")
		if r.status != 401 && r.status != 429 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	rows := len(e.audit("widget.token", "invalid_client")) + len(e.audit("widget.token", "throttled"))
	// The first 20 of the minute, then the 100th and the 1000th...
	if rows < 20 || rows > 22 {
		t.Fatalf("%d failed client authentications wrote %d audit rows, want 20 to 22", flood, rows)
	}
	found := false
	for _, ev := range e.audit("widget.token", "invalid_client") {
		found = found || strings.Contains(ev.Detail, "refusal 100 of this minute")
	}
	if !found {
		t.Fatal("no aggregated audit row says how many refusals there were")
	}
}
