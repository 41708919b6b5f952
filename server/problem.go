package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// Problem is an RFC 9457 problem document, with the stable machine word
// `code` that API.md adds. It is also an error: handlers return it and the
// central error handler writes it.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`

	// Message is Detail before it is put into words: Detail is its English,
	// and pages and German-speaking clients get it in their own language
	// (localize).
	Message i18n.Message `json:"-"`
	// RetryAfter, when set, becomes the Retry-After header (RFC 9110 §10.2.3).
	RetryAfter time.Duration `json:"-"`
	// Cause is logged, never sent.
	Cause error `json:"-"`
}

func (p *Problem) Error() string {
	if p.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", p.Status, p.Code, p.Detail, p.Cause)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
}

func (p *Problem) Unwrap() error { return p.Cause }

// problemTypeBase prefixes the code to form the problem type URI.
const problemTypeBase = "urn:mutualauth:problem:"

// NewProblem builds a problem document whose detail is the catalog's
// message key with args (templates/i18n, "problem.*"). The detail is shown
// to people and must never contain a secret.
func NewProblem(status int, code, key string, args ...any) *Problem {
	return problemOf(status, code, i18n.M(key, args...))
}

func problemOf(status int, code string, m i18n.Message) *Problem {
	return &Problem{
		Type:    problemTypeBase + code,
		Title:   http.StatusText(status),
		Status:  status,
		Detail:  m.English(),
		Code:    code,
		Message: m,
	}
}

// statusTitle is the title of a problem of status: the catalog's
// "status.NNN", whose English is http.StatusText's; a status without one is
// named in English in every language.
func statusTitle(status int) i18n.Message {
	key := "status." + strconv.Itoa(status)
	if catalog().Complete(i18n.M(key)) {
		return i18n.M(key)
	}
	return i18n.Verbatim(http.StatusText(status))
}

// localize is p with its title and detail in the language pr speaks; type,
// status and code never change. English is p itself, so the API's English
// texts stay exactly what they are.
func (p *Problem) localize(pr *i18n.Printer) *Problem {
	if pr.Tag == i18n.Languages[0] || p.Message.IsZero() {
		return p
	}
	q := *p
	q.Title = pr.Message(statusTitle(p.Status))
	q.Detail = pr.Message(p.Message)
	return &q
}

// Problems used across handlers.
var (
	errInvalidCredentials = func() *Problem {
		return NewProblem(http.StatusUnauthorized, "invalid_credentials", "problem.invalid-credentials")
	}
	errUnauthenticated = func() *Problem { return toProblem(account.ErrSignedOut) }
	errForbidden       = func() *Problem {
		return NewProblem(http.StatusForbidden, "forbidden", "problem.forbidden")
	}
	errNotFound = func() *Problem {
		return NewProblem(http.StatusNotFound, "not_found", "problem.not-found")
	}
)

// badRequest is a 400 with code bad_request; key names its detail.
func badRequest(key string, args ...any) *Problem {
	return NewProblem(http.StatusBadRequest, "bad_request", key, args...)
}

// ErrorHandler is the one place where errors become responses. Expected
// problems are written as they are; store outages become 503
// store_unavailable; anything else is logged with its detail and answered
// with a bare 500.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := toProblem(err)
		req := c.Request()
		switch {
		case p.Status >= 500:
			log.Error("request failed", "method", req.Method, "route", c.Path(), "path", req.URL.Path, "status", p.Status,
				"code", p.Code, "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		case p.Cause != nil:
			log.Debug("request refused", "method", req.Method, "route", c.Path(), "path", req.URL.Path, "status", p.Status,
				"code", p.Code, "err", p.Cause)
		}
		if wantsHTML(req) {
			if r, ok := c.Echo().Renderer.(problemPageRenderer); ok {
				setRetryAfter(c.Response().Header(), p)
				if rerr := r.RenderProblem(c, p); rerr == nil {
					return
				}
			}
		}
		writeProblem(c.Response(), req, p)
	}
}

// writeProblem writes p as application/problem+json (RFC 9457 §3), its
// title and detail in the language the request names (Content-Language
// says which), else in English; type, status and code are the same in
// every language.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	h := w.Header()
	setRetryAfter(h, p)
	h.Add("Vary", "Accept-Language, Cookie")
	if pr, named := requestPrinter(r); named {
		p = p.localize(pr)
		h.Set("Content-Language", pr.Tag.String())
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(p.Status)
		return
	}
	h.Set(echo.HeaderContentType, "application/problem+json")
	w.WriteHeader(p.Status)
	_ = jsonEncode(w, p)
}

func setRetryAfter(h http.Header, p *Problem) {
	if p.RetryAfter > 0 {
		secs := int((p.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
}

// problemPageRenderer renders a problem as an HTML page for browsers.
type problemPageRenderer interface {
	RenderProblem(c echo.Context, p *Problem) error
}

func wantsHTML(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/auth/") || r.Method != http.MethodGet {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// accountStatus is the HTTP status of each kind of refusal of the domain
// operations.
var accountStatus = map[account.Kind]int{
	account.Invalid:         http.StatusUnprocessableEntity,
	account.NotFound:        http.StatusNotFound,
	account.Conflict:        http.StatusConflict,
	account.Forbidden:       http.StatusForbidden,
	account.Unauthenticated: http.StatusUnauthorized,
	account.Unavailable:     http.StatusNotImplemented,
}

func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, passkey.ErrUnavailable) && !errors.As(err, new(*account.Error)) {
		err = account.ErrWebAuthnUnavailable
	}
	var ae *account.Error
	if errors.As(err, &ae) {
		p := problemOf(accountStatus[ae.Kind], ae.Code, ae.Message)
		p.Cause = ae.Err
		return p
	}
	// The throttled answer of every factor check (login steps and
	// re-authentication): NIST SP 800-63B §5.2.2.
	var te *login.ThrottledError
	if errors.As(err, &te) {
		p := NewProblem(http.StatusTooManyRequests, "too_many_attempts", "problem.too-many-attempts")
		p.RetryAfter = te.RetryAfter
		return p
	}
	if errors.Is(err, store.ErrUnavailable) {
		p := NewProblem(http.StatusServiceUnavailable, "store_unavailable", "problem.store-unavailable")
		p.Cause = err
		p.RetryAfter = 5 * time.Second
		return p
	}
	if errors.Is(err, context.DeadlineExceeded) {
		p := NewProblem(http.StatusServiceUnavailable, "timeout", "problem.timeout")
		p.Cause = err
		return p
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code := map[int]string{
			http.StatusNotFound:              "not_found",
			http.StatusMethodNotAllowed:      "method_not_allowed",
			http.StatusRequestEntityTooLarge: "body_too_large",
			http.StatusUnsupportedMediaType:  "unsupported_media_type",
			http.StatusTooManyRequests:       "too_many_requests",
			http.StatusUnauthorized:          "unauthenticated",
			http.StatusForbidden:             "forbidden",
		}[he.Code]
		if code == "" {
			if he.Code >= 500 {
				code = "internal_error"
			} else {
				code = "bad_request"
			}
		}
		detail := statusTitle(he.Code)
		if he.Code == http.StatusRequestEntityTooLarge {
			detail = i18n.M("problem.body-too-large")
		}
		if he.Code >= 500 {
			detail = i18n.M("problem.internal-error")
		}
		p := problemOf(he.Code, code, detail)
		p.Cause = err
		return p
	}
	p = NewProblem(http.StatusInternalServerError, "internal_error", "problem.internal-error")
	p.Cause = err
	return p
}
