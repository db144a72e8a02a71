package respond

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

func TestEmailLinks(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	expires := now.Add(time.Hour)
	l := NewLinks(testSecret, "https://gatehouse.example")
	link := l.Email("3f2a9c0d1e4b5a67", "Bob@Corp.Example", expires)
	token, ok := strings.CutPrefix(link, "https://gatehouse.example/respond/")
	if !ok || len(token) > 160 || strings.ContainsAny(token, "+/=") {
		t.Fatalf("link = %q, want a compact URL-safe token under https://gatehouse.example/respond/", link)
	}
	c, err := l.verify(token, now)
	if err != nil {
		t.Fatal(err)
	}
	want := claims{kind: kindEmail, gate: "3f2a9c0d1e4b5a67", recipient: "bob@corp.example", nonce: c.nonce, expires: expires}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(claims{})); diff != "" || len(c.nonce) != nonceSize {
		t.Fatalf("verify (-want +got):\n%s", diff)
	}

	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	resign := func(body []byte) string {
		m := hmac.New(sha256.New, l.key)
		m.Write(body)
		return base64.RawURLEncoding.EncodeToString(m.Sum(append([]byte(nil), body...)))
	}
	// keepMAC puts another body before the genuine signature.
	keepMAC := func(body []byte) string {
		return base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), body...), sum...))
	}
	// replace swaps one part of the body for another.
	replace := func(old, new string) []byte {
		return bytes.Replace(body, []byte(old), []byte(new), 1)
	}
	// asChannel is the body with the channel kind.
	asChannel := append([]byte{tokenVersion, byte(kindChannel)}, body[2:]...)
	// A recipient length written in two bytes instead of one.
	long := bytes.Replace(body, []byte("\x10bob@"), []byte("\x90\x00bob@"), 1)
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"at expiry", token, expires, errExpiredLink},
		{"after expiry", token, now.Add(48 * time.Hour), errExpiredLink},
		{"bob's link made alice's", keepMAC(replace("\x10bob@corp.example", "\x12alice@corp.example")), now, errInvalidLink},
		{"bob's link made rob's", keepMAC(replace("bob@", "rob@")), now, errInvalidLink},
		{"another gate", keepMAC(replace("3f2a9c0d1e4b5a67", "3f2a9c0d1e4b5a68")), now, errInvalidLink},
		{"later expiry", keepMAC(append(append(append([]byte(nil), body[:2]...), binary.BigEndian.AppendUint64(nil, uint64(now.Add(48*time.Hour).Unix()))...), body[10:]...)), now, errInvalidLink},
		{"channel kind", keepMAC(asChannel), now, errInvalidLink},
		{"truncated", token[:len(token)-2], now, errInvalidLink},
		{"another key", tokenOf(NewLinks([]byte("another secret key of 32 bytes!!"), "https://gatehouse.example").Email("3f2a9c0d1e4b5a67", "bob@corp.example", expires)), now, errInvalidLink},
		{"without a recipient", tokenOf(l.Email("3f2a9c0d1e4b5a67", "", expires)), now, errInvalidLink},
		{"signed channel link with a recipient", resign(asChannel), now, errInvalidLink},
		{"signed other version", resign(append([]byte{2}, body[1:]...)), now, errInvalidLink},
		{"signed unchanged", resign(body), now, nil},
		{"signed with a long nonce", resign(slices.Concat(body[:10], []byte{nonceSize + 1}, body[11:11+nonceSize], []byte{0}, body[11+nonceSize:])), now, errInvalidLink},
		{"signed with a non-minimal length", resign(long), now, errInvalidLink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.verify(tt.token, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("verify = %v, want %v", err, tt.want)
			}
		})
	}

	// Changing any bit of the token is caught: the recipient, the gate
	// and the expiry cannot be edited.
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

func TestLinksOfTwoGates(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := NewLinks(testSecret, "https://gatehouse.example")
	for _, gate := range []string{"g1", "g2"} {
		for _, link := range []string{l.Channel(gate, now.Add(time.Hour)), l.Email(gate, "alice@corp.example", now.Add(time.Hour))} {
			if c, err := l.verify(tokenOf(link), now); err != nil || c.gate != gate {
				t.Errorf("link for %s: gate %q, %v", gate, c.gate, err)
			}
		}
	}
}
