package approval

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStatusSettled(t *testing.T) {
	tests := []struct {
		s    Status
		want bool
	}{
		{s: "", want: false},
		{s: Pending, want: false},
		{s: Approved, want: true},
		{s: Rejected, want: true},
		{s: TimedOut, want: true},
		{s: Cancelled, want: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			if got := tt.s.Settled(); got != tt.want {
				t.Errorf("Status(%q).Settled() = %t, want %t", tt.s, got, tt.want)
			}
		})
	}
}

func TestActorIdentity(t *testing.T) {
	tests := []struct {
		name string
		a    Actor
		want string
	}{
		{name: "login", a: Actor{Login: "alice"}, want: "alice"},
		{name: "login case kept", a: Actor{Login: "Alice"}, want: "Alice"},
		{
			name: "login before email and Teams",
			a:    Actor{Person: "p1", Login: "alice", Email: "alice@corp.example", TeamsID: "aad-1", Name: "Alice"},
			want: "alice",
		},
		{
			name: "email before Teams",
			a:    Actor{Person: "p1", Email: "alice@corp.example", TeamsID: "aad-1", Name: "Alice"},
			want: "alice@corp.example",
		},
		{name: "Teams name and object id", a: Actor{TeamsID: "aad-1", Name: "Alice Smith"}, want: "Alice Smith (aad-1)"},
		{name: "Teams object id without a name", a: Actor{TeamsID: "aad-1"}, want: "aad-1"},
		{name: "name alone is not an identity", a: Actor{Person: "p1", Name: "Alice"}, want: "p1"},
		{name: "person key only", a: Actor{Person: "p1"}, want: "p1"},
		{name: "team memberships only", a: Actor{Teams: []string{"acme/ops"}}, want: ""},
		{name: "nothing", a: Actor{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Identity(); got != tt.want {
				t.Errorf("%+v.Identity() = %q, want %q", tt.a, got, tt.want)
			}
		})
	}
}

func TestGateEligible(t *testing.T) {
	gate := Gate{
		Approvers: Approvers{
			Logins: []string{"Alice", "bob", "octocat"},
			Teams:  []string{"acme/Release"},
			Emails: []string{"Carol@Corp.Example"},
		},
		MinimumApprovals: 1,
		Initiators:       []string{"octocat", "Hubot-Trigger"},
		OnTimeout:        TimeoutReject,
	}
	excluding := gate
	excluding.ExcludeInitiator = true

	tests := []struct {
		name string
		gate Gate
		a    Actor
		want error
	}{
		{name: "listed login", gate: gate, a: Actor{Login: "Alice"}},
		{name: "listed login, other case", gate: gate, a: Actor{Login: "ALICE"}},
		{name: "listed login with unlisted email", gate: gate, a: Actor{Login: "bob", Email: "bob@elsewhere.example"}},
		{name: "listed email, other case", gate: gate, a: Actor{Email: "carol@corp.example"}},
		{name: "listed email with unlisted login", gate: gate, a: Actor{Login: "carol-gh", Email: "carol@corp.example"}},
		{name: "listed email among the person's other addresses", gate: gate, a: Actor{TeamsID: "aad-c4r0l", Email: "carol@teams.example", Emails: []string{"c@home.example", "carol@corp.example"}}},
		{name: "no listed address", gate: gate, a: Actor{TeamsID: "aad-c4r0l", Email: "carol@teams.example", Emails: []string{"c@home.example"}}, want: ErrNotApprover},
		{name: "member of a listed team", gate: gate, a: Actor{Login: "dave", Teams: []string{"ACME/release"}}},
		{name: "member of several teams, one listed", gate: gate, a: Actor{Login: "dave", Teams: []string{"acme/ops", "acme/release"}}},
		{name: "Teams-only identity in a listed team", gate: gate, a: Actor{TeamsID: "aad-9", Name: "Dave", Teams: []string{"acme/release"}}},
		{name: "member of an unlisted team", gate: gate, a: Actor{Login: "erin", Teams: []string{"acme/ops"}}, want: ErrNotApprover},
		{name: "team name as login", gate: gate, a: Actor{Login: "acme/release"}, want: ErrNotApprover},
		{name: "unlisted login", gate: gate, a: Actor{Login: "mallory"}, want: ErrNotApprover},
		{name: "unlisted email", gate: gate, a: Actor{Email: "mallory@corp.example"}, want: ErrNotApprover},
		{name: "Teams-only identity", gate: gate, a: Actor{TeamsID: "aad-9", Name: "Mallory"}, want: ErrNotApprover},
		{name: "listed login as email", gate: gate, a: Actor{Email: "alice"}, want: ErrNotApprover},
		{name: "email as login", gate: gate, a: Actor{Login: "carol@corp.example"}, want: ErrNotApprover},
		{name: "empty actor", gate: gate, a: Actor{}, want: ErrNotApprover},
		{name: "bot with a listed login", gate: gate, a: Actor{Login: "bob", Bot: true}, want: ErrBot},
		{name: "bot in a listed team", gate: gate, a: Actor{Login: "ci", Teams: []string{"acme/release"}, Bot: true}, want: ErrBot},
		{name: "unlisted bot", gate: gate, a: Actor{Login: "gatehouse[bot]", Bot: true}, want: ErrBot},
		{name: "bot initiator excluded", gate: excluding, a: Actor{Login: "octocat", Bot: true}, want: ErrBot},
		{name: "initiator allowed without exclude-initiator", gate: gate, a: Actor{Login: "octocat"}},
		{name: "actor excluded", gate: excluding, a: Actor{Login: "octocat"}, want: ErrInitiator},
		{name: "actor excluded, other case", gate: excluding, a: Actor{Login: "OctoCat"}, want: ErrInitiator},
		{name: "triggering actor excluded", gate: excluding, a: Actor{Login: "hubot-trigger", Teams: []string{"acme/release"}}, want: ErrInitiator},
		{name: "initiator excluded through a team", gate: excluding, a: Actor{Login: "octocat", Teams: []string{"acme/release"}}, want: ErrInitiator},
		{name: "initiator excluded through an email", gate: excluding, a: Actor{Login: "octocat", Email: "carol@corp.example"}, want: ErrInitiator},
		{name: "other approvers unaffected by exclude-initiator", gate: excluding, a: Actor{Login: "alice"}},
		{name: "email-only actor unaffected by exclude-initiator", gate: excluding, a: Actor{Email: "carol@corp.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.gate.Eligible(tt.a)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("Eligible(%+v) mismatch (-want +got):\n%s", tt.a, diff)
			}
		})
	}
}

func TestGateValidate(t *testing.T) {
	logins := Approvers{Logins: []string{"alice", "bob"}}
	tests := []struct {
		name string
		gate Gate
		want string
	}{
		{
			name: "one login, quorum 1",
			gate: Gate{Approvers: Approvers{Logins: []string{"alice"}}, MinimumApprovals: 1, OnTimeout: TimeoutReject},
		},
		{
			name: "quorum equal to the listed people",
			gate: Gate{Approvers: Approvers{Logins: []string{"alice"}, Emails: []string{"bob@corp.example"}}, MinimumApprovals: 2, OnTimeout: TimeoutApprove},
		},
		{
			name: "teams make any quorum possible",
			gate: Gate{Approvers: Approvers{Teams: []string{"acme/ops"}}, MinimumApprovals: 5, OnTimeout: TimeoutError},
		},
		{
			name: "teams and logins, quorum above the logins",
			gate: Gate{Approvers: Approvers{Logins: []string{"alice"}, Teams: []string{"acme/ops"}}, MinimumApprovals: 3, OnTimeout: TimeoutReject},
		},
		{
			name: "all, logins",
			gate: Gate{Approvers: logins, RequireAll: true, OnTimeout: TimeoutReject},
		},
		{
			name: "all, emails only",
			gate: Gate{Approvers: Approvers{Emails: []string{"carol@corp.example"}}, RequireAll: true, OnTimeout: TimeoutReject},
		},
		{
			name: "all, a login and a team",
			gate: Gate{Approvers: Approvers{Logins: []string{"alice"}, Teams: []string{"acme/ops"}}, RequireAll: true, OnTimeout: TimeoutReject},
		},
		{
			name: "all ignores minimum approvals",
			gate: Gate{Approvers: logins, RequireAll: true, MinimumApprovals: 0, OnTimeout: TimeoutReject},
		},
		{
			name: "all with the initiator excluded, another person left",
			gate: Gate{Approvers: logins, RequireAll: true, ExcludeInitiator: true, Initiators: []string{"alice"}, OnTimeout: TimeoutReject},
		},
		{
			name: "initiator counted when not excluded",
			gate: Gate{Approvers: logins, MinimumApprovals: 2, Initiators: []string{"alice"}, OnTimeout: TimeoutReject},
		},
		{
			name: "no approvers",
			gate: Gate{MinimumApprovals: 1, OnTimeout: TimeoutReject},
			want: "approvers: at least one approver is required",
		},
		{
			name: "no approvers, all",
			gate: Gate{RequireAll: true, OnTimeout: TimeoutReject},
			want: "approvers: at least one approver is required",
		},
		{
			name: "quorum zero",
			gate: Gate{Approvers: logins, OnTimeout: TimeoutReject},
			want: "minimum-approvals: must be at least 1, got 0",
		},
		{
			name: "quorum negative",
			gate: Gate{Approvers: logins, MinimumApprovals: -2, OnTimeout: TimeoutReject},
			want: "minimum-approvals: must be at least 1, got -2",
		},
		{
			name: "quorum above the listed people",
			gate: Gate{Approvers: Approvers{Logins: []string{"alice"}, Emails: []string{"bob@corp.example"}}, MinimumApprovals: 3, OnTimeout: TimeoutReject},
			want: "minimum-approvals: 3 approvals needed but only 2 eligible approvers listed",
		},
		{
			name: "quorum above the people left after excluding the initiator",
			gate: Gate{Approvers: logins, MinimumApprovals: 2, ExcludeInitiator: true, Initiators: []string{"Bob", "bot-trigger"}, OnTimeout: TimeoutReject},
			want: "minimum-approvals: 2 approvals needed but only 1 eligible approvers listed",
		},
		{
			name: "all, teams only",
			gate: Gate{Approvers: Approvers{Teams: []string{"acme/ops"}}, RequireAll: true, OnTimeout: TimeoutReject},
			want: `minimum-approvals: "all" needs approvers that name people (logins or emails), not only teams`,
		},
		{
			name: "all, every login an excluded initiator",
			gate: Gate{Approvers: Approvers{Logins: []string{"alice"}, Teams: []string{"acme/ops"}}, RequireAll: true, ExcludeInitiator: true, Initiators: []string{"ALICE"}, OnTimeout: TimeoutReject},
			want: `minimum-approvals: "all" leaves no one to approve: every listed login is an excluded initiator (exclude-initiator)`,
		},
		{
			name: "on-timeout missing",
			gate: Gate{Approvers: logins, MinimumApprovals: 1},
			want: `on-timeout: must be reject, approve or error, got ""`,
		},
		{
			name: "on-timeout unknown",
			gate: Gate{Approvers: logins, MinimumApprovals: 1, OnTimeout: "Reject"},
			want: `on-timeout: must be reject, approve or error, got "Reject"`,
		},
		{
			name: "every problem reported",
			gate: Gate{OnTimeout: "wait"},
			want: "approvers: at least one approver is required\n" +
				"minimum-approvals: must be at least 1, got 0\n" +
				`on-timeout: must be reject, approve or error, got "wait"`,
		},
		{
			name: "quorum and on-timeout reported together",
			gate: Gate{Approvers: logins, MinimumApprovals: 3, OnTimeout: "later"},
			want: "minimum-approvals: 3 approvals needed but only 2 eligible approvers listed\n" +
				`on-timeout: must be reject, approve or error, got "later"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, errString(tt.gate.Validate())); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseOnTimeout(t *testing.T) {
	tests := []struct {
		in      string
		want    OnTimeout
		wantErr string
	}{
		{in: "reject", want: TimeoutReject},
		{in: "approve", want: TimeoutApprove},
		{in: "error", want: TimeoutError},
		{in: " Approve\n", want: TimeoutApprove},
		{in: "ERROR", want: TimeoutError},
		{in: "", wantErr: `on-timeout: must be reject, approve or error, got ""`},
		{in: "rejected", wantErr: `on-timeout: must be reject, approve or error, got "rejected"`},
		{in: "fail", wantErr: `on-timeout: must be reject, approve or error, got "fail"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOnTimeout(tt.in)
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Errorf("ParseOnTimeout(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got != tt.want {
				t.Errorf("ParseOnTimeout(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
