package ghclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

func TestNewAPIRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		suffix string // appended to the server's URL
		path   string // where the issue must be asked for
	}{
		{name: "emulator root", suffix: "", path: "/repos/o/r/issues/1"},
		{name: "emulator root with slash", suffix: "/", path: "/repos/o/r/issues/1"},
		{name: "enterprise", suffix: "/api/v3", path: "/api/v3/repos/o/r/issues/1"},
		{name: "enterprise with slash", suffix: "/api/v3/", path: "/api/v3/repos/o/r/issues/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			type seen struct{ Path, Authorization, UserAgent string }
			var (
				mu  sync.Mutex
				got []seen
			)
			mux := newMux(t)
			mux.HandleFunc("GET "+tc.path, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, seen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("User-Agent")})
				io.WriteString(w, `{"number":1}`)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()

			c, err := New(srv.URL+tc.suffix, "tok", WithVersion("1.2.3"))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Issues.Get(context.Background(), "o", "r", 1); err != nil {
				t.Fatal(err)
			}
			want := []seen{{tc.path, "Bearer tok", "gatehouse/1.2.3"}}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url, token string }{
		{name: "empty URL", url: "", token: "tok"},
		{name: "no scheme", url: "api.github.com", token: "tok"},
		{name: "relative", url: "/api/v3", token: "tok"},
		{name: "other scheme", url: "ftp://ghes.example/api/v3", token: "tok"},
		{name: "no host", url: "https:///api/v3", token: "tok"},
		{name: "unparsable", url: "https://ghes.example/%zz", token: "tok"},
		{name: "query", url: "https://ghes.example/api/v3?token=x", token: "tok"},
		{name: "credentials", url: "https://user:pass@ghes.example/api/v3", token: "tok"},
		{name: "empty token", url: "https://api.github.com", token: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tc.url, tc.token)
			if err == nil || c != nil {
				t.Errorf("New(%q) = %v, %v; want an error", tc.url, c, err)
			}
		})
	}
}

func TestNewWithTransport(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []string
	)
	mux := newMux(t)
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Authorization"), r.Header.Get("User-Agent"))
		io.WriteString(w, `{"slug":"gatehouse"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	auth := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer app-jwt")
		return http.DefaultTransport.RoundTrip(r)
	})
	c, err := NewWithTransport(srv.URL, auth)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := c.Apps.Get(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if app.GetSlug() != "gatehouse" {
		t.Errorf("slug = %q, want gatehouse", app.GetSlug())
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"Bearer app-jwt", "gatehouse"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	if _, err := NewWithTransport(srv.URL, nil); err == nil {
		t.Error("NewWithTransport with a nil transport: no error")
	}
}

// TestNewBaseTransport checks that WithBaseTransport sits under the
// retries.
func TestNewBaseTransport(t *testing.T) {
	t.Parallel()
	calls := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return response(http.StatusBadGateway, nil, ""), nil
		}
		return response(http.StatusOK, nil, `{"number":1}`), nil
	})
	c, err := New("https://ghes.example/api/v3", "tok", WithBaseTransport(base), WithRetry(fast(0, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Issues.Get(context.Background(), "o", "r", 1); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("%d calls to the base transport, want 2", calls)
	}
}

func TestStatusCode(t *testing.T) {
	t.Parallel()
	resp := func(status int) *http.Response { return &http.Response{StatusCode: status} }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: 0},
		{name: "plain", err: errors.New("dial tcp: connection refused"), want: 0},
		{name: "error response", err: &github.ErrorResponse{Response: resp(404)}, want: 404},
		{name: "wrapped", err: fmt.Errorf("get issue o/r#1: %w", &github.ErrorResponse{Response: resp(410)}), want: 410},
		{name: "rate limit", err: &github.RateLimitError{Response: resp(403)}, want: 403},
		{name: "secondary rate limit", err: &github.AbuseRateLimitError{Response: resp(403)}, want: 403},
		{name: "no response", err: &github.ErrorResponse{}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := StatusCode(tc.err); got != tc.want {
				t.Errorf("StatusCode = %d, want %d", got, tc.want)
			}
			if got, want := IsNotFound(tc.err), tc.want == 404; got != want {
				t.Errorf("IsNotFound = %v, want %v", got, want)
			}
		})
	}
}
