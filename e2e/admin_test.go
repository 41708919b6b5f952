package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The admin center in headless Chromium against the real binary:
// the first-run admin enrolls from the link in the server log, signs in,
// invites a user, sees that user's session and ends it, disables the user,
// and reads each step in the audit log; widget clients are registered and
// their secret rotated; a non-admin gets 403 on every admin page and API.
// Every admin page is photographed.

const adminPassword = "Copper kettle 5120 sings"

// adminAccount is a user enrolled by the test.
type adminAccount struct {
	ID       string
	Username string
	Password string
	Recovery []string
}

// adminBootstrapURL returns the one-time admin enrollment URL the server
// logs on its first start.
func adminBootstrapURL(t *testing.T, s *Server) string {
	t.Helper()
	m := regexp.MustCompile(`enroll_url=(http://\S+/enroll/[A-Za-z0-9_-]{43})`).FindAllStringSubmatch(s.Logs(), -1)
	if len(m) != 1 {
		t.Fatalf("want one admin enrollment URL in the log, found %d:\n%s", len(m), s.Logs())
	}
	inviteToken(t, s, m[0][1])
	return m[0][1]
}

// adminEnrollOnPage enrolls through the enrollment page with a password, a
// suggested phrase and an authenticator app, and returns the recovery codes
// the page shows. The code confirmed is the one of the previous time step
// (the server accepts one step of drift), so the current one stays unused.
func adminEnrollOnPage(t *testing.T, ctx context.Context, enrollURL, username string) adminAccount {
	t.Helper()
	do(t, ctx, "open the enrollment page",
		chromedp.Navigate(enrollURL),
		chromedp.WaitVisible(chromedp.ID("step-password")),
	)
	if got := text(t, ctx, "enroll-username"); got != username {
		t.Fatalf("the enrollment page greets %q, want %q", got, username)
	}
	do(t, ctx, "set the password and a suggested phrase",
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.ID("password-submit")),
		chromedp.WaitVisible(chromedp.ID("step-phrase")),
		chromedp.Click(chromedp.ID("phrase-suggest")),
		chromedp.Poll[chromedp.Void](`document.getElementById("phrase").value.length > 0`),
		chromedp.Click(chromedp.ID("phrase-submit")),
		chromedp.WaitVisible(chromedp.ID("step-factors")),
		chromedp.Click(chromedp.ID("totp-start")),
		chromedp.Poll[chromedp.Void](`document.getElementById("totp-secret").textContent.length > 0`),
	)
	secret := strings.Join(strings.Fields(text(t, ctx, "totp-secret")), "")
	for attempt := 1; ; attempt++ {
		do(t, ctx, "confirm the code",
			clearInput("totp-code"),
			chromedp.SendKeys(chromedp.ID("totp-code"), loginTOTPCode(t, secret, time.Now().Add(-30*time.Second))),
			chromedp.Click(chromedp.ID("totp-confirm")),
			chromedp.Poll[chromedp.Void](`!document.getElementById("totp-status").hidden || !document.getElementById("totp-error").hidden`),
		)
		if eval[bool](t, ctx, `!document.getElementById("totp-status").hidden`) {
			break
		}
		// A time step ended between computing and checking; try again.
		if attempt == 3 {
			t.Fatalf("the authenticator code was refused: %s", text(t, ctx, "totp-error"))
		}
		do(t, ctx, "hide the error", chromedp.Evaluate[chromedp.Void](`document.getElementById("totp-error").hidden = true`))
	}
	do(t, ctx, "finish",
		chromedp.WaitEnabled(chromedp.ID("complete")),
		chromedp.Click(chromedp.ID("complete")),
		chromedp.WaitVisible(chromedp.ID("step-codes")),
	)
	codes := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#codes li"), li => li.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	do(t, ctx, "confirm the codes are saved",
		chromedp.Click(chromedp.ID("codes-saved")),
		chromedp.WaitEnabled(chromedp.ID("codes-done")),
		chromedp.Click(chromedp.ID("codes-done")),
		chromedp.WaitVisible(chromedp.ID("step-done")),
	)
	return adminAccount{Username: username, Password: adminPassword, Recovery: codes}
}

// adminEnrollAPI enrolls through the enrollment JSON API from Go, as a
// person on another machine would: password, phrase, TOTP, completion.
func adminEnrollAPI(t *testing.T, s *Server, enrollURL, username string) adminAccount {
	t.Helper()
	api := s.URL() + "/api/v1/enroll/" + inviteToken(t, s, enrollURL)
	st, _, body := loginAPI(t, "POST", api+"/password", map[string]string{"password": adminPassword})
	loginMustStatus(t, "enroll password", st, http.StatusNoContent, body)
	st, _, body = loginAPI(t, "POST", api+"/phrase", map[string]string{"phrase": "amber gulls of " + username})
	loginMustStatus(t, "enroll phrase", st, http.StatusNoContent, body)
	st, _, body = loginAPI(t, "POST", api+"/totp", nil)
	loginMustStatus(t, "enroll totp", st, http.StatusOK, body)
	secret, _ := body["secret"].(string)
	for attempt := 1; ; attempt++ {
		st, _, body = loginAPI(t, "POST", api+"/totp/confirm", map[string]string{"code": loginTOTPCode(t, secret, time.Now())})
		if st == http.StatusNoContent {
			break
		}
		if attempt == 3 {
			loginMustStatus(t, "enroll totp confirm", st, http.StatusNoContent, body)
		}
	}
	st, _, body = loginAPI(t, "POST", api+"/complete", nil)
	loginMustStatus(t, "enroll complete", st, http.StatusOK, body)
	acct := adminAccount{Username: username, Password: adminPassword}
	codes, _ := body["recovery_codes"].([]any)
	for _, c := range codes {
		s, _ := c.(string)
		acct.Recovery = append(acct.Recovery, s)
	}
	if len(acct.Recovery) != 10 {
		t.Fatalf("recovery codes %v", body["recovery_codes"])
	}
	return acct
}

// adminAPISignIn signs in through the login API with a recovery code (an
// unrecognized client: the second factor first, then the password) and
// returns the client holding the session cookie.
func adminAPISignIn(t *testing.T, s *Server, acct *adminAccount) *apiLoginClient {
	t.Helper()
	c := newAPILoginClient(t, s.URL())
	var step struct {
		LoginID string   `json:"login_id"`
		Next    []string `json:"next"`
		Done    bool     `json:"done"`
		User    struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	c.must("POST", "/api/v1/login/begin", map[string]string{"username": acct.Username}, 200, &step)
	id := step.LoginID
	if !slices.Contains(step.Next, "recovery") {
		t.Fatalf("begin offers %v", step.Next)
	}
	code := acct.Recovery[0]
	acct.Recovery = acct.Recovery[1:]
	c.must("POST", "/api/v1/login/recovery", map[string]string{"login_id": id, "code": code}, 200, &step)
	c.must("POST", "/api/v1/login/password", map[string]string{"login_id": id, "password": acct.Password}, 200, &step)
	if !step.Done || step.User.ID == "" {
		t.Fatalf("sign-in of %s did not complete", acct.Username)
	}
	acct.ID = step.User.ID
	return c
}

// adminPageSignIn signs in on the login page with the password and a
// recovery code, with return_to=/admin, and waits until the browser has
// left the login page.
func adminPageSignIn(t *testing.T, ctx context.Context, s *Server, acct *adminAccount, recognized bool) {
	t.Helper()
	code := acct.Recovery[0]
	acct.Recovery = acct.Recovery[1:]
	loginOpen(t, ctx, s, "return_to=/admin")
	loginType(t, ctx, "username", acct.Username)
	if recognized {
		loginWaitFor(t, ctx, "password", "stop")
		loginType(t, ctx, "password", acct.Password)
	}
	loginWaitFor(t, ctx, "recovery-link", "stop")
	loginClick(t, ctx, "recovery-link")
	loginWaitFor(t, ctx, "recovery")
	loginType(t, ctx, "recovery", code)
	if !recognized {
		loginWaitFor(t, ctx, "password", "stop")
		loginType(t, ctx, "password", acct.Password)
	}
	// The page navigates away by itself; a poll inside it would be cut off
	// by the navigation, so ask for the location until it has changed.
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && !strings.HasPrefix(loc, s.URL()+"/login") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("still on the login page: %v (%s)", ctx.Err(), loc)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// adminSubmit clicks a form's submit button and waits until the answer
// has replaced the page (the old document is gone and the new one loaded),
// then until wait is visible.
func adminSubmit(t *testing.T, ctx context.Context, what string, button, wait chromedp.CSS) {
	t.Helper()
	do(t, ctx, what+": mark the page", chromedp.Evaluate[chromedp.Void](`window.adminOldPage = true`))
	do(t, ctx, what, chromedp.Click(button))
	for {
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.adminOldPage && document.readyState === "complete"`))
		if err == nil && fresh {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: the page was not replaced: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	do(t, ctx, what+": wait for the answer", chromedp.WaitVisible(wait))
}

// adminGo navigates and returns the HTTP status of the page.
func adminGo(t *testing.T, ctx context.Context, u string) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return int(resp.Status)
}

// adminRows returns an attribute of the rows of a table, in order.
func adminRows(t *testing.T, ctx context.Context, selector, attr string) []string {
	t.Helper()
	return loginJS[[]string](t, ctx, `return Array.from(document.querySelectorAll(a), r => r.getAttribute(b));`, selector, attr)
}

// adminEndpoints are every admin page and API route, with id standing for
// the user or client they act on.
func adminEndpoints(id string) [][2]string {
	return [][2]string{
		{"GET", "/admin"}, {"GET", "/admin/users/" + id}, {"GET", "/admin/audit"}, {"GET", "/admin/clients"},
		{"POST", "/admin/users"}, {"POST", "/admin/users/" + id + "/invite"}, {"POST", "/admin/users/" + id + "/disable"},
		{"POST", "/admin/users/" + id + "/enable"}, {"POST", "/admin/users/" + id + "/unlock"}, {"POST", "/admin/users/" + id + "/reset"},
		{"POST", "/admin/users/" + id + "/sessions/s1/revoke"}, {"POST", "/admin/users/" + id + "/devices/d1/delete"},
		{"POST", "/admin/users/" + id + "/credentials/c1/delete"}, {"POST", "/admin/clients"}, {"POST", "/admin/clients/" + id},
		{"POST", "/admin/clients/" + id + "/rotate"}, {"POST", "/admin/clients/" + id + "/delete"},
		{"GET", "/api/v1/admin/users"}, {"POST", "/api/v1/admin/users"}, {"GET", "/api/v1/admin/users/" + id},
		{"POST", "/api/v1/admin/users/" + id + "/disable"}, {"POST", "/api/v1/admin/users/" + id + "/enable"},
		{"POST", "/api/v1/admin/users/" + id + "/unlock"}, {"POST", "/api/v1/admin/users/" + id + "/reset"},
		{"DELETE", "/api/v1/admin/users/" + id + "/sessions/s1"}, {"DELETE", "/api/v1/admin/users/" + id + "/devices/d1"},
		{"DELETE", "/api/v1/admin/users/" + id + "/credentials/c1"}, {"GET", "/api/v1/admin/audit"},
		{"GET", "/api/v1/admin/clients"}, {"POST", "/api/v1/admin/clients"}, {"POST", "/api/v1/admin/clients/" + id + "/rotate"},
		{"PATCH", "/api/v1/admin/clients/" + id}, {"DELETE", "/api/v1/admin/clients/" + id},
	}
}

func TestAdminCenter(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)

	// The first-run admin enrolls from the logged link and signs in; the
	// enrolling browser is a recognized device.
	root := adminEnrollOnPage(t, ctx, adminBootstrapURL(t, s), "admin")
	adminPageSignIn(t, ctx, s, &root, true)
	do(t, ctx, "reach the admin center", chromedp.WaitVisible(chromedp.ID("users")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != s.URL()+"/admin" {
		t.Fatalf("after sign-in the browser is at %s, want %s/admin", loc, s.URL())
	}
	if rows := adminRows(t, ctx, "#users tr[data-user]", "data-user"); !slices.Equal(rows, []string{"admin"}) {
		t.Fatalf("users list %v", rows)
	}
	screenshot(t, ctx, "users")

	// The admin invites uma; the link is shown once, with a copy button.
	do(t, ctx, "fill the invite form",
		chromedp.SendKeys(chromedp.ID("new-username"), "uma"),
		chromedp.SendKeys(chromedp.ID("new-display-name"), "Uma Umbra"),
	)
	adminSubmit(t, ctx, "invite uma", "#new-user-submit", "#invite-url")
	umaInvite, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("invite-url")))
	if err != nil {
		t.Fatal(err)
	}
	inviteToken(t, s, umaInvite)
	if !eval[bool](t, ctx, `!document.querySelector('[data-copy="invite-url"]').hidden`) {
		t.Error("the copy button is hidden with JavaScript on")
	}
	if rows := adminRows(t, ctx, "#users tr[data-user]", "data-user"); !slices.Equal(rows, []string{"admin", "uma"}) {
		t.Fatalf("users list after the invite %v", rows)
	}
	screenshot(t, ctx, "invite-link")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, "enroll") {
		t.Fatalf("the invite link is in the address bar: %s", loc)
	}

	// uma enrolls and signs in from another machine (the API, with a
	// cookie jar).
	uma := adminEnrollAPI(t, s, umaInvite, "uma")
	umaClient := adminAPISignIn(t, s, &uma)
	umaClient.must("GET", "/api/v1/session", nil, 200, nil)

	// The admin finds uma and sees the session.
	do(t, ctx, "type a search", chromedp.SendKeys(chromedp.ID("q"), "um"))
	adminSubmit(t, ctx, "search for uma", `form[role=search] button[type=submit]`, `#users tr[data-user="uma"]`)
	if rows := adminRows(t, ctx, "#users tr[data-user]", "data-user"); !slices.Equal(rows, []string{"uma"}) {
		t.Fatalf("search for um: %v", rows)
	}
	adminSubmit(t, ctx, "open uma's page", `#users tr[data-user="uma"] a`, "#sessions")
	userURL, _ := chromedp.Run(ctx, chromedp.Location())
	if want := s.URL() + "/admin/users/" + uma.ID; userURL != want {
		t.Fatalf("uma's page is %s, want %s", userURL, want)
	}
	if rows := adminRows(t, ctx, "#sessions tr[data-session]", "data-session"); len(rows) != 1 {
		t.Fatalf("uma's sessions %v", rows)
	}
	if ua := eval[string](t, ctx, `document.querySelector("#sessions tr[data-session] td").title`); !strings.Contains(ua, "Go-http-client") {
		t.Errorf("the session's browser is %q", ua)
	}
	screenshot(t, ctx, "user-with-session")

	// Ends it: uma's next request is 401.
	adminSubmit(t, ctx, "end uma's session", `#sessions tr[data-session] button`, "#sessions-empty")
	if msg := text(t, ctx, "flash"); !strings.Contains(msg, "The session was ended.") {
		t.Errorf("flash %q", msg)
	}
	screenshot(t, ctx, "session-ended")
	umaClient.refused("GET", "/api/v1/session", nil, 401, "unauthenticated")

	// uma signs in again; the admin disables uma, which needs the
	// confirmation box and ends the new session at once.
	umaClient = adminAPISignIn(t, s, &uma)
	umaClient.must("GET", "/api/v1/session", nil, 200, nil)
	do(t, ctx, "reload uma's page", chromedp.Navigate(userURL), chromedp.WaitVisible(chromedp.ID("action-disable")))
	if eval[bool](t, ctx, `document.getElementById("action-disable").form.checkValidity()`) {
		t.Fatal("the disable form can be sent without ticking the confirmation")
	}
	do(t, ctx, "tick the confirmation", chromedp.Click(chromedp.ID("confirm-disable")))
	screenshot(t, ctx, "disable-confirmation")
	adminSubmit(t, ctx, "disable uma", "#action-disable", "#action-enable")
	if msg := text(t, ctx, "flash"); !strings.Contains(msg, "uma is disabled; 1 session was ended.") {
		t.Errorf("flash %q", msg)
	}
	if badges := text(t, ctx, "user-badges"); !strings.Contains(badges, "Disabled") {
		t.Errorf("badges %q", badges)
	}
	screenshot(t, ctx, "user-disabled")
	umaClient.refused("GET", "/api/v1/session", nil, 401, "unauthenticated")
	refused := newAPILoginClient(t, s.URL())
	var begin struct {
		LoginID string `json:"login_id"`
	}
	refused.must("POST", "/api/v1/login/begin", map[string]string{"username": "uma"}, 200, &begin)
	refused.refused("POST", "/api/v1/login/recovery", map[string]string{"login_id": begin.LoginID, "code": uma.Recovery[0]}, 401, "invalid_credentials")

	// The audit log shows each step, with the admin as the actor of theirs.
	do(t, ctx, "open the audit log", chromedp.Navigate(s.URL()+"/admin/audit"), chromedp.WaitVisible(chromedp.ID("audit")))
	screenshot(t, ctx, "audit-log")
	do(t, ctx, "type a filter", chromedp.SendKeys(chromedp.ID("f-user"), "uma"))
	adminSubmit(t, ctx, "filter by uma", "#f-submit", "#audit")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "user=uma") {
		t.Fatalf("the filter form went to %s", loc)
	}
	type auditRow struct {
		Action, Result, User, By string
	}
	var rows []auditRow
	raw := loginJS[string](t, ctx, `return JSON.stringify(Array.from(document.querySelectorAll("#audit tr[data-action]"), r => ({
		Action: r.dataset.action, Result: r.dataset.result, User: r.cells[3].textContent.trim(), By: r.cells[4].textContent.trim()})));`)
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	has := func(action, result, by string) bool {
		return slices.ContainsFunc(rows, func(r auditRow) bool {
			return r.Action == action && r.Result == result && r.User == "uma" && (by == "" || r.By == by)
		})
	}
	for _, want := range []struct{ action, result, by string }{
		{"admin.user.create", "success", "admin"},
		{"enroll.complete", "success", ""},
		{"login.complete", "success", "uma"},
		{"admin.session.revoke", "success", "admin"},
		{"admin.user.disable", "success", "admin"},
		{"login.recovery", "failure", ""},
	} {
		if !has(want.action, want.result, want.by) {
			t.Errorf("the audit log for uma lacks %s %s by %q: %+v", want.action, want.result, want.by, rows)
		}
	}
	for _, r := range rows {
		if r.User != "uma" {
			t.Errorf("the user filter let through %+v", r)
		}
	}
	screenshot(t, ctx, "audit-filtered")

	// Widget clients: registered with origins, the secret shown once, then
	// rotated: the old secret stops working at /api/v1/token.
	do(t, ctx, "open widget clients", chromedp.Navigate(s.URL()+"/admin/clients"), chromedp.WaitVisible(chromedp.ID("clients-empty")))
	screenshot(t, ctx, "clients-empty")
	do(t, ctx, "fill the client form",
		chromedp.SendKeys(chromedp.ID("client-name"), "Shop"),
		chromedp.SendKeys(chromedp.ID("client-origins"), "https://shop.example\nhttp://localhost:3000"),
	)
	adminSubmit(t, ctx, "register a client", "#new-client-submit", "#client-secret-out")
	clientID, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("client-id-out")))
	secret, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("client-secret-out")))
	if !strings.HasPrefix(clientID, "mac_") || len(secret) < 43 {
		t.Fatalf("client id %q secret %q", clientID, secret)
	}
	if origins := eval[string](t, ctx, `document.querySelector("#clients tr[data-client] ul").textContent`); !strings.Contains(origins, "https://shop.example") ||
		!strings.Contains(origins, "http://localhost:3000") {
		t.Errorf("origins shown: %q", origins)
	}
	screenshot(t, ctx, "client-created")
	token := func(secret string) (int, string) {
		req, _ := http.NewRequest("POST", s.URL()+"/api/v1/token", strings.NewReader(`{"code":"`+strings.Repeat("A", 43)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p apiProblem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Code
	}
	if st, code := token(secret); st != 401 || code != "invalid_grant" {
		t.Fatalf("the new client's secret at /api/v1/token: %d %s, want the secret accepted (and the made-up code refused)", st, code)
	}
	do(t, ctx, "open the client's actions",
		chromedp.Navigate(s.URL()+"/admin/clients"),
		chromedp.Click(chromedp.CSS(`#clients tr[data-client] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#clients form[action$="/rotate"] button`)),
	)
	screenshot(t, ctx, "client-manage")
	do(t, ctx, "confirm the rotation", chromedp.Click(chromedp.CSS(`#clients form[action$="/rotate"] input[name=confirm]`)))
	adminSubmit(t, ctx, "rotate the secret", `#clients form[action$="/rotate"] button`, "#client-secret-out")
	rotated, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("client-secret-out")))
	if rotated == secret || len(rotated) < 43 || !strings.Contains(text(t, ctx, "client-secret"), "old secret has stopped working") {
		t.Fatalf("rotation showed %q", rotated)
	}
	screenshot(t, ctx, "client-rotated")
	if st, code := token(secret); st != 401 || code != "invalid_client" {
		t.Fatalf("the old secret after rotation: %d %s, want 401 invalid_client", st, code)
	}
	if st, code := token(rotated); st != 401 || code != "invalid_grant" {
		t.Fatalf("the new secret after rotation: %d %s, want it accepted", st, code)
	}

	// The pages work without JavaScript: the invite link is on the page,
	// only the copy button (which needs script) stays hidden.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "invite otto without JavaScript",
		chromedp.Navigate(s.URL()+"/admin"),
		chromedp.WaitVisible(chromedp.ID("new-username")),
		chromedp.SendKeys(chromedp.ID("new-username"), "otto\r"),
		chromedp.WaitVisible(chromedp.ID("invite-url")),
	)
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.ID("invite-url")))
	if err != nil {
		t.Fatal(err)
	}
	inviteToken(t, s, attrs["value"])
	copyAttrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.CSS(`[data-copy="invite-url"]`)))
	if _, hidden := copyAttrs["hidden"]; err != nil || !hidden {
		t.Errorf("the copy button shows without JavaScript: %v %v", copyAttrs, err)
	}
	screenshot(t, ctx, "invite-link-without-javascript")
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatal(err)
	}

	// A narrow screen: the layout still reads.
	do(t, ctx, "narrow screen",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(userURL),
		chromedp.WaitVisible(chromedp.ID("sessions")),
	)
	// Wide tables scroll inside their own box; the page itself does not.
	checkNoSidewaysScroll(t, ctx, "the user page", 390)
	screenshot(t, ctx, "user-narrow-screen")
	do(t, ctx, "wide screen", chromedp.EmulateViewport(1280, 900))

	// A non-admin gets 403 on every admin page (the error page, in a
	// browser) and every admin API.
	nora := adminEnrollAPI(t, s, s.AdminInvite(t, "nora", "Nora", false), "nora")
	noraCtx := newBrowser(t)
	adminPageSignIn(t, noraCtx, s, &nora, false)
	for _, path := range []string{"/admin", "/admin/users/" + uma.ID, "/admin/audit", "/admin/clients"} {
		if st := adminGo(t, noraCtx, s.URL()+path); st != http.StatusForbidden {
			t.Errorf("non-admin GET %s in the browser: %d, want 403", path, st)
		}
		if body := text(t, noraCtx, "main"); !strings.Contains(body, "not allowed") {
			t.Errorf("non-admin GET %s shows %q, want the 403 page", path, body)
		}
	}
	screenshot(t, noraCtx, "non-admin-403")
	type result struct {
		Method, Path string
		Status       int
	}
	var results []result
	raw = loginJS[string](t, noraCtx, `
		const out = [];
		for (const [method, path] of a) {
			const init = {method, credentials: "same-origin", headers: {"Accept": "application/json"}};
			if (method !== "GET") { init.headers["Content-Type"] = "application/json"; init.body = "{}"; }
			const r = await fetch(path, init);
			out.push({Method: method, Path: path, Status: r.status});
		}
		return JSON.stringify(out);`, adminEndpoints(uma.ID))
	if err := json.Unmarshal([]byte(raw), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(adminEndpoints(uma.ID)) {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.Status != http.StatusForbidden {
			t.Errorf("non-admin %s %s from the browser: %d, want 403", r.Method, r.Path, r.Status)
		}
	}
	// And from a plain API client with nora's session.
	noraAPI := adminAPISignIn(t, s, &nora)
	for _, ep := range adminEndpoints(uma.ID) {
		var body any
		if ep[0] != "GET" {
			body = map[string]any{}
		}
		noraAPI.refused(ep[0], ep[1], body, 403, "forbidden")
	}
	// Nothing the non-admin sent took effect: uma is still disabled.
	var detail struct {
		User struct {
			Disabled bool `json:"disabled"`
		} `json:"user"`
	}
	detailJSON := loginJS[string](t, ctx, `const r = await fetch("/api/v1/admin/users/" + a); return await r.text();`, uma.ID)
	if err := json.Unmarshal([]byte(detailJSON), &detail); err != nil || !detail.User.Disabled {
		t.Fatalf("uma after the non-admin's requests: %s", detailJSON)
	}
}
