package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// statsTimeout bounds the store reads of one scrape.
const statsTimeout = 3 * time.Second

// statuses are the gate statuses the gatehouse_gates gauge always shows.
var statuses = []approval.Status{approval.Pending, approval.Approved, approval.Rejected, approval.TimedOut, approval.Cancelled}

// Stats are the store's figures, read at scrape time.
type Stats interface {
	CountGates(ctx context.Context) (map[approval.Status]int, error)
	OutboxBacklog(ctx context.Context) (int, error)
}

// Metrics records the app's metrics. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg        *prometheus.Registry
	handler    http.Handler
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	outbox     *prometheus.CounterVec
	emails     *prometheus.CounterVec
	waiting    prometheus.Gauge
	requests   *prometheus.HistogramVec
	github     *prometheus.CounterVec
	rateLimit  *prometheus.GaugeVec
}

// New returns the app's metrics, with the Go runtime's and the process's,
// reading gate and outbox figures from stats (required) at each scrape.
func New(stats Stats) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_webhook_deliveries_total",
			Help: "Webhook deliveries received from GitHub, by event and result.",
		}, []string{"event", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_response_latency_seconds",
			Help:    "Time from receiving a response (webhook delivery, card action, form post) to recording it, by channel.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"via"}),
		outbox: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_outbox_attempts_total",
			Help: "Attempts at outbox side effects on GitHub, by kind and result.",
		}, []string{"kind", "result"}),
		emails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_emails_total",
			Help: "Approval emails by transport (smtp, graph) and result: sent, retry (not delivered, tried again), failed (refused for good), unknown (may have arrived; never sent twice), skipped (the gate settled first).",
		}, []string{"transport", "result"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_waiting_polls",
			Help: "Long-polls being held open.",
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds",
			Help: "Duration of HTTP requests served, by route and status code.",
			// Long-polls last up to a minute.
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "code"}),
		github: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_github_requests_total",
			Help: "Requests to GitHub's API, by method and status code (error when no response came).",
		}, []string{"method", "code"}),
		rateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_github_rate_limit_remaining",
			Help: "Requests left in GitHub's rate limit window, as its last response said, by resource.",
		}, []string{"resource"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.deliveries, m.latency, m.outbox, m.emails, m.waiting, m.requests, m.github, m.rateLimit,
		newStatsCollector(stats),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// Handler serves the metrics in Prometheus's formats.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Delivery counts a webhook delivery and its result.
func (m *Metrics) Delivery(event, result string) {
	m.deliveries.WithLabelValues(event, result).Inc()
}

// ResponseRecorded observes the time from receiving a response through via
// (comment, teams, email, web) to recording it.
func (m *Metrics) ResponseRecorded(via string, latency time.Duration) {
	m.latency.WithLabelValues(via).Observe(latency.Seconds())
}

// Outbox counts an attempt at an outbox item of a kind.
func (m *Metrics) Outbox(kind, result string) {
	m.outbox.WithLabelValues(kind, result).Inc()
}

// Email counts an approval email's outcome on a transport.
func (m *Metrics) Email(transport, result string) {
	m.emails.WithLabelValues(transport, result).Inc()
}

// Waiting adds delta to the long-polls being held: +1 when one starts, -1
// when it ends.
func (m *Metrics) Waiting(delta int) { m.waiting.Add(float64(delta)) }

// HTTP observes a request served on route (the pattern, not the path) with
// its status code.
func (m *Metrics) HTTP(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}

// GitHubTransport wraps base (http.DefaultTransport when nil) to count the
// requests to GitHub and follow the rate limit its responses report.
func (m *Metrics) GitHubTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return githubTransport{base: base, m: m}
}

type githubTransport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t githubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.m.github.WithLabelValues(method, "error").Inc()
		return resp, err
	}
	t.m.github.WithLabelValues(method, strconv.Itoa(resp.StatusCode)).Inc()
	if left, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining")); err == nil {
		resource := resp.Header.Get("X-RateLimit-Resource")
		if resource == "" {
			resource = "unknown"
		}
		t.m.rateLimit.WithLabelValues(resource).Set(float64(left))
	}
	return resp, nil
}

// statsCollector reads the store's figures at scrape time. A failed read
// is reported as an invalid metric, which the registry turns into a
// gathering error.
type statsCollector struct {
	stats   Stats
	gates   *prometheus.Desc
	backlog *prometheus.Desc
}

func newStatsCollector(stats Stats) statsCollector {
	return statsCollector{
		stats:   stats,
		gates:   prometheus.NewDesc("gatehouse_gates", "Gates stored, by status.", []string{"status"}, nil),
		backlog: prometheus.NewDesc("gatehouse_outbox_backlog", "Outbox items not done yet.", nil, nil),
	}
}

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.gates
	ch <- c.backlog
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()

	if counts, err := c.stats.CountGates(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.gates, fmt.Errorf("count gates: %w", err))
	} else {
		for _, s := range statuses {
			ch <- prometheus.MustNewConstMetric(c.gates, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if n, err := c.stats.OutboxBacklog(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.backlog, fmt.Errorf("count outbox backlog: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(n))
	}
}
