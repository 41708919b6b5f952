package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connection defaults, used when the URL does not set the option. They keep
// a dead or unreachable Redis from stalling requests: the server answers
// 503 instead of hanging.
const (
	defaultDialTimeout   = 2 * time.Second
	defaultReadTimeout   = time.Second
	defaultWriteTimeout  = time.Second
	defaultPoolTimeout   = 2 * time.Second
	defaultDialerRetries = 2
)

// Deployment kinds.
const (
	kindStandalone = "standalone"
	kindSentinel   = "sentinel"
	kindCluster    = "cluster"
)

// config is a parsed Redis URL: exactly one of the option pointers is set,
// according to kind.
type config struct {
	kind     string
	cache    bool // standalone, database 0, client_cache not off
	simple   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// parseURL parses the URL forms documented in the package comment. Its
// errors never contain the URL's password.
func parseURL(raw string) (*config, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("not a URL: want redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		raw, cache, err := takeClientCache(raw)
		if err != nil {
			return nil, err
		}
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, cleanParseError(err)
		}
		setDefaults(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.DialerRetries)
		o.ContextTimeoutEnabled = true
		return &config{kind: kindStandalone, simple: o, cache: cache && o.DB == 0}, nil
	case "redis+sentinel", "rediss+sentinel":
		return parseSentinel(raw)
	case "redis+cluster", "rediss+cluster":
		return parseCluster(raw)
	default:
		return nil, fmt.Errorf("unsupported URL scheme %q: want redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster", scheme)
	}
}

// takeClientCache removes the client_cache=on|off parameter from a
// single-node URL (go-redis's parser rejects parameters it does not know)
// and reports whether the client-side cache is wanted (the default).
func takeClientCache(raw string) (string, bool, error) {
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw, true, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false, fmt.Errorf("bad query: %w", err)
	}
	v, ok := q["client_cache"]
	if !ok {
		return raw, true, nil
	}
	delete(q, "client_cache")
	on := true
	switch strings.ToLower(v[len(v)-1]) {
	case "on", "true", "1", "yes":
	case "off", "false", "0", "no":
		on = false
	default:
		return "", false, fmt.Errorf("client_cache=%q: want on or off", v[len(v)-1])
	}
	if len(q) == 0 {
		return base, on, nil
	}
	return base + "?" + q.Encode(), on, nil
}

// multiHost is a URL whose authority may list several comma-separated
// host[:port] addresses.
type multiHost struct {
	tls   bool
	user  *url.Userinfo
	addrs []string
	path  string
	query url.Values
}

// parseMultiHost splits scheme://[userinfo@]host1[:port],host2[:port]/path?query.
// Addresses given as addr= parameters follow those of the host part; hosts
// without a port get defaultPort.
func parseMultiHost(raw, defaultPort string) (*multiHost, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hosts := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hosts = authority[:at+1], authority[at+1:]
	}
	if hosts == "" {
		return nil, errors.New("no host in URL")
	}
	list := strings.Split(hosts, ",")
	// Let net/url decode the userinfo, path and query, with the first host
	// standing in for the list.
	u, err := url.Parse(scheme + "://" + userinfo + list[0] + tail)
	if err != nil {
		return nil, cleanParseError(err)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("bad query: %w", err)
	}
	m := &multiHost{
		tls:   strings.HasPrefix(strings.ToLower(scheme), "rediss"),
		user:  u.User,
		path:  u.Path,
		query: query,
	}
	extra := m.query["addr"]
	delete(m.query, "addr")
	for _, h := range append(list, extra...) {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return nil, err
		}
		m.addrs = append(m.addrs, addr)
	}
	return m, nil
}

func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty host in address list")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port given (an IPv6 literal must then be bracketed).
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
		if strings.ContainsAny(host, "[]") {
			return "", fmt.Errorf("bad address %q", h)
		}
	}
	if _, perr := strconv.ParseUint(port, 10, 16); perr != nil || host == "" || strings.ContainsAny(host, " /@?#[]") {
		return "", fmt.Errorf("bad address %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

// goRedisURL renders the first address and the remaining query for
// go-redis's own parsers, listing further addresses as addr= parameters. It
// carries no credentials.
func (m *multiHost) goRedisURL(path string) string {
	q := url.Values{}
	for k, v := range m.query {
		q[k] = v
	}
	for _, a := range m.addrs[1:] {
		q.Add("addr", a)
	}
	scheme := "redis"
	if m.tls {
		scheme = "rediss"
	}
	u := url.URL{Scheme: scheme, Host: m.addrs[0], Path: path, RawQuery: q.Encode()}
	return u.String()
}

// take removes a query parameter and returns its last value.
func (m *multiHost) take(name string) string {
	v := m.query[name]
	delete(m.query, name)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func parseSentinel(raw string) (*config, error) {
	m, err := parseMultiHost(raw, "26379")
	if err != nil {
		return nil, err
	}
	master := m.take("master")
	if master == "" {
		master = m.take("master_name")
	}
	if master == "" {
		return nil, errors.New("sentinel URL needs ?master=<name>")
	}
	sentinelUser, sentinelPass := m.take("sentinel_username"), m.take("sentinel_password")
	m.query.Set("master_name", master)
	o, err := redis.ParseFailoverURL(m.goRedisURL(m.path))
	if err != nil {
		return nil, cleanParseError(err)
	}
	if m.user != nil {
		o.Username = m.user.Username()
		o.Password, _ = m.user.Password()
	}
	o.SentinelUsername, o.SentinelPassword = sentinelUser, sentinelPass
	setDefaults(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.DialerRetries)
	o.ContextTimeoutEnabled = true
	return &config{kind: kindSentinel, failover: o}, nil
}

func parseCluster(raw string) (*config, error) {
	m, err := parseMultiHost(raw, "6379")
	if err != nil {
		return nil, err
	}
	switch m.path {
	case "", "/", "/0":
	default:
		return nil, fmt.Errorf("cluster URL path %q: Redis Cluster has only database 0", m.path)
	}
	o, err := redis.ParseClusterURL(m.goRedisURL(""))
	if err != nil {
		return nil, cleanParseError(err)
	}
	if m.user != nil {
		o.Username = m.user.Username()
		o.Password, _ = m.user.Password()
	}
	setDefaults(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.DialerRetries)
	o.ContextTimeoutEnabled = true
	return &config{kind: kindCluster, cluster: o}, nil
}

func setDefaults(dial, read, write, pool *time.Duration, dialerRetries *int) {
	if *dial == 0 {
		*dial = defaultDialTimeout
	}
	if *read == 0 {
		*read = defaultReadTimeout
	}
	if *write == 0 {
		*write = defaultWriteTimeout
	}
	if *pool == 0 {
		*pool = defaultPoolTimeout
	}
	if *dialerRetries == 0 {
		*dialerRetries = defaultDialerRetries
	}
}

// cleanParseError drops the URL that net/url puts into its errors, since it
// may hold a password.
func cleanParseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// newClient builds the go-redis client for c.
func (c *config) newClient() redis.UniversalClient {
	switch c.kind {
	case kindSentinel:
		return redis.NewFailoverClient(c.failover)
	case kindCluster:
		return redis.NewClusterClient(c.cluster)
	default:
		return redis.NewClient(c.simple)
	}
}

// describe names where c connects, without credentials.
func (c *config) describe() string {
	switch c.kind {
	case kindSentinel:
		return fmt.Sprintf("sentinel %s (master %q)", strings.Join(c.failover.SentinelAddrs, ","), c.failover.MasterName)
	case kindCluster:
		return "cluster " + strings.Join(c.cluster.Addrs, ",")
	default:
		return c.simple.Addr
	}
}
