package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config is the validated configuration.
type Config struct {
	Listen      string
	PublicURL   *url.URL // scheme://host[:port], no path
	DataDir     string
	DatabaseURL string // empty: SQLite in DataDir
	RedisURL    string // empty: in-memory sessions
	IPRateLimit int    // requests per minute per IP and route group; 0 = off

	EncryptionKey  string // base64 32 bytes; empty: DataDir/encryption.key
	SigningKeyFile string // PEM P-256 key; empty: key ring in the database

	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	InviteTTL       time.Duration
	DeviceTTL       time.Duration
	PasswordMinLen  int
	HashConcurrency int // argon2id hashes at once; 0 = number of CPUs

	OIDCIDTokenAlg string // RS256 (default) or ES256: how ID tokens are signed

	TrustedProxies []netip.Prefix // X-Forwarded-For and Client-Cert are believed only from these
	LogLevel       string         // debug, info, warn, error
	LogFormat      string         // text or json

	// MetricsListen, when set, serves /metrics on this host:port only
	// (and no longer on Listen).
	MetricsListen string
	// MetricsToken, when set, is the bearer token /metrics asks for.
	MetricsToken string
	// DatabaseTimeout bounds every database query.
	DatabaseTimeout time.Duration
	// HTTPS served directly, and client certificates (docs/mtls.md).
	TLSCertFile      string // PEM certificate chain; with TLSKeyFile: serve HTTPS
	TLSKeyFile       string
	TLSClientCAFile  string // PEM CAs whose client certificates count; empty: none do
	TLSClientCRLFile string // optional CRLs of those CAs
	TLSBindSessions  bool   // sessions made with a certificate work only with it
	// SupportContact is whom users ask when the server cannot prove itself
	// (an email address, an http(s) or mailto: URL, or a short text); shown
	// on the stop screens when set.
	SupportContact string

	// PhishingResistant is the downgrade protection: passkey-users, all
	// or off (API contract v1.1, "Phishing resistance").
	PhishingResistant string
}

// SupportHref is the link for SupportContact: a mailto: for an email
// address, the URL itself for a URL, empty for plain text.
func (c Config) SupportHref() string { return supportHref(c.SupportContact) }

func supportHref(v string) string {
	if u, err := url.Parse(v); err == nil && !strings.ContainsAny(v, " \t") {
		if ((u.Scheme == "https" || u.Scheme == "http") && u.Host != "") || (u.Scheme == "mailto" && strings.Contains(u.Opaque, "@")) {
			return v
		}
	}
	if a, err := mail.ParseAddress(v); err == nil && a.Name == "" && a.Address == v {
		return "mailto:" + v
	}
	return ""
}

// ServeTLS reports whether the server terminates TLS itself.
func (c Config) ServeTLS() bool { return c.TLSCertFile != "" }

// ClientCerts reports whether client certificates are accepted at all.
func (c Config) ClientCerts() bool { return c.TLSClientCAFile != "" }

// Issuer is the origin the server is reached at, e.g. "https://login.example.com".
func (c Config) Issuer() string { return c.PublicURL.Scheme + "://" + c.PublicURL.Host }

// RPID is the WebAuthn relying party id: the public URL's host without port.
func (c Config) RPID() string { return c.PublicURL.Hostname() }

// Secure reports whether the public URL is https (Secure and __Host- cookies, HSTS).
func (c Config) Secure() bool { return c.PublicURL.Scheme == "https" }

// LocalPortMismatch reports a public URL on this machine (localhost or a
// loopback address) whose port is not the one the server listens on: the
// links the server prints (the admin enrollment link) and the WebAuthn
// origin would then point at another port. It returns both ports.
func (c Config) LocalPortMismatch() (publicPort, listenPort string, mismatch bool) {
	host := c.PublicURL.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && !strings.HasSuffix(host, ".localhost") && (ip == nil || !ip.IsLoopback()) {
		return "", "", false
	}
	publicPort = c.PublicURL.Port()
	if publicPort == "" {
		publicPort = map[string]string{"http": "80", "https": "443"}[c.PublicURL.Scheme]
	}
	_, listenPort, err := net.SplitHostPort(c.Listen)
	if err != nil || listenPort == "0" {
		return "", "", false
	}
	return publicPort, listenPort, publicPort != listenPort
}

// Variable names.
const (
	EnvListen          = "MUTUALAUTH_LISTEN"
	EnvPublicURL       = "MUTUALAUTH_PUBLIC_URL"
	EnvDataDir         = "MUTUALAUTH_DATA_DIR"
	EnvDatabaseURL     = "MUTUALAUTH_DATABASE_URL"
	EnvRedisURL        = "MUTUALAUTH_REDIS_URL"
	EnvIPRateLimit     = "MUTUALAUTH_IP_RATE_LIMIT"
	EnvEncryptionKey   = "MUTUALAUTH_ENCRYPTION_KEY"
	EnvSigningKeyFile  = "MUTUALAUTH_SIGNING_KEY_FILE"
	EnvSessionIdle     = "MUTUALAUTH_SESSION_IDLE_TIMEOUT"
	EnvSessionAbsolute = "MUTUALAUTH_SESSION_ABSOLUTE_TIMEOUT"
	EnvInviteTTL       = "MUTUALAUTH_INVITE_TTL"
	EnvDeviceTTL       = "MUTUALAUTH_DEVICE_TTL"
	EnvPasswordMinLen  = "MUTUALAUTH_PASSWORD_MIN_LENGTH"
	EnvHashConcurrency = "MUTUALAUTH_HASH_CONCURRENCY"
	EnvTrustedProxies  = "MUTUALAUTH_TRUSTED_PROXIES"
	EnvLogLevel        = "MUTUALAUTH_LOG_LEVEL"
	EnvLogFormat       = "MUTUALAUTH_LOG_FORMAT"
	EnvMetricsListen   = "MUTUALAUTH_METRICS_LISTEN"
	EnvMetricsToken    = "MUTUALAUTH_METRICS_TOKEN"
	EnvDatabaseTimeout = "MUTUALAUTH_DATABASE_TIMEOUT"
	EnvOIDCIDTokenAlg  = "MUTUALAUTH_OIDC_ID_TOKEN_ALG"
	EnvSupportContact  = "MUTUALAUTH_SUPPORT_CONTACT"
	EnvTLSCertFile     = "MUTUALAUTH_TLS_CERT_FILE"
	EnvTLSKeyFile      = "MUTUALAUTH_TLS_KEY_FILE"
	EnvTLSClientCA     = "MUTUALAUTH_TLS_CLIENT_CA_FILE"
	EnvTLSClientCRL    = "MUTUALAUTH_TLS_CLIENT_CRL_FILE"
	EnvTLSBindSessions = "MUTUALAUTH_TLS_BIND_SESSIONS"
	// EnvPhishingResistant: passkey-users (default), all or off.
	EnvPhishingResistant = "MUTUALAUTH_PHISHING_RESISTANT"
)

// Defaults, as API.md and DESIGN.md set them.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultPublicURL         = "http://localhost:8080"
	DefaultDataDir           = "./data"
	DefaultIPRateLimit       = 60
	DefaultSessionIdle       = 30 * time.Minute
	DefaultSessionAbsolute   = 12 * time.Hour
	DefaultInviteTTL         = 72 * time.Hour
	DefaultDeviceTTL         = 90 * 24 * time.Hour
	DefaultPasswordMinLen    = 12
	DefaultPhishingResistant = "passkey-users"
	DefaultDatabaseTimeout   = 5 * time.Second
)

// FromEnv reads and validates the configuration. Every problem found is
// reported, each naming its variable.
func FromEnv(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Listen:          p.str(EnvListen, DefaultListen),
		DataDir:         p.str(EnvDataDir, DefaultDataDir),
		DatabaseURL:     strings.TrimSpace(getenv(EnvDatabaseURL)),
		RedisURL:        strings.TrimSpace(getenv(EnvRedisURL)),
		IPRateLimit:     p.integer(EnvIPRateLimit, DefaultIPRateLimit, 0, 1_000_000_000),
		EncryptionKey:   strings.TrimSpace(getenv(EnvEncryptionKey)),
		SigningKeyFile:  strings.TrimSpace(getenv(EnvSigningKeyFile)),
		SessionIdle:     p.duration(EnvSessionIdle, DefaultSessionIdle, time.Minute, 24*time.Hour),
		SessionAbsolute: p.duration(EnvSessionAbsolute, DefaultSessionAbsolute, time.Minute, 90*24*time.Hour),
		InviteTTL:       p.duration(EnvInviteTTL, DefaultInviteTTL, time.Minute, 30*24*time.Hour),
		DeviceTTL:       p.duration(EnvDeviceTTL, DefaultDeviceTTL, time.Hour, 400*24*time.Hour),
		PasswordMinLen:  p.integer(EnvPasswordMinLen, DefaultPasswordMinLen, 8, 128),
		HashConcurrency: p.integer(EnvHashConcurrency, 0, 0, 1024),
		LogLevel:        strings.ToLower(p.str(EnvLogLevel, "info")),
		LogFormat:       strings.ToLower(p.str(EnvLogFormat, "text")),
		MetricsListen:   strings.TrimSpace(getenv(EnvMetricsListen)),
		MetricsToken:    strings.TrimSpace(getenv(EnvMetricsToken)),
		DatabaseTimeout: p.duration(EnvDatabaseTimeout, DefaultDatabaseTimeout, 100*time.Millisecond, time.Minute),
		OIDCIDTokenAlg:  strings.ToUpper(p.str(EnvOIDCIDTokenAlg, "RS256")),

		TLSCertFile:       strings.TrimSpace(getenv(EnvTLSCertFile)),
		TLSKeyFile:        strings.TrimSpace(getenv(EnvTLSKeyFile)),
		TLSClientCAFile:   strings.TrimSpace(getenv(EnvTLSClientCA)),
		TLSClientCRLFile:  strings.TrimSpace(getenv(EnvTLSClientCRL)),
		TLSBindSessions:   p.boolean(EnvTLSBindSessions),
		PhishingResistant: p.str(EnvPhishingResistant, DefaultPhishingResistant),
	}
	c.PublicURL = p.publicURL(EnvPublicURL, DefaultPublicURL)
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p.fail(EnvListen, "%q is not host:port (%v)", c.Listen, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			p.fail(EnvMetricsListen, "%q is not host:port (%v)", c.MetricsListen, err)
		} else if c.MetricsListen == c.Listen {
			p.fail(EnvMetricsListen, "must differ from %s", EnvListen)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		p.fail(EnvMetricsToken, "must be at least 16 characters")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p.fail(EnvDatabaseURL, "must be a postgres:// URL (unset it for SQLite in the data dir)")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || !strings.HasPrefix(u.Scheme, "redis") {
			p.fail(EnvRedisURL, "must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL")
		}
	}
	if c.SessionIdle > c.SessionAbsolute {
		p.fail(EnvSessionIdle, "idle timeout %s is longer than the absolute timeout %s", c.SessionIdle, c.SessionAbsolute)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.fail(EnvLogLevel, "must be debug, info, warn or error")
	}
	switch c.OIDCIDTokenAlg {
	case "RS256", "ES256":
	default:
		p.fail(EnvOIDCIDTokenAlg, "must be RS256 or ES256")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		p.fail(EnvLogFormat, "must be text or json")
	}
	switch c.PhishingResistant {
	case "passkey-users", "all", "off":
	default:
		p.fail(EnvPhishingResistant, "%q must be passkey-users, all or off", c.PhishingResistant)
	}
	if v := strings.TrimSpace(getenv(EnvTrustedProxies)); v != "" {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				addr, aerr := netip.ParseAddr(s)
				if aerr != nil {
					p.fail(EnvTrustedProxies, "%q is not an IP or CIDR", s)
					continue
				}
				pfx = netip.PrefixFrom(addr, addr.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, pfx)
		}
	}
	c.SupportContact = p.supportContact(EnvSupportContact)
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		p.fail(EnvTLSKeyFile, "must be set with %s", EnvTLSCertFile)
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		p.fail(EnvTLSCertFile, "must be set with %s", EnvTLSKeyFile)
	case c.TLSCertFile != "" && !c.Secure():
		p.fail(EnvPublicURL, "must be https when %s is set (the server serves HTTPS)", EnvTLSCertFile)
	}
	if c.TLSClientCRLFile != "" && c.TLSClientCAFile == "" {
		p.fail(EnvTLSClientCRL, "needs %s (the CAs whose CRLs these are)", EnvTLSClientCA)
	}
	if c.TLSBindSessions && c.TLSClientCAFile == "" {
		p.fail(EnvTLSBindSessions, "needs %s (no client certificate counts without it)", EnvTLSClientCA)
	}
	if len(p.errs) > 0 {
		return Config{}, errors.Join(p.errs...)
	}
	return c, nil
}

type parser struct {
	getenv func(string) string
	errs   []error
}

// supportContact: at most 200 characters of UTF-8 text without control
// characters; a value with a URL scheme must be an http(s) or mailto: URL.
func (p *parser) supportContact(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	switch {
	case v == "":
		return ""
	case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		p.fail(name, "must be printable text (no control characters)")
	case utf8.RuneCountInString(v) > 200:
		p.fail(name, "is longer than 200 characters")
	case strings.Contains(v, "://") && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://"):
		p.fail(name, "a URL must be https://, http:// or mailto:")
	case (strings.Contains(v, "://") || strings.HasPrefix(strings.ToLower(v), "mailto:")) && supportHref(v) == "":
		p.fail(name, "%q is not a valid URL", v)
	default:
		return v
	}
	return ""
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, args...)))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) boolean(name string) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "%q is not true or false", v)
	}
	return b
}

func (p *parser) integer(name string, def, lo, hi int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, "%q is not a whole number from %d to %d", v, lo, hi)
		return def
	}
	return n
}

func (p *parser) duration(name string, def, lo, hi time.Duration) time.Duration {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		p.fail(name, "%q is not a duration (like 30m or 12h) from %s to %s", v, lo, hi)
		return def
	}
	return d
}

func (p *parser) publicURL(name, def string) *url.URL {
	v := p.str(name, def)
	u, err := url.Parse(v)
	if err != nil {
		p.fail(name, "%q is not a URL: %v", v, err)
		u, _ = url.Parse(def)
		return u
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		p.fail(name, "%q must be http(s)://host[:port]", v)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.fail(name, "%q must be an origin only: no path, query, fragment or user info", v)
	}
	u.Path, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	u.Host = strings.ToLower(u.Host)
	return u
}
