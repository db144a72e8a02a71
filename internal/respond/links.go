package respond

import (
	"bytes"
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
//	version   1 byte (1)
//	kind      1 byte: 1 channel, 2 email
//	expires   8 bytes, Unix seconds, big-endian
//	nonce     uvarint length, 8 bytes
//	gate      uvarint length, bytes
//	recipient uvarint length, bytes: empty for a channel link, the
//	          lower-cased address for an email link
//	mac       32 bytes: HMAC-SHA256 of everything before it
//
// Lengths are minimal uvarints: a token is accepted only when it is exactly
// what signing its contents gives.
const (
	tokenVersion  = 1
	nonceSize     = 8
	macSize       = sha256.Size
	maxTokenChars = 1024
)

// kind says whom a link is for.
type kind byte

const (
	// kindChannel is a link posted to a channel (a Workflows card): anyone
	// who signs in with GitHub may use it, and the gate counts each person
	// once.
	kindChannel kind = 1
	// kindEmail is a link mailed to one person: it answers as its
	// recipient, once.
	kindEmail kind = 2
)

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
	return l.link(claims{kind: kindChannel, gate: gateID, expires: expires})
}

// Email returns the link mailed to recipient: {publicURL}/respond/{token},
// good for gateID until expires and answering as recipient (lower-cased).
// A link for an empty recipient is never accepted.
func (l *Links) Email(gateID, recipient string, expires time.Time) string {
	return l.link(claims{kind: kindEmail, gate: gateID, recipient: strings.ToLower(recipient), expires: expires})
}

// link signs c with a fresh nonce.
func (l *Links) link(c claims) string {
	c.nonce = make([]byte, nonceSize)
	_, _ = rand.Read(c.nonce) // never fails
	return l.publicURL + "/respond/" + l.sign(c)
}

func (l *Links) sign(c claims) string {
	b := encode(c)
	m := hmac.New(sha256.New, l.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

// encode writes a token body.
func encode(c claims) []byte {
	b := []byte{tokenVersion, byte(c.kind)}
	b = binary.BigEndian.AppendUint64(b, uint64(c.expires.Unix()))
	for _, field := range [][]byte{c.nonce, []byte(c.gate), []byte(c.recipient)} {
		b = binary.AppendUvarint(b, uint64(len(field)))
		b = append(b, field...)
	}
	return b
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
	if !ok || !bytes.Equal(encode(c), body) {
		return claims{}, errInvalidLink
	}
	if !now.Before(c.expires) {
		return claims{}, errExpiredLink
	}
	return c, nil
}

// parseClaims reads a signed token body: a channel link carries no
// recipient, an email link always one.
func parseClaims(b []byte) (claims, bool) {
	if len(b) < 10 || b[0] != tokenVersion || (kind(b[1]) != kindChannel && kind(b[1]) != kindEmail) {
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
	if len(rest) != 0 || len(c.nonce) != nonceSize || c.gate == "" || (c.kind == kindChannel) != (c.recipient == "") {
		return claims{}, false
	}
	return c, true
}
