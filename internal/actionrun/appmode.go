package actionrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

const (
	// registerTimeout bounds one registration request.
	registerTimeout = 30 * time.Second
	// pollSlack is how much longer than its wait a long-poll may take.
	pollSlack = 15 * time.Second
	// cancelTimeout bounds telling the app that the run was cancelled; the
	// rest of cleanupTimeout is left for closing the issue here should
	// the app not answer.
	cancelTimeout = cleanupTimeout / 2
	// cancelReason is what the issue says when the run is cancelled.
	cancelReason = "The workflow run was cancelled."
)

// appTiming paces app mode; tests shorten it.
type appTiming struct {
	firstBackoff  time.Duration // the wait after the first failure, doubled after each
	maxBackoff    time.Duration
	maxRetryAfter time.Duration // the longest Retry-After obeyed
	maxOutage     time.Duration // how long the app may fail in a row before the action gives up
	grace         time.Duration // how long past its deadline the app may take to settle a gate
	pollGap       time.Duration // the least time from one poll to the next
	firstLog      time.Duration // when an outage is reported again; then at twice as far in
	wait          int           // long-poll seconds
}

func defaultAppTiming() appTiming {
	return appTiming{
		firstBackoff:  time.Second,
		maxBackoff:    15 * time.Second,
		maxRetryAfter: time.Minute,
		maxOutage:     maxOutage,
		grace:         5 * time.Minute,
		pollGap:       time.Second,
		firstLog:      30 * time.Second,
		wait:          50,
	}
}

// waitApp registers the gate with the app and long-polls it until the gate
// settles. The app writes the outcome on the issue and closes it. The
// action closes the issue itself only when it gives up with an error, or
// when the run is cancelled and the app cannot be told.
func (r *runner) waitApp(ctx context.Context, issue *github.Issue, rules approval.Gate) (Result, error) {
	w := &appWaiter{r: r, deadline: rules.Deadline}
	res := Result{IssueNumber: issue.GetNumber(), IssueURL: issue.GetHTMLURL(), Rules: rules}
	err := w.register(ctx, r.registration(issue))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// The app may not know the gate: cancel as standalone mode does.
		return w.cancelledHere(res), nil
	default:
		r.abandon(ctx, res.IssueNumber, err)
		return res, err
	}
	res.Rules.Deadline = w.deadline
	r.gha.Infof("Registered gate %s with the Gatehouse app at %s", r.gateID, r.cfg.AppURL)
	r.gha.Infof("Waiting for approval on %s (times out at %s)", res.IssueURL, w.deadline.UTC().Format(time.RFC3339))

	view, err := w.poll(ctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		if view, err = w.cancel(ctx, cancelReason); err != nil {
			r.gha.Warningf("The app could not be told that the run was cancelled, so the action closes the approval issue itself: %v", err)
			return w.cancelledHere(res), nil
		}
	default:
		// Cancel the gate, so that no answer settles it later; the app
		// then notes why on the issue and closes it.
		why := fmt.Sprintf("The action stopped with an error (%s) and no longer waits for answers.", err)
		if _, cerr := w.cancel(ctx, why); cerr != nil {
			r.abandon(ctx, res.IssueNumber, err)
		}
		return res, err
	}
	if res.Outcome, res.Responses, err = outcomeOf(r.cfg.Fields, view); err != nil {
		return res, fmt.Errorf("gate %s settled as %s, but %w", r.gateID, view.Status, err)
	}
	res.Notes, res.Why, res.AppSettles = view.Notes, view.Reason, true
	if res.Outcome.Status == approval.Cancelled && res.Why == "" {
		res.Why = "The gate was cancelled."
	}
	return res, nil
}

// registration is the body that registers the gate of issue.
func (r *runner) registration(issue *github.Issue) api.Register {
	c := r.cfg
	minimum := strconv.Itoa(c.MinimumApprovals)
	if c.RequireAll {
		minimum = "all"
	}
	return api.Register{
		Repository:       c.Repository(),
		RunID:            c.RunID,
		RunAttempt:       c.RunAttempt,
		Key:              c.GateKey(),
		IssueNumber:      issue.GetNumber(),
		IssueURL:         issue.GetHTMLURL(),
		Title:            c.Title,
		Instructions:     c.Instructions,
		Approvers:        c.Inputs.Approvers,
		MinimumApprovals: minimum,
		Fields:           c.Inputs.Fields,
		TimeoutSeconds:   int64((c.Timeout + time.Second - 1) / time.Second),
		OnTimeout:        string(c.OnTimeout),
		ExcludeInitiator: c.ExcludeInitiator,
		Initiators:       c.Initiators(),
		ApproveWords:     c.Inputs.ApproveWords,
		RejectWords:      c.Inputs.RejectWords,
		Notify:           c.Notify,
		TeamsChannel:     c.TeamsChannel,
		Run: api.Run{
			Workflow: c.Workflow, Job: c.Job, Number: c.RunNumber, URL: c.RunURL(),
			Actor: c.Actor, SHA: c.SHA, Ref: c.Ref,
		},
	}
}

// appWaiter is one gate's wait on the app.
type appWaiter struct {
	r         *runner
	pollToken string
	deadline  time.Time // the gate's: the app's once registered
	last      api.Gate  // the latest view of the gate
}

// register registers the gate, with a fresh OIDC token on every attempt,
// until the app accepts it or a failure is final.
func (w *appWaiter) register(ctx context.Context, body api.Register) error {
	rt := w.retrier("Registering the gate")
	for {
		reg, err := w.registerOnce(ctx, body)
		if err == nil {
			rt.succeeded()
			w.pollToken = reg.PollToken
			w.seen(reg.Gate)
			for _, warning := range reg.Warnings {
				w.r.gha.Warningf("The Gatehouse app: %s", warning)
			}
			return nil
		}
		if err := rt.failed(ctx, err, w.deadline); err != nil {
			return err
		}
	}
}

func (w *appWaiter) registerOnce(ctx context.Context, body api.Register) (api.Registered, error) {
	var reg api.Registered
	cfg := w.r.cfg
	token, err := w.r.gha.GetIDToken(ctx, cfg.OIDCAudience)
	if err != nil {
		return reg, fmt.Errorf("get the job's OIDC token (the job needs `permissions: id-token: write`): %w", err)
	}
	w.r.gha.AddMask(token)
	if err := w.r.app.do(ctx, registerTimeout, http.MethodPost, api.GatesPath, token, body, &reg); err != nil {
		return reg, fmt.Errorf("register the gate with the Gatehouse app at %s: %w%s", cfg.AppURL, err, w.registerHint(err))
	}
	if reg.PollToken == "" {
		return reg, fmt.Errorf("register the gate with the Gatehouse app at %s: the answer has no poll token", cfg.AppURL)
	}
	w.r.gha.AddMask(reg.PollToken)
	if err := checkView(reg.Gate); err != nil {
		return reg, fmt.Errorf("register the gate with the Gatehouse app at %s: %w", cfg.AppURL, err)
	}
	return reg, nil
}

// registerHint says what a refused registration probably means.
func (w *appWaiter) registerHint(err error) string {
	var se *appStatusError
	if !errors.As(err, &se) {
		return ""
	}
	switch se.code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf(" (the app could not verify the job's OIDC token, or the Gatehouse app is not installed on %s; oidc-audience must be the app's public URL)", w.r.cfg.Repository())
	case http.StatusConflict:
		return fmt.Sprintf(" (gate key %q is taken by another approval issue; in a matrix, set gate-key, e.g. to ${{ strategy.job-index }})", w.r.cfg.GateKey())
	case http.StatusRequestEntityTooLarge:
		return " (the gate is too large: shorten instructions or fields)"
	}
	return ""
}

// poll long-polls the gate until it settles. No GitHub API calls are made
// meanwhile.
func (w *appWaiter) poll(ctx context.Context) (api.Gate, error) {
	t := w.r.app.timing
	path := fmt.Sprintf("%s/%s?wait=%d", api.GatesPath, w.r.gateID, t.wait)
	timeout := time.Duration(t.wait)*time.Second + pollSlack
	rt := w.retrier("Reading the gate")
	for !approval.Status(w.last.Status).Settled() {
		start := w.r.now()
		var view api.Gate
		err := w.r.app.do(ctx, timeout, http.MethodGet, path, w.pollToken, nil, &view)
		if err == nil {
			err = checkView(view)
		}
		if err != nil {
			err = fmt.Errorf("read gate %s from the Gatehouse app at %s: %w%s", w.r.gateID, w.r.cfg.AppURL, err, pollHint(err))
			if ctx.Err() != nil {
				return api.Gate{}, ctx.Err()
			}
			if err := rt.failed(ctx, err, w.deadline); err != nil {
				return api.Gate{}, err
			}
			continue
		}
		rt.succeeded()
		w.seen(view)
		if approval.Status(view.Status).Settled() {
			break
		}
		if now := w.r.now(); now.After(w.deadline.Add(t.grace)) {
			return api.Gate{}, fmt.Errorf("the Gatehouse app has not settled gate %s, whose deadline was %s", w.r.gateID, w.deadline.UTC().Format(time.RFC3339))
		}
		if err := ghclient.Sleep(ctx, start.Add(t.pollGap).Sub(w.r.now())); err != nil {
			return api.Gate{}, err
		}
	}
	return w.last, nil
}

// pollHint says what a refused poll probably means.
func pollHint(err error) string {
	var se *appStatusError
	if !errors.As(err, &se) {
		return ""
	}
	switch se.code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return " (the app no longer accepts this gate's poll token)"
	case http.StatusNotFound:
		return " (the app does not know this gate)"
	}
	return ""
}

// cancel tells the app that the run was cancelled and returns the gate as
// the app then has it: cancelled, or settled a moment before.
func (w *appWaiter) cancel(ctx context.Context, reason string) (api.Gate, error) {
	var view api.Gate
	path := fmt.Sprintf("%s/%s/cancel", api.GatesPath, w.r.gateID)
	err := w.r.app.do(context.WithoutCancel(ctx), cancelTimeout, http.MethodPost, path, w.pollToken, api.Cancel{Reason: reason}, &view)
	if err == nil {
		err = checkView(view)
	}
	if err == nil && !approval.Status(view.Status).Settled() {
		err = errors.New("the gate is still pending")
	}
	if err != nil {
		return api.Gate{}, fmt.Errorf("cancel gate %s: %w", w.r.gateID, err)
	}
	return view, nil
}

// cancelledHere is the outcome of a run cancelled while the app cannot be
// told: the action writes the note on the issue and closes it, as in
// standalone mode. The responses are those of the latest view.
func (w *appWaiter) cancelledHere(res Result) Result {
	res.Outcome = approval.Outcome{Status: approval.Cancelled, Approvers: w.last.Approvers, SettledAt: w.r.now()}
	res.Responses = responsesOf(w.last.Responses)
	res.Why = cancelReason
	return res
}

// seen takes in a view of the gate.
func (w *appWaiter) seen(v api.Gate) {
	w.last = v
	if !v.Deadline.IsZero() {
		w.deadline = v.Deadline
	}
}

// checkView refuses a gate view whose status the action does not know.
func checkView(v api.Gate) error {
	switch approval.Status(v.Status) {
	case approval.Pending, approval.Approved, approval.Rejected, approval.TimedOut, approval.Cancelled:
		return nil
	}
	return fmt.Errorf("the app answered an unknown gate status %q", v.Status)
}

// outcomeOf reads a settled gate view as the action reports it: the field
// values typed by the schema, the responses as the app gives them.
func outcomeOf(s fields.Schema, v api.Gate) (approval.Outcome, []api.Response, error) {
	o := approval.Outcome{
		Status:    approval.Status(v.Status),
		Approved:  v.Approved,
		DecidedBy: v.DecidedBy,
		Approvers: v.Approvers,
		Comment:   v.Comment,
	}
	if v.SettledAt != nil {
		o.SettledAt = *v.SettledAt
	}
	if len(v.Fields) > 0 {
		data, err := json.Marshal(v.Fields)
		if err != nil {
			return o, nil, fmt.Errorf("encode the app's field values: %w", err)
		}
		if o.Fields, err = s.Decode(data); err != nil {
			return o, nil, fmt.Errorf("the app's field values do not fit the fields input: %w", err)
		}
	}
	return o, responsesOf(v.Responses), nil
}

// responsesOf gives the app's responses the shape standalone mode gives
// its own: times in UTC, fields never null.
func responsesOf(rs []api.Response) []api.Response {
	out := make([]api.Response, len(rs))
	for i, r := range rs {
		if r.Fields == nil {
			r.Fields = map[string]any{}
		}
		r.At = r.At.UTC()
		out[i] = r
	}
	return out
}

// retrier paces the retries of one kind of call to the app and decides
// when to stop.
type retrier struct {
	r        *runner
	what     string
	since    time.Time     // when the current run of failures began; zero when none
	failures int           // in the current run
	nextLog  time.Duration // how far into the run the next report is due
	logged   bool          // whether the current run was reported
}

func (w *appWaiter) retrier(what string) *retrier {
	return &retrier{r: w.r, what: what}
}

// failed takes a failed attempt. A transient failure is reported now and
// then and waited out; failed returns an error when the failure is final,
// when the app has failed for too long, when the gate's deadline is long
// past, or when ctx ends.
func (rt *retrier) failed(ctx context.Context, err error, deadline time.Time) error {
	t := rt.r.app.timing
	retry, after := retryable(err)
	if !retry {
		return err
	}
	now := rt.r.now()
	if rt.since.IsZero() {
		rt.since, rt.failures, rt.nextLog, rt.logged = now, 0, 0, false
	}
	outage := now.Sub(rt.since)
	if outage >= t.maxOutage {
		return fmt.Errorf("the Gatehouse app has failed every request for %s: %w", outage.Round(time.Second), err)
	}
	if now.After(deadline.Add(t.grace)) {
		return fmt.Errorf("the gate's deadline (%s) has passed and the Gatehouse app has not settled it: %w", deadline.UTC().Format(time.RFC3339), err)
	}
	wait := t.retryWait(rt.failures, after)
	rt.failures++
	if outage >= rt.nextLog {
		rt.r.gha.Infof("%s failed; trying again in %s: %v", rt.what, wait.Round(time.Millisecond), err)
		rt.nextLog = max(t.firstLog, 2*outage)
		rt.logged = true
	}
	return ghclient.Sleep(ctx, wait)
}

// succeeded ends a run of failures.
func (rt *retrier) succeeded() {
	if rt.logged {
		rt.r.gha.Infof("%s works again after %s.", rt.what, rt.r.now().Sub(rt.since).Round(time.Second))
	}
	rt.since, rt.logged = time.Time{}, false
}

// retryWait is the wait after failure number n (from 0) whose answer asked
// to wait for after: the backoff, or longer if asked, up to maxRetryAfter.
func (t appTiming) retryWait(n int, after time.Duration) time.Duration {
	return max(t.backoff(n), min(after, t.maxRetryAfter))
}

// backoff is the wait after failure number n (from 0): doubling from
// firstBackoff up to maxBackoff, the upper half of it at random.
func (t appTiming) backoff(n int) time.Duration {
	d := t.maxBackoff
	if n < 30 {
		d = min(t.firstBackoff<<n, t.maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// retryable reports whether a failure may pass: no answer (refused, reset,
// cut off, timed out), or 429, 500, 502, 503, 504; with how long the
// answer asked to wait.
func retryable(err error) (bool, time.Duration) {
	var se *appStatusError
	if errors.As(err, &se) {
		switch se.code {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true, se.retryAfter
		}
		return false, 0
	}
	var ue *url.Error
	return errors.As(err, &ue) && ue.Op != "parse", 0
}
