// Package clientcert turns a request into "a verified client certificate or
// none". It is the one place where mutualauth decides whether a client
// certificate counts; login, the account page and session binding ask it
// and nothing else.
//
// A certificate reaches the server in one of two ways:
//
//   - Directly, as the TLS peer certificate of a connection the server
//     terminates itself (crypto/tls with tls.RequestClientCert: asked for,
//     never required, so a browser without one still gets the page).
//   - Through a TLS-terminating proxy, in the Client-Cert header of
//     RFC 9440 §2 (an RFC 9651 §3.3.5 Byte Sequence holding the DER of the
//     certificate), with the optional Client-Cert-Chain header (§2.1) for
//     intermediates. The header is believed only when the request's peer
//     address is one of the trusted proxies (RFC 9440 §4: the header must
//     be trusted only from a proxy that sets it and strips what clients
//     send). nginx cannot emit that form; its $ssl_client_escaped_cert
//     (the URL-encoded PEM) is accepted in the same header as well (see
//     docs/mtls.md).
//
// Either way the certificate is checked the same way, with crypto/x509 and
// no parsing of our own: a chain to one of the configured CAs (RFC 5280
// §6.1 path validation, validity period included), the clientAuth extended
// key usage in the leaf (RFC 5280 §4.2.1.12) and digitalSignature when the
// key usage extension is present (§4.2.1.3), and revocation against the
// configured CRLs (§5, checked as §6.3 describes: a CRL applies to the
// certificates of the CA whose signature it carries, and a CRL past its
// nextUpdate makes that CA's certificates count as unverifiable).
//
// Anything else — a malformed header, a bad encoding, a chain longer than
// MaxChain, a header from an untrusted peer — is no certificate: logged,
// never an error response.
//
// A certificate is named by its fingerprint: the lowercase hex SHA-256 of
// its DER encoding.
package clientcert
