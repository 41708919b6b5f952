package storetest

import (
	"testing"
	"time"

	"mutualauth/store"
)

func durClientCert(userID string, created time.Time) store.ClientCert {
	return store.ClientCert{
		Fingerprint: durHex(32), UserID: userID, Subject: "CN=alice,O=Example", Issuer: "CN=Example CA",
		Serial: durHex(8), NotBefore: created.Add(-time.Hour), NotAfter: created.Add(365 * 24 * time.Hour), CreatedAt: created,
	}
}

func durClientCerts(t *testing.T, s store.Durable) {
	ctx := durCtx(t)
	u := durCreateUser(t, s, nil)
	other := durCreateUser(t, s, nil)
	t0 := durNow()
	c1 := durClientCert(u.ID, t0.Add(-time.Hour))
	c2 := durClientCert(u.ID, t0)
	oc := durClientCert(other.ID, t0)
	for _, c := range []store.ClientCert{c2, c1, oc} {
		durNoErr(t, "AddClientCert", s.AddClientCert(ctx, c))
	}
	got, err := s.GetClientCert(ctx, c1.Fingerprint)
	durNoErr(t, "GetClientCert", err)
	durSame(t, "GetClientCert", got, c1)
	_, err = s.GetClientCert(ctx, durHex(32))
	durWantErr(t, "GetClientCert unknown", err, store.ErrNotFound)

	// A certificate is bound to one user at most.
	taken := oc
	taken.UserID = u.ID
	durWantErr(t, "AddClientCert of another user's fingerprint", s.AddClientCert(ctx, taken), store.ErrAlreadyExists)
	durWantErr(t, "AddClientCert twice", s.AddClientCert(ctx, c1), store.ErrAlreadyExists)
	missing := durClientCert(durID("missing"), t0)
	durWantErr(t, "AddClientCert for an unknown user", s.AddClientCert(ctx, missing), store.ErrNotFound)

	used := t0.Add(time.Minute)
	durNoErr(t, "TouchClientCert", s.TouchClientCert(ctx, c1.Fingerprint, used))
	want := c1
	want.LastUsedAt = used
	got, err = s.GetClientCert(ctx, c1.Fingerprint)
	durNoErr(t, "GetClientCert", err)
	durSame(t, "touched certificate", got, want)
	durWantErr(t, "TouchClientCert unknown", s.TouchClientCert(ctx, durHex(32), used), store.ErrNotFound)

	list, err := s.ListClientCerts(ctx, u.ID)
	durNoErr(t, "ListClientCerts", err)
	if len(list) != 2 {
		t.Fatalf("ListClientCerts: %d, want 2", len(list))
	}
	durSame(t, "first listed certificate (oldest)", list[0], want)
	durSame(t, "second listed certificate", list[1], c2)

	durWantErr(t, "DeleteClientCert of another user", s.DeleteClientCert(ctx, other.ID, c1.Fingerprint), store.ErrNotFound)
	durNoErr(t, "DeleteClientCert", s.DeleteClientCert(ctx, u.ID, c1.Fingerprint))
	_, err = s.GetClientCert(ctx, c1.Fingerprint)
	durWantErr(t, "GetClientCert deleted", err, store.ErrNotFound)
	durWantErr(t, "DeleteClientCert again", s.DeleteClientCert(ctx, u.ID, c1.Fingerprint), store.ErrNotFound)

	durNoErr(t, "DeleteUserClientCerts", s.DeleteUserClientCerts(ctx, u.ID))
	if list, err = s.ListClientCerts(ctx, u.ID); err != nil || len(list) != 0 {
		t.Errorf("after DeleteUserClientCerts: %d certificates, %v", len(list), err)
	}
	_, err = s.GetClientCert(ctx, oc.Fingerprint)
	durNoErr(t, "other user's certificate survives", err)

	if del, ok := s.(UserDeleter); ok {
		durNoErr(t, "DeleteUser", del.DeleteUser(ctx, other.ID))
		_, err = s.GetClientCert(ctx, oc.Fingerprint)
		durWantErr(t, "GetClientCert of a deleted user", err, store.ErrNotFound)
	}
}
