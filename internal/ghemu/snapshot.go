package ghemu

import (
	"maps"
	"time"
)

// IssueSnapshot is an issue's state at one moment, for assertions.
type IssueSnapshot struct {
	Number      int
	Title       string
	Body        string
	Author      string
	State       string // "open" or "closed"
	StateReason string // "", "completed", "not_planned" or "reopened"
	ClosedBy    string
	Labels      []string
	Assignees   []string
	Comments    []CommentSnapshot
	HTMLURL     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
}

// CommentSnapshot is a comment's state at one moment.
type CommentSnapshot struct {
	ID        int64
	Author    string
	Body      string
	HTMLURL   string
	CreatedAt time.Time
	UpdatedAt time.Time
	Reactions map[string][]string // content -> logins, in reaction order
}

// Issue returns issue owner/repo#number as it is now.
func (e *Emulator) Issue(owner, repoName string, number int) (IssueSnapshot, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rp := e.findRepo(owner, repoName)
	if rp == nil {
		return IssueSnapshot{}, false
	}
	is := e.findIssue(rp, number)
	if is == nil {
		return IssueSnapshot{}, false
	}
	s := IssueSnapshot{
		Number:      is.number,
		Title:       is.title,
		Body:        deref(is.body),
		Author:      is.author.login,
		State:       is.state,
		StateReason: is.stateReason,
		HTMLURL:     e.issueHTML(is),
		CreatedAt:   is.created,
		UpdatedAt:   is.updated,
		Comments:    e.commentSnapshots(is),
	}
	if is.state == stateClosed {
		s.ClosedAt = is.closed
	}
	if is.closedBy != nil {
		s.ClosedBy = is.closedBy.login
	}
	for _, l := range is.labels {
		s.Labels = append(s.Labels, l.name)
	}
	for _, a := range is.assignees {
		s.Assignees = append(s.Assignees, a.login)
	}
	return s, true
}

// Comments returns the comments of owner/repo#number, oldest first; nil
// when there is no such issue.
func (e *Emulator) Comments(owner, repoName string, number int) []CommentSnapshot {
	s, _ := e.Issue(owner, repoName, number)
	return s.Comments
}

func (e *Emulator) commentSnapshots(is *issue) []CommentSnapshot {
	var out []CommentSnapshot
	for _, c := range is.comments {
		cs := CommentSnapshot{
			ID:        c.id,
			Author:    c.author.login,
			Body:      c.body,
			HTMLURL:   e.commentJSON(c).HTMLURL,
			CreatedAt: c.created,
			UpdatedAt: c.updated,
			Reactions: map[string][]string{},
		}
		for _, r := range c.reactions {
			cs.Reactions[r.content] = append(cs.Reactions[r.content], r.user.login)
		}
		out = append(out, cs)
	}
	return out
}

// Stats counts what the API served.
type Stats struct {
	// Requests counts requests by method and GitHub's path template, e.g.
	// "GET /repos/{owner}/{repo}/issues/{issue_number}/comments";
	// unmatched paths count as "<METHOD> (unknown route)".
	Requests map[string]int
	// NotModified counts 304 answers to conditional requests.
	NotModified int
	// RateLimitUsed counts the requests that consumed rate limit, by token
	// ("app" for requests made with the App's JWT).
	RateLimitUsed map[string]int
}

func newStats() Stats {
	return Stats{Requests: map[string]int{}, RateLimitUsed: map[string]int{}}
}

// Stats returns a copy of the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{
		Requests:      maps.Clone(e.stats.Requests),
		NotModified:   e.stats.NotModified,
		RateLimitUsed: maps.Clone(e.stats.RateLimitUsed),
	}
}
