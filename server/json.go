package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}

// errBodyNotUTF8 is the cause of bindJSON's problem for a body that is not
// valid UTF-8, for handlers with a more specific answer.
var errBodyNotUTF8 = errors.New("request body is not valid UTF-8")

// maxJSONDepth bounds the nesting of arrays and objects in a request body;
// no endpoint needs more than a few levels.
const maxJSONDepth = 32

// bindJSON decodes a JSON request body into dst strictly: the content type
// must be application/json, the body one JSON object of valid UTF-8 with
// nothing after it, nested at most maxJSONDepth deep, and no object may
// name a key twice (400 duplicate_key: parsers disagree on which value
// wins, RFC 8259 §4). Unknown fields are ignored so that clients may send
// fields a later version understands. Every failure is a 4xx problem.
func bindJSON(c echo.Context, dst any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"problem.json-media-type")
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return NewProblem(http.StatusRequestEntityTooLarge, "body_too_large", "problem.body-too-large")
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return badRequest("problem.body-unreadable")
	}
	if !utf8.Valid(body) {
		p := badRequest("problem.body-not-utf8")
		p.Cause = errBodyNotUTF8
		return p
	}
	if !json.Valid(body) {
		return badRequest("problem.body-not-json")
	}
	if err := checkJSONShape(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest("problem.field-type", typeErr.Field)
		}
		return badRequest("problem.body-shape")
	}
	if dec.More() {
		return badRequest("problem.body-trailing-data")
	}
	return nil
}

// checkJSONShape walks the tokens of body, one valid JSON value, and
// refuses nesting deeper than maxJSONDepth and objects that repeat a key.
// Keys are compared the way encoding/json matches them to struct fields
// (Unicode simple case folding), so {"password":..., "Password":...} is a
// duplicate too.
func checkJSONShape(body []byte) error {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]struct{}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				folded := foldKey(key)
				if _, dup := stack[n-1].keys[folded]; dup {
					return NewProblem(http.StatusBadRequest, "duplicate_key",
						"problem.duplicate-key")
				}
				stack[n-1].keys[folded] = struct{}{}
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return badRequest("problem.body-too-deep")
			}
			f := frame{object: tok == json.Delim('{'), wantKey: true}
			if f.object {
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
		}
		valueDone()
		if len(stack) == 0 {
			return nil
		}
	}
}

// foldKey maps every rune of s to the smallest rune of its simple case
// folding orbit, so that two keys are equal under strings.EqualFold exactly
// when their foldKey forms are equal.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
