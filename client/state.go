package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// PinStore keeps the pinned key (its RFC 7638 thumbprint) per server.
type PinStore interface {
	// PinnedKey returns the kid pinned for server, "" when none.
	PinnedKey(server string) (string, error)
	// SetPinnedKey pins kid for server.
	SetPinnedKey(server, kid string) error
}

// Session is a stored login session.
type Session struct {
	Username   string    `json:"username"`
	CookieName string    `json:"cookie_name"`
	Token      string    `json:"token"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// StateDir is where the command-line client keeps its state:
// $MUTUALAUTH_CLIENT_DIR, else $XDG_CONFIG_HOME/mutualauth, else
// ~/.config/mutualauth.
func StateDir(getenv func(string) string) (string, error) {
	if d := getenv("MUTUALAUTH_CLIENT_DIR"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "mutualauth"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("no state directory: set MUTUALAUTH_CLIENT_DIR (%w)", err)
		}
	}
	return filepath.Join(home, ".config", "mutualauth"), nil
}

// FileStore keeps, per server, the pinned kid, the device tokens (per user)
// and the session, in one JSON file 0600 per server in Dir (0700). Writes go
// through a temporary file and a rename, so a file is never half written.
type FileStore struct {
	Dir string
	mu  sync.Mutex
}

var _ PinStore = (*FileStore)(nil)

// serverState is one server's file.
type serverState struct {
	Server       string            `json:"server"`
	PinnedKID    string            `json:"pinned_kid,omitempty"`
	DeviceTokens map[string]string `json:"device_tokens,omitempty"`
	Session      *Session          `json:"session,omitempty"`
}

const defaultFile = "default-server"

func (f *FileStore) path(server string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, server)
	return filepath.Join(f.Dir, "server-"+name+".json")
}

func (f *FileStore) read(server string) (serverState, error) {
	b, err := os.ReadFile(f.path(server))
	if errors.Is(err, fs.ErrNotExist) {
		return serverState{Server: server}, nil
	}
	if err != nil {
		return serverState{}, err
	}
	var st serverState
	if err := json.Unmarshal(b, &st); err != nil {
		return serverState{}, fmt.Errorf("client state %s: %w", f.path(server), err)
	}
	if st.Server != server {
		return serverState{}, fmt.Errorf("client state %s belongs to %s, not %s", f.path(server), st.Server, server)
	}
	return st, nil
}

func (f *FileStore) update(server string, change func(*serverState)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.read(server)
	if err != nil {
		return err
	}
	change(&st)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return f.write(f.path(server), append(b, '\n'))
}

// write puts b into name (0600) through a temporary file in the directory,
// which is created 0700 when missing and made 0700 when it is looser.
func (f *FileStore) write(name string, b []byte) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	if info, err := os.Stat(f.Dir); err != nil {
		return err
	} else if info.Mode().Perm() != 0o700 {
		if err := os.Chmod(f.Dir, 0o700); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(f.Dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// PinnedKey implements PinStore.
func (f *FileStore) PinnedKey(server string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.read(server)
	return st.PinnedKID, err
}

// SetPinnedKey implements PinStore.
func (f *FileStore) SetPinnedKey(server, kid string) error {
	return f.update(server, func(st *serverState) { st.PinnedKID = kid })
}

// DeviceToken returns the device token kept for user at server, "" when none.
func (f *FileStore) DeviceToken(server, user string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.read(server)
	return st.DeviceTokens[user], err
}

// SetDeviceToken keeps token for user at server; "" forgets it.
func (f *FileStore) SetDeviceToken(server, user, token string) error {
	return f.update(server, func(st *serverState) {
		if token == "" {
			delete(st.DeviceTokens, user)
			return
		}
		if st.DeviceTokens == nil {
			st.DeviceTokens = map[string]string{}
		}
		st.DeviceTokens[user] = token
	})
}

// Session returns the session kept for server, nil when none.
func (f *FileStore) Session(server string) (*Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.read(server)
	return st.Session, err
}

// SetSession keeps s for server (nil forgets it) and, when s is set, makes
// server the default for commands without --server.
func (f *FileStore) SetSession(server string, s *Session) error {
	if err := f.update(server, func(st *serverState) { st.Session = s }); err != nil {
		return err
	}
	if s == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.write(filepath.Join(f.Dir, defaultFile), []byte(server+"\n"))
}

// DefaultServer is the server of the last login, "" when none.
func (f *FileStore) DefaultServer() (string, error) {
	b, err := os.ReadFile(filepath.Join(f.Dir, defaultFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}
