package actionrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/sethvargo/go-githubactions"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

const (
	// maxAssignees is GitHub's limit of assignees on one issue.
	maxAssignees = 10
	// openTimeout bounds creating the issue, which goes on when the run is
	// cancelled meanwhile so that the issue can be closed again.
	openTimeout = time.Minute
	// settleTimeout bounds writing the outcome on the issue.
	settleTimeout = 2 * time.Minute
	// cleanupTimeout bounds it when the run is cancelled: the runner kills
	// the step about ten seconds after it asks it to stop.
	cleanupTimeout = 6 * time.Second
	// postAttempts is how often a comment is tried when GitHub fails.
	postAttempts = 3
)

// Options are the action's connections to the outside world.
type Options struct {
	Getenv func(string) string
	Stdout io.Writer

	// timing paces app mode's retries and polls; zero means the defaults.
	timing appTiming
}

// Main runs the action and returns its exit status. ctx ends when the run is
// cancelled (SIGTERM or SIGINT).
func Main(ctx context.Context, o Options) int {
	gha := githubactions.New(githubactions.WithGetenv(githubactions.GetenvFunc(o.Getenv)), githubactions.WithWriter(o.Stdout))
	cfg, err := Load(o.Getenv)
	if err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			gha.Errorf("%s", e)
		}
		return 1
	}
	gha.AddMask(cfg.Token)
	gh, err := ghclient.New(cfg.APIURL, cfg.Token, ghclient.WithETagCache())
	if err != nil {
		gha.Errorf("%v", err)
		return 1
	}
	r := &runner{cfg: cfg, gh: gh, gha: gha, now: time.Now, gateID: cfg.GateID()}
	if cfg.AppURL != "" {
		timing := o.timing
		if timing == (appTiming{}) {
			timing = defaultAppTiming()
		}
		r.app = newAppClient(cfg.AppURL, timing)
	}
	res, err := r.run(ctx)
	if err != nil {
		gha.Errorf("%v", err)
		return 1
	}
	code := r.report(res)
	if res.IssueNumber != 0 && !res.AppSettles {
		timeout := settleTimeout
		if ctx.Err() != nil {
			timeout = cleanupTimeout
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := r.settle(sctx, res); err != nil {
			gha.Warningf("The outcome stands, but the approval issue could not be updated: %v", err)
		}
	}
	return code
}

type runner struct {
	cfg    Config
	gh     *github.Client
	gha    *githubactions.Action
	app    *appClient // nil in standalone mode
	now    func() time.Time
	gateID string
}

// run opens the issue and waits for the outcome, from the app in app mode
// or from the issue's comments in standalone mode. A cancelled run is an
// outcome (Cancelled), not an error.
func (r *runner) run(ctx context.Context) (Result, error) {
	start := r.now()
	rules := r.cfg.Rules(start)
	early := Result{
		Outcome: approval.Outcome{Status: approval.Cancelled, SettledAt: start},
		Rules:   rules,
		Why:     "The workflow run was cancelled before the approval issue was opened.",
	}
	// In app mode the app reads team memberships with its own token.
	if r.app == nil {
		if err := r.checkTeamAccess(ctx); err != nil {
			if ctx.Err() != nil {
				return early, nil
			}
			return Result{}, err
		}
	}
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), openTimeout)
	issue, err := r.openIssue(octx, rules)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return early, nil
		}
		return Result{}, err
	}
	if r.app != nil {
		return r.waitApp(ctx, issue, rules)
	}
	return r.waitStandalone(ctx, issue, rules)
}

// waitStandalone waits for the outcome by reading the issue's comments.
func (r *runner) waitStandalone(ctx context.Context, issue *github.Issue, rules approval.Gate) (Result, error) {
	w := newStandalone(r, issue, rules, r.now())
	res := Result{IssueNumber: issue.GetNumber(), IssueURL: issue.GetHTMLURL(), Rules: w.rules}
	r.gha.Infof("Waiting for approval on %s (times out at %s)", res.IssueURL, w.rules.Deadline.UTC().Format(time.RFC3339))

	o, why, err := w.wait(ctx)
	switch {
	case ctx.Err() != nil:
		res.Outcome, res.Why = w.cancelled(), "The workflow run was cancelled."
	case err != nil:
		r.abandon(ctx, res.IssueNumber, err)
		return res, err
	default:
		res.Outcome, res.Why = o, why
	}
	res.Responses = api.Responses(res.Outcome.Counted)
	res.Notes = w.notes
	return res, nil
}

// openIssue creates the approval issue and assigns the approvers it can.
func (r *runner) openIssue(ctx context.Context, rules approval.Gate) (*github.Issue, error) {
	body := audit.IssueBody(audit.Gate{
		ID: r.gateID,
		Run: audit.Run{
			Repository: r.cfg.Repository(), Workflow: r.cfg.Workflow, Job: r.cfg.Job,
			Number: r.cfg.RunNumber, URL: r.cfg.RunURL(), Actor: r.cfg.Actor, SHA: r.cfg.SHA, Ref: r.cfg.Ref,
		},
		Instructions: r.cfg.Instructions,
		Rules:        rules,
	})
	req := &github.IssueRequest{Title: &r.cfg.Title, Body: &body}
	if len(r.cfg.Labels) > 0 {
		req.Labels = &r.cfg.Labels
	}
	issue, _, err := r.gh.Issues.Create(ctx, r.cfg.Owner, r.cfg.Repo, req)
	if err != nil {
		return nil, fmt.Errorf("create the approval issue in %s: %w%s", r.cfg.Repository(), err, permissionHint(err, "issues: write"))
	}
	if logins := r.cfg.Approvers.Logins; len(logins) > 0 {
		// Assigned separately: GitHub ignores logins it cannot assign here,
		// where creating the issue with them would fail.
		if _, _, err := r.gh.Issues.AddAssignees(ctx, r.cfg.Owner, r.cfg.Repo, issue.GetNumber(), logins[:min(len(logins), maxAssignees)]); err != nil {
			r.gha.Warningf("assign approvers to %s: %v", issue.GetHTMLURL(), err)
		}
	}
	return issue, nil
}

// checkTeamAccess fails early when a listed team is not visible to the
// token. GitHub answers a membership query with 404 both for "not a member"
// and for "cannot see the team", so the team itself is read first.
func (r *runner) checkTeamAccess(ctx context.Context) error {
	for _, t := range r.cfg.Approvers.Teams {
		org, slug, _ := strings.Cut(t, "/")
		_, _, err := r.gh.Teams.GetTeamBySlug(ctx, org, slug)
		if ghclient.IsNotFound(err) {
			return fmt.Errorf("approvers: team %s does not exist or github-token cannot see it; standalone mode reads team membership with github-token, which needs read:org (a classic token) or the organization's Members: read permission", t)
		}
		if err != nil {
			return fmt.Errorf("read team %s: %w%s", t, err, permissionHint(err, "a github-token with read:org"))
		}
	}
	return nil
}

// teamMember reports whether login is an active member of team ("org/slug").
func (r *runner) teamMember(ctx context.Context, team, login string) (bool, error) {
	org, slug, _ := strings.Cut(team, "/")
	m, _, err := r.gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, login)
	if ghclient.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read membership of %s in team %s: %w%s", login, team, err, permissionHint(err, "a github-token with read:org"))
	}
	return m.GetState() == "active", nil
}

func (r *runner) getIssue(ctx context.Context, number int) (*github.Issue, error) {
	issue, _, err := r.gh.Issues.Get(ctx, r.cfg.Owner, r.cfg.Repo, number)
	if err != nil {
		return nil, fmt.Errorf("read %s#%d: %w", r.cfg.Repository(), number, err)
	}
	return issue, nil
}

func (r *runner) comment(ctx context.Context, number int, body string) error {
	if _, _, err := r.gh.Issues.CreateComment(ctx, r.cfg.Owner, r.cfg.Repo, number, &github.IssueComment{Body: &body}); err != nil {
		return fmt.Errorf("comment on %s#%d: %w", r.cfg.Repository(), number, err)
	}
	return nil
}

// commentOnce posts body, whose marker is kind, trying again when GitHub
// fails — but not when the failed request created the comment all the same.
func (r *runner) commentOnce(ctx context.Context, number int, kind audit.Kind, body string) error {
	for attempt := 1; ; attempt++ {
		err := r.comment(ctx, number, body)
		if err == nil || !transient(err) || attempt == postAttempts {
			return err
		}
		if posted, lerr := r.hasMarker(ctx, number, kind); lerr == nil && posted {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
}

// hasMarker reports whether the issue has a recent comment of this gate
// with a marker of kind.
func (r *runner) hasMarker(ctx context.Context, number int, kind audit.Kind) (bool, error) {
	since := r.now().Add(-10 * time.Minute)
	opts := &github.IssueListCommentsOptions{Since: &since}
	all, err := ghclient.ListAll(ctx, func(lo github.ListOptions) ([]*github.IssueComment, *github.Response, error) {
		opts.ListOptions = lo
		return r.gh.Issues.ListComments(ctx, r.cfg.Owner, r.cfg.Repo, number, opts)
	})
	if err != nil {
		return false, err
	}
	for _, c := range all {
		if m, ok := audit.ParseMarker(c.GetBody()); ok && m.Kind == kind && m.Gate == r.gateID {
			return true, nil
		}
	}
	return false, nil
}

// settle closes the issue — completed when approved, not planned otherwise —
// and then writes the outcome on it. Closing comes first so that no one
// answers a gate that has ended, even if the run is killed meanwhile.
func (r *runner) settle(ctx context.Context, res Result) error {
	reason, state := "not_planned", "closed"
	if res.Outcome.Approved {
		reason = "completed"
	}
	_, _, closeErr := r.gh.Issues.Edit(ctx, r.cfg.Owner, r.cfg.Repo, res.IssueNumber, &github.IssueRequest{State: &state, StateReason: &reason})
	if closeErr != nil {
		closeErr = fmt.Errorf("close %s#%d: %w", r.cfg.Repository(), res.IssueNumber, closeErr)
	}
	kind, body := audit.KindSummary, audit.Summary(r.gateID, res.Rules, res.Outcome, res.Notes...)
	if res.Outcome.Status == approval.Cancelled {
		kind, body = audit.KindCancelled, audit.CancelledNote(r.gateID, res.Why)
	}
	return errors.Join(closeErr, r.commentOnce(ctx, res.IssueNumber, kind, body))
}

// abandon tells the issue that the gate stopped waiting because of err, so
// no one answers it in vain, and closes it. It is best effort: GitHub may be
// what failed.
func (r *runner) abandon(ctx context.Context, number int, cause error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	res := Result{
		IssueNumber: number,
		Outcome:     approval.Outcome{Status: approval.Cancelled},
		Why:         fmt.Sprintf("The action stopped with an error (%s) and no longer waits for answers.", cause),
	}
	if err := r.settle(actx, res); err != nil {
		r.gha.Warningf("close the abandoned approval issue: %v", err)
	}
}

// report writes the outputs and the step summary and returns the exit status.
func (r *runner) report(res Result) int {
	outs, err := outputs(r.cfg.Fields, res)
	if err == nil {
		err = writeOutputs(r.cfg.OutputPath, outs)
	}
	if err != nil {
		r.gha.Errorf("write outputs: %v", err)
		return 1
	}
	if r.cfg.SummaryPath != "" {
		if err := appendFile(r.cfg.SummaryPath, stepSummary(r.cfg.Title, r.gateID, res)); err != nil {
			r.gha.Warningf("write step summary: %v", err)
		}
	}
	o := res.Outcome
	switch {
	case o.Approved:
		r.gha.Infof("Approved: %s", res.IssueURL)
		return 0
	case o.Status == approval.Cancelled:
		r.gha.Errorf("The approval gate was cancelled. %s", res.Why)
		return 1
	case o.Status == approval.TimedOut && r.cfg.OnTimeout == approval.TimeoutError:
		r.gha.Errorf("No decision within %s (on-timeout: error): %s", r.cfg.Timeout, res.IssueURL)
		return 1
	case !r.cfg.FailOnReject:
		r.gha.Noticef("Not approved (%s), continuing because fail-on-reject is false: %s", o.Status, res.IssueURL)
		return 0
	case o.Status == approval.TimedOut:
		r.gha.Errorf("No decision within %s; timed out as rejected: %s", r.cfg.Timeout, res.IssueURL)
	default:
		msg := fmt.Sprintf("Rejected by %s", o.DecidedBy)
		if o.Comment != "" {
			msg += ": " + strings.ReplaceAll(o.Comment, "\n", " ")
		}
		r.gha.Errorf("%s (%s)", msg, res.IssueURL)
	}
	return 1
}

func stepSummary(title, gateID string, res Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", title)
	if res.IssueNumber != 0 {
		fmt.Fprintf(&b, "Approval issue: [#%d](%s)\n\n", res.IssueNumber, res.IssueURL)
	}
	if res.Outcome.Status == approval.Cancelled {
		b.WriteString(audit.CancelledNote(gateID, res.Why))
		return b.String()
	}
	// The responses come from Responses, which both modes fill in alike.
	o := res.Outcome
	o.Counted = nil
	b.WriteString(audit.Summary(gateID, res.Rules, o))
	if len(res.Responses) > 0 {
		b.WriteString("\n| who | via | decision | when | fields | comment |\n|---|---|---|---|---|---|\n")
		for _, c := range res.Responses {
			who := cell(c.Actor)
			if c.URL != "" {
				who = fmt.Sprintf("[%s](%s)", who, c.URL)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", who, cell(c.Via), cell(c.Decision), c.At.UTC().Format(summaryTime), cell(fieldText(res.Rules.Fields, c.Fields)), cell(c.Comment))
		}
	}
	if len(res.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// summaryTime is how the step summary shows a time, as the issue does.
const summaryTime = "2006-01-02 15:04:05 UTC"

// fieldText lists a response's field values in schema order.
func fieldText(s fields.Schema, values map[string]any) string {
	var parts []string
	for _, f := range s {
		v, ok := values[f.ID]
		if !ok || v == nil {
			continue
		}
		text := fields.Format(v)
		if list, isList := v.([]any); isList {
			items := make([]string, len(list))
			for i, item := range list {
				items[i] = fmt.Sprint(item)
			}
			text = strings.Join(items, ",")
		}
		parts = append(parts, f.ID+": "+text)
	}
	return strings.Join(parts, "; ")
}

// cell makes text safe inside a one-line markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(strings.Join(strings.Fields(s), " "))
}

// permissionHint adds what the job probably lacks to a 403 or 404 from GitHub.
func permissionHint(err error, need string) string {
	switch ghclient.StatusCode(err) {
	case http.StatusForbidden, http.StatusNotFound:
		return fmt.Sprintf(" (the job needs %s)", need)
	}
	return ""
}
