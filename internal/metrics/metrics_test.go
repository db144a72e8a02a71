package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// stats is a Stats with fixed figures.
type stats struct {
	counts  map[approval.Status]int
	backlog int
	err     error

	mu        sync.Mutex
	deadlines []bool // whether each call's context had a deadline
}

func (s *stats) called(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := ctx.Deadline()
	s.deadlines = append(s.deadlines, ok)
}

func (s *stats) CountGates(ctx context.Context) (map[approval.Status]int, error) {
	s.called(ctx)
	return s.counts, s.err
}

func (s *stats) OutboxBacklog(ctx context.Context) (int, error) {
	s.called(ctx)
	return s.backlog, s.err
}

// serve serves m's metrics on loopback and returns their URL.
func serve(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestStatsGauges(t *testing.T) {
	t.Parallel()
	s := &stats{counts: map[approval.Status]int{approval.Pending: 3, approval.Approved: 7, approval.TimedOut: 1}, backlog: 4}
	url := serve(t, New(s))
	const want = `
# HELP gatehouse_gates Gates stored, by status.
# TYPE gatehouse_gates gauge
gatehouse_gates{status="approved"} 7
gatehouse_gates{status="cancelled"} 0
gatehouse_gates{status="pending"} 3
gatehouse_gates{status="rejected"} 0
gatehouse_gates{status="timed_out"} 1
# HELP gatehouse_outbox_backlog Outbox items not done yet.
# TYPE gatehouse_outbox_backlog gauge
gatehouse_outbox_backlog 4
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), "gatehouse_gates", "gatehouse_outbox_backlog"); err != nil {
		t.Error(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if diff := cmp.Diff([]bool{true, true}, s.deadlines); diff != "" {
		t.Errorf("store reads had a deadline (-want +got):\n%s", diff)
	}
}

func TestStatsErrorServesTheRest(t *testing.T) {
	t.Parallel()
	m := New(&stats{err: errors.New("database is locked")})
	m.Waiting(1)
	url := serve(t, m)

	code, body := scrape(t, url)
	if code != http.StatusOK {
		t.Fatalf("scrape status %d, want 200 with the metrics that could be gathered:\n%s", code, body)
	}
	for _, name := range []string{"gatehouse_gates", "gatehouse_outbox_backlog"} {
		if strings.Contains(body, name) {
			t.Errorf("scrape shows %s although the store failed", name)
		}
	}
	for _, line := range []string{"gatehouse_waiting_polls 1", "go_goroutines "} {
		if !strings.Contains(body, line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
	const want = `
# HELP promhttp_metric_handler_errors_total Total number of internal errors encountered by the promhttp metric handler.
# TYPE promhttp_metric_handler_errors_total counter
promhttp_metric_handler_errors_total{cause="encoding"} 0
promhttp_metric_handler_errors_total{cause="gathering"} 1
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), "promhttp_metric_handler_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestRecorders(t *testing.T) {
	t.Parallel()
	m := New(&stats{})
	m.Delivery("issue_comment", "accepted")
	m.Delivery("issue_comment", "accepted")
	m.Delivery("unknown", "bad_signature")
	m.Outbox("comment", "ok")
	m.Outbox("close", "retry")
	m.Email("smtp", "sent")
	m.Email("smtp", "sent")
	m.Email("graph", "unknown")
	m.Waiting(3)
	m.Waiting(-1)
	m.ResponseRecorded("comment", 700*time.Millisecond)
	m.HTTP("POST /api/v1/gates", 201, 30*time.Millisecond)
	url := serve(t, m)

	const want = `
# HELP gatehouse_webhook_deliveries_total Webhook deliveries received from GitHub, by event and result.
# TYPE gatehouse_webhook_deliveries_total counter
gatehouse_webhook_deliveries_total{event="issue_comment",result="accepted"} 2
gatehouse_webhook_deliveries_total{event="unknown",result="bad_signature"} 1
# HELP gatehouse_outbox_attempts_total Attempts at outbox side effects on GitHub, by kind and result.
# TYPE gatehouse_outbox_attempts_total counter
gatehouse_outbox_attempts_total{kind="close",result="retry"} 1
gatehouse_outbox_attempts_total{kind="comment",result="ok"} 1
# HELP gatehouse_emails_total Approval emails by transport (smtp, graph) and result: sent, retry (not delivered, tried again), failed (refused for good), unknown (may have arrived; never sent twice), skipped (the gate settled first).
# TYPE gatehouse_emails_total counter
gatehouse_emails_total{result="sent",transport="smtp"} 2
gatehouse_emails_total{result="unknown",transport="graph"} 1
# HELP gatehouse_waiting_polls Long-polls being held open.
# TYPE gatehouse_waiting_polls gauge
gatehouse_waiting_polls 2
# HELP gatehouse_response_latency_seconds Time from receiving a response (webhook delivery, card action, form post) to recording it, by channel.
# TYPE gatehouse_response_latency_seconds histogram
gatehouse_response_latency_seconds_bucket{via="comment",le="0.01"} 0
gatehouse_response_latency_seconds_bucket{via="comment",le="0.05"} 0
gatehouse_response_latency_seconds_bucket{via="comment",le="0.1"} 0
gatehouse_response_latency_seconds_bucket{via="comment",le="0.25"} 0
gatehouse_response_latency_seconds_bucket{via="comment",le="0.5"} 0
gatehouse_response_latency_seconds_bucket{via="comment",le="1"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="2.5"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="5"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="10"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="30"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="60"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="300"} 1
gatehouse_response_latency_seconds_bucket{via="comment",le="+Inf"} 1
gatehouse_response_latency_seconds_sum{via="comment"} 0.7
gatehouse_response_latency_seconds_count{via="comment"} 1
# HELP gatehouse_http_request_duration_seconds Duration of HTTP requests served, by route and status code.
# TYPE gatehouse_http_request_duration_seconds histogram
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.005"} 0
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.01"} 0
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.025"} 0
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.05"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.1"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.25"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="0.5"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="1"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="2.5"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="5"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="10"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="30"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="60"} 1
gatehouse_http_request_duration_seconds_bucket{code="201",route="POST /api/v1/gates",le="+Inf"} 1
gatehouse_http_request_duration_seconds_sum{code="201",route="POST /api/v1/gates"} 0.03
gatehouse_http_request_duration_seconds_count{code="201",route="POST /api/v1/gates"} 1
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want),
		"gatehouse_webhook_deliveries_total", "gatehouse_outbox_attempts_total", "gatehouse_emails_total", "gatehouse_waiting_polls",
		"gatehouse_response_latency_seconds", "gatehouse_http_request_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// roundTripFunc is a RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGitHubTransport(t *testing.T) {
	t.Parallel()
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repos/o/r/issues":
			w.Header().Set("X-RateLimit-Remaining", "4999")
			w.Header().Set("X-RateLimit-Resource", "core")
			w.WriteHeader(http.StatusCreated)
		case "/search/issues":
			w.Header().Set("X-RateLimit-Remaining", "29")
			w.Header().Set("X-RateLimit-Resource", "search")
		case "/meta":
			w.Header().Set("X-RateLimit-Remaining", "12")
		case "/limited":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Resource", "core")
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(github.Close)

	m := New(&stats{})
	client := &http.Client{Transport: m.GitHubTransport(nil)}
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/repos/o/r/issues"},
		{http.MethodGet, "/search/issues"},
		{http.MethodGet, "/meta"},
		{http.MethodGet, "/nowhere"},
		{http.MethodPatch, "/limited"},
	} {
		req, err := http.NewRequest(c.method, github.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	down := errors.New("connection refused")
	failing := &http.Client{Transport: m.GitHubTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, down }))}
	if _, err := failing.Get(github.URL + "/meta"); !errors.Is(err, down) {
		t.Fatalf("GET through a failing transport: %v, want %v", err, down)
	}

	const want = `
# HELP gatehouse_github_requests_total Requests to GitHub's API, by method and status code (error when no response came).
# TYPE gatehouse_github_requests_total counter
gatehouse_github_requests_total{code="200",method="GET"} 2
gatehouse_github_requests_total{code="201",method="POST"} 1
gatehouse_github_requests_total{code="403",method="PATCH"} 1
gatehouse_github_requests_total{code="404",method="GET"} 1
gatehouse_github_requests_total{code="error",method="GET"} 1
# HELP gatehouse_github_rate_limit_remaining Requests left in GitHub's rate limit window, as its last response said, by resource.
# TYPE gatehouse_github_rate_limit_remaining gauge
gatehouse_github_rate_limit_remaining{resource="core"} 0
gatehouse_github_rate_limit_remaining{resource="search"} 29
gatehouse_github_rate_limit_remaining{resource="unknown"} 12
`
	if err := testutil.ScrapeAndCompare(serve(t, m), strings.NewReader(want), "gatehouse_github_requests_total", "gatehouse_github_rate_limit_remaining"); err != nil {
		t.Error(err)
	}
}

func TestRuntimeMetrics(t *testing.T) {
	t.Parallel()
	_, body := scrape(t, serve(t, New(&stats{})))
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("scrape lacks %s", name)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	m := New(&stats{})
	m.Delivery("ping", "ping")
	m.ResponseRecorded("teams", time.Second)
	m.Outbox("comment", "ok")
	m.HTTP("GET /healthz", 200, time.Millisecond)
	m.github.WithLabelValues("GET", "200").Inc()
	m.rateLimit.WithLabelValues("core").Set(1)
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "gatehouse_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
