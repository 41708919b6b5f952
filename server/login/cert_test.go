package login

import (
	"slices"
	"testing"
)

func TestCertificateLogin(t *testing.T) {
	tx := Transaction{Username: "alice", UserID: "u1", DeviceID: "dev1"}.WithCert("fp1")
	if !tx.Recognized || !tx.PhraseRevealed() || tx.Complete() {
		t.Fatalf("after begin with a certificate: %+v", tx)
	}
	if got := tx.Next(); !slices.Equal(got, []Step{StepPassword}) {
		t.Fatalf("next %v, want only the password", got)
	}
	if tx.ThrottleKey() != "thr:c:fp1" || tx.PerUsername() {
		t.Fatalf("throttle key %q, per username %v", tx.ThrottleKey(), tx.PerUsername())
	}
	tx = tx.Succeed(StepPassword, false)
	if !tx.Complete() || len(tx.Next()) != 0 {
		t.Fatalf("not complete after the password: %+v", tx)
	}
	if got := tx.AMR(); !slices.Equal(got, []string{"pwd", "swk", "mfa"}) {
		t.Fatalf("amr %v", got)
	}
	otp := Transaction{UserID: "u1", Second: MethodOTP, PasswordOK: true}
	// v1.1: every two-factor completion carries "mfa".
	if got := otp.AMR(); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr without a certificate %v", got)
	}
}
