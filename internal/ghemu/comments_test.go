package ghemu

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

func TestCommentLifecycle(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	w := newWorld(t, Options{Now: clock.Now})
	mustIssue(t, w.aliceGH, "acme", "app", "t")

	cm, resp, err := w.bobGH.Issues.CreateComment(t.Context(), "acme", "app", 1, &github.IssueComment{Body: github.String("approve")})
	if err != nil {
		t.Fatal(err)
	}
	id := cm.GetID()
	api := w.emu.APIURL() + "/repos/acme/app/issues"
	type view struct {
		Status                           int
		Body, User, Association          string
		URL, HTMLURL, IssueURL, Location string
		CreatedAt, UpdatedAt             time.Time
		HasNodeID                        bool
		ReactionsURL                     string
		ReactionsTotal                   int
	}
	got := view{resp.StatusCode, cm.GetBody(), cm.GetUser().GetLogin(), cm.GetAuthorAssociation(),
		cm.GetURL(), cm.GetHTMLURL(), cm.GetIssueURL(), resp.Header.Get("Location"),
		cm.GetCreatedAt().Time, cm.GetUpdatedAt().Time, cm.GetNodeID() != "",
		cm.GetReactions().GetURL(), cm.GetReactions().GetTotalCount()}
	want := view{201, "approve", "bob", "MEMBER",
		fmt.Sprintf("%s/comments/%d", api, id), fmt.Sprintf("%s/acme/app/issues/1#issuecomment-%d", w.emu.WebURL(), id), api + "/1", fmt.Sprintf("%s/comments/%d", api, id),
		clock.Now(), clock.Now(), true,
		fmt.Sprintf("%s/comments/%d/reactions", api, id), 0}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("created comment (-want +got):\n%s", d)
	}

	// Only the author, or write access, may change it; strangers see nothing.
	_, _, err = w.carolGH(t).Issues.EditComment(t.Context(), "acme", "app", id, &github.IssueComment{Body: github.String("x")})
	errorResponse(t, err, 403)
	_, _, err = w.malloryGH.Issues.GetComment(t.Context(), "acme", "app", id)
	errorResponse(t, err, 404)
	_, _, err = w.bobGH.Issues.GetComment(t.Context(), "alice", "tools", id)
	errorResponse(t, err, 404)

	clock.Advance(time.Minute)
	edited, _, err := w.bobGH.Issues.EditComment(t.Context(), "acme", "app", id, &github.IssueComment{Body: github.String("approved")})
	if err != nil {
		t.Fatal(err)
	}
	if edited.GetBody() != "approved" || !edited.GetUpdatedAt().Time.Equal(clock.Now()) || !edited.GetCreatedAt().Time.Equal(want.CreatedAt) {
		t.Errorf("edited = %q created %v updated %v", edited.GetBody(), edited.GetCreatedAt(), edited.GetUpdatedAt())
	}
	_, h, _ := rawDo(t, w.emu, "GET", fmt.Sprintf("/repos/acme/app/issues/comments/%d", id), w.bob, "")
	if got := h.Get("Last-Modified"); got != clock.Now().Format(http.TimeFormat) {
		t.Errorf("Last-Modified = %q", got)
	}

	is, _, err := w.aliceGH.Issues.Get(t.Context(), "acme", "app", 1)
	if err != nil || is.GetComments() != 1 {
		t.Fatalf("issue comments = %d, err %v", is.GetComments(), err)
	}
	// alice has write access: she may delete bob's comment.
	resp, err = w.aliceGH.Issues.DeleteComment(t.Context(), "acme", "app", id)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v", err)
	}
	_, _, err = w.bobGH.Issues.GetComment(t.Context(), "acme", "app", id)
	errorResponse(t, err, 404)
	if got := w.emu.Comments("acme", "app", 1); len(got) != 0 {
		t.Errorf("comments after delete = %+v", got)
	}
}

// carolGH is a client for carol, who reads acme/app.
func (w *world) carolGH(t *testing.T) *github.Client { return client(t, w.emu, w.carol) }

func TestCommentValidation(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	tests := []struct {
		name       string
		body       any
		wantMsg    string
		wantErrors []github.Error
	}{
		{"missing body", map[string]any{}, "Invalid request.\n\n\"body\" wasn't supplied.", nil},
		{"empty body", map[string]any{"body": ""}, "Validation Failed", []github.Error{{Resource: "IssueComment", Field: "body", Code: "missing_field"}}},
		{"too long", map[string]any{"body": strings.Repeat("é", 65537)}, "Validation Failed",
			[]github.Error{{Resource: "IssueComment", Field: "data", Code: "unprocessable", Message: "Body is too long (maximum is 65536 characters)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := w.aliceGH.NewRequest("POST", "repos/acme/app/issues/1/comments", tt.body)
			check(t, err)
			_, err = w.aliceGH.Do(t.Context(), req, nil)
			er := errorResponse(t, err, 422)
			if er.Message != tt.wantMsg {
				t.Errorf("message = %q, want %q", er.Message, tt.wantMsg)
			}
			if d := cmp.Diff(tt.wantErrors, er.Errors); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
	// 65536 characters is allowed.
	_, _, err := w.aliceGH.Issues.CreateComment(t.Context(), "acme", "app", 1, &github.IssueComment{Body: github.String(strings.Repeat("é", 65536))})
	check(t, err)
}

func TestPaginationWithGoGitHub(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	for i := range 250 {
		_, err := w.emu.Comment("bob", "acme", "app", 1, fmt.Sprintf("comment %d", i))
		check(t, err)
	}

	var pages []int
	var ids []int64
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		list, resp, err := w.aliceGH.Issues.ListComments(t.Context(), "acme", "app", 1, opts)
		check(t, err)
		pages = append(pages, len(list))
		for _, c := range list {
			ids = append(ids, c.GetID())
		}
		if opts.Page == 0 && resp.LastPage != 3 {
			t.Errorf("LastPage = %d, want 3", resp.LastPage)
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if d := cmp.Diff([]int{100, 100, 50}, pages); d != "" {
		t.Errorf("page sizes (-want +got):\n%s", d)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids not ascending at %d: %d then %d", i, ids[i-1], ids[i])
		}
	}
}

func TestLinkHeader(t *testing.T) {
	w := newWorld(t, Options{PerPageMax: 50})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	for range 7 {
		_, err := w.emu.Comment("bob", "acme", "app", 1, "hi")
		check(t, err)
	}
	rp := repoID(t, w.emu, "acme", "app")
	base := fmt.Sprintf("<%s/repositories/%d/issues/1/comments?", w.emu.APIURL(), rp)
	tests := []struct {
		query    string
		wantLen  int
		wantLink string
	}{
		{"", 7, ""},
		{"?per_page=500", 7, ""},
		{"?per_page=3", 3, base + `page=2&per_page=3>; rel="next", ` + base + `page=3&per_page=3>; rel="last"`},
		{"?per_page=3&page=2", 3, base + `page=1&per_page=3>; rel="prev", ` + base + `page=3&per_page=3>; rel="next", ` + base + `page=3&per_page=3>; rel="last", ` + base + `page=1&per_page=3>; rel="first"`},
		{"?per_page=3&page=3&since=2000-01-01T00:00:00Z", 1, base + `page=2&per_page=3&since=2000-01-01T00%3A00%3A00Z>; rel="prev", ` + base + `page=1&per_page=3&since=2000-01-01T00%3A00%3A00Z>; rel="first"`},
		{"?per_page=3&page=9", 0, base + `page=3&per_page=3>; rel="prev", ` + base + `page=1&per_page=3>; rel="first"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, h, body := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1/comments"+tt.query, w.alice, "")
			var list []map[string]any
			decodeJSON(t, body, &list)
			if status != 200 || len(list) != tt.wantLen {
				t.Errorf("status %d, %d comments; want 200, %d", status, len(list), tt.wantLen)
			}
			if got := h.Get("Link"); got != tt.wantLink {
				t.Errorf("Link =\n%s\nwant\n%s", got, tt.wantLink)
			}
		})
	}

	// The Link URLs themselves work, and serve the same page.
	_, h, viaRepos := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1/comments?per_page=3&page=2", w.alice, "")
	_, _, viaID := rawDo(t, w.emu, "GET", fmt.Sprintf("/repositories/%d/issues/1/comments?per_page=3&page=2", rp), w.alice, "")
	if string(viaRepos) != string(viaID) || h.Get("Link") == "" {
		t.Errorf("/repositories/{id} page differs from /repos/{owner}/{repo} page")
	}
}

// repoID is a repository's id.
func repoID(t *testing.T, e *Emulator, owner, name string) int64 {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	rp := e.findRepo(owner, name)
	if rp == nil {
		t.Fatalf("no repository %s/%s", owner, name)
	}
	return rp.id
}

func TestSince(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	w := newWorld(t, Options{Now: clock.Now})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	first, err := w.emu.Comment("bob", "acme", "app", 1, "first")
	check(t, err)
	clock.Advance(time.Hour)
	t1 := clock.Now()
	_, err = w.emu.Comment("bob", "acme", "app", 1, "second")
	check(t, err)

	bodies := func(since time.Time) []string {
		t.Helper()
		list, _, err := w.aliceGH.Issues.ListComments(t.Context(), "acme", "app", 1, &github.IssueListCommentsOptions{Since: &since})
		check(t, err)
		var out []string
		for _, c := range list {
			out = append(out, c.GetBody())
		}
		return out
	}
	if d := cmp.Diff([]string{"second"}, bodies(t1)); d != "" {
		t.Errorf("since t1 (-want +got):\n%s", d)
	}
	clock.Advance(time.Hour)
	check(t, w.emu.EditComment("bob", "acme", "app", first, "first, edited"))
	if d := cmp.Diff([]string{"first, edited", "second"}, bodies(t1)); d != "" {
		t.Errorf("since t1 after edit (-want +got):\n%s", d)
	}
	if got := bodies(clock.Now().Add(time.Second)); got != nil {
		t.Errorf("since the future = %v", got)
	}
	status, _, _ := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1/comments?since=yesterday", w.alice, "")
	if status != 422 {
		t.Errorf("bad since: status %d, want 422", status)
	}
}

func TestConditionalRequests(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	_, err := w.emu.Comment("bob", "acme", "app", 1, "hello")
	check(t, err)

	get := func(etag string) (*github.Response, []*github.IssueComment, error) {
		req, err := w.aliceGH.NewRequest("GET", "repos/acme/app/issues/1/comments", nil)
		check(t, err)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		var list []*github.IssueComment
		resp, err := w.aliceGH.Do(t.Context(), req, &list)
		return resp, list, err
	}
	resp, list, err := get("")
	check(t, err)
	etag := resp.Header.Get("ETag")
	if len(list) != 1 || etag == "" {
		t.Fatalf("first GET: %d comments, ETag %q", len(list), etag)
	}
	used := w.emu.Stats().RateLimitUsed[w.alice]

	resp, _, err = get(etag)
	errorResponse(t, err, http.StatusNotModified)
	if resp.Header.Get("ETag") != etag || resp.Header.Get("X-RateLimit-Remaining") != fmt.Sprint(5000-used) {
		t.Errorf("304 headers: ETag %q, remaining %q", resp.Header.Get("ETag"), resp.Header.Get("X-RateLimit-Remaining"))
	}
	stats := w.emu.Stats()
	if stats.NotModified != 1 || stats.RateLimitUsed[w.alice] != used {
		t.Errorf("stats after 304: %d not modified, %d used (was %d)", stats.NotModified, stats.RateLimitUsed[w.alice], used)
	}
	status, _, body := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1/comments", w.alice, "", "If-None-Match", etag)
	if status != 304 || len(body) != 0 {
		t.Errorf("raw 304: %d with %d body bytes", status, len(body))
	}

	_, err = w.emu.Comment("bob", "acme", "app", 1, "again")
	check(t, err)
	resp, list, err = get(etag)
	check(t, err)
	if len(list) != 2 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a new comment: %d comments, ETag unchanged %v", len(list), resp.Header.Get("ETag") == etag)
	}

	// Single resources answer If-Modified-Since too.
	_, h, _ := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1", w.alice, "")
	status, _, _ = rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1", w.alice, "", "If-Modified-Since", h.Get("Last-Modified"))
	if status != 304 {
		t.Errorf("If-Modified-Since: %d, want 304", status)
	}
}

// A poller that keeps re-reading the last page must see a change when a new
// page appears, even though the last page's own items did not change.
func TestETagCoversLinkHeader(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	for range 4 {
		_, err := w.emu.Comment("bob", "acme", "app", 1, "x")
		check(t, err)
	}
	const tail = "/repos/acme/app/issues/1/comments?per_page=2&page=2"
	_, h, body := rawDo(t, w.emu, "GET", tail, w.alice, "")
	etag := h.Get("ETag")
	if strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page 2 of 2 has a next link: %s", h.Get("Link"))
	}
	_, err := w.emu.Comment("bob", "acme", "app", 1, "x")
	check(t, err)
	status, h2, body2 := rawDo(t, w.emu, "GET", tail, w.alice, "", "If-None-Match", etag)
	if status != 200 || string(body2) != string(body) || !strings.Contains(h2.Get("Link"), `rel="next"`) {
		t.Errorf("tail page after a new page: %d, same body %v, Link %q", status, string(body2) == string(body), h2.Get("Link"))
	}
}

func TestReactions(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	id, err := w.emu.Comment("alice", "acme", "app", 1, "approve")
	check(t, err)

	steps := []struct {
		content    string
		wantStatus int
	}{{"+1", 201}, {"+1", 200}, {"eyes", 201}}
	var firstID int64
	for _, s := range steps {
		r, resp, err := w.bobGH.Reactions.CreateIssueCommentReaction(t.Context(), "acme", "app", id, s.content)
		check(t, err)
		if resp.StatusCode != s.wantStatus || r.GetContent() != s.content || r.GetUser().GetLogin() != "bob" || r.GetNodeID() == "" {
			t.Errorf("react %s: %d %+v", s.content, resp.StatusCode, r)
		}
		if s.content == "+1" {
			if firstID != 0 && r.GetID() != firstID {
				t.Errorf("repeated reaction got a new id %d, want %d", r.GetID(), firstID)
			}
			firstID = r.GetID()
		}
	}
	_, _, err = w.bobGH.Reactions.CreateIssueCommentReaction(t.Context(), "acme", "app", id, "party")
	errorResponse(t, err, 422)

	all, _, err := w.aliceGH.Reactions.ListIssueCommentReactions(t.Context(), "acme", "app", id, nil)
	check(t, err)
	_, _, raw := rawDo(t, w.emu, "GET", fmt.Sprintf("/repos/acme/app/issues/comments/%d/reactions?content=eyes", id), w.alice, "")
	var eyes []*github.Reaction
	decodeJSON(t, raw, &eyes)
	if len(all) != 2 || len(eyes) != 1 || eyes[0].GetContent() != "eyes" {
		t.Errorf("reactions: %d, eyes %d", len(all), len(eyes))
	}
	cm, _, err := w.aliceGH.Issues.GetComment(t.Context(), "acme", "app", id)
	check(t, err)
	r := cm.GetReactions()
	if r.GetTotalCount() != 2 || r.GetPlusOne() != 1 || r.GetEyes() != 1 || r.GetHeart() != 0 {
		t.Errorf("rollup = %+v", r)
	}
	check(t, w.emu.React("carol", "acme", "app", id, "heart"))
	if got := w.emu.Comments("acme", "app", 1)[0].Reactions; cmp.Diff(map[string][]string{"+1": {"bob"}, "eyes": {"bob"}, "heart": {"carol"}}, got) != "" {
		t.Errorf("snapshot reactions = %v", got)
	}
}

func TestWebHelpersCheckPermissions(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	id, err := w.emu.Comment("bob", "acme", "app", 1, "mine")
	check(t, err)
	tests := []struct {
		name string
		err  error
	}{
		{"stranger comments", func() error { _, err := w.emu.Comment("mallory", "acme", "app", 1, "x"); return err }()},
		{"unknown user comments", func() error { _, err := w.emu.Comment("nobody", "acme", "app", 1, "x"); return err }()},
		{"missing issue", func() error { _, err := w.emu.Comment("bob", "acme", "app", 9, "x"); return err }()},
		{"empty comment", func() error { _, err := w.emu.Comment("bob", "acme", "app", 1, ""); return err }()},
		{"reader edits another's comment", w.emu.EditComment("carol", "acme", "app", id, "x")},
		{"reader deletes another's comment", w.emu.DeleteComment("carol", "acme", "app", id)},
		{"bad reaction", w.emu.React("carol", "acme", "app", id, "party")},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	check(t, w.emu.DeleteComment("bob", "acme", "app", id))
}
