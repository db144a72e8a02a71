package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

var (
	// ErrInvalidToken marks a token that is malformed, forged, expired, not
	// yet valid, or issued by or for someone else. Answer 401.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable marks a token that could not be checked because the
	// issuer's discovery document or keys could not be had. Answer 502 or 503.
	ErrUnavailable = errors.New("OIDC issuer unavailable")
)

const (
	// leeway is the clock skew allowed on exp and nbf.
	leeway = time.Minute
	// defaultTimeout bounds each request to the issuer with the default client.
	defaultTimeout = 10 * time.Second
	// discoveryTimeout bounds one discovery attempt whatever the client.
	discoveryTimeout = 30 * time.Second
)

// Verifier verifies GitHub Actions OIDC tokens from one issuer for one
// audience. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex
	tokens  *gooidc.IDTokenVerifier // nil until discovery succeeds
	pending *attempt                // the discovery under way, if any
}

// attempt is one discovery, shared by everyone who waits for it.
type attempt struct {
	done   chan struct{}
	tokens *gooidc.IDTokenVerifier
	err    error
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithHTTPClient sets the client for the issuer's discovery document and
// keys; nil keeps the default, which has a 10-second timeout and the default
// transport (the system's certificates, SSL_CERT_FILE honoured).
func WithHTTPClient(c *http.Client) Option {
	return func(v *Verifier) {
		if c != nil {
			v.client = c
		}
	}
}

// WithClock sets the clock that exp and nbf are checked against; nil keeps
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// NewVerifier returns a verifier of tokens issued by issuerURL (for GitHub,
// https://token.actions.githubusercontent.com) for audience. issuerURL must
// be https, or http on a loopback host.
//
// It tries discovery once. A failure that retrying can fix is not returned:
// discovery is tried again on use. Any other failure is.
func NewVerifier(ctx context.Context, issuerURL, audience string, opts ...Option) (*Verifier, error) {
	if err := checkIssuerURL(issuerURL); err != nil {
		return nil, err
	}
	if audience == "" {
		return nil, errors.New("OIDC audience is empty")
	}
	v := &Verifier{
		issuer:   issuerURL,
		audience: audience,
		client:   &http.Client{Timeout: defaultTimeout},
		now:      time.Now,
	}
	for _, opt := range opts {
		opt(v)
	}
	client := *v.client
	if client.Transport == nil {
		client.Transport = http.DefaultTransport
	}
	client.Transport = statusTransport{base: client.Transport}
	v.client = &client

	if _, err := v.tokenVerifier(ctx); err != nil && !transient(err) {
		return nil, fmt.Errorf("OIDC discovery at %s: %w", issuerURL, err)
	}
	return v, nil
}

func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("OIDC issuer URL: %w", err)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("OIDC issuer URL %q: want an absolute URL without query or fragment", s)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("OIDC issuer URL %q: http is allowed only on a loopback host", s)
	default:
		return fmt.Errorf("OIDC issuer URL %q: scheme must be https", s)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Ready reports whether the issuer's discovery document is loaded, trying to
// load it if not. It suits a readiness probe.
func (v *Verifier) Ready(ctx context.Context) error {
	if _, err := v.tokenVerifier(ctx); err != nil {
		return fmt.Errorf("%w: discovery at %s: %w", ErrUnavailable, v.issuer, err)
	}
	return nil
}

// fetchErrorKey is the context key under which Verify asks keySet for the
// error of a failed key fetch.
type fetchErrorKey struct{}

// Verify checks rawToken and returns its claims. Its errors wrap
// ErrInvalidToken or ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, rawToken string) (*Claims, error) {
	if rawToken == "" {
		return nil, fmt.Errorf("%w: empty token", ErrInvalidToken)
	}
	tokens, err := v.tokenVerifier(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %w", ErrUnavailable, v.issuer, err)
	}
	var fetchErr error
	token, err := tokens.Verify(context.WithValue(ctx, fetchErrorKey{}, &fetchErr), rawToken)
	if err != nil {
		if fetchErr != nil {
			return nil, fmt.Errorf("%w: fetch signing keys: %w", ErrUnavailable, fetchErr)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var payload json.RawMessage
	if err := token.Claims(&payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	claims, err := parseClaims(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := checkTimes(claims, v.now()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return claims, nil
}

// checkTimes checks exp and nbf against now, allowing for clock skew. The
// library's own check has no leeway on exp and five minutes on nbf.
func checkTimes(c *Claims, now time.Time) error {
	if c.Expiry.IsZero() {
		return errors.New("token has no exp claim")
	}
	if now.After(c.Expiry.Add(leeway)) {
		return fmt.Errorf("token expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return fmt.Errorf("token is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// tokenVerifier returns the library's verifier once discovery has succeeded,
// running discovery if it has not. Concurrent callers share one attempt,
// which runs apart from any caller's cancellation.
func (v *Verifier) tokenVerifier(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	v.mu.Lock()
	if tokens := v.tokens; tokens != nil {
		v.mu.Unlock()
		return tokens, nil
	}
	a := v.pending
	if a == nil {
		a = &attempt{done: make(chan struct{})}
		v.pending = a
		go v.run(context.WithoutCancel(ctx), a)
	}
	v.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-a.done:
		return a.tokens, a.err
	}
}

func (v *Verifier) run(ctx context.Context, a *attempt) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	a.tokens, a.err = v.discover(ctx)

	v.mu.Lock()
	if a.err == nil {
		v.tokens = a.tokens
	}
	v.pending = nil
	v.mu.Unlock()
	close(a.done)
}

// discover reads the issuer's discovery document and sets up verification
// with its keys.
func (v *Verifier) discover(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, v.client), v.issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&doc); err != nil {
		return nil, fmt.Errorf("read discovery document: %w", err)
	}
	if doc.JWKSURI == "" {
		return nil, errors.New("discovery document has no jwks_uri")
	}
	// The key set fetches in the background, after the caller is gone.
	remote := gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), v.client), doc.JWKSURI)
	return gooidc.NewVerifier(v.issuer, keySet{remote: remote}, &gooidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: []string{gooidc.RS256},
		SkipExpiryCheck:      true, // checkTimes does it, with leeway
	}), nil
}

// keySet is the library's remote key set (cached keys, fetched again for an
// unknown key id), made to tell an unreachable key endpoint apart from a bad
// signature: the library's verifier reports both alike, so the fetch error is
// handed back through the context Verify passes down.
type keySet struct {
	remote *gooidc.RemoteKeySet
}

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil && unreachable(err) {
		if dst, ok := ctx.Value(fetchErrorKey{}).(*error); ok {
			*dst = err
		}
	}
	return payload, err
}

// unreachable reports whether err is a failed request: no answer, or an HTTP
// error status.
func unreachable(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// transient reports whether a discovery failure may go away by itself.
func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests
	}
	return unreachable(err)
}

// statusError is an HTTP error status from the issuer.
type statusError struct {
	code   int
	status string
}

func (e *statusError) Error() string { return "HTTP " + e.status }

// statusTransport turns an HTTP error status into a request error, which the
// library passes on wrapped where it reports a status only as text.
type statusTransport struct {
	base http.RoundTripper
}

func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil, &statusError{code: resp.StatusCode, status: resp.Status}
}
