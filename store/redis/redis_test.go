package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
	"mutualauth/store/redis/redistest"
	"mutualauth/store/storetest"
)

// newTestStore returns a store on url with a fresh prefix. Its keys are
// deleted when the test ends.
func newTestStore(t *testing.T, url string) *Store {
	t.Helper()
	cfg, err := parseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	prefix := redistest.NewPrefix()
	t.Cleanup(func() { deleteKeys(t, cfg, prefix) })
	s, err := openConfig(context.Background(), cfg, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// deleteKeys removes every key under prefix, on every master.
func deleteKeys(t *testing.T, cfg *config, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := cfg.newClient()
	defer c.Close()
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, del)
	} else {
		err = del(ctx, c.(*redis.Client))
	}
	if err != nil {
		t.Logf("delete test keys under %q: %v", prefix, err)
	}
}

// rawClient is a plain client on url for inspecting keys.
func rawClient(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	cfg, err := parseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.newClient()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestEphemeral(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral {
		s := newTestStore(t, url)
		if !s.ClientCache() {
			t.Fatalf("%s gave a store without the client-side cache", url)
		}
		return s
	})
}

// TestEphemeralNoClientCache runs the suite on a standalone Redis with the
// client-side cache off; TestEphemeral has it on.
func TestEphemeralNoClientCache(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral {
		s := newTestStore(t, withParam(url, "client_cache=off"))
		if s.ClientCache() {
			t.Fatal("client_cache=off gave a store with a client-side cache")
		}
		return s
	})
}

// TestEphemeralCluster runs the suite through a ClusterClient against a real
// one-node Redis Cluster, which rejects any command or script whose keys span
// slots.
func TestEphemeralCluster(t *testing.T) {
	srv := redistest.StartClusterT(t)
	url := srv.ClusterURL()
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral {
		s := newTestStore(t, url)
		if _, ok := s.c.(*redis.ClusterClient); !ok {
			t.Fatalf("%s gave a %T, want a cluster client", url, s.c)
		}
		return s
	})
}

// TestEphemeralSentinel runs the suite through a Sentinel-backed client.
func TestEphemeralSentinel(t *testing.T) {
	primary := redistest.StartT(t)
	sentinel, err := redistest.StartSentinel("mymaster", primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sentinel.Close() })
	url := sentinel.SentinelURL(0)
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return newTestStore(t, url) })
}

func TestKeyLayout(t *testing.T) {
	ctx := context.Background()
	url := redistest.URL(t)
	s := newTestStore(t, url)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, url)

	if err := s.Put(ctx, "login:abc", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sess := store.Session{
		ID: "sid", TokenHash: "0123abcd", UserID: "user-1",
		CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleExpiresAt: now.Add(30 * time.Minute),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		s.prefix + "kv:{login:abc}":      "string",
		s.prefix + "s:{0123abcd}":        "hash",
		s.prefix + "u:{user-1}:sessions": "zset",
	}
	for key, typ := range want {
		got, err := raw.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != typ {
			t.Errorf("TYPE %s = %q, want %q", key, got, typ)
		}
		if strings.ContainsAny(s.prefix, "{}") {
			t.Fatalf("prefix %q contains a brace", s.prefix)
		}
	}
	keys, err := raw.Keys(ctx, s.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Errorf("keys under the prefix: %q, want exactly %d", keys, len(want))
	}
	for _, k := range keys {
		lb, rb := strings.Index(k, "{"), strings.Index(k, "}")
		if lb < len(s.prefix) || rb < lb+2 {
			t.Errorf("key %q has no non-empty hash tag after the prefix", k)
		}
	}
}

func TestTTLs(t *testing.T) {
	ctx := context.Background()
	url := redistest.URL(t)
	s := newTestStore(t, url)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, url)
	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := raw.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if err := s.Put(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := pttl(s.kvKey("k")); d <= 0 || d > time.Hour {
		t.Errorf("PTTL after Put for 1h = %v", d)
	}
	if _, err := s.Incr(ctx, "n", time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := pttl(s.kvKey("n")); d <= 0 || d > time.Hour {
		t.Errorf("PTTL after Incr for 1h = %v", d)
	}

	now := time.Now()
	sess := store.Session{
		ID: "sid", TokenHash: "feed", UserID: "u",
		CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleExpiresAt: now.Add(10 * time.Minute),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if d := pttl(s.sessionKey("feed")); d <= 0 || d > 10*time.Minute {
		t.Errorf("session PTTL after create with a 10 min idle timeout = %v", d)
	}
	if d := pttl(s.userKey("u")); d <= 11*time.Hour || d > 12*time.Hour {
		t.Errorf("index PTTL after create with a 12 h absolute timeout = %v", d)
	}

	if _, err := s.TouchSession(ctx, "feed", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := pttl(s.sessionKey("feed")); d <= 10*time.Minute || d > time.Hour {
		t.Errorf("session PTTL after a touch with a 1 h idle timeout = %v", d)
	}

	// A later, shorter session does not shorten the index's life.
	short := sess
	short.TokenHash = "beef"
	short.ExpiresAt = now.Add(time.Hour)
	if err := s.CreateSession(ctx, short); err != nil {
		t.Fatal(err)
	}
	if d := pttl(s.userKey("u")); d <= 11*time.Hour {
		t.Errorf("index PTTL after adding a 1 h session = %v, want the 12 h kept", d)
	}
}

func TestListPrunesIndex(t *testing.T) {
	ctx := context.Background()
	url := redistest.URL(t)
	s := newTestStore(t, url)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, url)

	now := time.Now()
	for _, h := range []string{"aa", "bb"} {
		err := s.CreateSession(ctx, store.Session{
			ID: h, TokenHash: h, UserID: "u", CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The session vanishes behind the store's back, as on expiry.
	if err := raw.Del(ctx, s.sessionKey("aa")).Err(); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListSessions(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TokenHash != "bb" {
		t.Fatalf("ListSessions = %+v, want only bb", list)
	}
	members, err := raw.ZRange(ctx, s.userKey("u"), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || members[0] != "bb" {
		t.Fatalf("index after listing = %q, want [bb]", members)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if s.prefix != DefaultPrefix {
		t.Errorf("prefix = %q, want %q", s.prefix, DefaultPrefix)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	const secret = "hunter2-s3cret"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, "redis://:"+secret+"@127.0.0.1:1/0")
	t.Logf("Open of a closed port failed after %v: %v", time.Since(start), err)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of a closed port: %v, want ErrUnavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Open ran until the caller's deadline instead of failing on its own")
	}
	msg := err.Error()
	if strings.Contains(msg, secret) {
		t.Fatalf("error shows the password: %s", msg)
	}
	if !strings.Contains(msg, "127.0.0.1:1") {
		t.Fatalf("error does not name the address: %s", msg)
	}
}

func TestOpenBadURL(t *testing.T) {
	const secret = "hunter2-s3cret"
	for _, u := range []string{
		"",
		"localhost:6379",
		"http://localhost:6379",
		"redis://:" + secret + "@localhost:notaport/0",
		"redis://:" + secret + "@localhost:6379/notadb",
		"redis://:" + secret + "@localhost:6379/0?no_such_option=1",
		"redis://:" + secret + "@local host:6379/0",
		"redis+sentinel://:" + secret + "@s1,s2/0",
		"redis+sentinel://:" + secret + "@s1,,s2/0?master=m",
		"redis+sentinel://:" + secret + "@/0?master=m",
		"redis+cluster://:" + secret + "@c1,c2/3",
		"redis+cluster://:" + secret + "@c1,c2:port",
		"redis+cluster://:" + secret + "@c1,c 2:6379",
		"redis+cluster://:" + secret + "@c1?addr=c2:99999",
		"redis+cluster://:" + secret + "@c1?pool_size=%zz",
		"redis+cluster://:" + secret + "@c1?dial_timeout=soon",
	} {
		_, err := Open(context.Background(), u)
		if err == nil {
			t.Errorf("Open(%q): no error", u)
			continue
		}
		if errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Open(%q): %v, a bad URL is not ErrUnavailable", u, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q): error shows the password: %v", u, err)
		}
		if !strings.Contains(err.Error(), "bad Redis URL") {
			t.Errorf("Open(%q): error %q does not say the URL is bad", u, err)
		}
	}
}

func TestParseStandalone(t *testing.T) {
	cfg, err := parseURL("rediss://alice:pw@cache.example:6380/3?pool_size=64&read_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.kind != kindStandalone {
		t.Fatalf("kind = %s", cfg.kind)
	}
	o := cfg.simple
	if o.Addr != "cache.example:6380" || o.DB != 3 || o.Username != "alice" || o.Password != "pw" {
		t.Errorf("options = addr %q db %d user %q password %q", o.Addr, o.DB, o.Username, o.Password)
	}
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.example" {
		t.Errorf("TLS config = %+v, want server name cache.example", o.TLSConfig)
	}
	if o.PoolSize != 64 || o.ReadTimeout != 3*time.Second {
		t.Errorf("pool size %d, read timeout %v: URL options not applied", o.PoolSize, o.ReadTimeout)
	}
	if o.DialTimeout != defaultDialTimeout || o.WriteTimeout != defaultWriteTimeout || o.PoolTimeout != defaultPoolTimeout || o.DialerRetries != defaultDialerRetries {
		t.Errorf("defaults not applied: dial %v write %v pool %v dialer retries %d", o.DialTimeout, o.WriteTimeout, o.PoolTimeout, o.DialerRetries)
	}
	if !o.ContextTimeoutEnabled {
		t.Error("ContextTimeoutEnabled is off")
	}
	if cfg.describe() != "cache.example:6380" {
		t.Errorf("describe = %q", cfg.describe())
	}
}

func TestParseSentinel(t *testing.T) {
	cfg, err := parseURL("redis+sentinel://:pw@s1:26380,s2,[2001:db8::1]:26381/2?master=mymaster&sentinel_password=spw&dial_timeout=5s&addr=s4:26379")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.kind != kindSentinel {
		t.Fatalf("kind = %s", cfg.kind)
	}
	o := cfg.failover
	wantAddrs := []string{"s1:26380", "s2:26379", "[2001:db8::1]:26381", "s4:26379"}
	if strings.Join(o.SentinelAddrs, " ") != strings.Join(wantAddrs, " ") {
		t.Errorf("sentinel addresses = %q, want %q", o.SentinelAddrs, wantAddrs)
	}
	if o.MasterName != "mymaster" || o.DB != 2 {
		t.Errorf("master %q db %d, want mymaster 2", o.MasterName, o.DB)
	}
	if o.Password != "pw" || o.SentinelPassword != "spw" {
		t.Errorf("password %q sentinel password %q, want pw and spw", o.Password, o.SentinelPassword)
	}
	if o.DialTimeout != 5*time.Second || o.ReadTimeout != defaultReadTimeout {
		t.Errorf("dial timeout %v read timeout %v", o.DialTimeout, o.ReadTimeout)
	}
	if o.TLSConfig != nil {
		t.Error("TLS on for redis+sentinel")
	}
	if d := cfg.describe(); strings.Contains(d, "pw") || !strings.Contains(d, "s1:26380") || !strings.Contains(d, "mymaster") {
		t.Errorf("describe = %q", d)
	}

	cfg, err = parseURL("rediss+sentinel://s1?master_name=m")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.failover.TLSConfig == nil || cfg.failover.MasterName != "m" || cfg.failover.SentinelAddrs[0] != "s1:26379" || cfg.failover.Password != "" {
		t.Errorf("rediss+sentinel: %+v", cfg.failover)
	}
	c := cfg.newClient()
	defer c.Close()
	if _, ok := c.(*redis.Client); !ok {
		t.Errorf("sentinel client is a %T", c)
	}
}

func TestParseCluster(t *testing.T) {
	cfg, err := parseURL("rediss+cluster://bob:p%40ss@c1:7000,c2:7001?addr=c3:7002&pool_size=16")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.kind != kindCluster {
		t.Fatalf("kind = %s", cfg.kind)
	}
	o := cfg.cluster
	wantAddrs := []string{"c1:7000", "c2:7001", "c3:7002"}
	if strings.Join(o.Addrs, " ") != strings.Join(wantAddrs, " ") {
		t.Errorf("addresses = %q, want %q", o.Addrs, wantAddrs)
	}
	if o.Username != "bob" || o.Password != "p@ss" {
		t.Errorf("user %q password %q, want bob and p@ss", o.Username, o.Password)
	}
	if o.TLSConfig == nil || o.PoolSize != 16 || o.ReadTimeout != defaultReadTimeout || !o.ContextTimeoutEnabled {
		t.Errorf("options: tls %v pool %d read timeout %v context timeouts %v", o.TLSConfig != nil, o.PoolSize, o.ReadTimeout, o.ContextTimeoutEnabled)
	}

	cfg, err = parseURL("redis+cluster://c1/0")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.cluster.Addrs) != 1 || cfg.cluster.Addrs[0] != "c1:6379" || cfg.cluster.TLSConfig != nil {
		t.Errorf("redis+cluster://c1/0: addrs %q tls %v", cfg.cluster.Addrs, cfg.cluster.TLSConfig != nil)
	}
	c := cfg.newClient()
	defer c.Close()
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Errorf("cluster client is a %T", c)
	}
}

// TestRedisStopsAndComesBack: while Redis is down operations fail with
// ErrUnavailable; once it is back the same store works again.
func TestRedisStopsAndComesBack(t *testing.T) {
	srv := redistest.StartT(t)
	ctx := context.Background()
	s, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ops := map[string]func(context.Context) error{
		"Ping": s.Ping,
		"Get": func(ctx context.Context) error {
			_, err := s.Get(ctx, "k")
			return err
		},
		"Put": func(ctx context.Context) error { return s.Put(ctx, "k", []byte("v"), time.Minute) },
		"Incr": func(ctx context.Context) error {
			_, err := s.Incr(ctx, "n", time.Minute)
			return err
		},
		"TouchSession": func(ctx context.Context) error {
			_, err := s.TouchSession(ctx, "h", now, time.Minute)
			return err
		},
		"ListSessions": func(ctx context.Context) error {
			_, err := s.ListSessions(ctx, "u")
			return err
		},
	}
	for name, op := range ops {
		opCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		start := time.Now()
		err := op(opCtx)
		cancel()
		t.Logf("%s with Redis down: %v after %v", name, err, time.Since(start))
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", name, err)
		}
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.Put(ctx, "k", []byte("again"), time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Put after restart: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after Redis restarted: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, err := s.Get(ctx, "k")
	if err != nil || string(got) != "again" {
		t.Fatalf("Get after recovery = %q, %v", got, err)
	}
	if _, err := s.Incr(ctx, "n", time.Minute); err != nil {
		t.Fatalf("Incr (script) after recovery: %v", err)
	}
}

// withParam adds a query parameter to a URL.
func withParam(url, param string) string {
	if strings.Contains(url, "?") {
		return url + "&" + param
	}
	return url + "?" + param
}
