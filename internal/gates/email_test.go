package gates

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/identities"
)

// emailFixture is a fixture whose app sends email and whose identities
// file gives addresses for alice, bob (two) and erin.
func emailFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	dir, err := identities.Parse([]byte(`people:
  - github: alice
    emails: [alice@corp.example]
  - github: bob
    emails: [Bob@Corp.example, bob@home.example]
  - github: erin
    emails: [erin@corp.example]
  - github: octocat
    emails: [octocat@corp.example]
`))
	if err != nil {
		t.Fatal(err)
	}
	f.svc.identities, f.svc.email = dir, true
	return f
}

func TestRegisterEmail(t *testing.T) {
	for _, tt := range []struct {
		name      string
		email     bool
		approvers string
		effects   []string
		warning   string
	}{
		{"sent", true, "alice, bob", []string{"email.send email"}, ""},
		{"a login without an address", true, "alice, dave", []string{"email.send email", "comment notice/email"}, "no address is known for @dave"},
		{"no transport", false, "alice", []string{"comment notice/email"}, "no email transport set up"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := emailFixture(t)
			f.svc.email = tt.email
			change := func(r *api.Register) { r.Notify, r.Approvers = []string{"email"}, tt.approvers }
			reg := f.register(change)
			again := f.register(change)
			if d := cmp.Diff(tt.effects, f.effects(reg.Gate.ID)); d != "" {
				t.Errorf("outbox after registering twice (-want +got):\n%s", d)
			}
			warnings := strings.Join(reg.Warnings, "\n")
			if (tt.warning == "") != (warnings == "") || !strings.Contains(warnings, tt.warning) || !cmp.Equal(reg.Warnings, again.Warnings) {
				t.Errorf("warnings %q then %q, want %q", reg.Warnings, again.Warnings, tt.warning)
			}
			if tt.warning != "" {
				if e := f.effect(reg.Gate.ID, "notice/email"); !strings.Contains(e.Body, tt.warning) || strings.Contains(e.Body, "@corp.example") {
					t.Errorf("notice:\n%s", e.Body)
				}
				return
			}
			items, err := f.store.Outbox(context.Background(), reg.Gate.ID)
			if err != nil {
				t.Fatal(err)
			}
			var item EmailItem
			if err := json.Unmarshal(items[0].Payload, &item); err != nil || item.Gate != reg.Gate.ID {
				t.Errorf("item %+v, %v", item, err)
			}
		})
	}
}

func TestEmailRecipients(t *testing.T) {
	f := emailFixture(t)
	f.gh.members["octo-org/sre/erin"] = true
	f.gh.members["octo-org/sre/bob"] = true
	f.gh.members["octo-org/sre/frank"] = true // no address known
	f.gh.members["octo-org/sre/octocat"] = true
	reg := f.register(func(r *api.Register) {
		r.Notify = []string{"email"}
		// bob is listed by login and by address, and is in the team: one
		// message. dave has no address. octocat started the run.
		r.Approvers = "carol@corp.example, bob@corp.example, alice, bob, dave, octo-org/sre"
		r.ExcludeInitiator = true
	})
	got, err := f.svc.EmailRecipients(context.Background(), reg.Gate.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Recipient{
		{Address: "carol@corp.example", Label: "carol@corp.example"},
		{Address: "bob@corp.example", Label: "bob@corp.example"},
		{Address: "alice@corp.example", Label: "@alice"},
		{Address: "erin@corp.example", Label: "@erin"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("recipients (-want +got):\n%s", d)
	}

	// A listed address of a person who started the run gets nothing either.
	f.gh.members = map[string]bool{}
	excluded := f.register(func(r *api.Register) {
		r.RunID, r.IssueNumber, r.Notify, r.Approvers, r.ExcludeInitiator = 9002, 2, []string{"email"}, "octocat@corp.example, alice", true
	})
	if got, err := f.svc.EmailRecipients(context.Background(), excluded.Gate.ID); err != nil || len(got) != 1 || got[0].Label != "@alice" {
		t.Errorf("recipients with the initiator listed by address: %+v, %v", got, err)
	}

	f.gh.fail = errors.New("502 Bad Gateway")
	if _, err := f.svc.EmailRecipients(context.Background(), reg.Gate.ID); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("GitHub failing: err = %v", err)
	}
	if _, err := f.svc.EmailRecipients(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gate: %v", err)
	}
}

func TestNotice(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	for range 2 {
		if err := f.svc.Notice(context.Background(), reg.Gate.ID, "email/delayed", "The approval email is delayed."); err != nil {
			t.Fatal(err)
		}
	}
	if e := f.effect(reg.Gate.ID, "notice/email/delayed"); !strings.Contains(e.Body, "The approval email is delayed.") || !strings.Contains(e.Body, "gatehouse:notice") {
		t.Errorf("notice:\n%s", e.Body)
	}
	if d := cmp.Diff([]string{"comment notice/email/delayed"}, f.effects(reg.Gate.ID)); d != "" {
		t.Errorf("outbox (-want +got):\n%s", d)
	}
	if err := f.svc.Notice(context.Background(), "nope", "x", "y"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gate: %v", err)
	}
}

func TestNoticeOnSettledGateIsDropped(t *testing.T) {
	f := newFixture(t)
	reg := f.register(nil)
	if _, err := f.svc.Cancel(context.Background(), reg.Gate.ID, reg.PollToken, ""); err != nil {
		t.Fatal(err)
	}
	before := f.effects(reg.Gate.ID)
	if err := f.svc.Notice(context.Background(), reg.Gate.ID, "email/delayed", "late"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, f.effects(reg.Gate.ID)); d != "" {
		t.Errorf("a settled gate got a notice (-before +after):\n%s", d)
	}
}

func TestResponse(t *testing.T) {
	f := emailFixture(t)
	reg := f.register(func(r *api.Register) { r.Approvers, r.MinimumApprovals = "alice, bob", "2" })
	id := "email:" + reg.Gate.ID + ":alice@corp.example"
	if _, ok, err := f.svc.Response(context.Background(), reg.Gate.ID, id); ok || err != nil {
		t.Fatalf("before the answer: %v, %v", ok, err)
	}
	a := Answer{ID: id, Actor: approval.Actor{Email: "alice@corp.example"}, Via: approval.ViaEmail, Decision: approval.Approve, Fields: map[string]string{"rollout": "25"}}
	if res, err := f.svc.Answer(context.Background(), reg.Gate.ID, a); err != nil || res.Result != Recorded || res.Identity != "alice" {
		t.Fatalf("answer: %+v, %v", res, err)
	}
	r, ok, err := f.svc.Response(context.Background(), reg.Gate.ID, id)
	if err != nil || !ok || r.Decision != approval.Approve || r.Via != approval.ViaEmail || r.Actor.Login != "alice" {
		t.Errorf("response %+v, %v, %v", r, ok, err)
	}
	if _, _, err := f.svc.Response(context.Background(), "nope", id); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gate: %v", err)
	}
}

func TestEmailRecipientsUnknownTeam(t *testing.T) {
	f := emailFixture(t)
	reg := f.register(func(r *api.Register) {
		r.Notify, r.Approvers = []string{"email"}, "carol@corp.example, octo-org/no-such-team"
	})
	got, err := f.svc.EmailRecipients(context.Background(), reg.Gate.ID)
	if err != nil || len(got) != 1 || got[0].Address != "carol@corp.example" {
		t.Fatalf("recipients %+v, %v; want carol, the unknown team skipped", got, err)
	}
	if e := f.effect(reg.Gate.ID, "notice/email/team/octo-org/no-such-team"); !strings.Contains(e.Body, "octo-org/no-such-team got no email") {
		t.Errorf("notice:\n%s", e.Body)
	}
}

func TestEmailRecipientsMailDomains(t *testing.T) {
	f := emailFixture(t)
	f.svc.domains = []string{"Corp.example"}
	reg := f.register(func(r *api.Register) {
		r.Notify, r.Approvers = []string{"email"}, "carol@corp.example, mallory@elsewhere.example, alice"
	})
	got, err := f.svc.EmailRecipients(context.Background(), reg.Gate.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Recipient{{Address: "carol@corp.example", Label: "carol@corp.example"}, {Address: "alice@corp.example", Label: "@alice"}}, got); d != "" {
		t.Errorf("recipients (-want +got):\n%s", d)
	}
	if e := f.effect(reg.Gate.ID, "notice/email/domains"); !strings.Contains(e.Body, "mallory@elsewhere.example got no email") {
		t.Errorf("notice:\n%s", e.Body)
	}
}

func TestRegisterTakesRunFromTheToken(t *testing.T) {
	f := newFixture(t)
	r := registration(func(r *api.Register) { r.Run.URL, r.Run.Actor = "https://phish.example/run", "cfo" })
	claims := claimsFor(r)
	claims.Actor, claims.RunNumber = "octocat", 42
	reg, _, err := f.svc.Register(context.Background(), claims, r)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.svc.Info(context.Background(), reg.Gate.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Run.URL != "https://github.com/octo-org/deploy/actions/runs/9001" || info.Run.Actor != "octocat" || info.Run.Number != 42 {
		t.Errorf("run %+v: want the URL made by the app and the token's actor", info.Run)
	}
}

// Two submissions of one email link at once: one is recorded, the other is
// a duplicate — never "closed", even when the first settled the gate.
func TestAnswerTwinsRace(t *testing.T) {
	f := emailFixture(t)
	for i := range 20 {
		reg := f.register(func(r *api.Register) {
			r.RunID, r.IssueNumber, r.Approvers = int64(9100+i), 100+i, "carol@corp.example"
		})
		id := "email:" + reg.Gate.ID + ":carol@corp.example"
		results := make(chan Result, 2)
		for _, d := range []approval.Decision{approval.Approve, approval.Reject} {
			go func() {
				a := Answer{ID: id, Actor: approval.Actor{Email: "carol@corp.example"}, Via: approval.ViaEmail, Decision: d}
				res, err := f.svc.Answer(context.Background(), reg.Gate.ID, a)
				if err != nil {
					t.Error(err)
				}
				results <- res.Result
			}()
		}
		got := []Result{<-results, <-results}
		slices.Sort(got)
		if d := cmp.Diff([]Result{Duplicate, Recorded}, got); d != "" {
			t.Fatalf("round %d (-want +got):\n%s", i, d)
		}
	}
}
