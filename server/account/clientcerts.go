package account

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"mutualauth/server/clientcert"
	"mutualauth/store"
)

// ErrInvalidCertificate is returned for input that holds no single X.509
// certificate, or one that does not verify against the client CAs.
var ErrInvalidCertificate = errors.New("invalid client certificate")

// ErrCertificateBound is returned when a certificate is bound already (to
// this user or another): one certificate names one user.
var ErrCertificateBound = errors.New("this certificate is bound already")

// ParseCertificate reads one certificate, PEM (the first CERTIFICATE
// block) or DER.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrInvalidCertificate, b.Type)
		}
		der = b.Bytes
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCertificate, err)
	}
	return c, nil
}

// BindClientCert binds the certificate c describes to the user. The
// caller has verified it (clientcert.Trust.Verify) where client CAs are
// configured.
func BindClientCert(ctx context.Context, st store.ClientCerts, now time.Time, userID string, c clientcert.Cert) (store.ClientCert, error) {
	b := store.ClientCert{
		Fingerprint: c.Fingerprint, UserID: userID, Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, CreatedAt: now,
	}
	err := st.AddClientCert(ctx, b)
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.ClientCert{}, ErrCertificateBound
	}
	if err != nil {
		return store.ClientCert{}, fmt.Errorf("bind client certificate: %w", err)
	}
	return b, nil
}
