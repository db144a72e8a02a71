package ghclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RetryOptions bounds and observes NewRetryTransport. Zero fields take their
// defaults.
type RetryOptions struct {
	// MaxAttempts is how many times one request may be sent, the first
	// included (default 6).
	MaxAttempts int
	// MaxWait is the longest single wait (default 60s). When GitHub asks for
	// a longer one (Retry-After, a rate-limit reset), the response is
	// returned at once so that the caller sees GitHub's error.
	MaxWait time.Duration
	// BaseDelay starts the exponential backoff, with full jitter and capped
	// at MaxWait, used when GitHub names no wait (default 500ms).
	BaseDelay time.Duration
	// Logger receives one record per retry; nil discards them.
	Logger *slog.Logger
	// OnRetry, when set, is called before each wait with the status that
	// caused it (0 for a network error) and the wait.
	OnRetry func(status int, wait time.Duration)
}

const (
	defaultMaxAttempts = 6
	defaultMaxWait     = time.Minute
	defaultBaseDelay   = 500 * time.Millisecond

	// secondaryWait is GitHub's advice for a secondary rate limit that
	// names no wait.
	secondaryWait = time.Minute
	// resetBuffer is added to X-RateLimit-Reset, which has one-second
	// precision and is read against the local clock.
	resetBuffer = time.Second
	// peekLimit bounds how much of a body is read to classify a 403 or to
	// drain a response before it is retried.
	peekLimit = 64 << 10
)

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.MaxWait <= 0 {
		o.MaxWait = defaultMaxWait
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = defaultBaseDelay
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

type retryTransport struct {
	base http.RoundTripper
	opts RetryOptions
}

// NewRetryTransport returns a transport that re-sends a request GitHub
// answered with a transient failure: 500, 502, 503 and 504 (not for POST,
// which may have created something all the same); 429; a 403 that is a
// secondary rate limit or an exhausted primary one; any error status with
// Retry-After; and network errors (for POST only a refused connection, for
// the same reason). It waits as GitHub asks
// (Retry-After, X-RateLimit-Reset), otherwise backs off exponentially, and
// stops waiting when the request's context ends. When retries run out, or
// GitHub asks for a wait longer than MaxWait, the last response is returned
// unchanged. Request bodies are replayed through GetBody, or buffered once
// when it is unset. A nil base means http.DefaultTransport.
func NewRetryTransport(base http.RoundTripper, opts RetryOptions) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &retryTransport{base: base, opts: opts.withDefaults()}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	req, err := replayable(req)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			if r, err = resend(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.base.RoundTrip(r)
		status := 0
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil || !retryableError(req.Method, err) || attempt >= t.opts.MaxAttempts {
				return nil, err
			}
			wait = t.opts.backoff(attempt)
		} else {
			status = resp.StatusCode
			w, ok := t.opts.delay(req.Method, resp, attempt, time.Now())
			if !ok || attempt >= t.opts.MaxAttempts || w > t.opts.MaxWait {
				return resp, nil
			}
			wait = w
			discard(resp)
		}
		t.log(ctx, req, attempt, status, wait, err)
		if t.opts.OnRetry != nil {
			t.opts.OnRetry(status, wait)
		}
		if err := Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (t *retryTransport) log(ctx context.Context, req *http.Request, attempt, status int, wait time.Duration, err error) {
	level := slog.LevelInfo
	if status == http.StatusForbidden || status == http.StatusTooManyRequests {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Int("attempt", attempt),
		slog.Int("status", status),
		slog.Duration("wait", wait),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	t.opts.Logger.LogAttrs(ctx, level, "retrying GitHub request", attrs...)
}

// replayable returns req itself when its body can be sent again, and
// otherwise a copy with the body buffered and GetBody set.
func replayable(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return req, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("buffer %s %s request body: %w", req.Method, req.URL.Path, err)
	}
	r := req.Clone(req.Context())
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Body, _ = r.GetBody()
	return r, nil
}

// resend returns a copy of req, with a fresh body, for one more attempt.
func resend(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replay %s %s request body: %w", req.Method, req.URL.Path, err)
		}
		r.Body = body
	}
	return r, nil
}

// delay reports whether resp is a transient failure and how long to wait
// before the given attempt is followed by another; now is the time resp
// arrived.
func (o RetryOptions) delay(method string, resp *http.Response, attempt int, now time.Time) (time.Duration, bool) {
	status := resp.StatusCode
	if status < 400 {
		return 0, false
	}
	if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
		return d, true
	}
	limited := status == http.StatusForbidden || status == http.StatusTooManyRequests
	if limited && resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(reset, 0).Add(resetBuffer).Sub(now), o.backoff(attempt)), true
		}
	}
	switch status {
	case http.StatusTooManyRequests:
		return secondaryWait, true
	case http.StatusForbidden:
		if secondaryRateLimit(resp) {
			return secondaryWait, true
		}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// A POST that failed this way may still have created something;
		// the caller decides whether to look before sending it again.
		return o.backoff(attempt), method != http.MethodPost
	}
	return 0, false
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(min(secs, math.MaxInt64/int64(time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// secondaryRateLimit reports whether a 403 says so in its body. The body
// is peeked, not consumed.
func secondaryRateLimit(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, peekLimit))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	msg := strings.ToLower(string(b))
	return strings.Contains(msg, "secondary rate limit") || strings.Contains(msg, "abuse detection")
}

// backoff returns a random wait up to BaseDelay doubled for each attempt
// after the first, capped at MaxWait.
func (o RetryOptions) backoff(attempt int) time.Duration {
	d := o.BaseDelay
	for i := 1; i < attempt && d < o.MaxWait; i++ {
		d *= 2
	}
	return rand.N(min(d, o.MaxWait) + 1)
}

// retryableError reports whether a request that failed with err may be sent
// again: a refused connection never reached the server; other connection
// failures may have, so they are retried for every method but POST
// (GitHub's PUT, PATCH and DELETE set state, so repeating them is harmless).
// A certificate that does not verify will not verify next time either.
func retryableError(method string, err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	if method == http.MethodPost {
		return false
	}
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return !errors.As(err, &verify) && !errors.As(err, &unknown) && !errors.As(err, &host) && !errors.As(err, &invalid)
}

// discard drains a little of resp's body, so that its connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, peekLimit)
	resp.Body.Close()
}

// Sleep waits for d or until ctx ends, whichever is first, and returns
// ctx's error if it ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
