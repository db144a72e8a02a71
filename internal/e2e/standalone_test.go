package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
)

const commentsRoute = "GET /repos/{owner}/{repo}/issues/{issue_number}/comments"

const releaseFields = `- id: reason
  type: string
  required: true
  description: Why is this safe?
- id: rollout
  type: number
  integer: true
  min: 1
  max: 100
  default: 10
- id: regions
  type: multiselect
  values: [eu, us, apac]
`

// comments returns the approval issue's comments that carry a marker of
// kind.
func comments(is ghemu.IssueSnapshot, kind audit.Kind) []ghemu.CommentSnapshot {
	var out []ghemu.CommentSnapshot
	for _, c := range is.Comments {
		if m, ok := audit.ParseMarker(c.Body); ok && m.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

func TestApproveWithTypedFields(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{
		"approvers":    "alice, bob",
		"fields":       releaseFields,
		"instructions": "Check the dashboard.",
		"labels":       "approval, production",
	})
	w.waitOpened()
	// The approvers are assigned in a request of their own, after the issue
	// is created.
	w.waitFor("the assignees", func() bool { return len(w.issue().Assignees) == 2 })
	opened := w.issue()
	if m, ok := audit.ParseMarker(opened.Body); !ok || m.Kind != audit.KindOpened {
		t.Errorf("issue body has no opened marker:\n%s", opened.Body)
	}
	for name, got := range map[string]any{
		"title": opened.Title, "author": opened.Author, "labels": opened.Labels, "assignees": opened.Assignees,
	} {
		want := map[string]any{
			"title": "Approval needed: release #42", "author": "github-actions[bot]",
			"labels": []string{"approval", "production"}, "assignees": []string{"alice", "bob"},
		}[name]
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("issue %s (-want +got):\n%s", name, diff)
		}
	}
	for _, want := range []string{"@alice, @bob", "Check the dashboard.", "| `rollout` |"} {
		if !strings.Contains(opened.Body, want) {
			t.Errorf("issue body lacks %q", want)
		}
	}

	id := w.say("alice", "Approve!\nreason: canary clean for 24h\nRollout: 25\nregions: us, eu\n> quoted line\nShip it.")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	issueURL := w.emu.WebURL() + "/" + owner + "/" + repo + "/issues/1"
	commentURL := issueURL + fmt.Sprintf("#issuecomment-%d", id)
	wantFields := map[string]any{"reason": "canary clean for 24h", "rollout": 25.0, "regions": []any{"eu", "us"}}
	want := map[string]string{
		"decision": "approved", "approved": "true", "approvers": "alice", "decided-by": "alice",
		"comment": "Ship it.", "issue-number": "1", "issue-url": issueURL,
		"field-reason": "canary clean for 24h", "field-rollout": "25", "field-regions": "eu,us",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	var fieldsOut map[string]any
	must(t, json.Unmarshal([]byte(out["fields"]), &fieldsOut))
	if diff := cmp.Diff(wantFields, fieldsOut); diff != "" {
		t.Errorf("fields output (-want +got):\n%s", diff)
	}
	var responses []map[string]any
	must(t, json.Unmarshal([]byte(out["responses"]), &responses))
	if len(responses) != 1 {
		t.Fatalf("responses = %s", out["responses"])
	}
	r := responses[0]
	if r["actor"] != "alice" || r["via"] != "comment" || r["decision"] != "approve" || r["url"] != commentURL || r["comment"] != "Ship it." {
		t.Errorf("response %v", r)
	}
	if _, err := time.Parse(time.RFC3339, r["at"].(string)); err != nil {
		t.Errorf("response at: %v", err)
	}
	if diff := cmp.Diff(wantFields, r["fields"]); diff != "" {
		t.Errorf("response fields (-want +got):\n%s", diff)
	}

	is := w.issue()
	if is.State != "closed" || is.StateReason != "completed" {
		t.Errorf("issue %s/%s, want closed/completed", is.State, is.StateReason)
	}
	summaries := comments(is, audit.KindSummary)
	if len(summaries) != 1 || !strings.Contains(summaries[0].Body, "✅ Approved") || !strings.Contains(summaries[0].Body, "reason: canary clean for 24h") {
		t.Errorf("summary comments: %+v", summaries)
	}
	if got := is.Comments[0].Reactions["+1"]; len(got) != 1 || got[0] != "github-actions[bot]" {
		t.Errorf("alice's comment reactions %v, want one 👍 by the job", is.Comments[0].Reactions)
	}
	if s := run.summary(t); !strings.Contains(s, "✅ Approved") || !strings.Contains(s, issueURL) {
		t.Errorf("step summary:\n%s", s)
	}
}

func TestReject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		failOnReject string
		code         int
	}{{"true", 1}, {"false", 0}} {
		t.Run("fail-on-reject="+tc.failOnReject, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghemu.Options{})
			run := w.start(map[string]string{"approvers": "alice, bob", "minimum-approvals": "2", "fail-on-reject": tc.failOnReject})
			w.waitOpened()
			w.say("alice", "approve")
			w.say("bob", "/deny.\nNot during the freeze.")
			code, out := run.wait(t)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if out["decision"] != "rejected" || out["approved"] != "false" || out["decided-by"] != "bob" || out["comment"] != "Not during the freeze." {
				t.Errorf("outputs %v", out)
			}
			if tc.code == 1 && !strings.Contains(run.stdout.String(), "::error::Rejected by bob: Not during the freeze.") {
				t.Errorf("no ::error:: line saying why:\n%s", run.stdout)
			}
			if is := w.issue(); is.State != "closed" || is.StateReason != "not_planned" {
				t.Errorf("issue %s/%s, want closed/not_planned", is.State, is.StateReason)
			}
		})
	}
}

// 2 of 3: a person's second approval and a non-approver's approval do not
// count, so only bob's approval settles the gate.
func TestQuorum(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice\nbob\ncarol", "minimum-approvals": "2"})
	w.waitOpened()
	w.say("alice", "lgtm")
	w.say("dave", "approve")
	w.waitCounted(w.say("alice", "approved"))
	w.say("carol", "looks fine to me") // discussion
	w.say("bob", "yes")
	code, out := run.wait(t)
	if code != 0 || out["decided-by"] != "bob" || out["approvers"] != "alice,bob" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	var responses []map[string]any
	must(t, json.Unmarshal([]byte(out["responses"]), &responses))
	if len(responses) != 2 {
		t.Errorf("%d responses counted, want 2: %s", len(responses), out["responses"])
	}
	if got := w.issue().Comments[1].Reactions["+1"]; len(got) != 0 {
		t.Errorf("dave's approval was acknowledged: %v", got)
	}
}

func TestTeamApprover(t *testing.T) {
	t.Parallel()
	t.Run("member of the team", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghemu.Options{})
		must(t, w.emu.GrantScopes(w.tokens["octocat"], "read:org"))
		run := w.start(map[string]string{"approvers": "@octo-org/sre", "github-token": w.tokens["octocat"]})
		w.waitOpened()
		w.say("frank", "approve") // a pending member
		w.say("dave", "approve")  // not a member
		w.say("erin", "approve")
		code, out := run.wait(t)
		if code != 0 || out["decided-by"] != "erin" || out["approvers"] != "erin" {
			t.Errorf("exit %d, outputs %v", code, out)
		}
	})
	t.Run("membership reads failing for a while", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghemu.Options{})
		must(t, w.emu.GrantScopes(w.tokens["octocat"], "read:org"))
		run := w.start(map[string]string{"approvers": "octo-org/sre", "github-token": w.tokens["octocat"]})
		w.waitOpened()
		must(t, w.emu.InjectFault(ghemu.Fault{Method: "GET", Path: "/orgs/" + owner + "/teams/sre/memberships/*", Status: 502, Times: 8}))
		w.say("erin", "approve")
		code, out := run.wait(t)
		if code != 0 || out["decided-by"] != "erin" {
			t.Errorf("exit %d, outputs %v", code, out)
		}
	})
	t.Run("token cannot read teams", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghemu.Options{})
		run := w.start(map[string]string{"approvers": "octo-org/sre"})
		code, _ := run.wait(t)
		if code != 1 || !strings.Contains(run.stdout.String(), "read:org") {
			t.Errorf("exit %d, output:\n%s", code, run.stdout)
		}
		if _, opened := w.emu.Issue(owner, repo, 1); opened {
			t.Error("an issue was opened although the gate could not work")
		}
	})
}

func TestExcludeInitiator(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "octocat, alice", "exclude-initiator": "true"})
	w.waitOpened()
	w.say("octocat", "approve")
	w.say("alice", "approve")
	code, out := run.wait(t)
	if code != 0 || out["decided-by"] != "alice" || out["approvers"] != "alice" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
}

// A decision whose fields do not validate gets one reply and does not count;
// the corrected one does.
func TestInvalidFieldsAnsweredOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice", "fields": releaseFields})
	w.waitOpened()
	bad := w.say("alice", "approve\nrollout: 500\nregions: mars")
	w.waitFor("the reply to the invalid comment", func() bool { return len(comments(w.issue(), audit.KindInvalid)) > 0 })
	// Let a few more polls pass over the same comment.
	polls := w.emu.Stats().NotModified
	w.waitFor("more polls", func() bool { return w.emu.Stats().NotModified >= polls+4 })
	w.say("alice", "approve\nreason: fixed\nrollout: 50")
	code, out := run.wait(t)
	if code != 0 || out["field-rollout"] != "50" || out["field-reason"] != "fixed" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	replies := comments(w.issue(), audit.KindInvalid)
	if len(replies) != 1 {
		t.Fatalf("%d replies to the invalid comment, want 1", len(replies))
	}
	m, _ := audit.ParseMarker(replies[0].Body)
	for _, want := range []string{"@alice", "rollout: must be", "regions:", "reason: "} {
		if !strings.Contains(replies[0].Body, want) {
			t.Errorf("reply lacks %q:\n%s", want, replies[0].Body)
		}
	}
	if m.Comment != bad {
		t.Errorf("reply answers comment %d, want %d", m.Comment, bad)
	}
}

// Editing a counted comment does not change the vote; the summary notes it.
func TestEditedCommentKeepsItsVote(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice, bob", "minimum-approvals": "2"})
	w.waitOpened()
	id := w.say("alice", "approve")
	w.waitCounted(id)
	must(t, w.emu.EditComment("alice", owner, repo, id, "reject"))
	polls := w.emu.Stats().NotModified
	w.waitFor("a poll after the edit", func() bool { return w.emu.Stats().NotModified >= polls+2 })
	w.say("bob", "approve")
	code, out := run.wait(t)
	if code != 0 || out["approvers"] != "alice,bob" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	if s := comments(w.issue(), audit.KindSummary); len(s) != 1 || !strings.Contains(s[0].Body, "edited their") {
		t.Errorf("summary does not note the edit: %+v", s)
	}
}

// More comments than fit a page arrive between two reads: the emulator
// serves at most 10 a page, and the approval is the last of 151 comments,
// all read through a `since` window after the first comment was seen.
func TestManyComments(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{PerPageMax: 10})
	run := w.start(map[string]string{"approvers": "alice"})
	w.waitOpened()
	w.say("dave", "first")
	w.waitReads(2)
	for i := range 150 {
		_, err := w.emu.Comment("dave", owner, repo, 1, fmt.Sprintf("discussion %d", i))
		must(t, err)
	}
	w.say("alice", "approve")
	code, out := run.wait(t)
	if code != 0 || out["decided-by"] != "alice" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	if n := w.emu.Stats().Requests[commentsRoute]; n < 16 {
		t.Errorf("%d comment list requests; 151 comments at 10 a page need at least 16", n)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		onTimeout, failOnReject string
		code                    int
		approved, reason        string
	}{
		{"reject", "true", 1, "false", "not_planned"},
		{"approve", "true", 0, "true", "completed"},
		{"error", "false", 1, "false", "not_planned"},
	} {
		t.Run(tc.onTimeout, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghemu.Options{})
			run := w.start(map[string]string{
				"approvers": "alice", "timeout": "2s", "on-timeout": tc.onTimeout, "fail-on-reject": tc.failOnReject,
				"fields": "- id: rollout\n  type: number\n  default: 10\n",
			})
			w.waitOpened()
			w.say("dave", "approve") // not an approver
			code, out := run.wait(t)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if out["decision"] != "timed_out" || out["approved"] != tc.approved || out["decided-by"] != "" || out["field-rollout"] != "10" || out["responses"] != "[]" {
				t.Errorf("outputs %v", out)
			}
			if is := w.issue(); is.State != "closed" || is.StateReason != tc.reason {
				t.Errorf("issue %s/%s, want closed/%s", is.State, is.StateReason, tc.reason)
			}
		})
	}
}

// GitHub failing during the wait — more 502s in a row than one request's
// retries cover, then a secondary rate limit — is survived, not reported as
// a decision.
func TestSurvivesGitHubFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice"})
	w.waitOpened()
	w.waitFor("the wait to start", func() bool { return w.emu.Stats().NotModified >= 1 })
	comments := "/repos/" + owner + "/" + repo + "/issues/1/comments"
	must(t, w.emu.InjectFault(ghemu.Fault{Method: "GET", Path: comments, Status: 502, Times: 8}))
	must(t, w.emu.InjectFault(ghemu.Fault{Method: "GET", Path: comments, Status: 403, RetryAfter: time.Second}))
	w.say("alice", "approve")
	code, out := run.wait(t)
	if code != 0 || out["decision"] != "approved" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	if !strings.Contains(run.stdout.String(), "::warning::reading the approval issue failed; trying again") {
		t.Errorf("the outage was not outlasted by the wait itself:\n%s", run.stdout)
	}
}

// A GitHub that stays down fails the step as an error, not a rejection.
func TestGitHubDownIsAnError(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	must(t, w.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/" + owner + "/" + repo + "/issues", Status: 503, Times: 100}))
	run := w.start(map[string]string{"approvers": "alice"})
	code, out := run.wait(t)
	if code != 1 || out["decision"] != "" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	if !strings.Contains(run.stdout.String(), "::error::create the approval issue") {
		t.Errorf("output:\n%s", run.stdout)
	}
}

// Waiting costs no rate limit: with a comment already read (so reads use
// `since`), polls with nothing new are answered 304.
func TestWaitingCostsNoRateLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice"})
	w.waitOpened()
	w.say("dave", "when is this going out?")
	w.waitReads(2)
	before := w.emu.Stats()
	w.waitReads(3)
	after := w.emu.Stats()
	if used := after.RateLimitUsed[w.jobToken] - before.RateLimitUsed[w.jobToken]; used != 0 {
		t.Errorf("%d requests counted against the rate limit while nothing changed", used)
	}
	if n := after.NotModified - before.NotModified; n < 6 {
		t.Errorf("%d answers were 304 over three polls of two reads, want 6", n)
	}
	w.say("alice", "approve")
	if code, _ := run.wait(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestCancelledRun(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghemu.Options{})
			run := w.start(map[string]string{"approvers": "alice"})
			w.waitOpened()
			w.waitFor("the wait to start", func() bool { return w.emu.Stats().NotModified >= 1 })
			run.signal(t, sig)
			code, out := run.wait(t)
			if code != 1 || out["decision"] != "cancelled" || out["approved"] != "false" {
				t.Errorf("exit %d, outputs %v", code, out)
			}
			is := w.issue()
			if is.State != "closed" || is.StateReason != "not_planned" || len(comments(is, audit.KindCancelled)) != 1 {
				t.Errorf("issue %s/%s with comments %+v", is.State, is.StateReason, is.Comments)
			}
		})
	}
}

// Cancelled while the issue is being created: the issue is still closed
// again, and the outputs say cancelled.
func TestCancelledWhileOpening(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	must(t, w.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/" + owner + "/" + repo + "/issues", Delay: 2 * time.Second}))
	run := w.start(map[string]string{"approvers": "alice"})
	w.waitFor("the issue request", func() bool { return w.emu.Stats().Requests["POST /repos/{owner}/{repo}/issues"] > 0 })
	run.signal(t, syscall.SIGTERM)
	code, out := run.wait(t)
	if code != 1 || out["decision"] != "cancelled" || out["issue-number"] != "1" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	is := w.issue()
	if is.State != "closed" || is.StateReason != "not_planned" || len(comments(is, audit.KindCancelled)) != 1 {
		t.Errorf("issue %s/%s with comments %+v", is.State, is.StateReason, is.Comments)
	}
}

func TestIssueClosedByHand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice"})
	w.waitOpened()
	must(t, w.emu.CloseIssue("alice", owner, repo, 1, "completed"))
	code, out := run.wait(t)
	if code != 1 || out["decision"] != "cancelled" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	c := comments(w.issue(), audit.KindCancelled)
	if len(c) != 1 || !strings.Contains(c[0].Body, "closed by @alice") {
		t.Errorf("cancelled notes %+v", c)
	}
}

// Bad inputs are all reported at once and nothing is created.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{
		"approvers": "alice, not a login", "minimum-approvals": "two", "timeout": "forever",
		"fields": "- id: rollout\n  type: percent\n",
	})
	code, out := run.wait(t)
	if code != 1 || len(out) != 0 {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	stdout := run.stdout.String()
	for _, want := range []string{"::error::approvers:", "::error::minimum-approvals:", "::error::timeout:", "::error::fields:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if _, opened := w.emu.Issue(owner, repo, 1); opened {
		t.Error("an issue was opened")
	}
}

// A reviewer's comment cannot set other outputs.
func TestOutputsCannotBeInjected(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghemu.Options{})
	run := w.start(map[string]string{"approvers": "alice"})
	w.waitOpened()
	w.say("alice", "reject\nEOF\ndecision<<EOF\napproved\nEOF\n_GitHubActionsFileCommandDelimeter_\napproved=true")
	code, out := run.wait(t)
	if code != 1 || out["decision"] != "rejected" || out["approved"] != "false" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	if !strings.HasSuffix(out["comment"], "approved=true") {
		t.Errorf("comment output %q", out["comment"])
	}
}
