package msemu

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Channels a key is endorsed for, as in the Bot Framework's JWKS.
var (
	teamsEndorsements = []string{"msteams", "skype", "webchat", "directline", "emulator"}
	otherEndorsements = []string{"skype", "webchat"}
)

// signingKey is an RSA key with the self-signed certificate that the
// published JWKS carries (x5c), as Microsoft publishes its keys.
type signingKey struct {
	priv         *rsa.PrivateKey
	cert         []byte // DER
	kid          string // the certificate's SHA-1 thumbprint, like x5t
	endorsements []string
}

// newKey makes a signing key with a certificate for subject.
func (e *Emulator) newKey(subject string, endorsements []string) (*signingKey, error) {
	priv, err := e.opts.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("msemu: generate signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("msemu: certificate serial: %w", err)
	}
	now := e.clock()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: subject},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("msemu: certificate for %s: %w", subject, err)
	}
	sum := sha1.Sum(der)
	return &signingKey{
		priv:         priv,
		cert:         der,
		kid:          base64URL(sum[:]),
		endorsements: endorsements,
	}, nil
}

// jsonWebKey is one member of a JWKS as Microsoft publishes it.
type jsonWebKey struct {
	Kty          string   `json:"kty"`
	Use          string   `json:"use"`
	Kid          string   `json:"kid"`
	X5t          string   `json:"x5t"`
	N            string   `json:"n"`
	E            string   `json:"e"`
	X5c          []string `json:"x5c"`
	Endorsements []string `json:"endorsements,omitempty"`
}

func (k *signingKey) jwk() jsonWebKey {
	pub := k.priv.PublicKey
	return jsonWebKey{
		Kty:          "RSA",
		Use:          "sig",
		Kid:          k.kid,
		X5t:          k.kid,
		N:            base64URL(pub.N.Bytes()),
		E:            base64URL(big.NewInt(int64(pub.E)).Bytes()),
		X5c:          []string{base64.StdEncoding.EncodeToString(k.cert)},
		Endorsements: k.endorsements,
	}
}

// rs256 signs a JWT with k, naming it in the header by kid and x5t.
func (k *signingKey) rs256(claims map[string]any) (string, error) {
	header := map[string]any{"typ": "JWT", "alg": "RS256", "x5t": k.kid, "kid": k.kid}
	return encodeJWT(header, claims, func(input []byte) ([]byte, error) {
		sum := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	})
}

// unsigned makes a JWT with alg "none" and an empty signature, naming k.
func (k *signingKey) unsigned(claims map[string]any) (string, error) {
	header := map[string]any{"typ": "JWT", "alg": "none", "x5t": k.kid, "kid": k.kid}
	return encodeJWT(header, claims, func([]byte) ([]byte, error) { return nil, nil })
}

// hs256 signs with HMAC-SHA256 keyed with k's public key in PEM form: the
// algorithm-confusion forgery that a verifier trusting the header's alg
// would accept.
func (k *signingKey) hs256(claims map[string]any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		return "", fmt.Errorf("msemu: encode public key: %w", err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	header := map[string]any{"typ": "JWT", "alg": "HS256", "x5t": k.kid, "kid": k.kid}
	return encodeJWT(header, claims, func(input []byte) ([]byte, error) {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil), nil
	})
}

func encodeJWT(header, claims map[string]any, sign func([]byte) ([]byte, error)) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("msemu: encode token header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("msemu: encode token claims: %w", err)
	}
	input := base64URL(h) + "." + base64URL(c)
	sig, err := sign([]byte(input))
	if err != nil {
		return "", fmt.Errorf("msemu: sign token: %w", err)
	}
	return input + "." + base64URL(sig), nil
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
