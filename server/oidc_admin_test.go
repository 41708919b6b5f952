package server

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"mutualauth/server/audit"
	"mutualauth/server/token"
)

func TestAdminOIDCClientsAndEmail(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	ctx := context.Background()

	var created struct {
		ClientID     string      `json:"client_id"`
		ClientSecret string      `json:"client_secret"`
		Client       adminClient `json:"client"`
	}
	r := admin.call("POST", "/api/v1/admin/clients", map[string]any{"name": "Grafana",
		"redirect_uris":             []string{"https://grafana.example/login/generic_oauth"},
		"post_logout_redirect_uris": []string{"https://grafana.example/login"}})
	adminRequireStatus(t, "create OIDC client", r, 201)
	r.decode(t, &created)
	if !token.Valid(created.ClientSecret) || !slices.Equal(created.Client.RedirectURIs, []string{"https://grafana.example/login/generic_oauth"}) ||
		len(created.Client.Origins) != 0 || created.Client.Public {
		t.Fatalf("created %s", r.body)
	}
	adminRequireAudited(t, e, audit.AdminClientCreate, "success", root.User.ID, created.ClientID)

	// A public client has no secret, and none to rotate.
	var pub struct {
		ClientID     string      `json:"client_id"`
		ClientSecret *string     `json:"client_secret"`
		Client       adminClient `json:"client"`
	}
	r = admin.call("POST", "/api/v1/admin/clients", map[string]any{"name": "CLI", "public": true,
		"redirect_uris": []string{"http://127.0.0.1/callback"}})
	adminRequireStatus(t, "create public client", r, 201)
	r.decode(t, &pub)
	if pub.ClientSecret != nil || !pub.Client.Public {
		t.Fatalf("public client %s", r.body)
	}
	if cl, _ := e.Deps.Durable.GetClient(ctx, pub.ClientID); cl.SecretHash != nil {
		t.Fatal("public client stored with a secret")
	}
	requireProblem(t, "rotate public", admin.call("POST", "/api/v1/admin/clients/"+pub.ClientID+"/rotate", nil), 422, "public_client")

	for _, bad := range []map[string]any{
		{"name": "A", "redirect_uris": []string{"https://a.example/cb#x"}},
		{"name": "A", "redirect_uris": []string{"/relative"}},
		{"name": "A", "redirect_uris": []string{"https://*.a.example/cb"}},
		{"name": "A", "redirect_uris": []string{"myapp:/cb"}},
		{"name": "A", "origins": []string{"https://a.example"}, "post_logout_redirect_uris": []string{"javascript:alert(1)"}},
	} {
		requireProblem(t, "bad redirect URI", admin.call("POST", "/api/v1/admin/clients", bad), 422, "invalid_redirect_uri")
	}

	// PATCH: add a widget origin, make it public (secret gone), then
	// confidential again (a new secret, once).
	r = admin.call("PATCH", "/api/v1/admin/clients/"+created.ClientID, map[string]any{"origins": []string{"https://grafana.example"}, "public": true})
	adminRequireStatus(t, "update", r, 200)
	cl, _ := e.Deps.Durable.GetClient(ctx, created.ClientID)
	if !cl.Public || cl.SecretHash != nil || !slices.Equal(cl.Origins, []string{"https://grafana.example"}) || len(cl.RedirectURIs) != 1 {
		t.Fatalf("after update %+v", cl)
	}
	var again struct {
		ClientSecret string `json:"client_secret"`
	}
	r = admin.call("PATCH", "/api/v1/admin/clients/"+created.ClientID, map[string]any{"public": false})
	adminRequireStatus(t, "make confidential", r, 200)
	r.decode(t, &again)
	cl, _ = e.Deps.Durable.GetClient(ctx, created.ClientID)
	if !token.Valid(again.ClientSecret) || !token.Equal(cl.SecretHash, token.Hash(again.ClientSecret)) {
		t.Fatalf("confidential again: %s", r.body)
	}

	// The admin center shows and edits them.
	page := admin.adminPage("/admin/clients")
	for _, want := range []string{"https://grafana.example/login/generic_oauth", `name="redirect_uris"`, `name="public"`, "public</span>"} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("clients page lacks %q", want)
		}
	}
	r = admin.adminForm("/admin/clients", url.Values{"name": {"Gitea"}, "redirect_uris": {"https://git.example/user/oauth2/mutualauth/callback"}})
	adminRequireStatus(t, "create from the page", r, 200)
	if !strings.Contains(string(r.body), `id="client-secret-out"`) {
		t.Fatal("the new client's secret is not shown")
	}
	r = admin.adminForm("/admin/clients", url.Values{"name": {"Pub"}, "public": {"yes"}, "redirect_uris": {"http://127.0.0.1/cb"}})
	if !strings.Contains(string(r.body), `id="client-public-note"`) {
		t.Fatal("a public client's registration does not say it has no secret")
	}

	// Email: set on invite, edited by the API and the page, checked.
	var inv struct {
		User adminUser `json:"user"`
	}
	r = admin.call("POST", "/api/v1/admin/users", map[string]any{"username": "ada", "email": "ada@example.org"})
	adminRequireStatus(t, "invite with email", r, 201)
	r.decode(t, &inv)
	if inv.User.Email != "ada@example.org" || e.user(inv.User.ID).Email != "ada@example.org" {
		t.Fatalf("invited %s", r.body)
	}
	requireProblem(t, "bad email on invite", admin.call("POST", "/api/v1/admin/users", map[string]any{"username": "bo", "email": "bo"}), 422, "invalid_email")
	r = admin.call("PATCH", "/api/v1/admin/users/"+inv.User.ID, map[string]any{"email": "ada@lovelace.example"})
	adminRequireStatus(t, "set email", r, 200)
	if e.user(inv.User.ID).Email != "ada@lovelace.example" {
		t.Fatal("email not changed")
	}
	adminRequireAudited(t, e, audit.AdminUserEmail, "success", root.User.ID, inv.User.ID)
	requireProblem(t, "bad email", admin.call("PATCH", "/api/v1/admin/users/"+inv.User.ID, map[string]any{"email": "Ada <ada@x.example>"}), 422, "invalid_email")
	adminRequireStatus(t, "email from the page", admin.adminNoRedirects().adminForm("/admin/users/"+inv.User.ID+"/email", url.Values{"email": {""}}), 303)
	if e.user(inv.User.ID).Email != "" {
		t.Fatal("email not cleared from the page")
	}
	if !strings.Contains(string(admin.adminPage("/admin/users/"+inv.User.ID).body), `id="email-form"`) {
		t.Fatal("the user page has no email form")
	}
}
