package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

// secondaryWait is GitHub's advice for a secondary rate limit that names no
// wait.
const secondaryWait = time.Minute

// perform makes the effect's call. author is set for an item attempted
// before, which may have been performed already: the app's login, whose
// comments on the issue are looked through first.
func perform(ctx context.Context, c *github.Client, e Effect, author string) error {
	switch e.Kind {
	case KindComment:
		return comment(ctx, c, e, author)
	case KindReact:
		// GitHub answers 200 for a reaction that exists.
		if _, _, err := c.Reactions.CreateIssueCommentReaction(ctx, e.Owner, e.Repo, e.CommentID, e.Content); err != nil {
			return fmt.Errorf("react %s to comment %d on %s/%s: %w", e.Content, e.CommentID, e.Owner, e.Repo, err)
		}
	case KindClose:
		// Closing a closed issue is a 200 too.
		req := &github.IssueRequest{State: github.String("closed"), StateReason: github.String(e.Reason)}
		if _, _, err := c.Issues.Edit(ctx, e.Owner, e.Repo, e.Issue, req); err != nil {
			return fmt.Errorf("close %s/%s#%d: %w", e.Owner, e.Repo, e.Issue, err)
		}
	default:
		return fmt.Errorf("effect kind %q is not comment, react or close", e.Kind)
	}
	return nil
}

// comment posts e.Body, unless author is set and has posted it already.
func comment(ctx context.Context, c *github.Client, e Effect, author string) error {
	if author != "" {
		posted, err := posted(ctx, c, e, author)
		if err != nil {
			return err
		}
		if posted {
			return nil
		}
	}
	if _, _, err := c.Issues.CreateComment(ctx, e.Owner, e.Repo, e.Issue, &github.IssueComment{Body: github.String(e.Body)}); err != nil {
		return fmt.Errorf("comment on %s/%s#%d: %w", e.Owner, e.Repo, e.Issue, err)
	}
	return nil
}

// posted reports whether the issue has the comment e posts: one by author
// with the same audit marker (anyone can write a marker). A gate has
// several response comments, all with the same marker, so for those the
// text must match too.
func posted(ctx context.Context, c *github.Client, e Effect, author string) (bool, error) {
	want, _ := audit.ParseMarker(e.Body)
	cs, err := ghclient.ListAll(ctx, func(opts github.ListOptions) ([]*github.IssueComment, *github.Response, error) {
		return c.Issues.ListComments(ctx, e.Owner, e.Repo, e.Issue, &github.IssueListCommentsOptions{ListOptions: opts})
	})
	if err != nil {
		return false, fmt.Errorf("list comments of %s/%s#%d: %w", e.Owner, e.Repo, e.Issue, err)
	}
	for _, cm := range cs {
		m, ok := audit.ParseMarker(cm.GetBody())
		if !ok || m != want || !strings.EqualFold(cm.GetUser().GetLogin(), author) {
			continue
		}
		if m.Kind != audit.KindResponse || sameText(cm.GetBody(), e.Body) {
			return true, nil
		}
	}
	return false, nil
}

func sameText(a, b string) bool {
	norm := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	return norm(a) == norm(b)
}

// failure is what an error says about trying again.
type failure struct {
	transient bool      // worth retrying for as long as it takes
	until     time.Time // GitHub asked not to retry before this; zero: no ask
}

// classify sorts an error from GitHub, got at now. Rate limits, 5xx, 429,
// anything GitHub gives a Retry-After, and failures without an answer
// (network, timeout) are transient; other answers (404 and 410 for an issue
// or comment gone, 422, 401 and 403 that are not rate limits) are not. A
// Handler's error says itself (Permanent, RetryAt); by default it is
// transient.
func classify(err error, now time.Time) failure {
	var h *handlerError
	if errors.As(err, &h) {
		return failure{transient: !h.permanent, until: h.until}
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		wait := secondaryWait
		if abuse.RetryAfter != nil {
			wait = *abuse.RetryAfter
		}
		return failure{transient: true, until: now.Add(wait)}
	}
	var rate *github.RateLimitError
	if errors.As(err, &rate) {
		return failure{transient: true, until: rate.Rate.Reset.Time.Add(time.Second)}
	}
	resp := response(err)
	if resp == nil {
		return failure{transient: true}
	}
	f := failure{until: hint(resp, now)}
	f.transient = !f.until.IsZero() || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	if resp.StatusCode == http.StatusTooManyRequests && f.until.IsZero() {
		f.until = now.Add(secondaryWait)
	}
	return f
}

// response returns GitHub's answer behind err, if there was one. Rate-limit
// errors are handled before.
func response(err error) *http.Response {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response
	}
	var token *ghinstallation.HTTPError // minting the installation token
	if errors.As(err, &token) {
		return token.Response
	}
	return nil
}

// hint returns when GitHub asks to be called again: Retry-After (seconds or
// an HTTP date), or the reset of an exhausted rate limit. Zero: no ask.
func hint(resp *http.Response, now time.Time) time.Time {
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 32); err == nil && secs >= 0 {
			return now.Add(time.Duration(secs) * time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	limited := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests
	if limited && resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return time.Unix(reset, 0).Add(time.Second)
		}
	}
	return time.Time{}
}
