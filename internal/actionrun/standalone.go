package actionrun

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/comment"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

// membershipTTL is how long a team membership answer is trusted.
const membershipTTL = time.Minute

// maxOutage is how long GitHub may keep failing while a gate waits before
// the action gives up with an error.
const maxOutage = 15 * time.Minute

// standalone waits for a decision by reading the approval issue's comments.
// Every read is a conditional request for a URL that changes only when a
// comment is added or edited, so a wait with nothing new costs no rate limit.
type standalone struct {
	r     *runner
	issue *github.Issue
	rules approval.Gate

	since     time.Time // comments updated at or after this are read again
	seen      map[int64]time.Time
	counted   map[int64]bool
	replied   map[int64]bool
	responses []approval.Response
	notes     []string
	teams     map[string]membership
}

type membership struct {
	teams []string
	at    time.Time
}

func newStandalone(r *runner, issue *github.Issue, rules approval.Gate) *standalone {
	return &standalone{
		r: r, issue: issue, rules: rules,
		seen: map[int64]time.Time{}, counted: map[int64]bool{}, replied: map[int64]bool{},
		teams: map[string]membership{},
	}
}

// wait polls until the gate settles, the issue is closed by a person, or ctx
// ends. A closed issue gives a Cancelled outcome and the reason. Transient
// GitHub failures while waiting are ridden out, up to maxOutage in a row.
func (s *standalone) wait(ctx context.Context) (approval.Outcome, string, error) {
	var failingSince time.Time
	for {
		o, why, err := s.poll(ctx)
		now := s.r.now()
		wait := min(s.r.cfg.PollInterval, s.rules.Deadline.Sub(now))
		switch {
		case err == nil && o.Status.Settled():
			return o, why, nil
		case err == nil:
			failingSince = time.Time{}
		case ctx.Err() != nil:
			return approval.Outcome{}, "", ctx.Err()
		case !transient(err):
			return approval.Outcome{}, "", err
		default:
			if failingSince.IsZero() {
				failingSince = now
			}
			if now.Sub(failingSince) > maxOutage {
				return approval.Outcome{}, "", fmt.Errorf("GitHub has been failing for %s: %w", now.Sub(failingSince).Round(time.Second), err)
			}
			wait = max(s.r.cfg.PollInterval, retryAfter(err, now))
			s.r.gha.Warningf("reading the approval issue failed; trying again in %s: %v", wait.Round(time.Second), err)
		}
		select {
		case <-ctx.Done():
			return approval.Outcome{}, "", ctx.Err()
		case <-time.After(max(wait, 0)):
		}
	}
}

// poll reads what is new and evaluates the gate: settled by the responses,
// cancelled by a closed issue, or still pending.
func (s *standalone) poll(ctx context.Context) (approval.Outcome, string, error) {
	if err := s.readComments(ctx); err != nil {
		return approval.Outcome{}, "", err
	}
	now := s.r.now()
	o := approval.Evaluate(s.rules, s.responses, now)
	if o.Status.Settled() {
		return o, "", nil
	}
	issue, err := s.r.getIssue(ctx, s.issue.GetNumber())
	if err != nil {
		return approval.Outcome{}, "", err
	}
	if issue.GetState() != "closed" {
		return o, "", nil
	}
	why := "The approval issue was closed by hand."
	if who := issue.GetClosedBy().GetLogin(); who != "" {
		why = fmt.Sprintf("The approval issue was closed by @%s.", who)
	}
	return approval.Outcome{Status: approval.Cancelled, Counted: o.Counted, Approvers: o.Approvers, SettledAt: now}, why, nil
}

// transient reports a failure that may pass: GitHub's 5xx, rate limits, or
// no answer at all.
func transient(err error) bool {
	var rate *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &rate) || errors.As(err, &abuse) {
		return true
	}
	code := ghclient.StatusCode(err)
	return code == 0 || code == http.StatusTooManyRequests || code >= 500
}

// retryAfter is how long GitHub asked us to wait, if it said.
func retryAfter(err error, now time.Time) time.Duration {
	var rate *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rate):
		return rate.Rate.Reset.Sub(now)
	case errors.As(err, &abuse) && abuse.RetryAfter != nil:
		return *abuse.RetryAfter
	}
	return 0
}

// readComments reads the comments updated since the last read, all pages.
func (s *standalone) readComments(ctx context.Context) error {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	if !s.since.IsZero() {
		// A second of overlap: `since` has one-second precision, and a
		// comment seen twice is recognised by its id.
		since := s.since.Add(-time.Second)
		opts.Since = &since
	}
	cfg := s.r.cfg
	all, err := ghclient.ListAll(ctx, func(lo github.ListOptions) ([]*github.IssueComment, *github.Response, error) {
		opts.ListOptions = lo
		return s.r.gh.Issues.ListComments(ctx, cfg.Owner, cfg.Repo, s.issue.GetNumber(), opts)
	})
	if err != nil {
		return fmt.Errorf("read comments of %s#%d: %w", cfg.Repository(), s.issue.GetNumber(), err)
	}
	for _, c := range all {
		if u := c.GetUpdatedAt().Time; u.After(s.since) {
			s.since = u
		}
		if err := s.consider(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// consider handles one comment: a decision from an eligible approver with
// valid fields is counted (and acknowledged with a reaction); invalid fields
// get one reply; anything else is discussion.
func (s *standalone) consider(ctx context.Context, c *github.IssueComment) error {
	id, updated := c.GetID(), c.GetUpdatedAt().Time
	if first, ok := s.seen[id]; ok {
		if updated.After(first) && s.counted[id] {
			s.seen[id] = updated
			s.notes = append(s.notes, fmt.Sprintf("%s edited their [counted comment](%s) after it was counted; the response as first read stands.", c.GetUser().GetLogin(), c.GetHTMLURL()))
			s.r.gha.Infof("comment %d was edited after it was counted; the counted response is unchanged", id)
		}
		return nil
	}
	s.seen[id] = updated
	body := c.GetBody()
	if _, ours := audit.ParseMarker(body); ours {
		return nil
	}
	p, ok := comment.Parse(body, s.rules.Fields.IDs(), s.r.cfg.Words)
	if !ok {
		return nil
	}
	user := c.GetUser()
	actor := approval.Actor{
		Person: strings.ToLower(user.GetLogin()),
		Login:  user.GetLogin(),
		Bot:    user.GetType() == "Bot" || strings.HasSuffix(user.GetLogin(), "[bot]"),
	}
	if !actor.Bot {
		teams, err := s.memberships(ctx, actor.Login)
		if err != nil {
			return err
		}
		actor.Teams = teams
	}
	if err := s.rules.Eligible(actor); err != nil {
		s.r.gha.Infof("%s's %s (comment %d) is not counted: %v", actor.Login, p.Decision, id, err)
		return nil
	}
	values, verr := s.rules.Fields.Resolve(p.Fields)
	problems := append([]string(nil), p.Problems...)
	if verr != nil {
		problems = append(problems, problemList(verr)...)
	}
	if len(problems) > 0 {
		if s.replied[id] {
			return nil
		}
		s.replied[id] = true
		s.r.gha.Infof("%s's %s (comment %d) is not counted: %s", actor.Login, p.Decision, id, strings.Join(problems, "; "))
		body := audit.InvalidReply(s.r.gateID, id, actor.Login, c.GetHTMLURL(), problems)
		return s.r.comment(ctx, s.issue.GetNumber(), body)
	}
	s.counted[id] = true
	s.responses = append(s.responses, approval.Response{
		ID:       fmt.Sprintf("comment:%d", id),
		Actor:    actor,
		Via:      approval.ViaComment,
		Decision: p.Decision,
		Fields:   values,
		Comment:  p.Comment,
		At:       c.GetCreatedAt().Time,
		URL:      c.GetHTMLURL(),
	})
	s.r.gha.Infof("counted: %s %ss (comment %d)", actor.Login, p.Decision, id)
	cfg := s.r.cfg
	if _, _, err := s.r.gh.Reactions.CreateIssueCommentReaction(ctx, cfg.Owner, cfg.Repo, id, "+1"); err != nil {
		// The acknowledgement is a courtesy; the response is counted either way.
		s.r.gha.Warningf("acknowledge comment %d: %v", id, err)
	}
	return nil
}

// memberships returns the gate's approver teams that login actively belongs
// to, asking GitHub at most once a minute per person.
func (s *standalone) memberships(ctx context.Context, login string) ([]string, error) {
	if len(s.rules.Approvers.Teams) == 0 || containsFold(s.rules.Approvers.Logins, login) {
		return nil, nil
	}
	key := strings.ToLower(login)
	if m, ok := s.teams[key]; ok && s.r.now().Sub(m.at) < membershipTTL {
		return m.teams, nil
	}
	var teams []string
	for _, t := range s.rules.Approvers.Teams {
		active, err := s.r.teamMember(ctx, t, login)
		if err != nil {
			return nil, err
		}
		if active {
			teams = append(teams, t)
		}
	}
	s.teams[key] = membership{teams: teams, at: s.r.now()}
	return teams, nil
}

// problemList splits a validation error into one message per problem.
func problemList(err error) []string {
	var ve *fields.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(ve.Problems))
	for _, p := range ve.Problems {
		out = append(out, p.Field+": "+p.Message)
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
