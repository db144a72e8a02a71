package ghemu

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxTitleChars = 256
	maxBodyChars  = 65536
	maxLabelChars = 50
	maxAssignees  = 10
	newLabelColor = "ededed"
)

type createIssueRequest struct {
	Title     *string  `json:"title"`
	Body      *string  `json:"body"`
	Labels    []string `json:"labels"`
	Assignees []string `json:"assignees"`
	Assignee  *string  `json:"assignee"`
}

// createIssue serves POST /repos/{owner}/{repo}/issues.
func (e *Emulator) createIssue(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	var req createIssueRequest
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	if req.Title == nil {
		return reply{}, errNotSupplied("title")
	}
	assignees := req.Assignees
	if req.Assignee != nil && *req.Assignee != "" {
		assignees = append([]string{*req.Assignee}, assignees...)
	}
	is, err := e.openIssue(c.actor, rp, *req.Title, req.Body, req.Labels, assignees)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: e.restIssueJSON(is), header: http.Header{"Location": {e.issueAPI(is)}}}, nil
}

// openIssue creates an issue as a. Labels and assignees from callers
// without push access are dropped silently, as GitHub does; from callers
// with it, they are validated (labels are created on the fly).
func (e *Emulator) openIssue(a actor, rp *repo, title string, body *string, labels, assignees []string) (*issue, error) {
	if err := validateTitle(title); err != nil {
		return nil, err
	}
	if body != nil && utf8.RuneCountInString(*body) > maxBodyChars {
		return nil, errValidation(fieldError{Resource: "Issue", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"})
	}
	var who []*account
	if triage := e.canTriage(a, rp); !triage {
		labels = nil
	} else {
		if err := validateLabels(labels); err != nil {
			return nil, err
		}
		var err error
		if who, err = e.assignees(rp, assignees); err != nil {
			return nil, err
		}
	}
	now := e.now()
	is := &issue{
		id:      e.newID(),
		number:  len(rp.issues) + 1,
		repo:    rp,
		author:  a.acct,
		viaApp:  a.installation() != nil,
		title:   title,
		body:    body,
		state:   stateOpen,
		created: now,
		updated: now,
	}
	rp.issues = append(rp.issues, is)
	added := e.addIssueLabels(is, labels)
	is.assignees = who
	e.emitIssue(is, a.acct, "opened", nil)
	e.emitLabeled(is, a.acct, "labeled", added)
	e.emitAssigned(is, a.acct, "assigned", who)
	return is, nil
}

func validateTitle(title string) error {
	if strings.TrimSpace(title) == "" {
		return errValidation(fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
	}
	if utf8.RuneCountInString(title) > maxTitleChars {
		return errValidation(fieldError{Resource: "Issue", Field: "title", Code: "custom", Message: "title is too long (maximum is 256 characters)"})
	}
	return nil
}

func validateLabels(names []string) error {
	for _, n := range names {
		if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > maxLabelChars {
			v := n
			return errValidation(fieldError{Value: &v, Resource: "Label", Field: "name", Code: "invalid"})
		}
	}
	return nil
}

// assignees resolves logins to people who can be assigned on rp: anyone
// with access to it. An unknown or unassignable login fails the request.
func (e *Emulator) assignees(rp *repo, logins []string) ([]*account, error) {
	var out []*account
	seen := map[*account]bool{}
	for _, login := range logins {
		a := e.assignable(rp, login)
		if a == nil {
			v := login
			return nil, errValidation(fieldError{Value: &v, Resource: "Issue", Field: "assignees", Code: "invalid"})
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(out) > maxAssignees {
		return nil, errValidation(fieldError{Resource: "Issue", Field: "assignees", Code: "custom", Message: "assignees is too long (maximum is 10 assignees)"})
	}
	return out, nil
}

func (e *Emulator) assignable(rp *repo, login string) *account {
	a := e.accounts[lower(login)]
	if a == nil || a.kind != kindUser || e.level(rp, a) == levelNone {
		return nil
	}
	return a
}

// addIssueLabels puts the named labels on is, creating missing repository
// labels, and returns the ones it added.
func (e *Emulator) addIssueLabels(is *issue, names []string) []*label {
	var added []*label
	for _, n := range names {
		l := is.repo.labels[lower(n)]
		if l == nil {
			l = &label{id: e.newID(), name: n, color: newLabelColor}
			is.repo.labels[lower(n)] = l
		}
		if !slices.Contains(is.labels, l) {
			is.labels = append(is.labels, l)
			added = append(added, l)
		}
	}
	return added
}

func (e *Emulator) issueParam(c *call, rp *repo) (*issue, error) {
	n, err := strconv.Atoi(c.param("issue_number"))
	if err != nil {
		return nil, errNotFound()
	}
	is := e.findIssue(rp, n)
	if is == nil {
		return nil, errNotFound()
	}
	return is, nil
}

// getIssue serves GET /repos/{owner}/{repo}/issues/{issue_number}.
func (e *Emulator) getIssue(c *call) (reply, error) {
	rp, err := e.repoFor(c, needRead)
	if err != nil {
		return reply{}, err
	}
	is, err := e.issueParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: e.restIssueJSON(is), header: lastModified(is.updated)}, nil
}

type updateIssueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
	Labels      *[]string `json:"labels"`
	Assignees   *[]string `json:"assignees"`
}

// updateIssue serves PATCH /repos/{owner}/{repo}/issues/{issue_number}.
// The author may edit the title and body and close or reopen; labels and
// assignees need push access and are dropped silently without it.
func (e *Emulator) updateIssue(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	is, err := e.issueParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	var req updateIssueRequest
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	triage := e.canTriage(c.actor, rp)
	if !triage && is.author != c.actor.acct {
		return reply{}, errForbidden(msgAdminRights)
	}
	if err := validateStateChange(req.State, req.StateReason); err != nil {
		return reply{}, err
	}
	if req.Title != nil {
		if err := validateTitle(*req.Title); err != nil {
			return reply{}, err
		}
	}
	if req.Body != nil && utf8.RuneCountInString(*req.Body) > maxBodyChars {
		return reply{}, errValidation(fieldError{Resource: "Issue", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"})
	}
	var who []*account
	if triage && req.Labels != nil {
		if err := validateLabels(*req.Labels); err != nil {
			return reply{}, err
		}
	}
	if triage && req.Assignees != nil {
		if who, err = e.assignees(rp, *req.Assignees); err != nil {
			return reply{}, err
		}
	}

	sender := c.actor.acct
	changes := map[string]change{}
	if req.Title != nil && *req.Title != is.title {
		changes["title"] = change{From: is.title}
		is.title = *req.Title
	}
	if req.Body != nil && (is.body == nil || *req.Body != *is.body) {
		changes["body"] = change{From: deref(is.body)}
		body := *req.Body
		is.body = &body
	}
	if len(changes) > 0 {
		is.updated = e.now()
		e.emitIssue(is, sender, "edited", changes)
	}
	if triage && req.Labels != nil {
		var removed []*label
		keep := map[string]bool{}
		for _, n := range *req.Labels {
			keep[lower(n)] = true
		}
		var kept []*label
		for _, l := range is.labels {
			if keep[lower(l.name)] {
				kept = append(kept, l)
			} else {
				removed = append(removed, l)
			}
		}
		is.labels = kept
		added := e.addIssueLabels(is, *req.Labels)
		if len(added)+len(removed) > 0 {
			is.updated = e.now()
		}
		e.emitLabeled(is, sender, "unlabeled", removed)
		e.emitLabeled(is, sender, "labeled", added)
	}
	if triage && req.Assignees != nil {
		added, removed := diffAccounts(is.assignees, who)
		is.assignees = who
		if len(added)+len(removed) > 0 {
			is.updated = e.now()
		}
		e.emitAssigned(is, sender, "unassigned", removed)
		e.emitAssigned(is, sender, "assigned", added)
	}
	if req.State != nil || req.StateReason != nil {
		e.setState(is, sender, deref(req.State), deref(req.StateReason))
	}
	return ok(e.restIssueJSON(is)), nil
}

func validateStateChange(state, reason *string) error {
	if state != nil && *state != stateOpen && *state != stateClosed {
		v := *state
		return errValidation(fieldError{Value: &v, Resource: "Issue", Field: "state", Code: "invalid"})
	}
	if reason != nil {
		switch *reason {
		case "completed", "not_planned", "reopened":
		default:
			v := *reason
			return errValidation(fieldError{Value: &v, Resource: "Issue", Field: "state_reason", Code: "invalid"})
		}
	}
	return nil
}

// setState closes or reopens is (state "" keeps the state and only sets the
// reason of a closed issue). Closing without a reason closes as completed;
// reopening sets "reopened".
func (e *Emulator) setState(is *issue, sender *account, state, reason string) {
	now := e.now()
	switch {
	case state == stateClosed && is.state == stateOpen:
		if reason == "" || reason == "reopened" {
			reason = "completed"
		}
		is.state, is.stateReason, is.closed, is.closedBy, is.updated = stateClosed, reason, now, sender, now
		e.emitIssue(is, sender, "closed", nil)
	case state == stateOpen && is.state == stateClosed:
		is.state, is.stateReason, is.closedBy, is.updated = stateOpen, "reopened", nil, now
		e.emitIssue(is, sender, "reopened", nil)
	case is.state == stateClosed && reason != "" && reason != "reopened" && reason != is.stateReason:
		is.stateReason, is.updated = reason, now
	}
}

func diffAccounts(old, new []*account) (added, removed []*account) {
	for _, a := range new {
		if !slices.Contains(old, a) {
			added = append(added, a)
		}
	}
	for _, a := range old {
		if !slices.Contains(new, a) {
			removed = append(removed, a)
		}
	}
	return added, removed
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// addLabels serves POST /repos/{owner}/{repo}/issues/{issue_number}/labels.
// The body is an array of names or {"labels": [...]}.
func (e *Emulator) addLabels(c *call) (reply, error) {
	rp, err := e.repoFor(c, needTriage)
	if err != nil {
		return reply{}, err
	}
	is, err := e.issueParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	var names []string
	if strings.HasPrefix(strings.TrimSpace(string(c.body)), "[") {
		err = c.decode(&names)
	} else {
		var req struct {
			Labels []string `json:"labels"`
		}
		err = c.decode(&req)
		names = req.Labels
	}
	if err != nil {
		return reply{}, err
	}
	if err := validateLabels(names); err != nil {
		return reply{}, err
	}
	added := e.addIssueLabels(is, names)
	if len(added) > 0 {
		is.updated = e.now()
	}
	e.emitLabeled(is, c.actor.acct, "labeled", added)
	out := []labelJSON{}
	for _, l := range is.labels {
		out = append(out, e.labelJSON(rp, l))
	}
	return ok(out), nil
}

// addAssignees serves POST /repos/{owner}/{repo}/issues/{issue_number}/assignees.
// As on GitHub, logins that cannot be assigned, and every login when the
// caller lacks push access, are ignored; an issue keeps at most 10.
func (e *Emulator) addAssignees(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	is, err := e.issueParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	var req struct {
		Assignees []string `json:"assignees"`
	}
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	if e.canTriage(c.actor, rp) {
		var added []*account
		for _, login := range req.Assignees {
			a := e.assignable(rp, login)
			if a == nil || len(is.assignees) >= maxAssignees || slices.Contains(is.assignees, a) {
				continue
			}
			is.assignees = append(is.assignees, a)
			added = append(added, a)
		}
		if len(added) > 0 {
			is.updated = e.now()
		}
		e.emitAssigned(is, c.actor.acct, "assigned", added)
	}
	return reply{status: http.StatusCreated, body: e.restIssueJSON(is)}, nil
}

// CloseIssue closes an issue as login would on the web: reason is
// "completed" (the default when empty) or "not_planned". Only the author
// and people with triage access may.
func (e *Emulator) CloseIssue(login, owner, repoName string, number int, reason string) error {
	if reason != "" && reason != "completed" && reason != "not_planned" {
		return fmt.Errorf("ghemu: close reason %q is not completed or not_planned", reason)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, rp, err := e.webActor(login, owner, repoName)
	if err != nil {
		return err
	}
	is := e.findIssue(rp, number)
	if is == nil {
		return fmt.Errorf("ghemu: no issue %s/%s#%d", owner, repoName, number)
	}
	if is.author != a.acct && !e.canTriage(a, rp) {
		return fmt.Errorf("ghemu: %s may not close %s/%s#%d: %w", login, owner, repoName, number, errForbidden(msgAdminRights))
	}
	e.setState(is, a.acct, stateClosed, reason)
	return nil
}

// webActor is a person acting on the web, who must be able to read the
// repository.
func (e *Emulator) webActor(login, owner, repoName string) (actor, *repo, error) {
	acct := e.accounts[lower(login)]
	if acct == nil || acct.kind == kindOrg {
		return actor{}, nil, fmt.Errorf("ghemu: no user %q", login)
	}
	rp := e.findRepo(owner, repoName)
	if rp == nil {
		return actor{}, nil, fmt.Errorf("ghemu: no repository %s/%s", owner, repoName)
	}
	a := actor{acct: acct}
	if err := e.allowed(a, rp, needRead); err != nil {
		return actor{}, nil, fmt.Errorf("ghemu: %s cannot see %s/%s: %w", login, owner, repoName, err)
	}
	return a, rp, nil
}

func lastModified(t time.Time) http.Header {
	return http.Header{"Last-Modified": {t.Format(http.TimeFormat)}}
}
