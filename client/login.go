package client

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// Steps a login may ask for next (API.md, "Login").
const (
	StepPassword = "password"
	StepOTP      = "otp"
	StepWebAuthn = "webauthn"
	StepRecovery = "recovery"
)

// Login is a login transaction whose every answer so far was proven.
type Login struct {
	c        *Client
	ID       string
	Username string   // as the server understood it, from the verified proof
	Next     []string // the steps the server accepts next
	// Phrase is the user's security phrase, set only from a verified proof
	// that carries it (begin on a recognized device, or a WebAuthn step).
	Phrase string
}

// User is the signed-in user of a completion.
type User struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// Completion is a finished login.
type Completion struct {
	User        User      `json:"user"`
	AMR         []string  `json:"amr"`
	ExpiresAt   time.Time `json:"expires_at"`
	DeviceToken string    `json:"device_token"`
	// Session is the session the server set, ready for a FileStore.
	Session *Session `json:"-"`
}

// Step is the answer to one factor: either more steps (Next) or Done.
type Step struct {
	Next []string
	Done *Completion
}

type stepAnswer struct {
	LoginID     string   `json:"login_id"`
	Proof       string   `json:"proof"`
	Next        []string `json:"next"`
	PhraseShown bool     `json:"phrase_shown"`
	Done        bool     `json:"done"`
	Completion
}

// Begin starts a login for username, sending deviceToken when the client
// holds one for this server and user (a recognized device). It returns only
// after the answer's proof is verified.
func (c *Client) Begin(ctx context.Context, username, deviceToken string) (*Login, error) {
	nonce := NewNonce()
	req := map[string]string{"username": username, "client_nonce": nonce}
	if deviceToken != "" {
		req["device_token"] = deviceToken
	}
	a, _, err := c.post(ctx, "/api/v1/login/begin", req)
	if err != nil {
		return nil, err
	}
	v, err := c.Verify(ctx, a.Proof, nonce, a.LoginID)
	if err != nil {
		return nil, err
	}
	if a.PhraseShown && v.Claims.Phrase == "" {
		return nil, &NotProvenError{Reason: "it said it showed the security phrase, but its signed proof carries none"}
	}
	return &Login{c: c, ID: a.LoginID, Username: v.Claims.Username, Next: a.Next, Phrase: v.Claims.Phrase}, nil
}

// Password sends the password.
func (l *Login) Password(ctx context.Context, password string) (*Step, error) {
	return l.step(ctx, "/api/v1/login/password", map[string]any{"password": password})
}

// OTP sends a TOTP code.
func (l *Login) OTP(ctx context.Context, code string) (*Step, error) {
	return l.step(ctx, "/api/v1/login/otp", map[string]any{"code": code})
}

// Recovery sends a recovery code.
func (l *Login) Recovery(ctx context.Context, code string) (*Step, error) {
	return l.step(ctx, "/api/v1/login/recovery", map[string]any{"code": code})
}

// Accepts reports whether the server accepts step next.
func (l *Login) Accepts(step string) bool { return slices.Contains(l.Next, step) }

// step posts one factor with a fresh nonce. The answer, a further step or
// the completion, counts only with a verified proof for this login.
func (l *Login) step(ctx context.Context, path string, fields map[string]any) (*Step, error) {
	nonce := NewNonce()
	fields["login_id"] = l.ID
	fields["client_nonce"] = nonce
	a, r, err := l.c.post(ctx, path, fields)
	if err != nil {
		return nil, err
	}
	v, err := l.c.Verify(ctx, a.Proof, nonce, l.ID)
	if err != nil {
		if a.Done {
			l.c.endSession(ctx, sessionFrom(r, a))
		}
		return nil, err
	}
	if a.PhraseShown && v.Claims.Phrase == "" {
		return nil, &NotProvenError{Reason: "it said it showed the security phrase, but its signed proof carries none"}
	}
	if v.Claims.Phrase != "" {
		l.Phrase = v.Claims.Phrase
	}
	if a.Done {
		done := a.Completion
		done.Session = sessionFrom(r, a)
		if done.Session == nil {
			return nil, &NotProvenError{Reason: "it completed the login without setting a session"}
		}
		return &Step{Done: &done}, nil
	}
	l.Next = a.Next
	return &Step{Next: a.Next}, nil
}

// post sends one login step and reads its 200 answer; any other status is
// the server's *Problem.
func (c *Client) post(ctx context.Context, path string, body any) (stepAnswer, response, error) {
	r, err := c.do(ctx, http.MethodPost, path, body, nil)
	if err != nil {
		return stepAnswer{}, r, err
	}
	if r.status != http.StatusOK {
		return stepAnswer{}, r, problem(r)
	}
	var a stepAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		return stepAnswer{}, r, &NotProvenError{Reason: "its answer is malformed", Err: err}
	}
	return a, r, nil
}

// sessionFrom reads the session cookie of a completion.
func sessionFrom(r response, a stepAnswer) *Session {
	res := http.Response{Header: r.header}
	for _, ck := range res.Cookies() {
		if ck.Name == "mutualauth_session" || ck.Name == "__Host-mutualauth_session" {
			return &Session{Username: a.User.Username, CookieName: ck.Name, Token: ck.Value, ExpiresAt: a.ExpiresAt}
		}
	}
	return nil
}
