package i18n

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Message is a text for people that is put into words only when it is
// shown, in the language of whoever reads it: a catalog key and the
// arguments of its format. An argument may itself be a Message (a rule's
// reason inside a sentence); it is put into the same language. A Message
// without a key is shown verbatim in every language (Verbatim).
type Message struct {
	Key  string
	Args []any
}

// M is the message key with args.
func M(key string, args ...any) Message { return Message{Key: key, Args: args} }

// Verbatim is a text that reads the same in every language: one that came
// from elsewhere (a library's error description) or holds no words.
func Verbatim(s string) Message { return Message{Args: []any{s}} }

// IsZero reports whether m is no message at all.
func (m Message) IsZero() bool { return m.Key == "" && len(m.Args) == 0 }

var loadDefault = sync.OnceValues(Load)

// Default is the embedded catalogs, loaded once for the whole process.
func Default() (*Catalog, error) { return loadDefault() }

// English puts m into English, the language of the API's problem details
// and of the logs. Should the embedded catalogs not load (the server then
// refuses to start: templates.Parse reports it), m comes out as "[key]", as
// a key missing from a catalog does.
func (m Message) English() string {
	c, err := Default()
	if err != nil {
		return "[" + m.Key + "]"
	}
	return c.Printer(Languages[0]).Message(m)
}

// The JSON form of a Message ({"k": key, "a": [args]}) carries it across a
// redirect (the pages' flash cookies). Arguments are strings, integers or
// Messages; anything else is refused on the way back.
type messageJSON struct {
	Key  string            `json:"k"`
	Args []json.RawMessage `json:"a,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (m Message) MarshalJSON() ([]byte, error) {
	out := messageJSON{Key: m.Key}
	for _, a := range m.Args {
		switch a.(type) {
		case string, int, Message:
		default:
			return nil, fmt.Errorf("i18n: a message argument of type %T", a)
		}
		raw, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		out.Args = append(out.Args, raw)
	}
	return json.Marshal(out)
}

// maxArgDepth bounds the nesting of Messages read back from JSON.
const maxArgDepth = 4

// UnmarshalJSON implements json.Unmarshaler.
func (m *Message) UnmarshalJSON(b []byte) error { return m.decode(b, 0) }

var errArgument = errors.New("i18n: a message argument is not a string, an integer or a message")

func (m *Message) decode(b []byte, depth int) error {
	if depth > maxArgDepth {
		return errArgument
	}
	var in messageJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := Message{Key: in.Key}
	for _, raw := range in.Args {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			return errArgument
		}
		var s string
		var n int
		var sub Message
		switch c := raw[0]; {
		case c == '"' && json.Unmarshal(raw, &s) == nil:
			out.Args = append(out.Args, s)
		case (c == '-' || c >= '0' && c <= '9') && json.Unmarshal(raw, &n) == nil:
			out.Args = append(out.Args, n)
		case c == '{' && sub.decode(raw, depth+1) == nil:
			out.Args = append(out.Args, sub)
		default:
			return errArgument
		}
	}
	*m = out
	return nil
}
