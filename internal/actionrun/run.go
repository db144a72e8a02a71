package actionrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/sethvargo/go-githubactions"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

// maxAssignees is GitHub's limit of assignees on one issue.
const maxAssignees = 10

// cleanupTimeout bounds the GitHub calls made after the run is cancelled.
const cleanupTimeout = 15 * time.Second

// Options are the action's connections to the outside world.
type Options struct {
	Getenv func(string) string
	Stdout io.Writer
	// Transport carries GitHub API requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	Now       func() time.Time
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
	gh, err := ghclient.New(cfg.APIURL, cfg.Token, ghclient.WithETagCache(), ghclient.WithBaseTransport(o.Transport))
	if err != nil {
		gha.Errorf("%v", err)
		return 1
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	r := &runner{cfg: cfg, gh: gh, gha: gha, now: now, gateID: gateID(cfg)}
	res, err := r.run(ctx)
	if err != nil {
		gha.Errorf("%v", err)
		return 1
	}
	return r.report(res, cfg.Rules(time.Time{}))
}

type runner struct {
	cfg    Config
	gh     *github.Client
	gha    *githubactions.Action
	now    func() time.Time
	gateID string
}

// gateID names the gate in the audit trail's markers: one per run attempt
// and step.
func gateID(c Config) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d/%s/%s", c.Repository(), c.RunID, c.RunAttempt, c.Job, c.Step)))
	return hex.EncodeToString(sum[:8])
}

func (r *runner) run(ctx context.Context) (Result, error) {
	start := r.now()
	rules := r.cfg.Rules(start)
	if err := r.checkTeamAccess(ctx); err != nil {
		return Result{}, err
	}
	issue, err := r.openIssue(ctx, rules)
	if err != nil {
		return Result{}, err
	}
	res := Result{IssueNumber: issue.GetNumber(), IssueURL: issue.GetHTMLURL()}
	r.gha.Infof("Waiting for approval on %s (times out at %s)", res.IssueURL, rules.Deadline.UTC().Format(time.RFC3339))

	w := newStandalone(r, issue, rules)
	o, why, err := w.wait(ctx)
	switch {
	case ctx.Err() != nil:
		// The run was cancelled: say so on the issue with a fresh deadline,
		// since ctx is already done.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		res.Why = "The workflow run was cancelled."
		res.Outcome = approval.Outcome{Status: approval.Cancelled, Counted: w.responses, SettledAt: r.now()}
		return res, r.settle(cctx, issue.GetNumber(), rules, res, nil)
	case err != nil:
		return res, err
	}
	res.Outcome, res.Why = o, why
	return res, r.settle(ctx, issue.GetNumber(), rules, res, w.notes)
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

// settle writes the outcome on the issue and closes it: completed when
// approved, not planned otherwise.
func (r *runner) settle(ctx context.Context, number int, rules approval.Gate, res Result, notes []string) error {
	var body string
	if res.Outcome.Status == approval.Cancelled {
		body = audit.CancelledNote(r.gateID, res.Why)
	} else {
		body = audit.Summary(r.gateID, rules, res.Outcome, notes...)
	}
	if err := r.comment(ctx, number, body); err != nil {
		return err
	}
	reason := "not_planned"
	if res.Outcome.Approved {
		reason = "completed"
	}
	state := "closed"
	if _, _, err := r.gh.Issues.Edit(ctx, r.cfg.Owner, r.cfg.Repo, number, &github.IssueRequest{State: &state, StateReason: &reason}); err != nil {
		return fmt.Errorf("close %s#%d: %w", r.cfg.Repository(), number, err)
	}
	return nil
}

// report writes the outputs and the step summary and returns the exit status.
func (r *runner) report(res Result, rules approval.Gate) int {
	outs, err := outputs(r.cfg.Fields, res)
	if err == nil {
		err = writeOutputs(r.cfg.OutputPath, outs)
	}
	if err != nil {
		r.gha.Errorf("write outputs: %v", err)
		return 1
	}
	if r.cfg.SummaryPath != "" {
		if err := appendFile(r.cfg.SummaryPath, stepSummary(r.cfg.Title, r.gateID, rules, res)); err != nil {
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

func stepSummary(title, gateID string, rules approval.Gate, res Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\nApproval issue: [#%d](%s)\n\n", title, res.IssueNumber, res.IssueURL)
	if res.Outcome.Status == approval.Cancelled {
		b.WriteString(audit.CancelledNote(gateID, res.Why))
	} else {
		b.WriteString(audit.Summary(gateID, rules, res.Outcome))
	}
	return b.String()
}

// permissionHint adds what the job probably lacks to a 403 or 404 from GitHub.
func permissionHint(err error, need string) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusForbidden || er.Response.StatusCode == http.StatusNotFound) {
		return fmt.Sprintf(" (the job needs %s)", need)
	}
	return ""
}
