package ghclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

const (
	// callTimeout bounds one API call, its retries and waits included.
	callTimeout = 10 * time.Minute
	// headerTimeout bounds how long one attempt waits for GitHub to start
	// answering; GitHub itself gives up on an API request after 10s.
	headerTimeout = time.Minute
)

// Option configures New and NewWithTransport.
type Option func(*settings)

type settings struct {
	userAgent string
	etags     bool
	retry     RetryOptions
	base      http.RoundTripper
}

// WithVersion sets the User-Agent to gatehouse/<version>.
func WithVersion(version string) Option {
	return func(s *settings) { s.userAgent = "gatehouse/" + version }
}

// WithETagCache makes GETs conditional through an ETagTransport, so that
// rereading something unchanged costs no rate limit.
func WithETagCache() Option {
	return func(s *settings) { s.etags = true }
}

// WithRetry sets the retry transport's options. It applies to New only:
// NewWithTransport sends through the caller's transport as given.
func WithRetry(opts RetryOptions) Option {
	return func(s *settings) { s.retry = opts }
}

// WithBaseTransport sets the transport under the retries; nil keeps the
// default. It applies to New only.
func WithBaseTransport(rt http.RoundTripper) Option {
	return func(s *settings) { s.base = rt }
}

// New returns a go-github client for the API root apiURL, exactly as the
// runner gives it in GITHUB_API_URL (https://api.github.com,
// https://ghes.example/api/v3, an emulator's http://127.0.0.1:port), that
// authenticates with token and retries transient failures.
func New(apiURL, token string, opts ...Option) (*github.Client, error) {
	if token == "" {
		return nil, errors.New("GitHub token is empty")
	}
	s := apply(opts)
	base := s.base
	if base == nil {
		base = defaultTransport()
	}
	c, err := NewWithTransport(apiURL, NewRetryTransport(base, s.retry), opts...)
	if err != nil {
		return nil, err
	}
	return c.WithAuthToken(token), nil
}

// NewWithTransport returns a go-github client for the API root apiURL that
// sends through rt, which brings its own authentication. rt should retry:
// for a GitHub App, build it as
// ghinstallation.New(NewRetryTransport(nil, opts), …) so that token
// requests are retried too, and set the ghinstallation transport's BaseURL
// to apiURL.
func NewWithTransport(apiURL string, rt http.RoundTripper, opts ...Option) (*github.Client, error) {
	base, err := parseAPIURL(apiURL)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		return nil, errors.New("GitHub client transport is nil")
	}
	s := apply(opts)
	if s.etags {
		rt = NewETagTransport(rt)
	}
	c := github.NewClient(&http.Client{Transport: rt, Timeout: callTimeout})
	c.BaseURL = base
	c.UserAgent = s.userAgent
	return c, nil
}

func apply(opts []Option) settings {
	s := settings{userAgent: "gatehouse"}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// parseAPIURL checks that raw is an absolute http(s) URL and returns it
// with exactly one trailing slash, as go-github's BaseURL wants.
func parseAPIURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("GitHub API URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q: want an absolute http or https URL such as https://api.github.com", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("GitHub API URL %q: want no credentials, query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/"
	if u.RawPath != "" {
		u.RawPath = strings.TrimRight(u.RawPath, "/") + "/"
	}
	return u, nil
}

// defaultTransport is http.DefaultTransport's configuration with a bound on
// the wait for response headers, so that one stuck attempt is retried
// rather than holding the call until callTimeout.
func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
	}
}
