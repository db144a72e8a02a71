package respond

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// FuzzVerify checks that verify never panics and accepts only what Links
// signed: a token it accepts is exactly the token signing its contents
// gives. A body signed with the key is read too, so that the parsing behind
// the signature check is fuzzed as well.
func FuzzVerify(f *testing.F) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := NewLinks(testSecret, "https://gatehouse.example")
	for _, token := range []string{
		tokenOf(l.Channel("3f2a9c0d1e4b5a67", now.Add(time.Hour))),
		tokenOf(l.Email("3f2a9c0d1e4b5a67", "alice@corp.example", now.Add(time.Hour))),
		tokenOf(l.Email("g", "", now.Add(time.Hour))),
		tokenOf(l.Email("g", "bob@corp.example", now.Add(-time.Hour))),
		"",
		"AQ",
		"hello",
	} {
		f.Add(token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		check := func(token string) {
			c, err := l.verify(token, now)
			switch {
			case errors.Is(err, errInvalidLink) || errors.Is(err, errExpiredLink):
				return
			case err != nil:
				t.Fatalf("verify(%q) = %v, want errInvalidLink or errExpiredLink", token, err)
			}
			if again := l.sign(c); again != token {
				t.Fatalf("verify accepted %q, which signs as %q", token, again)
			}
			bound := c.kind == kindChannel && c.recipient == "" || c.kind == kindEmail && c.recipient != ""
			if c.gate == "" || !bound || !now.Before(c.expires) {
				t.Fatalf("verify accepted %q: %+v", token, c)
			}
		}
		check(token)
		if raw, err := base64.RawURLEncoding.DecodeString(token); err == nil && len(raw) > macSize {
			// The token's body signed: verify must read it without
			// panicking, and accept it only as Links would write it.
			body := raw[:len(raw)-macSize]
			m := hmac.New(sha256.New, l.key)
			m.Write(body)
			check(base64.RawURLEncoding.EncodeToString(m.Sum(body)))
		}
	})
}
