package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

func TestAppApproveWithTypedFields(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob", "fields": releaseFields})
	w.waitRegistered(run)
	before := w.emu.Stats().RateLimitUsed[w.jobToken]

	id := w.say("alice", "approve\nreason: canary clean\nrollout: 25\nregions: eu\nShip it.")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	if used := w.emu.Stats().RateLimitUsed[w.jobToken] - before; used != 0 {
		t.Errorf("the action made %d GitHub API calls while waiting, want 0", used)
	}
	issueURL := w.emu.WebURL() + "/" + owner + "/" + repo + "/issues/1"
	want := map[string]string{
		"decision": "approved", "approved": "true", "approvers": "alice", "decided-by": "alice",
		"comment": "Ship it.", "issue-number": "1", "issue-url": issueURL,
		"field-reason": "canary clean", "field-rollout": "25", "field-regions": "eu",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	var fieldsOut map[string]any
	must(t, json.Unmarshal([]byte(out["fields"]), &fieldsOut))
	if diff := cmp.Diff(map[string]any{"reason": "canary clean", "rollout": 25.0, "regions": []any{"eu"}}, fieldsOut); diff != "" {
		t.Errorf("fields output (-want +got):\n%s", diff)
	}
	var responses []map[string]any
	must(t, json.Unmarshal([]byte(out["responses"]), &responses))
	if len(responses) != 1 || responses[0]["actor"] != "alice" || responses[0]["via"] != "comment" ||
		responses[0]["url"] != issueURL+fmt.Sprintf("#issuecomment-%d", id) {
		t.Errorf("responses = %s", out["responses"])
	}

	is := w.waitSummary(audit.KindSummary)
	if is.StateReason != "completed" {
		t.Errorf("issue closed as %q, want completed", is.StateReason)
	}
	w.waitCounted(id)
	summary := comments(is, audit.KindSummary)
	if len(summary) != 1 || summary[0].Author != "gatehouse[bot]" || !strings.Contains(summary[0].Body, "canary clean") {
		t.Errorf("summary comments: %+v", summary)
	}
}

func TestAppReject(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob"})
	w.waitRegistered(run)

	id := w.say("bob", "Reject.\nNot during the freeze.")
	code, out := run.wait(t)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkOutputs(t, out, map[string]string{
		"decision": "rejected", "approved": "false", "decided-by": "bob", "approvers": "", "comment": "Not during the freeze.",
	})
	if diff := cmp.Diff([]string{"bob:reject"}, who(responsesOutput(t, out))); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	if !strings.Contains(run.stdout.String(), "::error::") {
		t.Errorf("no ::error:: line for the rejection:\n%s", run.stdout.String())
	}

	is := w.waitSummary(audit.KindSummary)
	if is.StateReason != "not_planned" || is.ClosedBy != botLogin {
		t.Errorf("issue closed as %q by %q, want not_planned by %s", is.StateReason, is.ClosedBy, botLogin)
	}
	summary := appComments(is, audit.KindSummary)
	if len(summary) != 1 || !strings.Contains(summary[0].Body, "❌ Rejected") || !strings.Contains(summary[0].Body, "Not during the freeze.") {
		t.Errorf("summary comments: %+v", summary)
	}
	w.waitCounted(id)
}

func TestAppQuorum(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob, carol", "minimum-approvals": "2"})
	w.waitRegistered(run)

	alice := w.say("alice", "approve")
	w.waitCounted(alice)
	if !run.running() {
		t.Fatalf("the action exited after one approval of two; output:\n%s", run.stdout.String())
	}
	if is := w.issue(); is.State != "open" || len(comments(is, audit.KindSummary)) != 0 {
		t.Fatalf("the gate settled after one approval of two: issue %s, comments %+v", is.State, is.Comments)
	}

	w.say("bob", "LGTM")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "approved": "true", "approvers": "alice,bob", "decided-by": "bob"})
	if diff := cmp.Diff([]string{"alice:approve", "bob:approve"}, who(responsesOutput(t, out))); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	is := w.waitSummary(audit.KindSummary)
	if is.StateReason != "completed" {
		t.Errorf("issue closed as %q, want completed", is.StateReason)
	}

	// The operator's view of it.
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _, body := w.call(http.MethodGet, path, nil, nil); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	// alice's and bob's comments at least; the app's own summary may follow.
	if n, err := strconv.Atoi(w.metric(`gatehouse_webhook_deliveries_total{event="issue_comment",result="accepted"}`)); err != nil || n < 2 {
		t.Errorf("accepted issue_comment deliveries = %d (%v), want at least 2", n, err)
	}
	if v := w.metric(`gatehouse_gates{status="approved"}`); v != "1" {
		t.Errorf("approved gates = %q, want 1", v)
	}
	if v := w.metric(`gatehouse_gates{status="pending"}`); v != "0" {
		t.Errorf("pending gates = %q, want 0", v)
	}
}

func TestAppTeamApprover(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "@octo-org/sre"})
	w.waitRegistered(run)

	frank := w.say("frank", "approve") // a pending member
	result := w.waitHandled(w.commentDelivery(frank, "created").ID)
	if !strings.HasPrefix(result, "ignored") {
		t.Errorf("frank's approval: %q, want it ignored", result)
	}
	if got := reactions(w.issue(), frank, "+1"); len(got) != 0 || !run.running() {
		t.Fatalf("frank's approval counted: 👍 %v, action running %v", got, run.running())
	}

	erin := w.say("erin", "approve")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "approvers": "erin", "decided-by": "erin"})
	w.waitSummary(audit.KindSummary)
	w.waitCounted(erin)
	if got := reactions(w.issue(), frank, "+1"); len(got) != 0 {
		t.Errorf("frank's comment got 👍 from %v", got)
	}
}

func TestAppInvalidFieldsAnsweredOnce(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice", "fields": releaseFields})
	w.waitRegistered(run)
	gate := w.gateID()

	bad := w.say("alice", "approve\nreason: canary clean\nrollout: 500")
	w.waitFor("the invalid reply", func() bool { return len(comments(w.issue(), audit.KindInvalid)) > 0 })
	replies := comments(w.issue(), audit.KindInvalid)
	if len(replies) != 1 || replies[0].Author != botLogin || !strings.Contains(replies[0].Body, "rollout") || !strings.Contains(replies[0].Body, "@alice") {
		t.Fatalf("invalid replies: %+v", replies)
	}
	if m, _ := audit.ParseMarker(replies[0].Body); m.Gate != gate || m.Comment != bad {
		t.Errorf("invalid reply marker %+v, want gate %s comment %d", m, gate, bad)
	}
	if got := reactions(w.issue(), bad, "+1"); len(got) != 0 || !run.running() {
		t.Fatalf("the invalid answer counted: 👍 %v, action running %v", got, run.running())
	}

	// GitHub's redelivery (same GUID), and the same comment under a new
	// delivery id: neither answers it again.
	d := w.commentDelivery(bad, "created")
	if code, err := w.emu.Redeliver(context.Background(), d.ID); err != nil || code != http.StatusOK {
		t.Errorf("redelivery: %d %v, want 200 (duplicate)", code, err)
	}
	again, code, err := w.emu.SendWebhook(context.Background(), "issue_comment", d.Payload)
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("the comment under a new delivery id: %d %v, want 202", code, err)
	}
	if result := w.waitHandled(again); result != "invalid: replied" {
		t.Errorf("the comment under a new delivery id: %q", result)
	}

	good := w.say("alice", "approve\nreason: canary clean\nrollout: 50")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "decided-by": "alice", "field-rollout": "50"})
	if rs := responsesOutput(t, out); len(rs) != 1 || !strings.HasSuffix(rs[0].URL, fmt.Sprintf("-%d", good)) {
		t.Errorf("responses = %s", out["responses"])
	}
	is := w.waitSummary(audit.KindSummary)
	if n := len(comments(is, audit.KindInvalid)); n != 1 {
		t.Errorf("%d invalid replies, want 1", n)
	}
}

func TestAppEditedCommentKeepsItsVote(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob", "minimum-approvals": "2"})
	w.waitRegistered(run)

	alice := w.say("alice", "approve")
	w.waitCounted(alice)
	must(t, w.emu.EditComment("alice", owner, repo, alice, "reject"))
	if result := w.waitHandled(w.commentDelivery(alice, "edited").ID); result != "noted: edited" {
		t.Errorf("the edit: %q, want noted", result)
	}
	if !run.running() {
		t.Fatalf("the edit settled the gate; output:\n%s", run.stdout.String())
	}

	w.bobApprovesSecond(run)
	summary := appComments(w.waitSummary(audit.KindSummary), audit.KindSummary)
	if len(summary) != 1 || !strings.Contains(summary[0].Body, "edited the [counted comment]") {
		t.Errorf("summary comments: %+v", summary)
	}
}

func TestAppTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		onTimeout, approved, reason, headline string
		code                                  int
	}{
		{"approve", "true", "completed", "approved by on-timeout", 0},
		{"", "false", "not_planned", "⌛ Timed out", 1},
	} {
		t.Run("on-timeout="+tc.onTimeout, func(t *testing.T) {
			t.Parallel()
			w := newAppWorld(t)
			in := map[string]string{"approvers": "alice", "timeout": "3s"}
			if tc.onTimeout != "" {
				in["on-timeout"] = tc.onTimeout
			}
			run := w.startGate(in)
			w.waitOpened()
			code, out := run.wait(t)
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, run.stdout.String())
			}
			checkOutputs(t, out, map[string]string{"decision": "timed_out", "approved": tc.approved, "decided-by": "", "responses": "[]"})
			is := w.waitSummary(audit.KindSummary)
			if is.StateReason != tc.reason || is.ClosedBy != botLogin {
				t.Errorf("issue closed as %q by %q, want %s by %s", is.StateReason, is.ClosedBy, tc.reason, botLogin)
			}
			if s := appComments(is, audit.KindSummary); len(s) != 1 || !strings.Contains(s[0].Body, tc.headline) {
				t.Errorf("summary comments: %+v", s)
			}
		})
	}
}

func TestAppCancelledRun(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice"})
	w.waitRegistered(run)

	run.signal(t, syscall.SIGTERM)
	code, out := run.wait(t)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkOutputs(t, out, map[string]string{"decision": "cancelled", "approved": "false"})
	is := w.waitSummary(audit.KindCancelled)
	if is.StateReason != "not_planned" || is.ClosedBy != botLogin {
		t.Errorf("issue closed as %q by %q, want not_planned by %s", is.StateReason, is.ClosedBy, botLogin)
	}
	notes := appComments(is, audit.KindCancelled)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "The workflow run was cancelled.") {
		t.Errorf("cancelled notes: %+v", notes)
	}
	if n := len(comments(is, audit.KindSummary)); n != 0 {
		t.Errorf("%d summaries on a cancelled gate", n)
	}
}

func TestAppIssueClosedByHand(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob"})
	w.waitRegistered(run)

	must(t, w.emu.CloseIssue("carol", owner, repo, 1, "completed"))
	code, out := run.wait(t)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkOutputs(t, out, map[string]string{"decision": "cancelled", "approved": "false"})
	is := w.waitSummary(audit.KindCancelled)
	notes := appComments(is, audit.KindCancelled)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "@carol closed the approval issue") {
		t.Errorf("cancelled notes: %+v", notes)
	}
	if is.State != "closed" || is.StateReason != "completed" || is.ClosedBy != "carol" {
		t.Errorf("issue %s/%s by %q, want it left as carol closed it (closed/completed)", is.State, is.StateReason, is.ClosedBy)
	}
	if n := w.emu.Stats().Requests["PATCH /repos/{owner}/{repo}/issues/{issue_number}"]; n != 0 {
		t.Errorf("the issue was edited %d times after carol closed it", n)
	}
}

func TestAppCountsCommentsMadeBeforeRegistration(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	env, release := w.heldOIDC(sandbox.DefaultRun)
	run := w.startGate(map[string]string{"approvers": "alice"}, env...)
	w.waitOpened()

	// The app hears of alice's comment before it knows the gate, and lets
	// it go.
	id := w.say("alice", "approve\nEarly bird.")
	if result := w.waitHandled(w.commentDelivery(id, "created").ID); !strings.HasPrefix(result, "ignored") {
		t.Fatalf("alice's comment before the gate: %q, want it ignored", result)
	}
	release()
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "decided-by": "alice", "comment": "Early bird."})
	w.waitSummary(audit.KindSummary)
	w.waitCounted(id)
}
