package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}

// bindJSON decodes a JSON request body into dst strictly: the content type
// must be application/json, the body one JSON object of valid UTF-8 with
// nothing after it. Unknown fields are ignored so that clients may send
// fields a later version understands. Every failure is a 4xx problem.
func bindJSON(c echo.Context, dst any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send the body as application/json.")
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return NewProblem(http.StatusRequestEntityTooLarge, "body_too_large", "The request body is larger than 64 KiB.")
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return badRequest("The request body could not be read.")
	}
	if !utf8.Valid(body) {
		return badRequest("The request body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest("The field " + typeErr.Field + " has the wrong type.")
		}
		return badRequest("The request body is not a valid JSON object for this endpoint.")
	}
	if dec.More() {
		return badRequest("The request body has data after the JSON object.")
	}
	return nil
}
