// Package metrics is the app's Prometheus instrumentation, served at
// `GET /metrics`: webhook deliveries, how long a response takes from its
// arrival to its recording, outbox attempts, long-polls being held, HTTP
// request durations, calls to GitHub and the rate limit left, plus gauges of
// the gates by status and of the outbox backlog, read from the store at
// scrape time.
//
// Metrics keeps its own registry, so that nothing is global and tests can
// make as many as they like. A scrape whose store read fails still serves
// every other metric; the failure is counted in
// promhttp_metric_handler_errors_total{cause="gathering"}.
package metrics
