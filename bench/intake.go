package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // reads the app's database
)

const (
	// intakeGates are the gates that alice's approvals go to; each needs
	// alice and bob, so none settles.
	intakeGates = 50
	// intakeIssues are the issues without a gate that discussion goes to.
	intakeIssues = 50
	// approvalPool is how many real approving comments are made for the
	// run; past that they are sent again under new delivery ids.
	approvalPool = 5000
	// firstIntakeRun is the run id of the first intake gate.
	firstIntakeRun = 200_000
	// drainLimit bounds the wait for the inbox to drain after the run.
	drainLimit = 30 * time.Second
)

// intakeResult is the webhook intake part's outcome.
type intakeResult struct {
	Duration    time.Duration `json:"duration_ns"`
	Concurrency int           `json:"concurrency"`
	PayloadSize int           `json:"payload_bytes"`
	Sent        int           `json:"sent"`
	// Accepted counts 202 answers; Errors everything else, by status
	// ("0" for a request that got no answer).
	Accepted          int            `json:"accepted"`
	AcceptedPerSecond float64        `json:"accepted_per_second"`
	Errors            int            `json:"errors"`
	ErrorsByStatus    map[string]int `json:"errors_by_status,omitempty"`
	Answer            percentiles    `json:"answer"`
	// MetricAccepted is the app's own count of the accepted deliveries.
	MetricAccepted float64 `json:"metric_accepted"`
	// Stored is how many of the run's deliveries the inbox holds;
	// ProcessedInWindow how many were done when sending stopped.
	Stored             int     `json:"stored"`
	ProcessedInWindow  int     `json:"processed_in_window"`
	ProcessedPerSecond float64 `json:"processed_per_second"`
	// Drained is how long after sending stopped the inbox was empty;
	// zero with Undone > 0 when it was not within drainLimit.
	Drained  time.Duration  `json:"drained_ns"`
	Undone   int            `json:"undone"`
	Outcomes map[string]int `json:"outcomes"`
	// Inbox is the inbox over time, from the start of sending.
	Inbox []inboxSample `json:"inbox"`
	// Sending and Draining are the CPU used while sending and after.
	Sending  usage `json:"sending"`
	Draining usage `json:"draining"`
}

// inboxSample is the count of the run's deliveries stored and done, At
// seconds from the start.
type inboxSample struct {
	At     float64 `json:"at_seconds"`
	Stored int     `json:"stored"`
	Done   int     `json:"done"`
}

func (w *world) intake(ctx context.Context, duration time.Duration, concurrency, approvalEvery int) (*intakeResult, error) {
	a, err := w.startApp(ctx, "intake")
	if err != nil {
		return nil, err
	}
	defer a.stop()
	s, err := w.newSender(ctx, a, concurrency, approvalEvery)
	if err != nil {
		return nil, err
	}
	in, err := openInbox(ctx, a.db)
	if err != nil {
		return nil, err
	}
	defer in.close()
	const series = `gatehouse_webhook_deliveries_total{event="issue_comment",result="accepted"}`
	metric0, err := a.metric(ctx, series)
	if err != nil {
		return nil, err
	}

	r := &intakeResult{Duration: duration, Concurrency: concurrency, ErrorsByStatus: map[string]int{}, PayloadSize: s.size()}
	start := time.Now()
	sample := func() (bool, error) {
		stored, done, err := in.count(ctx)
		r.Inbox = append(r.Inbox, inboxSample{At: time.Since(start).Seconds(), Stored: stored, Done: done})
		r.Stored, r.Undone = stored, stored-done
		return stored == done, err
	}
	finish, err := a.meter()
	if err != nil {
		return nil, err
	}
	sending, stopSampling := context.WithCancel(ctx)
	sampled := make(chan error, 1)
	go func() {
		sampled <- every(sending, time.Second, func() (bool, error) { _, err := sample(); return false, err })
	}()
	ended, answers := s.run(ctx, r, start.Add(duration), concurrency)
	stopSampling()
	if err := <-sampled; !errors.Is(err, context.Canceled) {
		return nil, err // the inbox could not be read
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sent := ended.Sub(start)
	r.AcceptedPerSecond = float64(r.Accepted) / sent.Seconds()
	r.Answer = percentilesOf(answers)
	if _, err := sample(); err != nil {
		return nil, err
	}
	r.ProcessedInWindow = r.Stored - r.Undone
	r.ProcessedPerSecond = float64(r.ProcessedInWindow) / sent.Seconds()
	if r.Sending, err = finish(); err != nil {
		return nil, err
	}

	progress("intake: sent %d in %.1f s; waiting up to %v for the inbox to drain", r.Sent, sent.Seconds(), drainLimit)
	if finish, err = a.meter(); err != nil {
		return nil, err
	}
	draining, cancel := context.WithTimeout(ctx, drainLimit)
	defer cancel()
	switch err := every(draining, 250*time.Millisecond, sample); {
	case err == nil:
		r.Drained = time.Since(ended)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case !errors.Is(err, context.DeadlineExceeded):
		return nil, err
	}
	if r.Draining, err = finish(); err != nil {
		return nil, err
	}
	metric1, err := a.metric(ctx, series)
	if err != nil {
		return nil, err
	}
	r.MetricAccepted = metric1 - metric0
	r.Outcomes, err = in.outcomes(ctx, s.prefix)
	return r, err
}

// every calls fn at once and then every interval until it is done (nil),
// fails, or ctx ends (ctx.Err()).
func every(ctx context.Context, interval time.Duration, fn func() (done bool, err error)) error {
	for {
		if done, err := fn(); done || err != nil {
			return err
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

// inbox reads the app's deliveries table, from indexes only where it can:
// reading the rows would read their payloads and compete with the app.
type inbox struct {
	db     *sql.DB
	before int // deliveries stored before the run
}

// openInbox opens the app's database once every delivery stored so far is
// done.
func openInbox(ctx context.Context, path string) (*inbox, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open the app's database: %w", err)
	}
	in := &inbox{db: db}
	wait, cancel := context.WithTimeout(ctx, drainLimit)
	defer cancel()
	err = every(wait, 100*time.Millisecond, func() (bool, error) {
		stored, done, err := in.count(ctx)
		in.before = stored
		return stored == done, err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("wait for the app to process the deliveries made while setting up: %w", err)
	}
	return in, nil
}

func (in *inbox) close() { in.db.Close() }

// count counts the deliveries stored since the run began, and those done.
func (in *inbox) count(ctx context.Context) (stored, done int, err error) {
	var all, undone int
	err = in.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries`).Scan(&all)
	if err == nil {
		err = in.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE done_at IS NULL`).Scan(&undone)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read the app's inbox: %w", err)
	}
	return all - in.before, all - in.before - undone, nil
}

// outcomes counts the deliveries whose ids start with prefix by the app's
// result, "(not done)" for those still waiting.
func (in *inbox) outcomes(ctx context.Context, prefix string) (map[string]int, error) {
	rows, err := in.db.QueryContext(ctx, `SELECT CASE WHEN done_at IS NULL THEN '(not done)' ELSE result END, count(*)
		FROM deliveries WHERE id >= ? AND id < ? GROUP BY 1`, prefix, prefix+"~")
	if err != nil {
		return nil, fmt.Errorf("read the app's delivery results: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var result string
		var n int
		if err := rows.Scan(&result, &n); err != nil {
			return nil, fmt.Errorf("read the app's delivery results: %w", err)
		}
		out[result] = n
	}
	return out, rows.Err()
}

func (r *intakeResult) drainString() string {
	after := r.Stored - r.Undone - r.ProcessedInWindow
	if r.Undone > 0 {
		return fmt.Sprintf("NOT within %v: %d processed after sending (%.0f/s), %d of %d still to do",
			drainLimit, after, float64(after)/r.Draining.Wall.Seconds(), r.Undone, r.Stored)
	}
	return fmt.Sprintf("%.1f s after the last request: %d processed after sending (%.0f/s)",
		r.Drained.Seconds(), after, float64(after)/r.Draining.Wall.Seconds())
}

func (r *intakeResult) outcomesString() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Outcomes[k]))
	}
	return strings.Join(parts, "; ") + fmt.Sprintf(" (metric accepted: %.0f)", r.MetricAccepted)
}
