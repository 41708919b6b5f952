package clientcert

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxChain is the most certificates (leaf and intermediates) a client may
// present; a longer chain is no certificate.
const MaxChain = 5

// Reasons a certificate does not count. Verify wraps one of them.
var (
	ErrUntrusted  = errors.New("clientcert: no valid chain to a configured CA")
	ErrUsage      = errors.New("clientcert: not a TLS client certificate (extended key usage clientAuth or key usage digitalSignature missing)")
	ErrRevoked    = errors.New("clientcert: revoked")
	ErrStaleCRL   = errors.New("clientcert: the issuing CA's CRL is past its next update")
	ErrMalformed  = errors.New("clientcert: malformed certificate or header")
	ErrChainLimit = errors.New("clientcert: chain too long")
)

// Cert is a verified client certificate.
type Cert struct {
	Fingerprint string // lowercase hex SHA-256 of the DER
	Subject     string // RFC 2253 form
	Issuer      string
	Serial      string // lowercase hex
	NotBefore   time.Time
	NotAfter    time.Time
	Leaf        *x509.Certificate
}

// Fingerprint is the lowercase hex SHA-256 of a certificate's DER.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// NormalizeFingerprint accepts a fingerprint in upper or lower case, with
// or without colons (as openssl prints it), and returns the canonical form;
// ok is false when it is not 32 bytes of hex.
func NormalizeFingerprint(s string) (string, bool) {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", false
	}
	return s, true
}

// Describe returns the fields of c that are stored with a binding.
func Describe(c *x509.Certificate) Cert {
	return Cert{
		Fingerprint: Fingerprint(c.Raw),
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		Serial:      hex.EncodeToString(c.SerialNumber.Bytes()),
		NotBefore:   c.NotBefore.UTC(),
		NotAfter:    c.NotAfter.UTC(),
		Leaf:        c,
	}
}

// crl is a revocation list whose signature was checked against the CA
// with this fingerprint.
type crl struct {
	list   *x509.RevocationList
	signer string
}

// Trust is the accepted CAs and their CRLs, immutable once parsed.
type Trust struct {
	roots *x509.CertPool
	cas   map[string]*x509.Certificate // by fingerprint
	crls  []crl
}

// Pool is the CA pool, also what the TLS server names in its certificate
// request so that browsers offer matching certificates.
func (t *Trust) Pool() *x509.CertPool { return t.roots }

// deltaCRLIndicator is the extension of a delta CRL (RFC 5280 §5.2.4).
var deltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}

// ParseTrust parses a PEM bundle of CA certificates and, optionally, CRLs
// (PEM "X509 CRL" blocks, or one DER CRL). Every CRL must be a complete CRL
// signed by one of the CAs. Errors say whether the CA bundle (ErrCAFile) or
// the CRLs (ErrCRLFile) are at fault.
func ParseTrust(caPEM, crlData []byte) (*Trust, error) {
	t := &Trust{roots: x509.NewCertPool(), cas: map[string]*x509.Certificate{}}
	rest := caPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCAFile, err)
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("%w: %q is not a CA certificate (basic constraints CA:TRUE)", ErrCAFile, c.Subject)
		}
		t.roots.AddCert(c)
		t.cas[Fingerprint(c.Raw)] = c
	}
	if len(t.cas) == 0 {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrCAFile)
	}
	if len(bytes.TrimSpace(crlData)) == 0 {
		return t, nil
	}
	var ders [][]byte
	rest = crlData
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = [][]byte{crlData}
	}
	for _, der := range ders {
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCRLFile, err)
		}
		for _, ext := range l.Extensions {
			if ext.Id.Equal(deltaCRLIndicator) {
				return nil, fmt.Errorf("%w: delta CRLs are not supported; give complete CRLs", ErrCRLFile)
			}
		}
		signer := ""
		for fp, ca := range t.cas {
			if bytes.Equal(ca.RawSubject, l.RawIssuer) && l.CheckSignatureFrom(ca) == nil {
				signer = fp
				break
			}
		}
		if signer == "" {
			return nil, fmt.Errorf("%w: the CRL of %q is not signed by any CA of the bundle", ErrCRLFile, l.Issuer)
		}
		t.crls = append(t.crls, crl{list: l, signer: signer})
	}
	return t, nil
}

// ErrCAFile and ErrCRLFile say which input ParseTrust refused.
var (
	ErrCAFile  = errors.New("client CA bundle")
	ErrCRLFile = errors.New("client CRL")
)

// StaleCRLs names the CRLs past their nextUpdate at now, for a warning.
func (t *Trust) StaleCRLs(now time.Time) []string {
	var out []string
	for _, c := range t.crls {
		if !c.list.NextUpdate.IsZero() && now.After(c.list.NextUpdate) {
			out = append(out, c.list.Issuer.String())
		}
	}
	return out
}

// Verify checks leaf, with the intermediates the client sent, as the
// package documentation says, and describes it.
func (t *Trust) Verify(leaf *x509.Certificate, intermediates []*x509.Certificate, now time.Time) (Cert, error) {
	if 1+len(intermediates) > MaxChain {
		return Cert{}, ErrChainLimit
	}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: t.roots, Intermediates: pool, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return Cert{}, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	// x509 treats a leaf without extended key usages as good for any use;
	// a client certificate must say clientAuth.
	if !hasClientAuth(leaf) || (leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0) {
		return Cert{}, ErrUsage
	}
	if err := t.checkRevocation(chains, now); err != nil {
		return Cert{}, err
	}
	return Describe(leaf), nil
}

func hasClientAuth(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// checkRevocation refuses the certificate when some chain's certificate is
// on its issuer's CRL. Only CAs of the bundle have CRLs; an intermediate
// the client sent is checked against the CRL of the bundle CA above it.
func (t *Trust) checkRevocation(chains [][]*x509.Certificate, now time.Time) error {
	var last error
	for _, chain := range chains {
		last = nil
		for i := 0; i+1 < len(chain) && last == nil; i++ {
			last = t.revoked(chain[i], Fingerprint(chain[i+1].Raw), now)
		}
		if last == nil {
			return nil
		}
	}
	return last
}

func (t *Trust) revoked(c *x509.Certificate, issuer string, now time.Time) error {
	for _, l := range t.crls {
		if l.signer != issuer {
			continue
		}
		if !l.list.NextUpdate.IsZero() && now.After(l.list.NextUpdate) {
			return ErrStaleCRL
		}
		for _, e := range l.list.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return fmt.Errorf("%w: serial %x by %q", ErrRevoked, c.SerialNumber, l.list.Issuer)
			}
		}
	}
	return nil
}
