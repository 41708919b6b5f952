package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"mutualauth/server/token"
	"mutualauth/store"
	redisstore "mutualauth/store/redis"
	"mutualauth/store/redis/redistest"
)

// discardWriter is a ResponseWriter that keeps only the header map, so the
// benchmark measures the handler rather than a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkVerifyHit runs /auth/verify for one live session through the
// Redis store with its client-side cache, as `make bench` does over HTTP;
// run it with -cpuprofile or -memprofile to see where a verify goes.
func BenchmarkVerifyHit(b *testing.B) {
	ctx := context.Background()
	st, err := redisstore.Open(ctx, redistest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if !st.ClientCache() {
		b.Fatal("no client-side cache")
	}
	tok, err := token.New()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateSession(ctx, store.Session{
		ID: "bench", TokenHash: token.HashHex(tok), UserID: "u-bench", Username: "bench", DisplayName: "Bench",
		Groups: []string{"user"}, AMR: []string{"pwd", "otp"}, AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(30 * time.Minute),
	}); err != nil {
		b.Fatal(err)
	}
	defer st.DeleteSession(ctx, token.HashHex(tok))
	h := &VerifyHandler{
		Issuer:   "http://localhost",
		Sessions: &SessionManager{Store: st, Idle: 30 * time.Minute, Absolute: time.Hour, Now: time.Now},
		Metrics:  NewMetrics(),
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/auth/verify", nil)
		r.Header.Set("Cookie", "mutualauth_session="+tok)
		w := &discardWriter{h: make(http.Header, 16)}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("verify: %d", w.status)
			}
		}
	})
}
