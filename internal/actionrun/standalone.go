package actionrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/comment"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

const (
	// membershipTTL is how long a team membership answer is trusted.
	membershipTTL = time.Minute
	// maxOutage is how long GitHub may keep failing while a gate waits
	// before the action gives up with an error.
	maxOutage = 15 * time.Minute
	// sinceOverlap is how far back each read of the comments reaches past
	// the newest one seen: `since` has one-second precision and GitHub's
	// replicas may show a comment a little after a newer one. Comments
	// read twice are recognised by their id.
	sinceOverlap = time.Minute
)

// standalone waits for a decision by reading the approval issue's comments.
// Every read is a conditional request for a URL that changes only when a
// comment is added or edited, so a wait with nothing new costs no rate limit.
// Times are GitHub's: comments carry GitHub's created_at, so the deadline
// is counted from the issue's created_at and "now" is the runner's clock
// corrected by the skew measured when the issue was created.
type standalone struct {
	r     *runner
	issue *github.Issue
	rules approval.Gate
	skew  time.Duration // GitHub's clock minus the runner's

	since     time.Time           // the newest updated_at read
	seen      map[int64]time.Time // comments handled, with their updated_at then
	counted   map[int64]bool
	replied   map[int64]bool // decisions whose invalid fields were answered
	responses []approval.Response
	notes     []string
	teams     map[string]membership
}

type membership struct {
	teams []string
	at    time.Time
}

// newStandalone starts waiting on issue, just created at runner time
// created; the gate's deadline is the issue's created_at plus the timeout.
func newStandalone(r *runner, issue *github.Issue, rules approval.Gate, created time.Time) *standalone {
	rules.Deadline = issue.GetCreatedAt().Add(r.cfg.Timeout)
	return &standalone{
		r: r, issue: issue, rules: rules, skew: issue.GetCreatedAt().Sub(created),
		seen: map[int64]time.Time{}, counted: map[int64]bool{}, replied: map[int64]bool{},
		teams: map[string]membership{},
	}
}

// now is the time on GitHub's clock.
func (s *standalone) now() time.Time { return s.r.now().Add(s.skew) }

// wait polls until the gate settles, the issue is closed by a person, or ctx
// ends. A closed issue gives a Cancelled outcome and the reason. Transient
// GitHub failures while waiting are ridden out, up to maxOutage in a row.
func (s *standalone) wait(ctx context.Context) (approval.Outcome, string, error) {
	var failingSince time.Time
	for {
		o, why, err := s.poll(ctx)
		now := s.now()
		wait := s.r.cfg.PollInterval
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
			wait = max(wait, retryAfter(err, now))
			s.r.gha.Warningf("reading the approval issue failed; trying again in %s: %v", wait.Round(time.Second), err)
		}
		if left := s.rules.Deadline.Sub(now); left > 0 && left < wait {
			wait = left
		}
		select {
		case <-ctx.Done():
			return approval.Outcome{}, "", ctx.Err()
		case <-time.After(wait):
		}
	}
}

// poll reads what is new and evaluates the gate: settled by the responses,
// cancelled by a closed issue, or still pending. The time is taken before
// the read, so a timeout is declared only once every comment made before
// the deadline has been read.
func (s *standalone) poll(ctx context.Context) (approval.Outcome, string, error) {
	now := s.now()
	if err := s.readComments(ctx); err != nil {
		return approval.Outcome{}, "", err
	}
	if o := approval.Evaluate(s.rules, s.responses, now); o.Status.Settled() {
		return o, "", nil
	}
	issue, err := s.r.getIssue(ctx, s.issue.GetNumber())
	if err != nil {
		return approval.Outcome{}, "", err
	}
	if issue.GetState() != "closed" {
		return approval.Outcome{Status: approval.Pending}, "", nil
	}
	why := "The approval issue was closed by hand."
	if who := issue.GetClosedBy().GetLogin(); who != "" {
		why = fmt.Sprintf("The approval issue was closed by @%s.", who)
	}
	return s.cancelled(), why, nil
}

// cancelled is the outcome of a gate cancelled now, with the responses
// counted so far.
func (s *standalone) cancelled() approval.Outcome {
	now := s.now()
	o := approval.Evaluate(s.rules, s.responses, now)
	return approval.Outcome{Status: approval.Cancelled, Counted: o.Counted, Approvers: o.Approvers, SettledAt: now}
}

// readComments reads the comments updated since the last read, all pages.
// A comment is marked seen only once it has been handled, and `since` moves
// only after the whole read succeeded, so a failure part-way leaves the rest
// to be read again.
func (s *standalone) readComments(ctx context.Context) error {
	cfg := s.r.cfg
	opts := &github.IssueListCommentsOptions{}
	if !s.since.IsZero() {
		since := s.since.Add(-sinceOverlap)
		opts.Since = &since
	}
	all, err := ghclient.ListAll(ctx, func(lo github.ListOptions) ([]*github.IssueComment, *github.Response, error) {
		opts.ListOptions = lo
		return s.r.gh.Issues.ListComments(ctx, cfg.Owner, cfg.Repo, s.issue.GetNumber(), opts)
	})
	if err != nil {
		return fmt.Errorf("read comments of %s#%d: %w", cfg.Repository(), s.issue.GetNumber(), err)
	}
	// Replies already on the issue, even from a request whose answer was
	// lost, are not written again.
	for _, c := range all {
		if m, ok := audit.ParseMarker(c.GetBody()); ok && m.Kind == audit.KindInvalid && m.Gate == s.r.gateID {
			s.replied[m.Comment] = true
		}
	}
	newest := s.since
	for _, c := range all {
		id, updated := c.GetID(), c.GetUpdatedAt().Time
		if first, ok := s.seen[id]; ok {
			if updated.After(first) {
				s.noteEdit(c)
				s.seen[id] = updated
			}
		} else {
			if err := s.consider(ctx, c); err != nil {
				return err
			}
			s.seen[id] = updated
		}
		if updated.After(newest) {
			newest = updated
		}
	}
	s.since = newest
	return nil
}

// noteEdit records that a counted comment changed after it was counted.
func (s *standalone) noteEdit(c *github.IssueComment) {
	if !s.counted[c.GetID()] {
		return
	}
	s.notes = append(s.notes, fmt.Sprintf("%s edited their [counted comment](%s) after it was counted; the response as first read stands.", c.GetUser().GetLogin(), c.GetHTMLURL()))
	s.r.gha.Infof("comment %d was edited after it was counted; the counted response is unchanged", c.GetID())
}

// consider handles a comment read for the first time: a decision from an
// eligible approver with valid fields, made before the deadline, is counted
// and acknowledged with a reaction; invalid fields get one reply; anything
// else is discussion.
func (s *standalone) consider(ctx context.Context, c *github.IssueComment) error {
	id, at := c.GetID(), c.GetCreatedAt().Time
	if _, ours := audit.ParseMarker(c.GetBody()); ours {
		return nil
	}
	p, ok := comment.Parse(c.GetBody(), s.rules.Fields.IDs(), s.r.cfg.Words)
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
	if !at.Before(s.rules.Deadline) {
		s.r.gha.Infof("%s's %s (comment %d) came after the deadline and is not counted", actor.Login, p.Decision, id)
		return nil
	}
	values, err := s.rules.Fields.Resolve(p.Fields)
	problems := append(p.Problems, fields.Problems(err)...)
	if len(problems) > 0 {
		s.r.gha.Infof("%s's %s (comment %d) is not counted: %s", actor.Login, p.Decision, id, strings.Join(problems, "; "))
		if s.replied[id] {
			return nil
		}
		if err := s.r.comment(ctx, s.issue.GetNumber(), audit.InvalidReply(s.r.gateID, id, actor.Login, c.GetHTMLURL(), problems)); err != nil {
			return err
		}
		s.replied[id] = true
		return nil
	}
	s.counted[id] = true
	s.responses = append(s.responses, approval.Response{
		ID:       fmt.Sprintf("comment:%d", id),
		Actor:    actor,
		Via:      approval.ViaComment,
		Decision: p.Decision,
		Fields:   values,
		Comment:  p.Comment,
		At:       at,
		URL:      c.GetHTMLURL(),
	})
	s.r.gha.Infof("counted: %s %ss (comment %d)", actor.Login, p.Decision, id)
	if c.GetUpdatedAt().After(at) {
		s.notes = append(s.notes, fmt.Sprintf("%s's [comment](%s) was edited before it was read; it counted as it read then.", actor.Login, c.GetHTMLURL()))
	}
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
	if len(s.rules.Approvers.Teams) == 0 || slices.ContainsFunc(s.rules.Approvers.Logins, func(l string) bool { return strings.EqualFold(l, login) }) {
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

// transient reports a failure that may pass: GitHub's 5xx, rate limits, or
// no answer at all.
func transient(err error) bool {
	var rate *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var netErr net.Error
	if errors.As(err, &rate) || errors.As(err, &abuse) || errors.As(err, &netErr) {
		return true
	}
	code := ghclient.StatusCode(err)
	return code == http.StatusTooManyRequests || code >= 500
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
