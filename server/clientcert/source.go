package clientcert

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
)

// Source finds the verified client certificate of a request. The trust
// material can be replaced while requests are served (Reload).
type Source struct {
	trust   atomic.Pointer[Trust]
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

// FromRequest returns the request's verified client certificate: the TLS
// peer's when the server terminated TLS and the client sent one, otherwise
// the Client-Cert header's when the peer is a trusted proxy. Anything that
// does not verify is logged and reported as none.
func (s *Source) FromRequest(r *http.Request) (Cert, bool) {
	if s == nil {
		return Cert{}, false
	}
	t := s.trust.Load()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		peers := r.TLS.PeerCertificates
		if len(peers) > MaxChain {
			s.refuse(r, "tls", ErrChainLimit)
			return Cert{}, false
		}
		return s.verify(r, "tls", t, func() (Cert, error) { return t.Verify(peers[0], peers[1:], s.now()) })
	}
	if len(r.Header.Values(HeaderCert)) == 0 {
		return Cert{}, false
	}
	if !s.trustedPeer(r) {
		s.log.Info("client certificate header from an untrusted peer ignored", "remote", r.RemoteAddr)
		return Cert{}, false
	}
	leaf, chain, _, err := ParseHeaders(r.Header)
	if err != nil {
		s.refuse(r, "header", err)
		return Cert{}, false
	}
	return s.verify(r, "header", t, func() (Cert, error) { return t.Verify(leaf, chain, s.now()) })
}

func (s *Source) verify(r *http.Request, via string, t *Trust, check func() (Cert, error)) (Cert, bool) {
	if t == nil {
		return Cert{}, false
	}
	c, err := check()
	if err != nil {
		s.refuse(r, via, err)
		return Cert{}, false
	}
	return c, true
}

func (s *Source) refuse(r *http.Request, via string, err error) {
	level := slog.LevelInfo
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrChainLimit) {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "client certificate counts as none", "via", via, "remote", r.RemoteAddr, "reason", err.Error())
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
