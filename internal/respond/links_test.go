package respond

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLinks(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := NewLinks(testSecret, "https://gatehouse.example/")
	link := l.Channel("3f2a9c0d1e4b5a67", now.Add(time.Hour))
	token, ok := strings.CutPrefix(link, "https://gatehouse.example/respond/")
	if !ok || len(token) > 120 || strings.ContainsAny(token, "+/=") {
		t.Fatalf("link = %q, want a compact URL-safe token under https://gatehouse.example/respond/", link)
	}
	c, err := l.verify(token, now)
	if err != nil || c.gate != "3f2a9c0d1e4b5a67" || c.kind != kindChannel || !c.expires.Equal(now.Add(time.Hour)) || len(c.nonce) != nonceSize || c.recipient != "" {
		t.Fatalf("verify = %+v, %v", c, err)
	}
	if again := l.Channel("3f2a9c0d1e4b5a67", now.Add(time.Hour)); again == link {
		t.Errorf("two links are the same: the nonce is missing")
	}

	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	// resign signs a body Channel would not make with the right key.
	resign := func(body []byte) string {
		m := hmac.New(sha256.New, l.key)
		m.Write(body)
		return base64.RawURLEncoding.EncodeToString(m.Sum(append([]byte(nil), body...)))
	}
	body := raw[:len(raw)-macSize]
	withRecipient := append([]byte(nil), body...)
	withRecipient[len(withRecipient)-1] = 1
	withRecipient = append(withRecipient, 'x')
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"at expiry", token, now.Add(time.Hour), errExpiredLink},
		{"after expiry", token, now.Add(48 * time.Hour), errExpiredLink},
		{"another key", NewLinks([]byte("another secret key of 32 bytes!!"), "https://gatehouse.example").Channel("3f2a9c0d1e4b5a67", now.Add(time.Hour))[len("https://gatehouse.example/respond/"):], now, errInvalidLink},
		{"truncated", token[:len(token)-1], now, errInvalidLink},
		{"extended", token + "A", now, errInvalidLink},
		{"not base64", token[:10] + "*" + token[11:], now, errInvalidLink},
		{"unused bits set", nonCanonical(t, tokenOf(l.Channel("gg", now.Add(time.Hour)))), now, errInvalidLink},
		{"empty", "", now, errInvalidLink},
		{"too long", strings.Repeat("A", maxTokenChars+1), now, errInvalidLink},
		{"other version", resign(append([]byte{2}, body[1:]...)), now, errInvalidLink},
		{"unknown kind", resign(append([]byte{1, 9}, body[2:]...)), now, errInvalidLink},
		{"trailing bytes", resign(append(append([]byte(nil), body...), 0)), now, errInvalidLink},
		{"channel link with a recipient", resign(withRecipient), now, errInvalidLink},
		{"length past the end", resign(append(append([]byte(nil), body[:10]...), 0xff, 0x01)), now, errInvalidLink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.verify(tt.token, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("verify = %v, want %v", err, tt.want)
			}
		})
	}

	// Changing any bit of the token is caught.
	for i := range raw {
		for bit := range 8 {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if _, err := l.verify(base64.RawURLEncoding.EncodeToString(b), now); !errors.Is(err, errInvalidLink) {
				t.Fatalf("byte %d bit %d flipped: verify = %v, want errInvalidLink", i, bit, err)
			}
		}
	}
}

// nonCanonical sets an unused low bit of a token's last character: the
// same bytes, written another way.
func nonCanonical(t *testing.T, token string) string {
	if len(token)%4 == 0 {
		t.Fatalf("token %q has no unused bits", token)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	return token[:len(token)-1] + string(alphabet[last^1])
}
