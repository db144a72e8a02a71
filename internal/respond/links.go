package respond

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// Link token layout, before base64url (no padding):
//
//	version  1 byte (1)
//	kind     1 byte
//	expires  8 bytes, Unix seconds, big-endian
//	nonce    uvarint length, bytes
//	gate     uvarint length, bytes
//	recipient uvarint length, bytes (empty: the link is not bound to a person)
//	mac      32 bytes: HMAC-SHA256 of everything before it
const (
	tokenVersion  = 1
	nonceSize     = 8
	macSize       = sha256.Size
	maxTokenChars = 1024
)

// kind says whom a link is for.
type kind byte

// kindChannel is a link posted to a channel (a Workflows card): anyone who
// signs in with GitHub may use it, and the gate counts each person once.
const kindChannel kind = 1

var (
	errInvalidLink = errors.New("this link is not valid")
	errExpiredLink = errors.New("this link has expired")
)

// claims are what a link token says.
type claims struct {
	kind      kind
	gate      string
	recipient string
	nonce     []byte
	expires   time.Time
}

// Links makes and checks the signed links of response pages.
type Links struct {
	key       []byte
	publicURL string
}

// NewLinks returns Links that sign with a key derived from secret (the
// app's secret key) and point at publicURL.
func NewLinks(secret []byte, publicURL string) *Links {
	return &Links{key: derive(secret, "gatehouse respond link"), publicURL: strings.TrimRight(publicURL, "/")}
}

// derive returns the key for one purpose of the secret key, so that a value
// signed for one purpose is never accepted for another.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Channel returns the link for a channel card: {publicURL}/respond/{token},
// good for gateID until expires.
func (l *Links) Channel(gateID string, expires time.Time) string {
	nonce := make([]byte, nonceSize)
	_, _ = rand.Read(nonce) // never fails
	return l.publicURL + "/respond/" + l.sign(claims{kind: kindChannel, gate: gateID, nonce: nonce, expires: expires})
}

func (l *Links) sign(c claims) string {
	b := []byte{tokenVersion, byte(c.kind)}
	b = binary.BigEndian.AppendUint64(b, uint64(c.expires.Unix()))
	for _, field := range [][]byte{c.nonce, []byte(c.gate), []byte(c.recipient)} {
		b = binary.AppendUvarint(b, uint64(len(field)))
		b = append(b, field...)
	}
	m := hmac.New(sha256.New, l.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

// verify checks a token's signature in constant time, then its contents
// and expiry: errInvalidLink for anything altered or malformed,
// errExpiredLink for a genuine link past its expiry.
func (l *Links) verify(token string, now time.Time) (claims, error) {
	if len(token) > maxTokenChars {
		return claims{}, errInvalidLink
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < macSize {
		return claims{}, errInvalidLink
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	m := hmac.New(sha256.New, l.key)
	m.Write(body)
	if !hmac.Equal(sum, m.Sum(nil)) {
		return claims{}, errInvalidLink
	}
	c, ok := parseClaims(body)
	if !ok {
		return claims{}, errInvalidLink
	}
	if !now.Before(c.expires) {
		return claims{}, errExpiredLink
	}
	return c, nil
}

// parseClaims reads a signed token body. Only channel links exist so far:
// they carry no recipient.
func parseClaims(b []byte) (claims, bool) {
	if len(b) < 10 || b[0] != tokenVersion || kind(b[1]) != kindChannel {
		return claims{}, false
	}
	c := claims{kind: kind(b[1]), expires: time.Unix(int64(binary.BigEndian.Uint64(b[2:10])), 0)}
	rest := b[10:]
	var fields [3][]byte
	for i := range fields {
		n, size := binary.Uvarint(rest)
		if size <= 0 || n > uint64(len(rest)-size) {
			return claims{}, false
		}
		fields[i], rest = rest[size:size+int(n)], rest[size+int(n):]
	}
	c.nonce, c.gate, c.recipient = fields[0], string(fields[1]), string(fields[2])
	if len(rest) != 0 || c.gate == "" || c.recipient != "" {
		return claims{}, false
	}
	return c, true
}
