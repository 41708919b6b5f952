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

// NewProblem builds a problem document. detail is shown to people and must
// never contain a secret.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{
		Type:   problemTypeBase + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Problems used across handlers.
var (
	errInvalidCredentials = func() *Problem {
		return NewProblem(http.StatusUnauthorized, "invalid_credentials", "The credentials are not valid.")
	}
	errUnauthenticated = func() *Problem { return toProblem(account.ErrSignedOut) }
	errForbidden       = func() *Problem {
		return NewProblem(http.StatusForbidden, "forbidden", "You are not allowed to do this.")
	}
	errNotFound = func() *Problem {
		return NewProblem(http.StatusNotFound, "not_found", "There is nothing here.")
	}
)

// badRequest is a 400 with code bad_request.
func badRequest(detail string) *Problem {
	return NewProblem(http.StatusBadRequest, "bad_request", detail)
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

// writeProblem writes p as application/problem+json (RFC 9457 §3).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	setRetryAfter(w.Header(), p)
	if r.Method == http.MethodHead {
		w.WriteHeader(p.Status)
		return
	}
	w.Header().Set(echo.HeaderContentType, "application/problem+json")
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
		p := NewProblem(accountStatus[ae.Kind], ae.Code, ae.Detail)
		p.Cause = ae.Err
		return p
	}
	// The throttled answer of every factor check (login steps and
	// re-authentication): NIST SP 800-63B §5.2.2.
	var te *login.ThrottledError
	if errors.As(err, &te) {
		p := NewProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts. Wait, then try again.")
		p.RetryAfter = te.RetryAfter
		return p
	}
	if errors.Is(err, store.ErrUnavailable) {
		p := NewProblem(http.StatusServiceUnavailable, "store_unavailable",
			"A storage backend cannot be reached. Try again shortly.")
		p.Cause = err
		p.RetryAfter = 5 * time.Second
		return p
	}
	if errors.Is(err, context.DeadlineExceeded) {
		p := NewProblem(http.StatusServiceUnavailable, "timeout", "The request took too long. Try again shortly.")
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
		detail := http.StatusText(he.Code)
		if he.Code == http.StatusRequestEntityTooLarge {
			detail = "The request body is larger than 64 KiB."
		}
		if he.Code >= 500 {
			detail = "Something went wrong on our side."
		}
		p := NewProblem(he.Code, code, detail)
		p.Cause = err
		return p
	}
	p = NewProblem(http.StatusInternalServerError, "internal_error", "Something went wrong on our side.")
	p.Cause = err
	return p
}
