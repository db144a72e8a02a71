package gates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
)

func TestRegisterRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*api.Register)
		claims func(*oidc.Claims)
		want   error
		msg    []string
	}{
		{"every problem at once", func(r *api.Register) {
			r.Approvers, r.MinimumApprovals, r.Fields, r.TimeoutSeconds, r.OnTimeout, r.IssueNumber =
				"not a login!", "many", "- id: x\n  type: colour\n", 0, "maybe", 0
		}, nil, ErrInvalid, []string{"not a login!", "minimum_approvals", "fields:", "timeout_seconds", "on-timeout", "issue_number"}},
		{"issue elsewhere", func(r *api.Register) { r.IssueURL = "https://phish.example/octo-org/deploy/issues/1" }, nil, ErrInvalid, []string{"issue_url: must be https://github.com/octo-org/deploy/issues/1"}},
		{"notify unknown", func(r *api.Register) { r.Notify = []string{"pager"} }, nil, ErrInvalid, []string{`notify: must be email or teams, got "pager"`}},
		{"teams without channel", func(r *api.Register) { r.Notify = []string{"teams"} }, nil, ErrInvalid, []string{"teams_channel: notify teams needs the channel"}},
		{"channel without teams", func(r *api.Register) { r.TeamsChannel = "releases" }, nil, ErrInvalid, []string{"teams_channel: set notify teams as well"}},
		{"too many teams", func(r *api.Register) {
			var teams []string
			for i := range 21 {
				teams = append(teams, fmt.Sprintf("octo-org/team-%d", i))
			}
			r.Approvers = strings.Join(teams, ",")
		}, nil, ErrInvalid, []string{"21 teams listed; at most 20"}},
		{"quorum above the listed people", func(r *api.Register) { r.Approvers, r.MinimumApprovals = "alice", "2" }, nil, ErrInvalid, []string{"only 1 eligible"}},
		{"token of another repository", nil, func(c *oidc.Claims) { c.Repository = "octo-org/other" }, ErrForbidden, []string{"octo-org/other, not of octo-org/deploy"}},
		{"token of another run", nil, func(c *oidc.Claims) { c.RunID = 1 }, ErrForbidden, []string{"run 1 attempt 1"}},
		{"token of another attempt", nil, func(c *oidc.Claims) { c.RunAttempt = 2 }, ErrForbidden, []string{"attempt 2"}},
		{"app not installed", func(r *api.Register) { r.Repository = "octo-org/elsewhere" }, func(c *oidc.Claims) { c.Repository = "octo-org/elsewhere" }, ErrForbidden, []string{"not installed on octo-org/elsewhere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := registration(tt.change)
			claims := claimsFor(r)
			if tt.claims != nil {
				tt.claims(claims)
			}
			_, _, err := f.svc.Register(context.Background(), claims, r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			if n, _ := f.store.CountGates(context.Background()); n["pending"] != 0 {
				t.Errorf("a refused registration stored a gate")
			}
		})
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	f := newFixture(t)
	r := registration(nil)
	first, created, err := f.svc.Register(context.Background(), claimsFor(r), r)
	if err != nil || !created {
		t.Fatalf("first registration: created %v, %v", created, err)
	}
	f.clock.Advance(time.Minute)
	again, created, err := f.svc.Register(context.Background(), claimsFor(r), r)
	if err != nil || created {
		t.Fatalf("second registration: created %v, %v", created, err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("registering again changed the answer (-first +again):\n%s", diff)
	}
	if first.Gate.ID != api.GateID(testRepo, 9001, 1, "ship/gate") || first.PollToken == "" {
		t.Errorf("gate %q token %q", first.Gate.ID, first.PollToken)
	}
	if want := f.clock.Now().Add(-time.Minute).Add(time.Hour); !first.Gate.Deadline.Equal(want) {
		t.Errorf("deadline %v, want %v", first.Gate.Deadline, want)
	}

	other := registration(func(r *api.Register) { r.IssueNumber = 2 })
	if _, _, err := f.svc.Register(context.Background(), claimsFor(other), other); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "gate-key") {
		t.Errorf("same key, another issue: %v, want a conflict naming gate-key", err)
	}
	leg := registration(func(r *api.Register) { r.Key = "ship/gate/1" })
	if _, _, err := f.svc.Register(context.Background(), claimsFor(leg), leg); !errors.Is(err, ErrConflict) {
		t.Errorf("another key on the same issue: %v, want a conflict", err)
	}
	if f.gh.calls["RepoInstallation"] != 1 {
		t.Errorf("asked GitHub for the installation %d times, want once (then remembered)", f.gh.calls["RepoInstallation"])
	}
}

func TestPollToken(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	for _, token := range []string{"", "nope", reg.PollToken + "x"} {
		if _, err := f.svc.View(context.Background(), reg.Gate.ID, token, 0); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("view with token %q: %v, want unauthorized", token, err)
		}
		if _, err := f.svc.Cancel(context.Background(), reg.Gate.ID, token, ""); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("cancel with token %q: %v, want unauthorized", token, err)
		}
	}
	if _, err := f.svc.View(context.Background(), "0000000000000000", reg.PollToken, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gate: %v", err)
	}
	if g := f.view(reg.Gate.ID, reg.PollToken); g.Status != "pending" {
		t.Errorf("status %q", g.Status)
	}
}

func TestRecordComments(t *testing.T) {
	f := newFixture(t)
	f.gh.members["octo-org/sre/erin"] = true
	reg := f.register(func(r *api.Register) { r.MinimumApprovals = "2"; r.ExcludeInitiator = true })
	id := reg.Gate.ID

	for _, tt := range []struct{ login, body, want string }{
		{"alice", "Looks fine to me, but let's wait.", "ignored: discussion"},
		{"dave", "approve", "ignored: not an approver of this gate"},
		{"frank", "approve", "ignored: not an approver of this gate"},
		{"octocat", "approve", "ignored: the run's initiator cannot approve this gate (exclude-initiator)"},
		{"renovate[bot]", "approve", "ignored: responses from bots never count"},
		{"alice", "approve\nrollout: 500", resultInvalid},
		{"alice", "approve\nrollout: 25", resultRecorded},
	} {
		if got := f.deliver("created", f.comment(tt.login, tt.body)); got != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.login, tt.body, got, tt.want)
		}
	}
	counted := f.comment("erin", "lgtm")
	if got := f.deliver("created", counted); got != resultRecorded {
		t.Fatalf("erin: %q", got)
	}
	if got := f.deliver("created", counted); got != "ignored: the gate has settled" {
		t.Errorf("the same comment again: %q", got)
	}
	g := f.view(id, reg.PollToken)
	if g.Status != "approved" || !g.Approved || g.DecidedBy != "erin" || g.Approvals != 2 || g.SettledAt == nil {
		t.Errorf("view %+v", g)
	}
	if diff := cmp.Diff(map[string]any{"rollout": int64(10)}, g.Fields); diff != "" {
		t.Errorf("fields of the settling response, defaults filled in (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"alice", "erin"}, g.Approvers); diff != "" {
		t.Errorf("approvers (-want +got):\n%s", diff)
	}
	effects := f.effects(id)
	if len(effects) != 5 || !strings.HasPrefix(effects[0], "comment invalid/") ||
		!strings.HasPrefix(effects[1], "react react/") || !strings.HasPrefix(effects[2], "react react/") ||
		effects[3] != "close close" || effects[4] != "comment summary" {
		t.Errorf("outbox %q, want the invalid reply, two reactions, close, summary", effects)
	}
	if e := f.effect(id, "close"); e.Reason != "completed" || e.Installation != testInstallation || e.Issue != 1 {
		t.Errorf("close %+v", e)
	}
	if e := f.effect(id, "summary"); !strings.HasPrefix(e.Body, audit.Marker{Kind: audit.KindSummary, Gate: id}.String()) || !strings.Contains(e.Body, "erin") {
		t.Errorf("summary:\n%s", e.Body)
	}
}

func TestDuplicateAndInvalidOnce(t *testing.T) {
	f := newFixture(t)
	reg := f.register(func(r *api.Register) { r.MinimumApprovals = "2" })
	c := f.comment("alice", "approve")
	for i, want := range []string{resultRecorded, resultDuplicate, resultDuplicate} {
		if got := f.deliver("created", c); got != want {
			t.Errorf("delivery %d: %q, want %q", i+1, got, want)
		}
	}
	bad := f.comment("bob", "approve\nrollout: zero")
	for range 2 {
		if got := f.deliver("created", bad); got != resultInvalid {
			t.Fatalf("invalid comment: %q", got)
		}
	}
	snap, err := f.store.Snapshot(context.Background(), reg.Gate.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Responses) != 1 {
		t.Errorf("%d responses stored, want 1", len(snap.Responses))
	}
	if effects := f.effects(reg.Gate.ID); len(effects) != 2 {
		t.Errorf("outbox %q, want one reaction and one reply", effects)
	}
}

func TestEditsAreNotedNotCounted(t *testing.T) {
	f := newFixture(t)
	reg := f.register(func(r *api.Register) { r.MinimumApprovals = "2" })
	c := f.comment("alice", "approve")
	f.deliver("created", c)
	c.Body = github.String("reject")
	if got := f.deliver("edited", c); got != "noted: edited" {
		t.Errorf("edit: %q", got)
	}
	if got := f.deliver("edited", f.comment("bob", "just chatting")); !strings.HasPrefix(got, "ignored") {
		t.Errorf("edit of an uncounted comment: %q", got)
	}
	f.deliver("created", f.comment("bob", "approve"))
	g := f.view(reg.Gate.ID, reg.PollToken)
	if g.Status != "approved" || len(g.Notes) != 1 || !strings.Contains(g.Notes[0], "edited") {
		t.Errorf("status %s notes %q", g.Status, g.Notes)
	}
	if e := f.effect(reg.Gate.ID, "summary"); !strings.Contains(e.Body, "edited") {
		t.Errorf("the summary does not mention the edit:\n%s", e.Body)
	}
}

func TestLongPollWakesOnSettle(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	got := make(chan api.Gate)
	go func() {
		g, err := f.svc.View(context.Background(), reg.Gate.ID, reg.PollToken, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- g
	}()
	// The poller may or may not be waiting yet: either way it must see the
	// settled gate, never sleep through it.
	f.deliver("created", f.comment("bob", "reject\nNot today."))
	if g := <-got; g.Status != "rejected" || g.Comment != "Not today." {
		t.Errorf("view %+v", g)
	}
}

func TestLongPollEnds(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.svc.View(ctx, reg.Gate.ID, reg.PollToken, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a poller that went away: %v", err)
	}
	done := make(chan api.Gate)
	go func() {
		g, _ := f.svc.View(context.Background(), reg.Gate.ID, reg.PollToken, time.Hour)
		done <- g
	}()
	f.svc.Drain()
	if g := <-done; g.Status != "pending" {
		t.Errorf("drained poll: %+v", g)
	}
	if g, _ := f.svc.View(context.Background(), reg.Gate.ID, reg.PollToken, time.Hour); g.Status != "pending" {
		t.Errorf("a poll after draining: %+v", g)
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	g, err := f.svc.Cancel(context.Background(), reg.Gate.ID, reg.PollToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != "cancelled" || g.Approved || g.Reason != "The workflow run was cancelled." {
		t.Errorf("view %+v", g)
	}
	if diff := cmp.Diff([]string{"close close", "comment summary"}, f.effects(reg.Gate.ID)); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	if e := f.effect(reg.Gate.ID, "summary"); !strings.Contains(e.Body, "gatehouse:cancelled") || e.Reason != "" {
		t.Errorf("note %+v", e)
	}
	if e := f.effect(reg.Gate.ID, "close"); e.Reason != "not_planned" {
		t.Errorf("close %+v", e)
	}
	if got := f.deliver("created", f.comment("alice", "approve")); got != "ignored: the gate has settled" {
		t.Errorf("approval after the cancel: %q", got)
	}
	again, err := f.svc.Cancel(context.Background(), reg.Gate.ID, reg.PollToken, "again")
	if err != nil || again.Reason != g.Reason {
		t.Errorf("cancelling a settled gate changed it: %+v %v", again, err)
	}
}

func TestIssueClosedByAPerson(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	closed := func(login, typ string) string {
		return f.process("issues", &github.IssuesEvent{
			Action: github.String("closed"),
			Issue:  &github.Issue{Number: github.Int(1)},
			Repo:   &github.Repository{FullName: github.String(testRepo)},
			Sender: &github.User{Login: github.String(login), Type: github.String(typ)},
		})
	}
	if got := closed("gatehouse[bot]", "Bot"); got != "ignored: closed by a bot" {
		t.Errorf("closed by the app: %q", got)
	}
	if got := closed("carol", "User"); got != resultCancelled {
		t.Errorf("closed by carol: %q", got)
	}
	g := f.view(reg.Gate.ID, reg.PollToken)
	if g.Status != "cancelled" || g.Reason != "@carol closed the approval issue." {
		t.Errorf("view %+v", g)
	}
	if diff := cmp.Diff([]string{"comment summary"}, f.effects(reg.Gate.ID)); diff != "" {
		t.Errorf("outbox: the issue is closed already (-want +got):\n%s", diff)
	}
}

func TestTimeouts(t *testing.T) {
	f := newFixture(t)
	approve := f.register(func(r *api.Register) { r.OnTimeout = "approve"; r.TimeoutSeconds = 60 })
	reject := f.register(func(r *api.Register) { r.Key, r.IssueNumber, r.TimeoutSeconds = "other", 2, 120 })
	f.clock.Advance(90 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.svc.RunTimeouts(ctx) }()
	waitUntil(t, func() bool { return f.view(approve.Gate.ID, approve.PollToken).Status == "timed_out" })
	if g := f.view(reject.Gate.ID, reject.PollToken); g.Status != "pending" {
		t.Errorf("a gate before its deadline: %s", g.Status)
	}
	f.clock.Advance(time.Minute)
	f.svc.wakeTimeouts <- struct{}{}
	waitUntil(t, func() bool { return f.view(reject.Gate.ID, reject.PollToken).Status == "timed_out" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	g := f.view(approve.Gate.ID, approve.PollToken)
	if !g.Approved || g.DecidedBy != "" || g.Fields["rollout"] != int64(10) {
		t.Errorf("on-timeout approve: %+v", g)
	}
	if e := f.effect(approve.Gate.ID, "close"); e.Reason != "completed" {
		t.Errorf("close %+v", e)
	}
	if g := f.view(reject.Gate.ID, reject.PollToken); g.Approved {
		t.Errorf("on-timeout reject approved")
	}
	if got := f.deliver("created", f.comment("alice", "approve")); got != "ignored: the gate has settled" {
		t.Errorf("late approval: %q", got)
	}
}

func TestCatchUpOnRegister(t *testing.T) {
	f := newFixture(t)
	f.gh.comments = append(f.gh.comments, f.comment("alice", "approve\nrollout: 30"), f.comment("gatehouse[bot]", "approve"))
	reg := f.register(nil)
	f.register(nil) // again: still one catch-up
	f.gh.fail = errors.New("502 Bad Gateway")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.svc.RunDeliveries(ctx, 2)
	waitUntil(t, func() bool {
		f.gh.mu.Lock()
		defer f.gh.mu.Unlock()
		return f.gh.calls["IssueComments"] > 0
	})
	if g := f.view(reg.Gate.ID, reg.PollToken); g.Status != "pending" {
		t.Fatalf("status %s while GitHub fails", g.Status)
	}
	f.gh.mu.Lock()
	f.gh.fail = nil
	f.gh.mu.Unlock()
	// The failed catch-up is claimed again once its lease runs out.
	f.clock.Advance(deliveryLease)
	waitUntil(t, func() bool { return f.view(reg.Gate.ID, reg.PollToken).Status == "approved" })
	if g := f.view(reg.Gate.ID, reg.PollToken); g.Fields["rollout"] != int64(30) || g.DecidedBy != "alice" {
		t.Errorf("a comment made before registration was not counted: %+v", g)
	}
	f.gh.mu.Lock()
	defer f.gh.mu.Unlock()
	if f.gh.calls["IssueComments"] != 2 {
		t.Errorf("the issue was read %d times, want twice (a failure, then the retry)", f.gh.calls["IssueComments"])
	}
}

func TestGitHubFailureIsRetried(t *testing.T) {
	f := newFixture(t)
	reg := f.register(func(r *api.Register) { r.Approvers = "octo-org/sre" })
	f.gh.fail = errors.New("502 Bad Gateway")
	c := f.comment("erin", "approve")
	data := f.delivery(c)
	if _, err := f.svc.Process(context.Background(), data); err == nil {
		t.Fatal("a delivery whose membership check failed reported success")
	}
	f.gh.fail = nil
	f.gh.members["octo-org/sre/erin"] = true
	if got, err := f.svc.Process(context.Background(), data); err != nil || got != resultRecorded {
		t.Fatalf("retry: %q %v", got, err)
	}
	if g := f.view(reg.Gate.ID, reg.PollToken); g.Status != "approved" {
		t.Errorf("status %s", g.Status)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunDeliveriesDrainsABurst stores more deliveries than the workers
// take at once: every one is processed without waiting for a lease.
func TestRunDeliveriesDrainsABurst(t *testing.T) {
	f := newFixture(t)
	reg := f.register(func(r *api.Register) { r.MinimumApprovals = "2" })
	ctx := context.Background()
	const burst = 300
	for i := range burst {
		d := f.delivery(f.comment("carol", "just watching"))
		if i == burst-1 {
			d = f.delivery(f.comment("alice", "approve"))
		}
		if _, err := f.store.AddDelivery(ctx, d, 0); err != nil {
			t.Fatal(err)
		}
		f.svc.Accept(d)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.svc.RunDeliveries(rctx, 4) }()
	// The approval is the last of the burst, many batches in: the clock
	// stands still, so no lease runs out on the way.
	waitUntil(t, func() bool { return f.view(reg.Gate.ID, reg.PollToken).Approvals == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRelevant(t *testing.T) {
	f := newFixture(t)
	f.register(nil)
	payload := func(action string, issue int, pr bool) []byte {
		is := map[string]any{"number": issue}
		if pr {
			is["pull_request"] = map[string]any{"url": "https://api.github.com/repos/octo-org/deploy/pulls/1"}
		}
		data, _ := json.Marshal(map[string]any{"action": action, "issue": is, "repository": map[string]any{"full_name": "Octo-Org/Deploy"}})
		return data
	}
	for _, tt := range []struct {
		event   string
		payload []byte
		want    bool
	}{
		{"issue_comment", payload("created", 1, false), true},
		{"issue_comment", payload("edited", 1, false), true},
		{"issue_comment", payload("created", 2, false), false},
		{"issue_comment", payload("created", 1, true), false},
		{"issues", payload("closed", 1, false), true},
		{"issues", payload("labeled", 1, false), false},
		{"issues", payload("closed", 2, false), false},
		{"installation", []byte(`{"action":"created"}`), true},
		{"issue_comment", []byte(`not json`), true},
	} {
		got, err := f.svc.Relevant(context.Background(), tt.event, tt.payload)
		if err != nil || got != tt.want {
			t.Errorf("%s %s: %v %v, want %v", tt.event, tt.payload, got, err, tt.want)
		}
	}
}

// TestLongPollsHoldNothingAfterwards: the hub keeps an entry only while a
// poll waits, whatever ids and tokens are asked for.
func TestLongPollsHoldNothingAfterwards(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	for _, id := range []string{"unknown", strings.Repeat("x", 4096), reg.Gate.ID} {
		f.svc.View(context.Background(), id, "wrong", time.Hour)
	}
	if _, err := f.svc.View(context.Background(), reg.Gate.ID, reg.PollToken, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.deliver("created", f.comment("alice", "approve"))
	if _, err := f.svc.View(context.Background(), reg.Gate.ID, reg.PollToken, time.Hour); err != nil {
		t.Fatal(err)
	}
	f.svc.hub.mu.Lock()
	defer f.svc.hub.mu.Unlock()
	if n := len(f.svc.hub.waiting); n != 0 {
		t.Errorf("the hub holds %d gates after the polls ended", n)
	}
}
