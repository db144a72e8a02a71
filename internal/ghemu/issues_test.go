package ghemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

func TestCreateIssue(t *testing.T) {
	w := newWorld(t, Options{})
	is, resp, err := w.aliceGH.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{
		Title:     github.String("Approval needed: deploy #7"),
		Body:      github.String("<!-- gatehouse:opened gate=g1 -->\nPlease approve."),
		Labels:    &[]string{"approval"},
		Assignees: &[]string{"bob"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201", resp.StatusCode)
	}
	type view struct {
		Number                       int
		Title, Body, State, User     string
		HTMLURL, URL, CommentsURL    string
		Labels, Assignees            []string
		Comments                     int
		Association                  string
		HasID, HasNodeID, HasCreated bool
		Location                     string
	}
	got := view{
		Number: is.GetNumber(), Title: is.GetTitle(), Body: is.GetBody(), State: is.GetState(), User: is.GetUser().GetLogin(),
		HTMLURL: is.GetHTMLURL(), URL: is.GetURL(), CommentsURL: is.GetCommentsURL(),
		Comments: is.GetComments(), Association: is.GetAuthorAssociation(),
		HasID: is.GetID() > 0, HasNodeID: is.GetNodeID() != "", HasCreated: !is.GetCreatedAt().IsZero(),
		Location: resp.Header.Get("Location"),
	}
	for _, l := range is.Labels {
		got.Labels = append(got.Labels, l.GetName())
	}
	for _, a := range is.Assignees {
		got.Assignees = append(got.Assignees, a.GetLogin())
	}
	api := w.emu.APIURL() + "/repos/acme/app/issues/1"
	want := view{
		Number: 1, Title: "Approval needed: deploy #7", Body: "<!-- gatehouse:opened gate=g1 -->\nPlease approve.", State: "open", User: "alice",
		HTMLURL: w.emu.WebURL() + "/acme/app/issues/1", URL: api, CommentsURL: api + "/comments",
		Labels: []string{"approval"}, Assignees: []string{"bob"}, Association: "MEMBER",
		HasID: true, HasNodeID: true, HasCreated: true, Location: api,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("issue (-want +got):\n%s", d)
	}

	// GitHub sends every field, nulls included; go-github's types hide that.
	_, _, raw := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1", w.alice, "")
	var fields map[string]json.RawMessage
	decodeJSON(t, raw, &fields)
	for _, k := range []string{"closed_at", "closed_by", "milestone", "state_reason", "active_lock_reason", "performed_via_github_app"} {
		if string(fields[k]) != "null" {
			t.Errorf("%s = %s, want null", k, fields[k])
		}
	}
	if !strings.Contains(string(raw), "<!-- gatehouse") {
		t.Errorf("body is HTML-escaped in %s", raw)
	}
}

func TestCreateIssueWithoutPushAccessDropsLabelsAndAssignees(t *testing.T) {
	w := newWorld(t, Options{})
	is, _, err := w.bobGH.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{
		Title: github.String("t"), Labels: &[]string{"approval"}, Assignees: &[]string{"nobody-at-all"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(is.Labels) != 0 || len(is.Assignees) != 0 {
		t.Errorf("labels %v, assignees %v; want both dropped", is.Labels, is.Assignees)
	}
}

func TestIssueErrors(t *testing.T) {
	w := newWorld(t, Options{})
	anonymous := client(t, w.emu, "")
	stranger := client(t, w.emu, "ghp_unknown")
	long := strings.Repeat("x", 257)
	tests := []struct {
		name       string
		gh         *github.Client
		repo       string
		body       any
		wantStatus int
		wantMsg    string
		wantErrors []github.Error
	}{
		{"missing title", w.aliceGH, "app", map[string]any{"body": "b"}, 422, "Invalid request.\n\n\"title\" wasn't supplied.", nil},
		{"blank title", w.aliceGH, "app", map[string]any{"title": "  "}, 422, "Validation Failed",
			[]github.Error{{Resource: "Issue", Field: "title", Code: "missing_field"}}},
		{"long title", w.aliceGH, "app", map[string]any{"title": long}, 422, "Validation Failed",
			[]github.Error{{Resource: "Issue", Field: "title", Code: "custom", Message: "title is too long (maximum is 256 characters)"}}},
		{"unassignable", w.aliceGH, "app", map[string]any{"title": "t", "assignees": []string{"mallory"}}, 422, "Validation Failed",
			[]github.Error{{Resource: "Issue", Field: "assignees", Code: "invalid"}}},
		{"long label", w.aliceGH, "app", map[string]any{"title": "t", "labels": []string{strings.Repeat("l", 51)}}, 422, "Validation Failed",
			[]github.Error{{Resource: "Label", Field: "name", Code: "invalid"}}},
		{"wrong type", w.aliceGH, "app", map[string]any{"title": 5}, 422, "Invalid request.\n\nFor 'properties/title', a number is not a string.", nil},
		{"no access", w.malloryGH, "app", map[string]any{"title": "t"}, 404, "Not Found", nil},
		{"no repository", w.aliceGH, "nope", map[string]any{"title": "t"}, 404, "Not Found", nil},
		{"bad token", stranger, "app", map[string]any{"title": "t"}, 401, "Bad credentials", nil},
		{"no token", anonymous, "app", map[string]any{"title": "t"}, 401, "Requires authentication", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.gh.NewRequest("POST", "repos/acme/"+tt.repo+"/issues", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tt.gh.Do(t.Context(), req, nil)
			er := errorResponse(t, err, tt.wantStatus)
			if er.Message != tt.wantMsg {
				t.Errorf("message = %q, want %q", er.Message, tt.wantMsg)
			}
			if d := cmp.Diff(tt.wantErrors, er.Errors); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			if !strings.HasPrefix(er.DocumentationURL, "https://docs.github.com/rest") {
				t.Errorf("documentation_url = %q", er.DocumentationURL)
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	w := newWorld(t, Options{})
	tests := []struct {
		name, method, path, token, body string
		wantStatus                      int
		wantBody                        string
	}{
		{"malformed JSON", "POST", "/repos/acme/app/issues", w.alice, `{"title":`, 400,
			`{"message":"Problems parsing JSON","documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"400"}`},
		{"unassignable", "POST", "/repos/acme/app/issues", w.alice, `{"title":"t","assignees":["mallory"]}`, 422,
			`{"message":"Validation Failed","errors":[{"value":"mallory","resource":"Issue","field":"assignees","code":"invalid"}],"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"422"}`},
		{"unknown route", "GET", "/nope/nope", w.alice, "", 404,
			`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`},
		{"unknown route without token", "GET", "/nope", "", "", 404,
			`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`},
		{"wrong method", "PUT", "/repos/acme/app/issues/1", w.alice, "", 404,
			`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`},
		{"unknown repository id", "GET", "/repositories/1/issues/1", w.alice, "", 404,
			`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := rawDo(t, w.emu, tt.method, tt.path, tt.token, tt.body)
			if status != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", status, body, tt.wantStatus, tt.wantBody)
			}
			if got := h.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

func TestResponseHeaders(t *testing.T) {
	w := newWorld(t, Options{})
	_, h, _ := rawDo(t, w.emu, "GET", "/repos/acme/app", w.alice, "")
	for _, k := range []string{"Content-Type", "X-GitHub-Request-Id", "X-GitHub-Media-Type", "ETag",
		"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource", "X-OAuth-Scopes"} {
		if h.Get(k) == "" {
			t.Errorf("header %s missing", k)
		}
	}
	if got := h.Get("X-RateLimit-Remaining"); got != "4999" {
		t.Errorf("X-RateLimit-Remaining = %q, want 4999", got)
	}
	if got := h.Get("ETag"); !strings.HasPrefix(got, `W/"`) || len(got) != len(`W/""`)+64 {
		t.Errorf("ETag = %q, want W/\"<sha256>\"", got)
	}
}

func TestUpdateIssue(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "by alice")
	mustIssue(t, w.bobGH, "acme", "app", "by bob")

	// Neither the author nor triage: forbidden.
	_, _, err := w.bobGH.Issues.Edit(t.Context(), "acme", "app", 1, &github.IssueRequest{State: github.String("closed")})
	if er := errorResponse(t, err, 403); er.Message != "Must have admin rights to Repository." {
		t.Errorf("message = %q", er.Message)
	}

	steps := []struct {
		name       string
		gh         *github.Client
		number     int
		req        github.IssueRequest
		wantState  string
		wantReason string
		wantClosed bool
		wantBy     string
	}{
		{"close as not planned", w.aliceGH, 1, github.IssueRequest{State: github.String("closed"), StateReason: github.String("not_planned")}, "closed", "not_planned", true, "alice"},
		{"reopen", w.aliceGH, 1, github.IssueRequest{State: github.String("open")}, "open", "reopened", false, ""},
		{"close without reason", w.aliceGH, 1, github.IssueRequest{State: github.String("closed")}, "closed", "completed", true, "alice"},
		{"author closes own issue", w.bobGH, 2, github.IssueRequest{State: github.String("closed")}, "closed", "completed", true, "bob"},
		{"edit title keeps state", w.aliceGH, 2, github.IssueRequest{Title: github.String("renamed")}, "closed", "completed", true, "bob"},
	}
	for _, s := range steps {
		is, _, err := s.gh.Issues.Edit(t.Context(), "acme", "app", s.number, &s.req)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := []any{is.GetState(), is.GetStateReason(), is.ClosedAt != nil, is.GetClosedBy().GetLogin()}
		want := []any{s.wantState, s.wantReason, s.wantClosed, s.wantBy}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, d)
		}
	}
	snap, _ := w.emu.Issue("acme", "app", 2)
	if snap.Title != "renamed" || snap.ClosedBy != "bob" {
		t.Errorf("snapshot = %+v", snap)
	}

	_, _, err = w.aliceGH.Issues.Edit(t.Context(), "acme", "app", 1, &github.IssueRequest{StateReason: github.String("maybe")})
	errorResponse(t, err, 422)
}

func TestAddLabelsAndAssignees(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")

	labels, _, err := w.aliceGH.Issues.AddLabelsToIssue(t.Context(), "acme", "app", 1, []string{"approval", "urgent"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range labels {
		names = append(names, l.GetName())
	}
	if d := cmp.Diff([]string{"approval", "urgent"}, names); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	_, _, err = w.bobGH.Issues.AddLabelsToIssue(t.Context(), "acme", "app", 1, []string{"x"})
	errorResponse(t, err, 403)

	// Unassignable logins are ignored, not refused.
	is, resp, err := w.aliceGH.Issues.AddAssignees(t.Context(), "acme", "app", 1, []string{"bob", "mallory", "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201", resp.StatusCode)
	}
	var who []string
	for _, a := range is.Assignees {
		who = append(who, a.GetLogin())
	}
	sort.Strings(who)
	if d := cmp.Diff([]string{"bob"}, who); d != "" {
		t.Errorf("assignees (-want +got):\n%s", d)
	}
}

func TestCloseIssueOnTheWeb(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	if err := w.emu.CloseIssue("bob", "acme", "app", 1, ""); err == nil {
		t.Error("bob (read, not the author) closed the issue")
	}
	if err := w.emu.CloseIssue("alice", "acme", "app", 1, "sideways"); err == nil {
		t.Error("an unknown reason was accepted")
	}
	check(t, w.emu.CloseIssue("alice", "acme", "app", 1, "not_planned"))
	snap, ok := w.emu.Issue("acme", "app", 1)
	if !ok || snap.State != "closed" || snap.StateReason != "not_planned" || snap.ClosedAt.IsZero() {
		t.Errorf("snapshot = %+v", snap)
	}
}

func TestIssuePage(t *testing.T) {
	w := newWorld(t, Options{})
	is := mustIssue(t, w.aliceGH, "acme", "app", "<b>Deploy</b>")
	id, err := w.emu.Comment("bob", "acme", "app", 1, "approve")
	check(t, err)
	resp, err := http.Get(is.GetHTMLURL())
	check(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(t, err)
	page := string(b)
	if resp.StatusCode != 200 || !strings.Contains(page, "&lt;b&gt;Deploy&lt;/b&gt;") ||
		!strings.Contains(page, fmt.Sprintf(`id="issuecomment-%d"`, id)) || !strings.Contains(page, "approve") {
		t.Errorf("page %d:\n%s", resp.StatusCode, page)
	}
	missing, err := http.Get(w.emu.WebURL() + "/acme/app/issues/99")
	check(t, err)
	missing.Body.Close()
	if missing.StatusCode != 404 {
		t.Errorf("missing issue page: %d", missing.StatusCode)
	}
}

func mustIssue(t *testing.T, gh *github.Client, owner, repo, title string) *github.Issue {
	t.Helper()
	is, _, err := gh.Issues.Create(t.Context(), owner, repo, &github.IssueRequest{Title: github.String(title)})
	if err != nil {
		t.Fatal(err)
	}
	return is
}
