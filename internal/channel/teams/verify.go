package teams

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// botIssuer is the issuer of the tokens the Bot Connector sends.
	botIssuer = "https://api.botframework.com"
	// maxClockSkew is the leeway on a token's expiry and not-before times.
	maxClockSkew = 5 * time.Minute
	// keysMaxAge is how long fetched keys are used before they are fetched
	// again.
	keysMaxAge = 24 * time.Hour
	// refetchInterval is the least time between two fetches of the keys
	// (after a token names an unknown key, or after a failed fetch).
	refetchInterval = time.Minute
	// fetchTimeout bounds one fetch of the metadata and keys.
	fetchTimeout = 10 * time.Second
	// maxDocumentBytes bounds the metadata and key documents.
	maxDocumentBytes = 1 << 20
)

// AuthError is a request the Verifier refuses. Status is the answer:
// 401 when there is no valid token (missing, malformed, forged, expired,
// meant for another bot, signed with an unknown key), 403 when a valid
// token does not cover the activity (another service URL, or a key not
// endorsed for the activity's channel). Tokens never appear in it.
type AuthError struct {
	Status int
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

func unauthorized(format string, args ...any) error {
	return &AuthError{Status: http.StatusUnauthorized, Reason: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &AuthError{Status: http.StatusForbidden, Reason: fmt.Sprintf(format, args...)}
}

// Verifier checks the JWTs that the Bot Connector puts on the activities
// it sends to the bot (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
// It is safe for concurrent use.
type Verifier struct {
	openIDURL string
	appID     string
	client    *http.Client
	now       func() time.Time

	mu       sync.Mutex
	keys     map[string]signingKey // by kid; nil until a fetch succeeds
	fetched  time.Time             // when keys were fetched
	tried    time.Time             // when a fetch was last attempted
	fetchErr error                 // the last fetch's error
}

// signingKey is a key of the Bot Framework key set, with the channels it
// is endorsed for.
type signingKey struct {
	key          *rsa.PublicKey
	endorsements []string
}

// NewVerifier returns a verifier of tokens for the bot appID, with the
// signing keys that the OpenID metadata document at openIDURL names. A nil
// client is http.DefaultClient; a nil now is time.Now.
func NewVerifier(openIDURL, appID string, client *http.Client, now func() time.Time) *Verifier {
	if client == nil {
		client = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{openIDURL: openIDURL, appID: appID, client: client, now: now}
}

// Token is a verified token: what it says about the activity it came with.
type Token struct {
	serviceURL   string
	endorsements []string
}

// Verify checks the token of an Authorization header ("Bearer <jwt>"): its
// signature, issuer, audience and times. An *AuthError refuses it; any
// other error means the keys could not be fetched, so the token could not
// be checked at all.
func (v *Verifier) Verify(ctx context.Context, authorization string) (*Token, error) {
	if v.appID == "" {
		return nil, errors.New("verify a Bot Framework token: no bot app id is configured")
	}
	scheme, raw, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, unauthorized("no bearer token")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, unauthorized("the token is not an RS256 JWT")
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return nil, unauthorized("the token names no signing key")
	}
	key, err := v.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	var claims jwt.Claims
	var extra struct {
		ServiceURL string `json:"serviceurl"`
	}
	if err := tok.Claims(key.key, &claims, &extra); err != nil {
		return nil, unauthorized("the token's signature does not verify")
	}
	expected := jwt.Expected{Issuer: botIssuer, AnyAudience: jwt.Audience{v.appID}, Time: v.now()}
	if err := claims.ValidateWithLeeway(expected, maxClockSkew); err != nil {
		return nil, unauthorized("the token is not valid: %v", err)
	}
	if claims.Expiry == nil {
		return nil, unauthorized("the token has no expiry")
	}
	return &Token{serviceURL: extra.ServiceURL, endorsements: key.endorsements}, nil
}

// Check checks that the token covers an activity: its serviceurl claim is
// the activity's serviceUrl and its signing key is endorsed for the
// activity's channelId. A refusal is an *AuthError with Status 403.
func (t *Token) Check(serviceURL, channelID string) error {
	if t.serviceURL != serviceURL {
		return forbidden("the token's serviceurl claim does not match the activity's serviceUrl")
	}
	if channelID == "" || !slices.Contains(t.endorsements, channelID) {
		return forbidden("the token's signing key is not endorsed for channel %q", channelID)
	}
	return nil
}

// key returns the signing key kid. Keys are fetched when none are held,
// when they are older than keysMaxAge, and when kid is unknown, but at
// most once every refetchInterval. Keys that could not be fetched again
// stay in use.
func (v *Verifier) key(ctx context.Context, kid string) (signingKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	k, ok := v.keys[kid]
	stale := v.keys == nil || now.Sub(v.fetched) >= keysMaxAge
	var err error
	if (stale || !ok) && (v.tried.IsZero() || now.Sub(v.tried) >= refetchInterval) {
		v.tried = now
		var keys map[string]signingKey
		// Not the request's context: a client that hangs up must not
		// leave every activity without keys for a minute.
		if keys, err = v.fetch(context.WithoutCancel(ctx)); err == nil {
			v.keys, v.fetched = keys, now
			k, ok = keys[kid]
		}
		v.fetchErr = err
	}
	switch {
	case v.keys == nil:
		return signingKey{}, v.fetchErr
	case !ok && err != nil:
		return signingKey{}, err // the key may be one that could not be fetched
	case !ok:
		return signingKey{}, unauthorized("the token is signed with an unknown key %q", kid)
	}
	return k, nil
}

// fetch reads the OpenID metadata and the key set it names.
func (v *Verifier) fetch(ctx context.Context) (map[string]signingKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, v.openIDURL, &meta); err != nil {
		return nil, fmt.Errorf("fetch Bot Framework OpenID metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return nil, fmt.Errorf("the Bot Framework OpenID metadata at %s names no jwks_uri", v.openIDURL)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("fetch Bot Framework signing keys: %w", err)
	}
	keys := map[string]signingKey{}
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		var extra struct {
			Endorsements []string `json:"endorsements"`
		}
		if json.Unmarshal(raw, &jwk) != nil || json.Unmarshal(raw, &extra) != nil {
			continue // a key this verifier cannot use, e.g. of an unknown type
		}
		pub, isRSA := jwk.Key.(*rsa.PublicKey)
		if !isRSA || jwk.KeyID == "" || (jwk.Use != "" && jwk.Use != "sig") {
			continue
		}
		keys[jwk.KeyID] = signingKey{key: pub, endorsements: extra.Endorsements}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the Bot Framework key set at %s has no RSA signing key", meta.JWKSURI)
	}
	return keys, nil
}

func (v *Verifier) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return nil
}
