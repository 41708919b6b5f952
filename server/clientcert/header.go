package clientcert

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Header names of RFC 9440 §2.
const (
	HeaderCert  = "Client-Cert"
	HeaderChain = "Client-Cert-Chain"
)

// MaxHeaderBytes bounds the Client-Cert and Client-Cert-Chain headers
// together; a longer one is no certificate.
const MaxHeaderBytes = 32 << 10

// ParseHeaders reads the certificate a trusted proxy put in h: the leaf
// from Client-Cert and intermediates from Client-Cert-Chain. ok is false
// when there is no Client-Cert header; err is set (wrapping ErrMalformed
// or ErrChainLimit) when there is one that does not hold a certificate.
//
// Client-Cert is an RFC 9651 Item whose value is a Byte Sequence of the
// DER (RFC 9440 §2.2); its parameters are ignored. A single value that
// does not begin with ":" (as every Byte Sequence does) is read as the
// URL-encoded PEM of nginx's $ssl_client_escaped_cert. Client-Cert-Chain is an
// RFC 9651 List of Byte Sequences (§2.3).
func ParseHeaders(h http.Header) (leaf *x509.Certificate, chain []*x509.Certificate, ok bool, err error) {
	certs, chainVals := h.Values(HeaderCert), h.Values(HeaderChain)
	if len(certs) == 0 {
		return nil, nil, false, nil
	}
	size := 0
	for _, v := range append(append([]string{}, certs...), chainVals...) {
		size += len(v)
	}
	if size > MaxHeaderBytes {
		return nil, nil, true, fmt.Errorf("%w: %d header bytes", ErrChainLimit, size)
	}
	der, err := leafDER(certs)
	if err != nil {
		return nil, nil, true, err
	}
	if leaf, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, true, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(chainVals) > 0 {
		list, err := httpsfv.UnmarshalList(chainVals)
		if err != nil {
			return nil, nil, true, fmt.Errorf("%w: %s: %v", ErrMalformed, HeaderChain, err)
		}
		if 1+len(list) > MaxChain {
			return nil, nil, true, fmt.Errorf("%w: %d certificates", ErrChainLimit, 1+len(list))
		}
		for _, m := range list {
			it, isItem := m.(httpsfv.Item)
			b, isBytes := it.Value.([]byte)
			if !isItem || !isBytes {
				return nil, nil, true, fmt.Errorf("%w: %s holds something other than byte sequences", ErrMalformed, HeaderChain)
			}
			c, err := x509.ParseCertificate(b)
			if err != nil {
				return nil, nil, true, fmt.Errorf("%w: %s: %v", ErrMalformed, HeaderChain, err)
			}
			chain = append(chain, c)
		}
	}
	return leaf, chain, true, nil
}

// leafDER returns the DER that the Client-Cert field values hold.
func leafDER(values []string) ([]byte, error) {
	if len(values) == 1 && !strings.HasPrefix(strings.TrimSpace(values[0]), ":") {
		return escapedPEM(strings.TrimSpace(values[0]))
	}
	it, err := httpsfv.UnmarshalItem(values)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, HeaderCert, err)
	}
	b, isBytes := it.Value.([]byte)
	if !isBytes || len(b) == 0 {
		return nil, fmt.Errorf("%w: %s is not a byte sequence", ErrMalformed, HeaderCert)
	}
	return b, nil
}

// escapedPEM decodes nginx's $ssl_client_escaped_cert: one PEM
// CERTIFICATE block, percent-encoded as a URI component ("+" stays "+").
func escapedPEM(v string) ([]byte, error) {
	raw, err := url.PathUnescape(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, HeaderCert, err)
	}
	b, rest := pem.Decode([]byte(raw))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrMalformed, HeaderCert)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: %s holds more than one PEM block", ErrMalformed, HeaderCert)
	}
	return b.Bytes, nil
}
