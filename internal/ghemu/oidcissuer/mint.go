package oidcissuer

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"
)

// Real tokens are valid from five minutes before they are issued until five
// minutes after.
const (
	tokenLifetime = 5 * time.Minute
	notBeforeSkew = 5 * time.Minute
)

// MintOption changes how Mint makes a token.
type MintOption func(*mintConfig)

type mintConfig struct {
	issuedAt time.Time
	issuer   *string
	sign     signMethod
}

type signMethod int

const (
	signCurrentKey signMethod = iota
	signUnknownKey
	signNone
	signHS256PublicKey
)

// IssuedAt sets the token's iat; nbf and exp follow from it as for real
// tokens (iat-5m and iat+5m).
func IssuedAt(t time.Time) MintOption {
	return func(c *mintConfig) { c.issuedAt = t }
}

// Expired makes a token that expired 55 minutes ago.
func Expired() MintOption {
	return IssuedAt(time.Now().Add(-time.Hour))
}

// NotYetValid makes a token that becomes valid in 55 minutes.
func NotYetValid() MintOption {
	return IssuedAt(time.Now().Add(time.Hour))
}

// IssuedBy sets the iss claim instead of the issuer's own URL.
func IssuedBy(issuer string) MintOption {
	return func(c *mintConfig) { c.issuer = &issuer }
}

// UnknownKey signs with an RSA key the issuer never publishes.
func UnknownKey() MintOption {
	return func(c *mintConfig) { c.sign = signUnknownKey }
}

// AlgNone makes an unsigned token: alg "none" and an empty signature.
func AlgNone() MintOption {
	return func(c *mintConfig) { c.sign = signNone }
}

// HS256WithPublicKey signs with HMAC-SHA256 keyed with the current public key
// in PEM form, the classic algorithm-confusion forgery.
func HS256WithPublicKey() MintOption {
	return func(c *mintConfig) { c.sign = signHS256PublicKey }
}

// Mint returns a token for a job with the given audience, signed with the
// current key unless an option says otherwise.
func (i *Issuer) Mint(claims JobClaims, audience string, opts ...MintOption) string {
	cfg := mintConfig{issuedAt: time.Now()}
	for _, opt := range opts {
		opt(&cfg)
	}
	token, err := i.mint(claims, audience, cfg)
	if err != nil {
		// Every step works on values this package made itself.
		panic(fmt.Sprintf("oidcissuer: mint: %v", err))
	}
	return token
}

type header struct {
	Typ string `json:"typ"`
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
}

func (i *Issuer) mint(claims JobClaims, audience string, cfg mintConfig) (string, error) {
	iss := i.Issuer()
	if cfg.issuer != nil {
		iss = *cfg.issuer
	}
	iat := cfg.issuedAt
	payload, err := json.Marshal(newTokenClaims(claims, newUUID(), iss, audience,
		iat.Unix(), iat.Add(-notBeforeSkew).Unix(), iat.Add(tokenLifetime).Unix()))
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}

	key := i.signingKey(cfg.sign)
	h := header{Typ: "JWT", Alg: "RS256", Kid: key.id}
	switch cfg.sign {
	case signNone:
		h = header{Typ: "JWT", Alg: "none"}
	case signHS256PublicKey:
		h.Alg = "HS256"
	}
	headerJSON, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(headerJSON) + "." + enc.EncodeToString(payload)

	var sig []byte
	switch cfg.sign {
	case signNone:
	case signHS256PublicKey:
		der, err := x509.MarshalPKIXPublicKey(&key.key.PublicKey)
		if err != nil {
			return "", fmt.Errorf("encode public key: %w", err)
		}
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(signingInput))
		sig = mac.Sum(nil)
	default:
		digest := sha256.Sum256([]byte(signingInput))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.key, crypto.SHA256, digest[:])
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}

// signingKey returns the key a signing method uses: the stray key for
// UnknownKey, else the current one.
func (i *Issuer) signingKey(m signMethod) *signingKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	if m != signUnknownKey {
		return i.keys[len(i.keys)-1]
	}
	if i.stray == nil {
		i.stray = newSigningKey()
	}
	return i.stray
}
