package ghclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

const issuePath = "/repos/o/r/issues/1"

// fast retries at once unless GitHub names a wait.
func fast(attempts int, onRetry func(int, time.Duration)) RetryOptions {
	return RetryOptions{MaxAttempts: attempts, BaseDelay: time.Microsecond, OnRetry: onRetry}
}

func retryClient(t *testing.T, url string, opts RetryOptions) *github.Client {
	t.Helper()
	c, err := NewWithTransport(url, NewRetryTransport(ownTransport(), opts))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// message returns the message GitHub sent with err, as go-github parsed it.
func message(err error) string {
	var (
		er   *github.ErrorResponse
		rate *github.RateLimitError
	)
	switch {
	case errors.As(err, &er):
		return er.Message
	case errors.As(err, &rate):
		return rate.Message
	}
	return ""
}

func TestRetryResponses(t *testing.T) {
	t.Parallel()
	const issue = `{"number":1}`
	ok := reply{status: 200, body: issue}
	resetPassed := strconv.FormatInt(time.Now().Add(-5*time.Second).Unix(), 10)
	resetFar := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)

	tests := []struct {
		name     string
		attempts int
		replies  []reply
		want     result
	}{
		{
			name:    "502 then 200",
			replies: []reply{{status: 502, body: `{"message":"Server Error"}`}, ok},
			want:    result{Status: 200, Retries: []int{502}, Requests: 2},
		},
		{
			name:    "500, 503 and 504 then 200",
			replies: []reply{{status: 500}, {status: 503}, {status: 504}, ok},
			want:    result{Status: 200, Retries: []int{500, 503, 504}, Requests: 4},
		},
		{
			name:    "429 with Retry-After",
			replies: []reply{{status: 429, header: map[string]string{"Retry-After": "0"}}, ok},
			want:    result{Status: 200, Retries: []int{429}, Requests: 2},
		},
		{
			name: "secondary rate limit 403 with Retry-After",
			replies: []reply{{
				status: 403,
				header: map[string]string{"Retry-After": "0"},
				body:   `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			}, ok},
			want: result{Status: 200, Retries: []int{403}, Requests: 2},
		},
		{
			name: "primary rate limit 403 whose reset has passed",
			replies: []reply{{
				status: 403,
				header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": resetPassed},
				body:   `{"message":"API rate limit exceeded"}`,
			}, ok},
			want: result{Status: 200, Retries: []int{403}, Requests: 2},
		},
		{
			name:    "403 that is no rate limit is not retried",
			replies: []reply{{status: 403, body: `{"message":"Resource not accessible by integration"}`}},
			want:    result{Status: 403, Message: "Resource not accessible by integration", Requests: 1},
		},
		{
			name:    "404 is not retried",
			replies: []reply{{status: 404, body: `{"message":"Not Found"}`}},
			want:    result{Status: 404, Message: "Not Found", Requests: 1},
		},
		{
			name:    "422 is not retried",
			replies: []reply{{status: 422, body: `{"message":"Validation Failed"}`}},
			want:    result{Status: 422, Message: "Validation Failed", Requests: 1},
		},
		{
			name:     "attempts exhausted return GitHub's last error",
			attempts: 3,
			replies: []reply{
				{status: 503, body: `{"message":"first"}`},
				{status: 503, body: `{"message":"second"}`},
				{status: 503, body: `{"message":"third"}`},
			},
			want: result{Status: 503, Message: "third", Retries: []int{503, 503}, Requests: 3},
		},
		{
			name: "Retry-After beyond MaxWait is returned at once",
			replies: []reply{{
				status: 429,
				header: map[string]string{"Retry-After": "120"},
				body:   `{"message":"slow down"}`,
			}},
			want: result{Status: 429, Message: "slow down", Requests: 1},
		},
		{
			name: "rate limit reset beyond MaxWait is returned at once",
			replies: []reply{{
				status: 403,
				header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": resetFar},
				body:   `{"message":"API rate limit exceeded"}`,
			}},
			want: result{Status: 403, Message: "API rate limit exceeded", Requests: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := scripted(t, issuePath, tc.replies...)
			var got result
			c := retryClient(t, srv.URL, fast(tc.attempts, func(status int, _ time.Duration) {
				got.Retries = append(got.Retries, status)
			}))
			issue, _, err := c.Issues.Get(context.Background(), "o", "r", 1)
			got.Status, got.Message, got.Requests = StatusCode(err), message(err), len(rec.requests())
			if err == nil {
				got.Status = 200
				if issue.GetNumber() != 1 {
					t.Errorf("issue number = %d, want 1", issue.GetNumber())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error %v (-want +got):\n%s", err, diff)
			}
		})
	}
}

// A POST that failed with a 5xx may have created something: it is not sent
// again.
func TestRetryLeavesFailedPOST(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 503, 504} {
		srv, rec := scripted(t, issuePath+"/comments", reply{status: status}, reply{status: 201, body: `{"id":7}`})
		c := retryClient(t, srv.URL, fast(0, nil))
		_, _, err := c.Issues.CreateComment(context.Background(), "o", "r", 1, &github.IssueComment{Body: github.String("approve")})
		if StatusCode(err) != status || len(rec.requests()) != 1 {
			t.Errorf("%d: err %v after %d requests, want the %d after one", status, err, len(rec.requests()), status)
		}
	}
}

type result struct {
	Status   int
	Message  string
	Retries  []int
	Requests int
}

func TestRetryReplaysBody(t *testing.T) {
	t.Parallel()
	t.Run("go-github request", func(t *testing.T) {
		t.Parallel()
		srv, rec := scripted(t, issuePath+"/comments",
			reply{status: 429, header: map[string]string{"Retry-After": "0"}},
			reply{status: 201, body: `{"id":7}`},
		)
		c := retryClient(t, srv.URL, fast(0, nil))
		got, _, err := c.Issues.CreateComment(context.Background(), "o", "r", 1, &github.IssueComment{Body: github.String("approve")})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetID() != 7 {
			t.Errorf("comment id = %d, want 7", got.GetID())
		}
		body := "{\"body\":\"approve\"}\n"
		want := []request{
			{Method: "POST", Path: issuePath + "/comments", Body: body, Accept: "application/vnd.github.v3+json"},
			{Method: "POST", Path: issuePath + "/comments", Body: body, Accept: "application/vnd.github.v3+json"},
		}
		if diff := cmp.Diff(want, rec.requests()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("body without GetBody", func(t *testing.T) {
		t.Parallel()
		srv, rec := scripted(t, "/markdown/raw", reply{status: 429, header: map[string]string{"Retry-After": "0"}}, reply{status: 200, body: "<p>hi</p>"})
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/markdown/raw", io.NopCloser(strings.NewReader("hi")))
		if err != nil {
			t.Fatal(err)
		}
		if req.GetBody != nil {
			t.Fatal("request has GetBody; the test needs one without")
		}
		resp, err := NewRetryTransport(ownTransport(), fast(0, nil)).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "<p>hi</p>" {
			t.Errorf("body = %q, want <p>hi</p>", got)
		}
		want := []request{
			{Method: "POST", Path: "/markdown/raw", Body: "hi"},
			{Method: "POST", Path: "/markdown/raw", Body: "hi"},
		}
		if diff := cmp.Diff(want, rec.requests()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	srv, rec := scripted(t, issuePath, reply{status: 503, header: map[string]string{"Retry-After": "3600"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := RetryOptions{MaxWait: 2 * time.Hour, OnRetry: func(int, time.Duration) { cancel() }}
	_, _, err := retryClient(t, srv.URL, opts).Issues.Get(ctx, "o", "r", 1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryNetworkErrors(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	timeout := &net.DNSError{Err: "i/o timeout", Name: "api.github.com", IsTimeout: true}
	tlsErr := &url.Error{Op: "Get", URL: "https://ghes.example", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}

	tests := []struct {
		name      string
		method    string
		err       error
		cancelled bool
		want      int
	}{
		{name: "refused GET", method: "GET", err: refused, want: 3},
		{name: "refused POST", method: "POST", err: refused, want: 3},
		{name: "reset GET", method: "GET", err: reset, want: 3},
		{name: "reset PATCH", method: "PATCH", err: reset, want: 3},
		{name: "reset POST", method: "POST", err: reset, want: 1},
		{name: "EOF GET", method: "GET", err: io.ErrUnexpectedEOF, want: 3},
		{name: "timeout GET", method: "GET", err: timeout, want: 3},
		{name: "timeout POST", method: "POST", err: timeout, want: 1},
		{name: "certificate GET", method: "GET", err: tlsErr, want: 1},
		{name: "refused GET after the context ended", method: "GET", err: refused, cancelled: true, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			rt := NewRetryTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
				calls++
				return nil, tc.err
			}), fast(3, nil))
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancelled {
				cancel()
			}
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, tc.method, "http://127.0.0.1/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rt.RoundTrip(req); !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
			if calls != tc.want {
				t.Errorf("%d attempts, want %d", calls, tc.want)
			}
		})
	}
}

// TestRetryDroppedConnection retries a GET whose connection the server
// closed without answering, and does not retry a POST.
func TestRetryDroppedConnection(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			mux := newMux(t)
			mux.HandleFunc(issuePath, func(w http.ResponseWriter, r *http.Request) {
				if rec.add(r) == 1 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					conn.Close()
					return
				}
				io.WriteString(w, `{"number":1}`)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			c := retryClient(t, srv.URL, fast(0, nil))
			req, err := c.NewRequest(method, "repos/o/r/issues/1", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Do(context.Background(), req, nil)
			want := 2
			if method == "POST" {
				want = 1
				if err == nil {
					t.Error("POST succeeded, want the connection error")
				}
			} else if err != nil {
				t.Errorf("GET: %v", err)
			}
			if n := len(rec.requests()); n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	in10s := strconv.FormatInt(now.Add(10*time.Second).Unix(), 10)
	opts := RetryOptions{}.withDefaults()

	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   wait
	}{
		{name: "Retry-After seconds", status: 503, header: map[string]string{"Retry-After": "7"}, want: wait{7 * time.Second, true}},
		{name: "Retry-After date", status: 429, header: map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, want: wait{30 * time.Second, true}},
		{name: "Retry-After date passed", status: 503, header: map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, want: wait{0, true}},
		{name: "Retry-After on another error status", status: 404, header: map[string]string{"Retry-After": "3"}, want: wait{3 * time.Second, true}},
		{name: "Retry-After wins over reset", status: 403, header: map[string]string{"Retry-After": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": in10s}, want: wait{2 * time.Second, true}},
		{name: "primary rate limit 403", status: 403, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": in10s}, want: wait{11 * time.Second, true}},
		{name: "primary rate limit 429", status: 429, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": in10s}, want: wait{11 * time.Second, true}},
		{name: "secondary rate limit named in the body", status: 403, body: `{"message":"You have exceeded a Secondary Rate Limit."}`, want: wait{time.Minute, true}},
		{name: "abuse detection named in the body", status: 403, body: `{"message":"You have triggered an abuse detection mechanism."}`, want: wait{time.Minute, true}},
		{name: "bare 429", status: 429, want: wait{time.Minute, true}},
		{name: "403 with rate left", status: 403, header: map[string]string{"X-RateLimit-Remaining": "12"}, body: `{"message":"Must have admin rights"}`},
		{name: "403 with remaining 0 and no reset", status: 403, header: map[string]string{"X-RateLimit-Remaining": "0"}, body: `{"message":"Forbidden"}`},
		{name: "401", status: 401},
		{name: "404", status: 404},
		{name: "422", status: 422},
		{name: "200", status: 200},
		{name: "304", status: 304, header: map[string]string{"Retry-After": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := response(tc.status, tc.header, tc.body)
			var got wait
			got.Wait, got.Retry = opts.delay(http.MethodGet, resp, 1, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.body {
				t.Errorf("body after delay = %q, want %q", body, tc.body)
			}
		})
	}
}

type wait struct {
	Wait  time.Duration
	Retry bool
}

func response(status int, header map[string]string, body string) *http.Response {
	h := make(http.Header)
	for k, v := range header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

// TestDelayPeeksLongBody checks that a 403 body longer than the peek is
// returned whole.
func TestDelayPeeksLongBody(t *testing.T) {
	t.Parallel()
	body := `{"message":"Forbidden","padding":"` + strings.Repeat("x", 2*peekLimit) + `"}`
	resp := response(403, nil, body)
	if _, retry := (RetryOptions{}).withDefaults().delay(http.MethodGet, resp, 1, time.Now()); retry {
		t.Error("retry = true, want false")
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Errorf("body of %d bytes, want %d", len(got), len(body))
	}
}

func TestDelayServerErrorsBackOff(t *testing.T) {
	t.Parallel()
	opts := RetryOptions{BaseDelay: 100 * time.Millisecond, MaxWait: time.Second}.withDefaults()
	for _, status := range []int{500, 502, 503, 504} {
		for attempt := 1; attempt <= 8; attempt++ {
			limit := min(100*time.Millisecond<<(attempt-1), time.Second)
			for range 20 {
				d, retry := opts.delay(http.MethodGet, response(status, map[string]string{"Retry-After": "soon"}, ""), attempt, time.Now())
				if !retry || d < 0 || d > limit {
					t.Fatalf("status %d attempt %d: delay = %v, %v; want retry within [0, %v]", status, attempt, d, retry, limit)
				}
			}
		}
	}
}

func TestRetryLogs(t *testing.T) {
	t.Parallel()
	srv, _ := scripted(t, issuePath+"/comments",
		reply{status: 429, header: map[string]string{"Retry-After": "0"}},
		reply{status: 200, body: "[]"},
	)
	var buf bytes.Buffer
	opts := fast(0, nil)
	opts.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	c, err := New(srv.URL, "s3cret-token", WithRetry(opts))
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, err := c.Issues.ListComments(context.Background(), "o", "r", 1, &github.IssueListCommentsOptions{Since: &since}); err != nil {
		t.Fatal(err)
	}
	type record struct {
		Level, Msg, Method, Path string
		Attempt, Status          int
		Wait                     time.Duration
	}
	var got []record
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var r record
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []record{{Level: "WARN", Msg: "retrying GitHub request", Method: "GET", Path: issuePath + "/comments", Attempt: 1, Status: 429}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"s3cret-token", "since=", "Authorization"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, buf.String())
		}
	}
}
