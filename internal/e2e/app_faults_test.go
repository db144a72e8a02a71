package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

// createCommentRoute is the route the app posts its audit comments on.
const createCommentRoute = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"

func hmacHex(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestAppRefusesBadSignatures(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob"})
	w.waitRegistered(run)

	// A real delivery of alice's discussion comment, made her approval.
	talk := w.say("alice", "Looking at the dashboards.")
	d := w.commentDelivery(talk, "created")
	if result := w.waitHandled(d.ID); result != "ignored: discussion" {
		t.Fatalf("alice's discussion comment: %q", result)
	}
	var payload map[string]any
	must(t, json.Unmarshal(d.Payload, &payload))
	payload["comment"].(map[string]any)["body"] = "approve"
	forged, err := json.Marshal(payload)
	must(t, err)

	secret := w.sb.WebhookSecret()
	for i, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"a wrong secret", http.Header{"X-Hub-Signature-256": {"sha256=" + hmacHex(sha256.New, "not the secret", forged)}}, "does not match"},
		{"the original payload's signature", http.Header{"X-Hub-Signature-256": {d.Header.Get("X-Hub-Signature-256")}}, "does not match"},
		{"only a valid SHA-1 signature", http.Header{"X-Hub-Signature": {"sha1=" + hmacHex(sha1.New, secret, forged)}}, "X-Hub-Signature-256 is required"},
		{"SHA-1 in the SHA-256 header", http.Header{"X-Hub-Signature-256": {"sha1=" + hmacHex(sha1.New, secret, forged)}}, "must be sha256="},
	} {
		h := tc.header.Clone()
		h.Set("Content-Type", "application/json")
		h.Set("X-GitHub-Event", "issue_comment")
		h.Set("X-GitHub-Delivery", fmt.Sprintf("forged-%d", i))
		code, header, body := w.call(http.MethodPost, "/webhooks/github", h, forged)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, code)
		}
		if msg := errorAnswer(t, header, body); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q, want it to say %q", tc.name, msg, tc.want)
		}
	}
	if v := w.metric(`gatehouse_webhook_deliveries_total{event="unknown",result="bad_signature"}`); v != "4" {
		t.Errorf("bad_signature deliveries = %q, want 4", v)
	}
	if !run.running() || len(reactions(w.issue(), talk, "+1")) != 0 {
		t.Fatalf("a forged delivery counted; output:\n%s", run.stdout.String())
	}

	w.say("bob", "reject")
	code, out := run.wait(t)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkOutputs(t, out, map[string]string{"decision": "rejected", "decided-by": "bob", "approvers": ""})
	if diff := cmp.Diff([]string{"bob:reject"}, who(responsesOutput(t, out))); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
}

func TestAppSameDeliveryTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob", "minimum-approvals": "2"})
	w.waitRegistered(run)

	alice := w.say("alice", "approve")
	w.waitCounted(alice)
	d := w.commentDelivery(alice, "created")
	if code, err := w.emu.Redeliver(context.Background(), d.ID); err != nil || code != http.StatusOK {
		t.Errorf("redelivery with the same GUID: %d %v, want 200 (duplicate)", code, err)
	}
	again, code, err := w.emu.SendWebhook(context.Background(), "issue_comment", d.Payload)
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("the comment under a new delivery id: %d %v, want 202", code, err)
	}
	if result := w.waitHandled(again); result != "duplicate" {
		t.Errorf("the comment under a new delivery id: %q, want duplicate", result)
	}
	if !run.running() {
		t.Fatalf("one approver's comment, delivered three times, settled a gate of two; output:\n%s", run.stdout.String())
	}

	w.bobApprovesSecond(run)
	is := w.waitSummary(audit.KindSummary)
	if diff := cmp.Diff([]string{botLogin}, reactions(is, alice, "+1")); diff != "" {
		t.Errorf("👍 on alice's comment (-want +got):\n%s", diff)
	}
	if v := w.metric(`gatehouse_webhook_deliveries_total{event="issue_comment",result="duplicate"}`); v != "1" {
		t.Errorf("duplicate deliveries = %q, want 1", v)
	}
}

func TestAppSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice"})
	w.waitRegistered(run)

	w.stopApp(syscall.SIGKILL)
	id := w.say("alice", "approve")
	if d := w.commentDelivery(id, "created"); d.StatusCode != 0 {
		t.Fatalf("alice's comment was delivered (%d) while the app was down", d.StatusCode)
	}
	w.startApp()
	w.redeliverFailed()

	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "decided-by": "alice"})
	if !strings.Contains(run.stdout.String(), "Reading the gate failed") {
		t.Errorf("the action did not report the outage:\n%s", run.stdout.String())
	}
	w.waitSummary(audit.KindSummary)
	w.waitCounted(id)
	is := w.issue()
	if n := len(appComments(is, audit.KindSummary)); n != 1 {
		t.Errorf("%d summaries, want 1", n)
	}
	if diff := cmp.Diff([]string{botLogin}, reactions(is, id, "+1")); diff != "" {
		t.Errorf("👍 on alice's comment (-want +got):\n%s", diff)
	}
}

// TestAppKilledWhilePostingTheSummary kills the app while GitHub is
// creating its summary comment. The restarted app takes the item up again
// only when its outbox lease runs out, so this test is slow.
func TestAppKilledWhilePostingTheSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the outbox lease")
	}
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice"})
	w.waitRegistered(run)
	gate := w.gateID()

	must(t, w.emu.InjectFault(ghemu.Fault{Method: http.MethodPost, Path: "/repos/" + owner + "/" + repo + "/issues/*/comments", Delay: time.Minute}))
	// On the web, so that the fault is left for the app.
	_, err := w.emu.Comment("alice", owner, repo, 1, "approve")
	must(t, err)
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "decided-by": "alice"})

	w.waitFor("the app to post the summary", func() bool { return w.emu.Stats().Requests[createCommentRoute] > 0 })
	w.stopApp(syscall.SIGKILL)
	// GitHub creates the comment all the same.
	w.waitFor("the summary", func() bool { return len(comments(w.issue(), audit.KindSummary)) > 0 })

	restarted, since := time.Now(), w.logSize()
	w.startApp()
	w.waitWithin("the restarted app to finish the summary", 3*time.Minute, func() bool {
		return w.logRecord(since, "outbox item done", map[string]string{"key": gate + "/summary"}) != nil
	})
	t.Logf("the restarted app finished the summary after %v", time.Since(restarted).Round(100*time.Millisecond))
	if n := len(comments(w.issue(), audit.KindSummary)); n != 1 {
		t.Errorf("%d summaries, want 1", n)
	}
}

func TestAppRetriesGitHubFailures(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice"})
	w.waitRegistered(run)

	path := "/repos/" + owner + "/" + repo + "/issues/*/comments"
	must(t, w.emu.InjectFault(ghemu.Fault{Method: http.MethodPost, Path: path, Status: http.StatusBadGateway, Times: 2}))
	must(t, w.emu.InjectFault(ghemu.Fault{Method: http.MethodPost, Path: path, Status: http.StatusForbidden, RetryAfter: time.Second}))
	// On the web, so that the faults are left for the app.
	_, err := w.emu.Comment("alice", owner, repo, 1, "approve")
	must(t, err)
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "decided-by": "alice"})
	// The outbox waits at least 1s and 2s after the 502s, and the 403 asks
	// for 1s more: the action did not wait for any of it.
	if n := len(comments(w.issue(), audit.KindSummary)); n != 0 {
		t.Errorf("the summary was posted before the action exited: the action waited for it")
	}

	is := w.waitSummary(audit.KindSummary)
	if n := len(appComments(is, audit.KindSummary)); n != 1 {
		t.Errorf("%d summaries, want 1", n)
	}
	if is.StateReason != "completed" {
		t.Errorf("issue closed as %q, want completed", is.StateReason)
	}
	if n := w.emu.Stats().Requests[createCommentRoute]; n != 4 {
		t.Errorf("the app posted the summary %d times, want 4 (502, 502, 403, 201)", n)
	}
	if n, err := strconv.Atoi(w.metric(`gatehouse_outbox_attempts_total{kind="comment",result="retry"}`)); err != nil || n < 2 {
		t.Errorf("outbox comment retries = %d (%v), want at least 2", n, err)
	}
}

func TestAppRegistrationRefusals(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	must(t, w.emu.AddRepo(owner, "other", map[string]string{"alice": "write"}))
	issue, _, err := w.client("alice").Issues.Create(context.Background(), owner, repo, &github.IssueRequest{Title: github.String("Release 42")})
	must(t, err)

	run := sandbox.DefaultRun
	deploy, other := w.sb.Repository(), owner+"/other"
	body := func(repository string) []byte {
		data, err := json.Marshal(api.Register{
			Repository: repository, RunID: int64(run.ID), RunAttempt: run.Attempt, Key: "release/gate",
			IssueNumber: issue.GetNumber(), IssueURL: issue.GetHTMLURL(), Title: "Release 42",
			Approvers: "alice", MinimumApprovals: "1", TimeoutSeconds: 600, OnTimeout: "reject",
		})
		must(t, err)
		return data
	}
	token := func(repository string, runID int, audience string, opts ...oidcissuer.MintOption) string {
		c := jobClaims(run, repository)
		c.RunID = int64(runID)
		return w.sb.OIDC.Mint(c, audience, opts...)
	}
	valid := token(deploy, run.ID, w.url)
	invalid, err := json.Marshal(api.Register{Repository: deploy, RunID: int64(run.ID), RunAttempt: run.Attempt})
	must(t, err)

	for _, tc := range []struct {
		name, token string
		body        []byte
		code        int
		want        []string
	}{
		{"no token", "", body(deploy), http.StatusUnauthorized, []string{"missing Authorization", "id-token: write"}},
		{"another repository's job", token(other, run.ID, w.url), body(deploy), http.StatusForbidden, []string{"issued to a job of octo-org/other, not of octo-org/deploy"}},
		{"an expired token", token(deploy, run.ID, w.url, oidcissuer.Expired()), body(deploy), http.StatusUnauthorized, []string{"OIDC token was refused", "expired"}},
		{"another audience", token(deploy, run.ID, "https://github.com/octo-org"), body(deploy), http.StatusUnauthorized, []string{"OIDC token was refused", "audience"}},
		{"another run", token(deploy, run.ID+1, w.url), body(deploy), http.StatusForbidden, []string{"run 9002 attempt 1, not run 9001 attempt 1"}},
		{"a repository without the app", token(other, run.ID, w.url), body(other), http.StatusForbidden, []string{"not installed on octo-org/other"}},
		{"a malformed body", valid, []byte(`{"repository": "octo-org/deploy",`), http.StatusBadRequest, []string{"not valid JSON"}},
		{"a registration without its fields", valid, invalid, http.StatusBadRequest, []string{"gate_key", "issue_number", "title", "timeout_seconds"}},
	} {
		h := http.Header{"Content-Type": {"application/json"}}
		if tc.token != "" {
			h.Set("Authorization", "Bearer "+tc.token)
		}
		code, header, answer := w.call(http.MethodPost, api.GatesPath, h, tc.body)
		if code != tc.code {
			t.Errorf("%s: status %d, want %d: %s", tc.name, code, tc.code, answer)
		}
		msg := errorAnswer(t, header, answer)
		for _, want := range tc.want {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q, want it to say %q", tc.name, msg, want)
			}
		}
	}

	// The same request with everything right is taken, and taken again
	// as the same gate.
	var tokens []string
	for _, want := range []int{http.StatusCreated, http.StatusOK} {
		h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + valid}}
		code, _, answer := w.call(http.MethodPost, api.GatesPath, h, body(deploy))
		if code != want {
			t.Fatalf("a valid registration: status %d, want %d: %s", code, want, answer)
		}
		var reg api.Registered
		must(t, json.Unmarshal(answer, &reg))
		if reg.Gate.ID != api.GateID(deploy, int64(run.ID), run.Attempt, "release/gate") || reg.Gate.Status != "pending" || reg.PollToken == "" {
			t.Errorf("registered %+v", reg)
		}
		tokens = append(tokens, reg.PollToken)
	}
	if tokens[0] != tokens[1] {
		t.Errorf("registering again gave another poll token")
	}
	if v := w.metric(`gatehouse_gates{status="pending"}`); v != "1" {
		t.Errorf("pending gates = %q, want 1", v)
	}
}

func TestAppActionOfAnotherRepository(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice"}, w.oidcEnv(jobClaims(sandbox.DefaultRun, owner+"/other"))...)
	code, _ := run.wait(t)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	stdout := run.stdout.String()
	if !strings.Contains(stdout, "::error::") || !strings.Contains(stdout, "HTTP 403") ||
		!strings.Contains(stdout, "the OIDC token was issued to a job of octo-org/other, not of octo-org/deploy") {
		t.Errorf("the action does not pass on the app's refusal:\n%s", stdout)
	}
	is := w.issue()
	if is.State != "closed" || is.StateReason != "not_planned" {
		t.Errorf("issue %s/%s, want closed/not_planned", is.State, is.StateReason)
	}
	if notes := comments(is, audit.KindCancelled); len(notes) != 1 || !strings.Contains(notes[0].Body, "HTTP 403") {
		t.Errorf("cancelled notes: %+v", notes)
	}
	if v := w.metric(`gatehouse_gates{status="pending"}`); v != "0" {
		t.Errorf("pending gates = %q, want 0", v)
	}
}
