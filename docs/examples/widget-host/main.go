// Command widget-host is an example app that signs its users in with the
// mutualauth widget: its page embeds the widget (loaded with Subresource
// Integrity), and its backend exchanges the widget's one-time code for the
// user at the server's token endpoint with the app's client credentials.
//
//	mutualauth admin client create --name Example --origin http://127.0.0.1:3000
//	MUTUALAUTH_URL=http://localhost:8080 WIDGET_CLIENT_ID=mac_... WIDGET_CLIENT_SECRET=... \
//	  go run ./docs/examples/widget-host
//
// Optional: LISTEN (default 127.0.0.1:3000), WIDGET_PINNED_KEY (the server
// key's thumbprint: the widget then refuses any other key).
package main

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<meta charset="utf-8"><title>Example app</title>
<h1>Example app</h1>
<p id="who">Not signed in.</p>
<div id="login"></div>
<script src="{{.Issuer}}/widget.js" integrity="{{.Integrity}}" crossorigin="anonymous"></script>
<script>
MutualAuth.mount(document.getElementById("login"), {
  clientId: "{{.ClientID}}", pinnedKey: "{{.PinnedKey}}",
  onLogin: async (code) => {
    const r = await fetch("/exchange", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({code})});
    const b = await r.json();
    document.getElementById("who").textContent = r.ok
      ? "Signed in as " + b.user.display_name + " (" + b.user.username + ", " + b.amr.join("+") + ")"
      : "Sign-in failed: " + b.code;
  },
  onError: (err) => { document.getElementById("who").textContent = "Widget error: " + err.code; },
});
</script>
`))

func main() {
	issuer := strings.TrimRight(os.Getenv("MUTUALAUTH_URL"), "/")
	id, secret := os.Getenv("WIDGET_CLIENT_ID"), os.Getenv("WIDGET_CLIENT_SECRET")
	listen := os.Getenv("LISTEN")
	if listen == "" {
		listen = "127.0.0.1:3000"
	}
	// The script's integrity value, from the server's discovery document.
	var disc struct {
		Integrity string `json:"widget_integrity"`
	}
	resp, err := http.Get(issuer + "/.well-known/mutualauth")
	if err != nil {
		log.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Integrity == "" {
		log.Fatalf("no widget_integrity at %s: %v", issuer, err)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	http.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_ = page.Execute(w, map[string]string{"Issuer": issuer, "Integrity": disc.Integrity,
			"ClientID": id, "PinnedKey": os.Getenv("WIDGET_PINNED_KEY")})
	})
	// The backend's half: code in, user out. A real app would start its own
	// session for the user here.
	http.HandleFunc("POST /exchange", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		req, _ := http.NewRequest("POST", issuer+"/api/v1/token", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		res, err := client.Do(req)
		if err != nil {
			http.Error(w, `{"code":"unreachable"}`, http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})
	log.Printf("example app on http://%s", listen)
	log.Fatal(http.ListenAndServe(listen, nil))
}
