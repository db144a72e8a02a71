package ghemu

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// reactionContents are the reactions GitHub knows.
var reactionContents = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// listComments serves GET /repos/{owner}/{repo}/issues/{issue_number}/comments:
// ascending by id, since (RFC 3339) keeps comments updated at or after it,
// paginated with per_page and page.
func (e *Emulator) listComments(c *call) (reply, error) {
	rp, err := e.repoFor(c, needRead)
	if err != nil {
		return reply{}, err
	}
	is, err := e.issueParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	list := is.comments
	if s := c.r.URL.Query().Get("since"); s != "" {
		since, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return reply{}, errUnprocessable(fmt.Sprintf("Invalid request.\n\n%q is not a valid ISO 8601 timestamp for \"since\".", s))
		}
		list = nil
		for _, cm := range is.comments {
			if !cm.updated.Before(since) {
				list = append(list, cm)
			}
		}
	}
	from, to, h := e.pageOf(c, repoLinkPath(c, rp), len(list))
	out := []commentJSON{}
	for _, cm := range list[from:to] {
		out = append(out, e.commentJSON(cm))
	}
	return reply{status: http.StatusOK, body: out, header: h}, nil
}

type commentRequest struct {
	Body *string `json:"body"`
}

func validateCommentBody(body *string) error {
	switch {
	case body == nil:
		return errNotSupplied("body")
	case *body == "":
		return errValidation(fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
	case utf8.RuneCountInString(*body) > maxBodyChars:
		return errValidation(fieldError{Resource: "IssueComment", Field: "data", Code: "unprocessable", Message: "Body is too long (maximum is 65536 characters)"})
	}
	return nil
}

// createComment serves POST /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (e *Emulator) createComment(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	is, err := e.issueParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	var req commentRequest
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	if err := validateCommentBody(req.Body); err != nil {
		return reply{}, err
	}
	cm := e.addComment(c.actor, is, *req.Body)
	return reply{status: http.StatusCreated, body: e.commentJSON(cm), header: http.Header{"Location": {e.commentAPI(cm)}}}, nil
}

func (e *Emulator) addComment(a actor, is *issue, body string) *comment {
	now := e.now()
	cm := &comment{id: e.newID(), issue: is, author: a.acct, viaApp: a.installation() != nil, body: body, created: now, updated: now}
	is.comments = append(is.comments, cm)
	is.updated = now
	e.comments[cm.id] = cm
	e.emitComment(cm, a.acct, "created", nil)
	return cm
}

func (e *Emulator) commentParam(c *call, rp *repo) (*comment, error) {
	id, err := strconv.ParseInt(c.param("comment_id"), 10, 64)
	if err != nil {
		return nil, errNotFound()
	}
	cm := e.findComment(rp, id)
	if cm == nil {
		return nil, errNotFound()
	}
	return cm, nil
}

// getComment serves GET /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (e *Emulator) getComment(c *call) (reply, error) {
	rp, err := e.repoFor(c, needRead)
	if err != nil {
		return reply{}, err
	}
	cm, err := e.commentParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: e.commentJSON(cm), header: lastModified(cm.updated)}, nil
}

// mayModify reports whether a may edit or delete cm: its author, people
// with write access, and installations with issues:write.
func (e *Emulator) mayModify(a actor, cm *comment) bool {
	if a.installation() != nil {
		return true // allowed(needComment) already required issues:write
	}
	return cm.author == a.acct || e.level(cm.issue.repo, a.acct) >= levelWrite
}

// updateComment serves PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (e *Emulator) updateComment(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	cm, err := e.commentParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	var req commentRequest
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	if err := validateCommentBody(req.Body); err != nil {
		return reply{}, err
	}
	if !e.mayModify(c.actor, cm) {
		return reply{}, errForbidden(msgAdminRights)
	}
	e.editComment(cm, c.actor.acct, *req.Body)
	return ok(e.commentJSON(cm)), nil
}

func (e *Emulator) editComment(cm *comment, sender *account, body string) {
	if body == cm.body {
		return
	}
	from := cm.body
	cm.body, cm.updated = body, e.now()
	e.emitComment(cm, sender, "edited", map[string]change{"body": {From: from}})
}

// deleteComment serves DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (e *Emulator) deleteComment(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	cm, err := e.commentParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	if !e.mayModify(c.actor, cm) {
		return reply{}, errForbidden(msgAdminRights)
	}
	e.removeComment(cm, c.actor.acct)
	return reply{status: http.StatusNoContent}, nil
}

func (e *Emulator) removeComment(cm *comment, sender *account) {
	is := cm.issue
	is.comments = slices.DeleteFunc(is.comments, func(x *comment) bool { return x == cm })
	delete(e.comments, cm.id)
	is.updated = e.now()
	e.emitComment(cm, sender, "deleted", nil)
}

// createReaction serves POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions:
// 201 for a new reaction, 200 with the existing one when the caller already
// reacted with that content.
func (e *Emulator) createReaction(c *call) (reply, error) {
	rp, err := e.repoFor(c, needComment)
	if err != nil {
		return reply{}, err
	}
	cm, err := e.commentParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	var req struct {
		Content *string `json:"content"`
	}
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	if req.Content == nil {
		return reply{}, errNotSupplied("content")
	}
	r, created, err := e.react(cm, c.actor.acct, *req.Content)
	if err != nil {
		return reply{}, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return reply{status: status, body: e.reactionJSON(r)}, nil
}

func (e *Emulator) react(cm *comment, who *account, content string) (*reaction, bool, error) {
	if !slices.Contains(reactionContents, content) {
		v := content
		return nil, false, errValidation(fieldError{Value: &v, Resource: "Reaction", Field: "content", Code: "invalid"})
	}
	for _, r := range cm.reactions {
		if r.user == who && r.content == content {
			return r, false, nil
		}
	}
	r := &reaction{id: e.newID(), user: who, content: content, created: e.now()}
	cm.reactions = append(cm.reactions, r)
	return r, true, nil
}

// listReactions serves GET /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions,
// optionally filtered by content, paginated.
func (e *Emulator) listReactions(c *call) (reply, error) {
	rp, err := e.repoFor(c, needRead)
	if err != nil {
		return reply{}, err
	}
	cm, err := e.commentParam(c, rp)
	if err != nil {
		return reply{}, err
	}
	list := cm.reactions
	if content := c.r.URL.Query().Get("content"); content != "" {
		if !slices.Contains(reactionContents, content) {
			v := content
			return reply{}, errValidation(fieldError{Value: &v, Resource: "Reaction", Field: "content", Code: "invalid"})
		}
		list = nil
		for _, r := range cm.reactions {
			if r.content == content {
				list = append(list, r)
			}
		}
	}
	from, to, h := e.pageOf(c, repoLinkPath(c, rp), len(list))
	out := []reactionJSON{}
	for _, r := range list[from:to] {
		out = append(out, e.reactionJSON(r))
	}
	return reply{status: http.StatusOK, body: out, header: h}, nil
}

// Comment posts a comment as login would on the web (webhooks included)
// and returns its id. login needs read access to the repository.
func (e *Emulator) Comment(login, owner, repoName string, number int, body string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, rp, err := e.webActor(login, owner, repoName)
	if err != nil {
		return 0, err
	}
	is := e.findIssue(rp, number)
	if is == nil {
		return 0, fmt.Errorf("ghemu: no issue %s/%s#%d", owner, repoName, number)
	}
	if err := validateCommentBody(&body); err != nil {
		return 0, fmt.Errorf("ghemu: comment on %s/%s#%d: %w", owner, repoName, number, err)
	}
	return e.addComment(a, is, body).id, nil
}

// webComment finds comment id of owner/repo for a person acting on the web
// who may modify it.
func (e *Emulator) webComment(login, owner, repoName string, id int64) (actor, *comment, error) {
	a, rp, err := e.webActor(login, owner, repoName)
	if err != nil {
		return actor{}, nil, err
	}
	cm := e.findComment(rp, id)
	if cm == nil {
		return actor{}, nil, fmt.Errorf("ghemu: no comment %d in %s/%s", id, owner, repoName)
	}
	if !e.mayModify(a, cm) {
		return actor{}, nil, fmt.Errorf("ghemu: %s may not change comment %d: %w", login, id, errForbidden(msgAdminRights))
	}
	return a, cm, nil
}

// EditComment edits a comment as login would on the web.
func (e *Emulator) EditComment(login, owner, repoName string, id int64, body string) error {
	if err := validateCommentBody(&body); err != nil {
		return fmt.Errorf("ghemu: edit comment %d: %w", id, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, cm, err := e.webComment(login, owner, repoName, id)
	if err != nil {
		return err
	}
	e.editComment(cm, a.acct, body)
	return nil
}

// DeleteComment deletes a comment as login would on the web.
func (e *Emulator) DeleteComment(login, owner, repoName string, id int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, cm, err := e.webComment(login, owner, repoName, id)
	if err != nil {
		return err
	}
	e.removeComment(cm, a.acct)
	return nil
}

// React adds login's reaction to a comment, as on the web.
func (e *Emulator) React(login, owner, repoName string, id int64, content string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, rp, err := e.webActor(login, owner, repoName)
	if err != nil {
		return err
	}
	cm := e.findComment(rp, id)
	if cm == nil {
		return fmt.Errorf("ghemu: no comment %d in %s/%s", id, owner, repoName)
	}
	if _, _, err := e.react(cm, a.acct, content); err != nil {
		return fmt.Errorf("ghemu: react to comment %d: %w", id, err)
	}
	return nil
}
