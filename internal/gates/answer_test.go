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

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/identities"
)

const aliceTeamsID = "6f1c2d3e-0000-4000-8000-00000000a11c"

// fakeChannels resolves the channel "releases" and the webhook "ops".
type fakeChannels struct{ fail error }

func (c fakeChannels) Resolve(_ context.Context, name string) (TeamsTarget, error) {
	switch {
	case c.fail != nil:
		return TeamsTarget{}, c.fail
	case name == "releases":
		return TeamsTarget{ServiceURL: "https://smba.example/amer/", ConversationID: "19:releases@thread.tacv2"}, nil
	case name == "ops":
		return TeamsTarget{Webhook: "ops"}, nil
	}
	return TeamsTarget{}, fmt.Errorf("%w: no Teams channel or webhook named %q is known to this app; known: ops (webhook), Platform/releases", ErrUnknownChannel, name)
}

// teamsFixture is a fixture whose service knows alice across channels and
// resolves Teams channels.
func teamsFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	dir, err := identities.Parse([]byte("people:\n  - github: alice\n    emails: [alice@corp.example]\n    teams: " + aliceTeamsID + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.svc.identities, f.svc.channels = dir, fakeChannels{}
	return f
}

func teamsAnswer(id string, a approval.Actor, d approval.Decision, values map[string]string) Answer {
	return Answer{ID: id, Actor: a, Via: approval.ViaTeams, Decision: d, Fields: values, Comment: "checked the canary"}
}

func TestAnswer(t *testing.T) {
	f := teamsFixture(t)
	f.gh.members["octo-org/sre/erin"] = true
	reg := f.register(func(r *api.Register) {
		r.Approvers, r.MinimumApprovals = "alice, bob, carol@corp.example, octo-org/sre", "3"
		r.Notify, r.TeamsChannel = []string{"teams"}, "releases"
	})
	id := reg.Gate.ID
	ctx := context.Background()
	aliceInTeams := approval.Actor{TeamsID: strings.ToUpper(aliceTeamsID), Name: "Alice Smith", Email: "alice.smith@corp.example"}
	for _, tt := range []struct {
		name     string
		answer   Answer
		result   Result
		identity string
		detail   string
	}{
		{"a stranger in Teams", teamsAnswer("teams:1", approval.Actor{TeamsID: "0000", Name: "Mallory", Email: "mallory@corp.example"}, approval.Approve, nil), NotEligible, "mallory@corp.example", "not an approver of this gate"},
		{"an invalid field", teamsAnswer("teams:2", aliceInTeams, approval.Approve, map[string]string{"rollout": "500"}), Invalid, "alice", "rollout: must be"},
		{"an unknown field", teamsAnswer("teams:3", aliceInTeams, approval.Approve, map[string]string{"colour": "red"}), Invalid, "alice", "colour"},
		{"alice through the identities file", teamsAnswer("teams:4", aliceInTeams, approval.Approve, map[string]string{"rollout": "25"}), Recorded, "alice", ""},
		{"the same invoke again", teamsAnswer("teams:4", aliceInTeams, approval.Approve, map[string]string{"rollout": "25"}), Duplicate, "alice", ""},
		{"alice's address on another Teams account", teamsAnswer("teams:7", approval.Actor{TeamsID: "0bad", Name: "Not Alice", Email: "alice@corp.example"}, approval.Approve, nil), NotEligible, "alice@corp.example", "not an approver"},
		{"a listed address", teamsAnswer("teams:5", approval.Actor{TeamsID: "c4401", Name: "Carol", Email: "Carol@corp.example"}, approval.Approve, nil), Recorded, "Carol@corp.example", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.Answer(ctx, id, tt.answer)
			if err != nil {
				t.Fatal(err)
			}
			detail := got.Reason + strings.Join(got.Problems, "; ")
			if got.Result != tt.result || got.Identity != tt.identity || !strings.Contains(detail, tt.detail) || (tt.detail == "" && detail != "") {
				t.Errorf("answered %s as %q (%q); want %s as %q (%q)", got.Result, got.Identity, detail, tt.result, tt.identity, tt.detail)
			}
		})
	}
	// alice's comment replaces her Teams answer: she counts once.
	if got := f.deliver("created", f.comment("alice", "approve\nrollout: 30")); got != resultRecorded {
		t.Fatalf("alice's comment: %q", got)
	}
	g := f.view(id, reg.PollToken)
	if g.Status != "pending" || g.Approvals != 2 {
		t.Fatalf("after alice twice and carol: %s with %d approvals, want pending with 2", g.Status, g.Approvals)
	}
	// erin is in octo-org/sre, but in Teams, known to no file, she is not
	// matched to her login; bob signed in with GitHub is.
	if got, err := f.svc.Answer(ctx, id, teamsAnswer("teams:6", approval.Actor{TeamsID: "e41n", Name: "Erin"}, approval.Approve, nil)); err != nil || got.Result != NotEligible {
		t.Errorf("erin in Teams: %s, %v; want not eligible", got.Result, err)
	}
	got, err := f.svc.Answer(ctx, id, Answer{ID: "link:bob", Actor: approval.Actor{Login: "bob"}, Via: approval.ViaTeams, Decision: approval.Approve})
	if err != nil || got.Result != Recorded || got.Gate.View.Status != "approved" {
		t.Fatalf("bob: %+v, %v; want recorded and approved", got, err)
	}
	if got, err := f.svc.Answer(ctx, id, teamsAnswer("teams:9", aliceInTeams, approval.Reject, nil)); err != nil || got.Result != Closed {
		t.Errorf("after settling: %s, %v; want closed", got.Result, err)
	}
	if got, err := f.svc.Answer(ctx, id, Answer{ID: "link:bob", Actor: approval.Actor{Login: "bob"}, Via: approval.ViaTeams, Decision: approval.Approve}); err != nil || got.Result != Duplicate {
		t.Errorf("bob's answer again after settling: %s, %v; want duplicate", got.Result, err)
	}

	effects := f.effects(id)
	if d := cmp.Diff([]string{"teams.card teams", "comment response/teams:4", "comment response/teams:5"}, effects[:3]); d != "" {
		t.Errorf("outbox starts (-want +got):\n%s", d)
	}
	if want := []string{"comment response/link:bob", "close close", "comment summary", "teams.update teams/update"}; !cmp.Equal(want, effects[len(effects)-4:]) {
		t.Errorf("outbox ends %q, want %q", effects[len(effects)-4:], want)
	}
	note := f.effect(id, "response/teams:4")
	if m, _ := audit.ParseMarker(note.Body); m.Kind != audit.KindResponse || !strings.Contains(note.Body, "**Approved** by **alice** via Microsoft Teams") ||
		!strings.Contains(note.Body, "checked the canary") || !strings.Contains(note.Body, "rollout: 25") {
		t.Errorf("response note:\n%s", note.Body)
	}
	var vias []string
	for _, r := range f.view(id, reg.PollToken).Responses {
		vias = append(vias, r.Actor+" "+r.Via)
	}
	if d := cmp.Diff([]string{"Carol@corp.example teams", "alice comment", "bob teams"}, vias); d != "" {
		t.Errorf("counted responses (-want +got):\n%s", d)
	}
}

func TestAnswerRefusals(t *testing.T) {
	f := teamsFixture(t)
	reg := f.register(nil)
	ctx := context.Background()
	if _, err := f.svc.Answer(ctx, "no-such-gate", teamsAnswer("teams:1", approval.Actor{Login: "alice"}, approval.Approve, nil)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gate: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Answer(ctx, reg.Gate.ID, teamsAnswer("teams:1", approval.Actor{Login: "alice"}, "maybe", nil)); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad decision: %v, want ErrInvalid", err)
	}
	f.clock.Advance(2 * time.Hour)
	got, err := f.svc.Answer(ctx, reg.Gate.ID, teamsAnswer("teams:2", approval.Actor{Login: "alice"}, approval.Approve, nil))
	if err != nil || got.Result != Closed {
		t.Errorf("after the deadline: %s, %v; want closed", got.Result, err)
	}
	if effects := f.effects(reg.Gate.ID); len(effects) != 0 {
		t.Errorf("outbox %q, want nothing", effects)
	}
}

func TestRegisterTeams(t *testing.T) {
	for _, tt := range []struct {
		name     string
		channels Channels
		channel  string
		effects  []string
		target   TeamsTarget
		warning  string
	}{
		{"bot channel", fakeChannels{}, "releases", []string{"teams.card teams"}, TeamsTarget{ServiceURL: "https://smba.example/amer/", ConversationID: "19:releases@thread.tacv2"}, ""},
		{"webhook", fakeChannels{}, "ops", []string{"teams.webhook teams"}, TeamsTarget{Webhook: "ops"}, ""},
		{"unknown channel", fakeChannels{}, "launches", []string{"comment notice/teams"}, TeamsTarget{}, `knows no single Teams channel or Workflows webhook named "launches"`},
		{"teams not set up", nil, "releases", []string{"comment notice/teams"}, TeamsTarget{}, "neither a Teams bot nor Workflows webhooks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.channels != nil {
				f.svc.channels = tt.channels
			}
			change := func(r *api.Register) { r.Notify, r.TeamsChannel = []string{"teams"}, tt.channel }
			reg := f.register(change)
			again := f.register(change)
			if d := cmp.Diff(tt.effects, f.effects(reg.Gate.ID)); d != "" {
				t.Errorf("outbox after registering twice (-want +got):\n%s", d)
			}
			warnings := strings.Join(reg.Warnings, "\n")
			if strings.Contains(warnings, "Platform/releases") {
				t.Errorf("the warning names the channels the app knows: %q", warnings)
			}
			if (tt.warning == "") != (warnings == "") || !strings.Contains(warnings, tt.warning) || !cmp.Equal(reg.Warnings, again.Warnings) {
				t.Errorf("warnings %q then %q, want %q", reg.Warnings, again.Warnings, tt.warning)
			}
			items, err := f.store.Outbox(context.Background(), reg.Gate.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tt.warning != "" {
				if e := f.effect(reg.Gate.ID, "notice/teams"); !strings.Contains(e.Body, tt.warning) {
					t.Errorf("notice:\n%s", e.Body)
				}
				return
			}
			var item TeamsItem
			if err := json.Unmarshal(items[0].Payload, &item); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(TeamsItem{Gate: reg.Gate.ID, Target: tt.target}, item); d != "" {
				t.Errorf("item (-want +got):\n%s", d)
			}
		})
	}
}

func TestRegisterTeamsResolveFailureIsAnError(t *testing.T) {
	f := newFixture(t)
	f.svc.channels = fakeChannels{fail: errors.New("database is locked")}
	r := registration(func(r *api.Register) { r.Notify, r.TeamsChannel = []string{"teams"}, "releases" })
	if _, _, err := f.svc.Register(context.Background(), claimsFor(r), r); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("err = %v, want the store failure", err)
	}
}

func TestInfo(t *testing.T) {
	f := newFixture(t)
	reg := f.register(func(r *api.Register) { r.Instructions = "Check the dashboard." })
	got, err := f.svc.Info(context.Background(), reg.Gate.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Repository != testRepo || got.Title != "Approval needed: release #42" || got.Instructions != "Check the dashboard." ||
		got.IssueNumber != 1 || got.Run.Number != 42 || len(got.Fields) != 1 || got.MinimumApprovals != 1 || got.View.Status != "pending" {
		t.Errorf("info %+v", got)
	}
	if _, err := f.svc.Info(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gate: %v", err)
	}
}
