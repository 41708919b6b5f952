package redistest

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func client(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestURLFromEnvironment(t *testing.T) {
	t.Setenv(EnvURL, "redis://example.invalid:6379/3")
	if got := URL(t); got != "redis://example.invalid:6379/3" {
		t.Fatalf("URL = %q, want the environment's", got)
	}
}

func TestURLAnswers(t *testing.T) {
	u := URL(t)
	if err := client(t, u).Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING %s: %v", u, err)
	}
	if again := URL(t); again != u {
		t.Fatalf("second URL = %q, first %q", again, u)
	}
}

func TestNewPrefix(t *testing.T) {
	a, b := NewPrefix(), NewPrefix()
	if a == b {
		t.Fatalf("two prefixes are equal: %q", a)
	}
	if strings.ContainsAny(a, "{}") || !strings.HasSuffix(a, ":") {
		t.Fatalf("prefix %q has braces or no trailing colon", a)
	}
}

func TestRestartKeepsAppendOnlyData(t *testing.T) {
	ctx := context.Background()
	srv := StartT(t, "--appendonly", "yes", "--appendfsync", "always")
	c := client(t, srv.URL())
	if err := c.Set(ctx, "k", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ping(srv.Addr()); err == nil {
		t.Fatal("stopped server still answers PING")
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k").Result()
	if err != nil {
		t.Fatalf("GET after restart: %v", err)
	}
	if got != "kept" {
		t.Fatalf("GET after restart = %q, want %q", got, "kept")
	}
}

func TestRestartWithoutPersistenceStartsEmpty(t *testing.T) {
	ctx := context.Background()
	srv := StartT(t)
	c := client(t, srv.URL())
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("GET after restart without persistence: %v, want redis.Nil", err)
	}
}

func TestSentinel(t *testing.T) {
	ctx := context.Background()
	primary := StartT(t)
	sentinel, err := StartSentinel("mymaster", primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sentinel.Close() })
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: []string{sentinel.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Set(ctx, "k", "via sentinel", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := client(t, primary.URL()).Get(ctx, "k").Result()
	if err != nil || got != "via sentinel" {
		t.Fatalf("GET on the primary = %q, %v", got, err)
	}
}
