package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
)

func TestClassify(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	answer := func(status int, header ...string) error {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return fmt.Errorf("comment on o/r#1: %w", &github.ErrorResponse{Response: &http.Response{StatusCode: status, Header: h}, Message: http.StatusText(status)})
	}
	minute := time.Minute
	tests := []struct {
		name string
		err  error
		want failure
	}{
		{"502", answer(502), failure{transient: true}},
		{"503", answer(503), failure{transient: true}},
		{"404 gone", answer(404), failure{}},
		{"410 gone", answer(410), failure{}},
		{"422", answer(422), failure{}},
		{"401", answer(401), failure{}},
		{"403 forbidden", answer(403), failure{}},
		{"429", answer(429), failure{transient: true, until: now.Add(time.Minute)}},
		{"429 with Retry-After", answer(429, "Retry-After", "7"), failure{transient: true, until: now.Add(7 * time.Second)}},
		{"429 exhausted", answer(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10)),
			failure{transient: true, until: now.Add(time.Hour + time.Second)}},
		{"Retry-After as a date", answer(503, "Retry-After", now.Add(2*time.Minute).Format(http.TimeFormat)), failure{transient: true, until: now.Add(2 * time.Minute)}},
		{"Retry-After on a 400", answer(400, "Retry-After", "3"), failure{transient: true, until: now.Add(3 * time.Second)}},
		{"secondary rate limit", &github.AbuseRateLimitError{RetryAfter: &minute}, failure{transient: true, until: now.Add(time.Minute)}},
		{"secondary rate limit, no wait named", &github.AbuseRateLimitError{}, failure{transient: true, until: now.Add(secondaryWait)}},
		{"primary rate limit", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(10 * time.Minute)}}},
			failure{transient: true, until: now.Add(10*time.Minute + time.Second)}},
		{"network", &url.Error{Op: "Post", URL: "http://x", Err: errors.New("connection reset by peer")}, failure{transient: true}},
		{"timeout", context.DeadlineExceeded, failure{transient: true}},
		{"installation gone", &url.Error{Op: "Post", URL: "http://x", Err: &ghinstallation.HTTPError{Response: &http.Response{StatusCode: 404}}}, failure{}},
		{"token minting failed", &url.Error{Op: "Post", URL: "http://x", Err: &ghinstallation.HTTPError{Response: &http.Response{StatusCode: 500}}}, failure{transient: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err, now); got.transient != tt.want.transient || !got.until.Equal(tt.want.until) {
				t.Errorf("classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		max     time.Duration
	}{
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{5, 32 * time.Second},
		{8, 256 * time.Second},
		{9, 5 * time.Minute},
		{1000, 5 * time.Minute},
	}
	for _, tt := range tests {
		for range 20 {
			if d := backoff(tt.attempt); d < tt.max/2 || d > tt.max {
				t.Errorf("backoff(%d) = %v, want between %v and %v", tt.attempt, d, tt.max/2, tt.max)
			}
		}
	}
}

func TestShortErrors(t *testing.T) {
	long := errors.New(strings.Repeat("é", maxErrorLen))
	got := short(long)
	if !utf8.ValidString(got) || len(got) > maxErrorLen+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("short(long) = %q (%d bytes)", got, len(got))
	}
	if got := short(errors.New("404 Not Found")); got != "404 Not Found" {
		t.Errorf("short = %q", got)
	}
}
