package server

import (
	"context"
	"strings"
	"testing"

	"mutualauth/server/audit"
	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
	"mutualauth/store"
)

type certsDoc struct {
	Enabled   bool       `json:"enabled"`
	List      []certView `json:"list"`
	Presented *certView  `json:"presented"`
}

func TestAccountCertificates(t *testing.T) {
	ce := newCertEnv(t, certEnvOptions{})
	alice := ce.enroll("alice")
	first := ce.bind(alice)
	b := ce.client()
	ce.certLogin(b, alice, header(first)...)

	second := ce.CA.Client(t, "alice laptop")
	fp2 := clientcert.Fingerprint(second.Cert.Raw)
	var doc certsDoc
	r := b.call("GET", "/api/v1/account/certificates", nil, header(second)...)
	requireOK(t, "list", r)
	r.decode(t, &doc)
	if !doc.Enabled || len(doc.List) != 1 || doc.List[0].Current || doc.Presented == nil || doc.Presented.Fingerprint != fp2 {
		t.Fatalf("list with an unbound certificate presented: %s", r.body)
	}
	page := b.call("GET", "/account", nil, header(second)...)
	requireOK(t, "page", page)
	if !strings.Contains(string(page.body), "Add this device's certificate") || !strings.Contains(string(page.body), first.Cert.Subject.String()) {
		t.Fatalf("account page lacks the certificate section: %s", page.body)
	}

	requireProblem(t, "add without re-authentication", b.call("POST", "/api/v1/account/certificates", nil, header(second)...), 403, "reauth_required")
	b.acctReauth(alice)
	requireProblem(t, "add with no certificate", b.call("POST", "/api/v1/account/certificates", nil), 422, "no_client_certificate")
	requireProblem(t, "add another CA's", b.call("POST", "/api/v1/account/certificates", nil,
		header(certtest.NewCA(t, "Stranger").Client(t, "x"))...), 422, "no_client_certificate")
	r = b.call("POST", "/api/v1/account/certificates", nil, header(second)...)
	if r.status != 201 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	requireProblem(t, "add twice", b.call("POST", "/api/v1/account/certificates", nil, header(second)...), 409, "certificate_bound")
	bob := ce.enroll("bob")
	bobs := ce.bind(bob)
	requireProblem(t, "add another user's", b.call("POST", "/api/v1/account/certificates", nil, header(bobs)...), 409, "certificate_bound")

	r = b.call("GET", "/api/v1/account/certificates", nil, header(second)...)
	r.decode(t, &doc)
	if len(doc.List) != 2 || !doc.List[1].Current || doc.Presented != nil {
		t.Fatalf("list after add: %s", r.body)
	}
	added := 0
	for _, e := range ce.audit(audit.AccountCertAdd, "success") {
		if strings.Contains(e.Detail, fp2) {
			added++
		}
	}
	if added != 1 {
		t.Fatalf("add audited %d times with the fingerprint", added)
	}
	// The added certificate signs alice in.
	laptop := ce.client()
	ce.certLogin(laptop, alice, header(second)...)

	r = b.call("DELETE", "/api/v1/account/certificates/"+strings.ToUpper(fp2), nil)
	if r.status != 204 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	requireProblem(t, "session made with the removed certificate", laptop.call("GET", "/api/v1/session", nil, header(second)...), 401, "unauthenticated")
	requireOK(t, "the session that removed it", b.call("GET", "/api/v1/session", nil))
	requireProblem(t, "remove again", b.call("DELETE", "/api/v1/account/certificates/"+fp2, nil), 404, "not_found")
	requireProblem(t, "remove another user's", b.call("DELETE", "/api/v1/account/certificates/"+clientcert.Fingerprint(bobs.Cert.Raw), nil), 404, "not_found")
	requireProblem(t, "remove garbage", b.call("DELETE", "/api/v1/account/certificates/zz", nil), 404, "not_found")
	ce.beginUnrecognized("removed on the account page", ce.client(), alice, header(second)...)
}

func TestAdminCertificates(t *testing.T) {
	ce := newCertEnv(t, certEnvOptions{})
	root := ce.enroll("root")
	if _, err := ce.Deps.Durable.UpdateUser(context.Background(), root.User.ID, func(u *store.User) error {
		u.Role = store.RoleAdmin
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rootCert := ce.bind(root)
	b := ce.client()
	ce.certLogin(b, root, header(rootCert)...) // a certificate is a second factor for the admin center too
	bob := ce.enroll("bob")

	good := ce.CA.Client(t, "bob")
	fp := clientcert.Fingerprint(good.Cert.Raw)
	base := "/api/v1/admin/users/" + bob.User.ID + "/certificates"
	add := func(c certtest.Leaf) httpReply {
		return b.call("POST", base, map[string]any{"certificate": string(certtest.PEM(c.Cert))})
	}
	if r := add(good); r.status != 201 || !strings.Contains(string(r.body), fp) {
		t.Fatalf("admin add: %d %s", r.status, r.body)
	}
	requireProblem(t, "admin add twice", add(good), 409, "certificate_bound")
	requireProblem(t, "admin add expired", add(ce.CA.Client(t, "bob", certtest.Expired)), 422, "invalid_certificate")
	requireProblem(t, "admin add revoked", add(ce.revoked), 422, "invalid_certificate")
	requireProblem(t, "admin add another CA's", add(certtest.NewCA(t, "Stranger").Client(t, "bob")), 422, "invalid_certificate")
	requireProblem(t, "admin add garbage", b.call("POST", base, map[string]any{"certificate": "junk"}), 422, "invalid_certificate")
	requireProblem(t, "admin add for nobody", b.call("POST", "/api/v1/admin/users/nobody/certificates",
		map[string]any{"certificate": string(certtest.PEM(ce.CA.Client(t, "x").Cert))}), 404, "not_found")

	var detail struct {
		Certificates []certView `json:"certificates"`
	}
	r := b.call("GET", "/api/v1/admin/users/"+bob.User.ID, nil)
	requireOK(t, "user detail", r)
	r.decode(t, &detail)
	if len(detail.Certificates) != 1 || detail.Certificates[0].Fingerprint != fp || detail.Certificates[0].Subject != good.Cert.Subject.String() {
		t.Fatalf("detail: %s", r.body)
	}
	page := b.call("GET", "/admin/users/"+bob.User.ID, nil)
	requireOK(t, "admin user page", page)
	if !strings.Contains(string(page.body), `data-certificate="`+fp+`"`) {
		t.Fatal("admin page does not list the certificate")
	}
	bobs := ce.client()
	ce.certLogin(bobs, bob, header(good)...)

	if r := b.call("DELETE", base+"/"+fp, nil); r.status != 204 {
		t.Fatalf("admin remove: %d %s", r.status, r.body)
	}
	requireProblem(t, "admin remove again", b.call("DELETE", base+"/"+fp, nil), 404, "not_found")
	requireProblem(t, "bob's session made with the removed certificate", bobs.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	ce.beginUnrecognized("removed by an admin", ce.client(), bob, header(good)...)
	if len(ce.audit(audit.AdminCertAdd, "success")) != 1 || len(ce.audit(audit.AdminCertRemove, "success")) != 1 {
		t.Fatal("admin certificate changes not audited")
	}
}
