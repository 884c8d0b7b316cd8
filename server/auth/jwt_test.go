package auth

import (
	"errors"
	"testing"
	"time"
)

// F11: the server's clock steps back or forward after tokens were issued.
func TestTokensSurviveClockSteps(t *testing.T) {
	clock := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	tk := NewTokens([]byte("0123456789abcdef0123456789abcdef"), "install")
	tk.now = func() time.Time { return clock }
	acc, err := tk.Issue(7, "user", TypeAccess, 0)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tk.Issue(7, "user", TypeRefresh, 0)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(step time.Duration, tok, typ string) error {
		clock = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC).Add(step)
		_, _, err := tk.Verify(tok, typ)
		return err
	}
	for _, step := range []time.Duration{-5 * time.Minute, -MaxClockStep + time.Second, 0, 5 * time.Minute, 59 * time.Minute, AccessTTL + leeway - time.Second} {
		if err := verify(step, acc.Token, TypeAccess); err != nil {
			t.Errorf("access token after a clock step of %v: %v", step, err)
		}
		if err := verify(step, ref.Token, TypeRefresh); err != nil {
			t.Errorf("refresh token after a clock step of %v: %v", step, err)
		}
	}
	// Beyond the tolerated steps: refused.
	if err := verify(-MaxClockStep-time.Minute, acc.Token, TypeAccess); !errors.Is(err, ErrBadToken) {
		t.Errorf("access token issued 11 minutes in the future: %v", err)
	}
	if err := verify(AccessTTL+leeway+time.Second, acc.Token, TypeAccess); !errors.Is(err, ErrBadToken) {
		t.Errorf("expired access token after a forward step: %v", err)
	}
	if err := verify(RefreshTTL+leeway+time.Second, ref.Token, TypeRefresh); !errors.Is(err, ErrBadToken) {
		t.Errorf("expired refresh token: %v", err)
	}
}
