package clientcert_test

import (
	"errors"
	"net/http"
	"testing"

	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
)

// FuzzParseHeaders feeds arbitrary Client-Cert and Client-Cert-Chain
// values to the parser: it must never panic, and whatever it refuses it
// refuses with one of the package's reasons.
func FuzzParseHeaders(f *testing.F) {
	ca := certtest.NewCA(f, "Fuzz CA")
	leaf := ca.Client(f, "alice")
	f.Add(sfBinary(leaf.Cert.Raw), "")
	f.Add(sfBinary(leaf.Cert.Raw), sfBinary(ca.Cert.Raw))
	f.Add(string(certtest.PEM(leaf.Cert)), "")
	f.Add(":AAAA:", ":AAAA:, :BBBB:")
	f.Add("-----BEGIN CERTIFICATE-----%0AAAAA%0A-----END CERTIFICATE-----%0A", "")
	f.Add(`"string"`, "?1")
	f.Fuzz(func(t *testing.T, cert, chain string) {
		h := http.Header{}
		h.Set(clientcert.HeaderCert, cert)
		if chain != "" {
			h.Set(clientcert.HeaderChain, chain)
		}
		l, c, ok, err := clientcert.ParseHeaders(h)
		if !ok {
			t.Fatal("a Client-Cert header reported as absent")
		}
		if err != nil {
			if !errors.Is(err, clientcert.ErrMalformed) && !errors.Is(err, clientcert.ErrChainLimit) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if l == nil || 1+len(c) > clientcert.MaxChain {
			t.Fatalf("accepted leaf %v with %d intermediates", l, len(c))
		}
	})
}
