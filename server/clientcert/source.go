package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Source finds the verified client certificate of a request. The trust
// material can be replaced while requests are served (Reload).
type Source struct {
	trust   atomic.Pointer[Trust]
	cache   verified
	caFile  string
	crlFile string
	proxies []netip.Prefix
	log     *slog.Logger
	now     func() time.Time
}

// Options configure a Source.
type Options struct {
	CAFile  string // PEM bundle of accepted CAs
	CRLFile string // optional CRLs
	// Trust is used instead of the files when set (tests).
	Trust *Trust
	// TrustedProxies are the peers whose Client-Cert header is believed.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	Now            func() time.Time
}

// NewSource loads the trust material. Its errors wrap ErrCAFile or
// ErrCRLFile, or an os error naming the file.
func NewSource(o Options) (*Source, error) {
	s := &Source{caFile: o.CAFile, crlFile: o.CRLFile, proxies: o.TrustedProxies, log: o.Log, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if o.Trust != nil {
		s.trust.Store(o.Trust)
		return s, nil
	}
	return s, s.Reload()
}

// Reload reads the CA and CRL files again; on error the previous trust
// material stays in force.
func (s *Source) Reload() error {
	if s.caFile == "" {
		return fmt.Errorf("%w: no file configured", ErrCAFile)
	}
	ca, err := os.ReadFile(s.caFile)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCAFile, err)
	}
	var crl []byte
	if s.crlFile != "" {
		if crl, err = os.ReadFile(s.crlFile); err != nil {
			return fmt.Errorf("%w: %v", ErrCRLFile, err)
		}
	}
	t, err := ParseTrust(ca, crl)
	if err != nil {
		return err
	}
	if stale := t.StaleCRLs(s.now()); len(stale) > 0 {
		s.log.Warn("client certificate CRLs are past their next update: certificates of these CAs count as none until fresh CRLs are installed", "issuers", stale)
	}
	s.trust.Store(t)
	return nil
}

// Files returns the files Reload reads (empty when built from Trust).
func (s *Source) Files() []string {
	var out []string
	for _, f := range []string{s.caFile, s.crlFile} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Trust returns the trust material now in force.
func (s *Source) Trust() *Trust { return s.trust.Load() }

// ErrNone is FromRequest's answer when the request presents no
// certificate at all.
var ErrNone = errors.New("clientcert: no certificate presented")

// RefusedError is FromRequest's answer for a certificate that was
// presented but does not count. Fingerprint is set when the leaf parsed.
type RefusedError struct {
	Fingerprint string
	Err         error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// FromRequest returns the request's verified client certificate: the TLS
// peer's when the server terminated TLS and the client sent one, otherwise
// the Client-Cert header's when the peer is a trusted proxy. A header from
// any other peer is ignored (ErrNone). A certificate that does not verify
// is logged and answered with a *RefusedError.
func (s *Source) FromRequest(r *http.Request) (Cert, error) {
	if s == nil {
		return Cert{}, ErrNone
	}
	t := s.trust.Load()
	if t == nil {
		return Cert{}, ErrNone
	}
	now := s.now()
	var leaf *x509.Certificate
	var chain []*x509.Certificate
	var key [sha256.Size]byte
	via := "tls"
	switch {
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		leaf, chain = r.TLS.PeerCertificates[0], r.TLS.PeerCertificates[1:]
		h := sha256.New()
		for _, c := range r.TLS.PeerCertificates {
			h.Write(c.Raw)
		}
		h.Sum(key[:0])
		if c, ok := s.cache.get(key, t, now); ok {
			return c, nil
		}
	case len(r.Header.Values(HeaderCert)) == 0:
		return Cert{}, ErrNone
	case !s.trustedPeer(r):
		s.log.Info("client certificate header from an untrusted peer ignored", "remote", r.RemoteAddr)
		return Cert{}, ErrNone
	default:
		via = "header"
		h := sha256.New()
		for _, name := range []string{HeaderCert, HeaderChain} {
			for _, v := range r.Header.Values(name) {
				h.Write([]byte(name + ":" + v + "\n"))
			}
		}
		h.Sum(key[:0])
		if c, ok := s.cache.get(key, t, now); ok {
			return c, nil
		}
		var err error
		if leaf, chain, _, err = ParseHeaders(r.Header); err != nil {
			return Cert{}, s.refuse(r, via, nil, err)
		}
	}
	c, err := t.Verify(leaf, chain, now)
	if err != nil {
		return Cert{}, s.refuse(r, via, leaf, err)
	}
	s.cache.put(key, t, c, now)
	return c, nil
}

// verified remembers the certificates (by the SHA-256 of what the request
// presented) that verified against a Trust, for a minute at most and never
// past their notAfter, so that a session bound to a certificate does not
// pay a signature check on every request. New trust material (a reload)
// starts over: an entry counts only for the Trust it was checked against.
type verified struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	cert  Cert
	trust *Trust
	until time.Time
}

const (
	verifiedTTL = time.Minute
	verifiedMax = 4096
)

func (v *verified) get(key [sha256.Size]byte, t *Trust, now time.Time) (Cert, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.m[key]
	if !ok || e.trust != t || !now.Before(e.until) {
		return Cert{}, false
	}
	return e.cert, true
}

func (v *verified) put(key [sha256.Size]byte, t *Trust, c Cert, now time.Time) {
	until := now.Add(verifiedTTL)
	if c.NotAfter.Before(until) {
		until = c.NotAfter
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= verifiedMax {
		v.m = make(map[[sha256.Size]byte]verifiedEntry)
	}
	v.m[key] = verifiedEntry{cert: c, trust: t, until: until}
}

func (s *Source) refuse(r *http.Request, via string, leaf *x509.Certificate, err error) error {
	e := &RefusedError{Err: err}
	if leaf != nil {
		e.Fingerprint = Fingerprint(leaf.Raw)
	}
	level := slog.LevelInfo
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrChainLimit) {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "client certificate counts as none", "via", via, "remote", r.RemoteAddr,
		"fingerprint", e.Fingerprint, "reason", err.Error())
	return e
}

// trustedPeer reports whether the request's direct peer is a trusted proxy.
func (s *Source) trustedPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
