package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"mutualauth/server/audit"
	"mutualauth/store"
)

// NormalizeUserCode makes a typed user code comparable: upper case, no
// dashes or spaces (RFC 8628 §6.1 lets users type it loosely).
func NormalizeUserCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// StoreDeviceAuthorization keeps a new device authorization (RFC 8628 §3.2)
// until it expires; the user code maps to the device code's hash.
func (s *Storage) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	ttl := time.Until(expires)
	if ttl <= 0 {
		ttl = DeviceLifetime
	}
	err := s.KV.PutIfAbsent(ctx, userCodeKey(userCode), []byte(deviceKey(deviceCode)), ttl)
	if errors.Is(err, store.ErrAlreadyExists) {
		return op.ErrDuplicateUserCode
	}
	if err != nil {
		return err
	}
	return putJSON(ctx, s.KV, deviceKey(deviceCode), deviceGrant{ClientID: clientID, Scopes: scopes, UserCode: userCode, Expires: expires}, ttl)
}

// GetDeviceAuthorizatonState answers a poll of the device (RFC 8628 §3.5).
// An approved authorization is taken from the store, so it yields tokens
// once.
func (s *Storage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	var d deviceGrant
	if _, err := getJSON(ctx, s.KV, deviceKey(deviceCode), &d); err != nil {
		return nil, err
	}
	if d.ClientID != clientID {
		return nil, store.ErrNotFound
	}
	if d.Done || d.Denied {
		if _, err := s.KV.Take(ctx, deviceKey(deviceCode)); err != nil {
			return nil, err
		}
		_ = s.KV.Delete(ctx, userCodeKey(d.UserCode))
	}
	return &op.DeviceAuthorizationState{ClientID: d.ClientID, Scopes: d.Scopes, Expires: d.Expires,
		Done: d.Done, Denied: d.Denied, Subject: d.UserID, AMR: d.AMR, AuthTime: d.AuthTime}, nil
}

// DeviceRequest is a pending device authorization as the verification page
// shows it.
type DeviceRequest struct {
	UserCode   string
	ClientID   string
	ClientName string
	Scopes     []string
	Expires    time.Time
}

// ErrUnknownUserCode is returned for a user code that is unknown, expired
// or answered already.
var ErrUnknownUserCode = errors.New("oidc: unknown or expired user code")

func (s *Storage) deviceByUserCode(ctx context.Context, userCode string) (string, deviceGrant, error) {
	var d deviceGrant
	key, err := s.KV.Get(ctx, userCodeKey(userCode))
	if errors.Is(err, store.ErrNotFound) {
		return "", d, ErrUnknownUserCode
	}
	if err != nil {
		return "", d, err
	}
	if _, err := getJSON(ctx, s.KV, string(key), &d); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", d, ErrUnknownUserCode
		}
		return "", d, err
	}
	if d.Done || d.Denied || !s.Now().Before(d.Expires) {
		return "", d, ErrUnknownUserCode
	}
	return string(key), d, nil
}

// LookupDevice returns the pending authorization of a user code.
func (s *Storage) LookupDevice(ctx context.Context, userCode string) (DeviceRequest, error) {
	_, d, err := s.deviceByUserCode(ctx, userCode)
	if err != nil {
		return DeviceRequest{}, err
	}
	name := d.ClientID
	if c, err := s.Durable.GetClient(ctx, d.ClientID); err == nil && c.Name != "" {
		name = c.Name
	}
	return DeviceRequest{UserCode: d.UserCode, ClientID: d.ClientID, ClientName: name, Scopes: d.Scopes, Expires: d.Expires}, nil
}

// AnswerDevice records the user's consent (approve) or refusal for a user
// code, once, and audits it.
func (s *Storage) AnswerDevice(ctx context.Context, userCode string, approve bool, l Login) error {
	key, d, err := s.deviceByUserCode(ctx, userCode)
	if err != nil {
		return err
	}
	_, err = store.UpdateKV(ctx, s.KV, key, time.Until(d.Expires), func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, ErrUnknownUserCode
		}
		var cur deviceGrant
		if err := json.Unmarshal(old, &cur); err != nil {
			return nil, err
		}
		if cur.Done || cur.Denied {
			return nil, ErrUnknownUserCode
		}
		if approve {
			cur.Done, cur.UserID, cur.AMR, cur.AuthTime = true, l.UserID, l.AMR, l.AuthTime
		} else {
			cur.Denied = true
		}
		return json.Marshal(cur)
	})
	if err != nil {
		return err
	}
	result := "denied"
	if approve {
		result = "approved"
	}
	s.audit(ctx, store.AuditEvent{Actor: l.UserID, Subject: l.UserID, Action: audit.OIDCDevice, Result: result,
		Detail: "client " + d.ClientID + ", scopes " + strings.Join(d.Scopes, " ")})
	return nil
}

// Login is a completed mutual login, as it answers an authorization
// request or a device authorization.
type Login struct {
	UserID    string
	SessionID string
	AMR       []string
	AuthTime  time.Time
}
