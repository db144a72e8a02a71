package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
)

// fakeGates answers from fields and records the calls.
type fakeGates struct {
	mu      sync.Mutex
	err     error
	created bool
	claims  *oidc.Claims
	token   string
	wait    time.Duration
	reason  string
}

func (f *fakeGates) Register(_ context.Context, c *oidc.Claims, r api.Register) (api.Registered, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = c
	if f.err != nil {
		return api.Registered{}, false, f.err
	}
	if r.Repository == "panic/now" {
		panic("boom")
	}
	return api.Registered{Gate: api.Gate{ID: "g1", Status: "pending"}, PollToken: "t1"}, f.created, nil
}

func (f *fakeGates) View(_ context.Context, id, token string, wait time.Duration) (api.Gate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.wait = token, wait
	return api.Gate{ID: id, Status: "pending"}, f.err
}

func (f *fakeGates) Cancel(_ context.Context, id, token, reason string) (api.Gate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.reason = token, reason
	return api.Gate{ID: id, Status: "cancelled"}, f.err
}

type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, raw string) (*oidc.Claims, error) {
	switch raw {
	case "good":
		return &oidc.Claims{Repository: "octo-org/deploy"}, nil
	case "down":
		return nil, fmt.Errorf("fetch keys: %w", oidc.ErrUnavailable)
	}
	return nil, fmt.Errorf("token expired: %w", oidc.ErrInvalidToken)
}

type fakeMetrics struct {
	mu     sync.Mutex
	routes []string
}

func (m *fakeMetrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics\n") })
}

func (m *fakeMetrics) HTTP(route string, code int, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes = append(m.routes, fmt.Sprintf("%s %d", route, code))
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func newTestServer(t *testing.T, g *fakeGates, store error) (*httptest.Server, *fakeMetrics) {
	t.Helper()
	m := &fakeMetrics{}
	h := New(Options{
		Gates: g, Verifier: fakeVerifier{}, Metrics: m, Store: pinger{store},
		Webhooks: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }),
		Logger:   slog.New(slog.DiscardHandler), RegisterRate: 1000, RegisterBurst: 1000,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, m
}

func do(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error: %q", body)
	}
	return e.Error
}

func TestRegister(t *testing.T) {
	valid := `{"repository":"octo-org/deploy"}`
	tests := []struct {
		name    string
		token   string
		body    string
		err     error
		created bool
		status  int
		message string
	}{
		{"created", "good", valid, nil, true, 201, ""},
		{"registered before", "good", valid, nil, false, 200, ""},
		{"no token", "", valid, nil, false, 401, "id-token: write"},
		{"bad token", "forged", valid, nil, false, 401, "token expired"},
		{"issuer down", "down", valid, nil, false, 503, "cannot be reached"},
		{"not JSON", "good", "{", nil, false, 400, "not valid JSON"},
		{"too large", "good", `{"title":"` + strings.Repeat("x", maxRegistration) + `"}`, nil, false, 413, "larger than"},
		{"invalid", "good", valid, fmt.Errorf("%w: timeout_seconds: must be positive", gates.ErrInvalid), false, 400, "timeout_seconds"},
		{"forbidden", "good", valid, fmt.Errorf("%w: not installed", gates.ErrForbidden), false, 403, "not installed"},
		{"conflict", "good", valid, fmt.Errorf("%w: gate key taken", gates.ErrConflict), false, 409, "gate key taken"},
		{"store down", "good", valid, errors.New("disk I/O error at /var/secret/path"), false, 500, "request id"},
		{"panic", "good", `{"repository":"panic/now"}`, nil, false, 500, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newTestServer(t, &fakeGates{err: tt.err, created: tt.created}, nil)
			status, body, header := do(t, srv, "POST", api.GatesPath, tt.token, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if header.Get("Content-Type") != "application/json" || header.Get("X-Request-Id") == "" {
				t.Errorf("headers %v", header)
			}
			if tt.message == "" {
				return
			}
			msg := errorOf(t, body)
			if !strings.Contains(msg, tt.message) {
				t.Errorf("error %q lacks %q", msg, tt.message)
			}
			if strings.Contains(msg, "/var/secret") {
				t.Errorf("an internal error leaked its cause: %q", msg)
			}
		})
	}
}

func TestRegisterRateLimit(t *testing.T) {
	h := New(Options{
		Gates: &fakeGates{}, Verifier: fakeVerifier{}, Metrics: &fakeMetrics{}, Store: pinger{},
		Webhooks: http.NotFoundHandler(), Logger: slog.New(slog.DiscardHandler), RegisterRate: 0.001, RegisterBurst: 2,
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	var codes []int
	for range 4 {
		status, _, header := do(t, srv, "POST", api.GatesPath, "forged", "{}")
		codes = append(codes, status)
		if status == 429 && header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[401 401 429 429]" {
		t.Errorf("statuses %v, want two verified then limited", codes)
	}
}

func TestViewAndCancel(t *testing.T) {
	g := &fakeGates{}
	srv, m := newTestServer(t, g, nil)
	for _, tt := range []struct {
		query  string
		status int
		wait   time.Duration
	}{
		{"", 200, 0},
		{"?wait=5", 200, 5 * time.Second},
		{"?wait=3600", 200, 60 * time.Second},
		{"?wait=-1", 400, 0},
		{"?wait=soon", 400, 0},
	} {
		g.wait = 0
		status, body, _ := do(t, srv, "GET", api.GatesPath+"/g1"+tt.query, "tok", "")
		if status != tt.status || g.wait != tt.wait {
			t.Errorf("%q: status %d wait %v, want %d %v (%s)", tt.query, status, g.wait, tt.status, tt.wait, body)
		}
	}
	if g.token != "tok" {
		t.Errorf("token %q", g.token)
	}
	status, body, _ := do(t, srv, "POST", api.GatesPath+"/g1/cancel", "tok", `{"reason":"run cancelled"}`)
	if status != 200 || g.reason != "run cancelled" || !strings.Contains(body, "cancelled") {
		t.Errorf("cancel: %d %s reason %q", status, body, g.reason)
	}
	if status, _, _ := do(t, srv, "POST", api.GatesPath+"/g1/cancel", "tok", ""); status != 200 {
		t.Errorf("cancel without a body: %d", status)
	}
	g.err = gates.ErrUnauthorized
	status, body, _ = do(t, srv, "GET", api.GatesPath+"/g1", "wrong", "")
	if status != 401 || !strings.Contains(errorOf(t, body), "poll token") {
		t.Errorf("wrong token: %d %s", status, body)
	}
	g.err = gates.ErrNotFound
	if status, _, _ := do(t, srv, "POST", api.GatesPath+"/g1/cancel", "tok", ""); status != 404 {
		t.Errorf("unknown gate: %d", status)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !strings.Contains(strings.Join(m.routes, "\n"), "GET /api/v1/gates/{id} 400") {
		t.Errorf("requests are measured by route pattern: %q", m.routes)
	}
}

func TestOperatorEndpoints(t *testing.T) {
	srv, _ := newTestServer(t, &fakeGates{}, nil)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/nowhere": 404} {
		if status, body, _ := do(t, srv, "GET", path, "", ""); status != want {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	down, _ := newTestServer(t, &fakeGates{}, errors.New("database is locked"))
	status, body, _ := do(t, down, "GET", "/readyz", "", "")
	if status != 503 || strings.Contains(body, "locked") {
		t.Errorf("readyz with the store down: %d %s", status, body)
	}
	if status, _, _ := do(t, down, "GET", "/healthz", "", ""); status != 200 {
		t.Errorf("healthz with the store down: %d", status)
	}
}

func TestRequestID(t *testing.T) {
	srv, _ := newTestServer(t, &fakeGates{}, nil)
	req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id %q, want the caller's", got)
	}
	req.Header.Set("X-Request-Id", "bad id <script>")
	if resp, err = srv.Client().Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("an unsafe request id was kept: %q", got)
	}
}

func TestOptionalRoutes(t *testing.T) {
	teams := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("bot")) })
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page " + r.URL.Path)) })
	for _, tt := range []struct {
		name         string
		teams, pages http.Handler
		method, path string
		status       int
		body         string
	}{
		{"bot", teams, nil, "POST", "/api/teams/messages", 200, "bot"},
		{"no bot", nil, nil, "POST", "/api/teams/messages", 404, "no Microsoft Teams bot is set up"},
		{"response page", nil, pages, "GET", "/respond/abc", 200, "page /respond/abc"},
		{"sign-in callback", nil, pages, "GET", "/auth/github/callback", 200, "page /auth/github/callback"},
		{"no pages", nil, nil, "POST", "/respond/abc", 404, "response pages are not set up"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Options{
				Gates: &fakeGates{}, Verifier: fakeVerifier{}, Metrics: &fakeMetrics{}, Store: pinger{},
				Webhooks: http.NotFoundHandler(), Teams: tt.teams, Pages: tt.pages, Logger: slog.New(slog.DiscardHandler),
			}))
			defer srv.Close()
			status, body, _ := do(t, srv, tt.method, tt.path, "", "")
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Errorf("%d %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
}
