package approval

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus m minutes.
func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

var (
	alice     = Actor{Person: "alice", Login: "alice"}
	aliceMail = Actor{Person: "alice", Email: "alice@corp.example"}
	aliceBot  = Actor{Person: "alice", TeamsID: "aad-a11ce", Name: "Alice Smith"}
	// aliceEverywhere is alice answering in Teams, known to the identities
	// file by her login and address.
	aliceEverywhere = Actor{Person: "alice", Login: "alice", Email: "alice.smith@corp.example", Emails: []string{"alice@corp.example"}, TeamsID: "aad-a11ce", Name: "Alice Smith"}
	bob             = Actor{Person: "bob", Login: "bob"}
	carol           = Actor{Person: "carol", Email: "carol@corp.example"}
	dave            = Actor{Person: "dave", Login: "dave", Teams: []string{"acme/release"}}
	erin            = Actor{Person: "erin", TeamsID: "aad-e41n", Name: "Erin", Teams: []string{"acme/release"}}
	mallory         = Actor{Person: "mallory", Login: "mallory"}
	ciBot           = Actor{Person: "ci[bot]", Login: "ci[bot]", Bot: true}
	octocat         = Actor{Person: "octocat", Login: "octocat"}
	trigger         = Actor{Person: "hubot", Login: "hubot"}
)

// response builds a response at minute m; its ID names the actor, the
// decision and the minute.
func response(a Actor, d Decision, m int) Response {
	return Response{
		ID:       fmt.Sprintf("%s:%s:%d", a.Identity(), d, m),
		Actor:    a,
		Via:      ViaComment,
		Decision: d,
		At:       at(m),
	}
}

// with returns r with fields and a comment.
func with(r Response, v fields.Values, comment string) Response {
	r.Fields = v
	r.Comment = comment
	return r
}

func via(r Response, v Via) Response {
	r.Via = v
	return r
}

func TestEvaluate(t *testing.T) {
	schema := fields.Schema{
		{ID: "reason", Type: fields.String},
		{ID: "rollout", Type: fields.Number, Integer: true, Default: int64(10)},
		{ID: "notify", Type: fields.Boolean, Default: true},
	}
	base := Gate{
		Approvers: Approvers{
			Logins: []string{"Alice", "bob", "octocat", "hubot"},
			Teams:  []string{"acme/release"},
			Emails: []string{"carol@corp.example", "alice@corp.example"},
		},
		MinimumApprovals: 1,
		Initiators:       []string{"octocat", "hubot"},
		Fields:           schema,
		Deadline:         at(60),
		OnTimeout:        TimeoutReject,
	}
	gate := func(edit func(*Gate)) Gate {
		g := base
		edit(&g)
		return g
	}
	quorum := func(n int) Gate { return gate(func(g *Gate) { g.MinimumApprovals = n }) }
	all := gate(func(g *Gate) {
		g.RequireAll = true
		g.ExcludeInitiator = true
	})
	reasons := fields.Values{"reason": "tested on staging", "rollout": int64(25), "notify": true}

	tests := []struct {
		name      string
		gate      Gate
		responses []Response
		now       time.Time
		want      Outcome
	}{
		{
			name: "no responses",
			gate: base,
			now:  at(1),
			want: Outcome{Status: Pending},
		},
		{
			name:      "one approval settles quorum 1",
			gate:      base,
			responses: []Response{with(response(alice, Approve, 5), reasons, "ship it")},
			now:       at(6),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice",
				Counted:   []Response{with(response(alice, Approve, 5), reasons, "ship it")},
				Approvers: []string{"alice"},
				Fields:    reasons,
				Comment:   "ship it",
				SettledAt: at(5),
			},
		},
		{
			name:      "one approval is pending under quorum 2",
			gate:      quorum(2),
			responses: []Response{response(alice, Approve, 5)},
			now:       at(6),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(alice, Approve, 5)},
				Approvers: []string{"alice"},
			},
		},
		{
			name: "second distinct approval settles quorum 2",
			gate: quorum(2),
			responses: []Response{
				response(alice, Approve, 1),
				with(response(carol, Approve, 2), fields.Values{"reason": "ok"}, "fine by me"),
			},
			now: at(3),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "carol@corp.example",
				Counted: []Response{
					response(alice, Approve, 1),
					with(response(carol, Approve, 2), fields.Values{"reason": "ok"}, "fine by me"),
				},
				Approvers: []string{"alice", "carol@corp.example"},
				Fields:    fields.Values{"reason": "ok"},
				Comment:   "fine by me",
				SettledAt: at(2),
			},
		},
		{
			name: "quorum 3 of 5 with a team member",
			gate: quorum(3),
			responses: []Response{
				response(bob, Approve, 1),
				response(dave, Approve, 2),
				response(carol, Approve, 3),
				response(alice, Approve, 4),
			},
			now: at(5),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "carol@corp.example",
				Counted: []Response{
					response(bob, Approve, 1),
					response(dave, Approve, 2),
					response(carol, Approve, 3),
				},
				Approvers: []string{"bob", "dave", "carol@corp.example"},
				SettledAt: at(3),
			},
		},
		{
			name:      "a Teams-only team member settles",
			gate:      base,
			responses: []Response{via(response(erin, Approve, 1), ViaTeams)},
			now:       at(2),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "Erin (aad-e41n)",
				Counted:   []Response{via(response(erin, Approve, 1), ViaTeams)},
				Approvers: []string{"Erin (aad-e41n)"},
				SettledAt: at(1),
			},
		},
		{
			name:      "a login differing in case approves",
			gate:      base,
			responses: []Response{response(Actor{Login: "ALICE"}, Approve, 1)},
			now:       at(2),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "ALICE",
				Counted:   []Response{response(Actor{Login: "ALICE"}, Approve, 1)},
				Approvers: []string{"ALICE"},
				SettledAt: at(1),
			},
		},
		{
			name: "any rejection settles",
			gate: quorum(2),
			responses: []Response{
				response(alice, Approve, 1),
				with(response(dave, Reject, 2), fields.Values{"reason": "freeze"}, "not during the freeze"),
			},
			now: at(3),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "dave",
				Counted: []Response{
					response(alice, Approve, 1),
					with(response(dave, Reject, 2), fields.Values{"reason": "freeze"}, "not during the freeze"),
				},
				Approvers: []string{"alice"},
				Fields:    fields.Values{"reason": "freeze"},
				Comment:   "not during the freeze",
				SettledAt: at(2),
			},
		},
		{
			name:      "first response a rejection",
			gate:      quorum(2),
			responses: []Response{response(carol, Reject, 1)},
			now:       at(2),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "carol@corp.example",
				Counted:   []Response{response(carol, Reject, 1)},
				SettledAt: at(1),
			},
		},
		{
			name:      "approve then reject by the same person is a rejection",
			gate:      quorum(2),
			responses: []Response{response(alice, Approve, 1), response(alice, Reject, 2)},
			now:       at(3),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "alice",
				Counted:   []Response{response(alice, Reject, 2)},
				SettledAt: at(2),
			},
		},
		{
			name: "duplicate approvals by one person count once",
			gate: quorum(2),
			responses: []Response{
				response(alice, Approve, 1),
				response(alice, Approve, 2),
				response(alice, Approve, 3),
			},
			now: at(4),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(alice, Approve, 3)},
				Approvers: []string{"alice"},
			},
		},
		{
			name: "the latest of a person's approvals is counted, with its fields",
			gate: quorum(2),
			responses: []Response{
				with(response(alice, Approve, 1), fields.Values{"rollout": int64(5)}, "first"),
				response(bob, Approve, 2),
				with(response(alice, Approve, 3), fields.Values{"rollout": int64(50)}, "second"),
			},
			now: at(4),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "bob",
				Counted: []Response{
					with(response(alice, Approve, 1), fields.Values{"rollout": int64(5)}, "first"),
					response(bob, Approve, 2),
				},
				Approvers: []string{"alice", "bob"},
				SettledAt: at(2),
			},
		},
		{
			name: "same person through three channels counts once",
			gate: quorum(2),
			responses: []Response{
				response(alice, Approve, 1),
				via(response(aliceMail, Approve, 2), ViaEmail),
				via(response(aliceBot, Approve, 3), ViaTeams),
			},
			now: at(4),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{via(response(aliceMail, Approve, 2), ViaEmail)},
				Approvers: []string{"alice@corp.example"},
			},
		},
		{
			name: "person key compares case-insensitively",
			gate: quorum(2),
			responses: []Response{
				response(Actor{Person: "Alice", Login: "alice"}, Approve, 1),
				response(Actor{Person: "ALICE", Email: "alice@corp.example"}, Approve, 2),
			},
			now: at(3),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(Actor{Person: "ALICE", Email: "alice@corp.example"}, Approve, 2)},
				Approvers: []string{"alice@corp.example"},
			},
		},
		{
			name: "empty person key falls back to the identity",
			gate: quorum(2),
			responses: []Response{
				response(Actor{Login: "Alice"}, Approve, 1),
				response(Actor{Login: "alice"}, Approve, 2),
			},
			now: at(3),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(Actor{Login: "alice"}, Approve, 2)},
				Approvers: []string{"alice"},
			},
		},
		{
			name: "without person keys a login and an email are two people",
			gate: quorum(2),
			responses: []Response{
				response(Actor{Login: "alice"}, Approve, 1),
				response(Actor{Email: "alice@corp.example"}, Approve, 2),
			},
			now: at(3),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice@corp.example",
				Counted: []Response{
					response(Actor{Login: "alice"}, Approve, 1),
					response(Actor{Email: "alice@corp.example"}, Approve, 2),
				},
				Approvers: []string{"alice", "alice@corp.example"},
				SettledAt: at(2),
			},
		},
		{
			name: "counted order follows each person's latest response",
			gate: quorum(4),
			responses: []Response{
				response(alice, Approve, 1),
				response(bob, Approve, 2),
				response(carol, Approve, 3),
				response(bob, Approve, 4),
				response(alice, Approve, 5),
				response(bob, Approve, 6),
				response(carol, Approve, 7),
			},
			now: at(8),
			want: Outcome{
				Status: Pending,
				Counted: []Response{
					response(alice, Approve, 5),
					response(bob, Approve, 6),
					response(carol, Approve, 7),
				},
				Approvers: []string{"alice", "bob", "carol@corp.example"},
			},
		},
		{
			name: "re-responses in the middle keep the others in place",
			gate: quorum(6),
			responses: []Response{
				response(alice, Approve, 1),
				response(bob, Approve, 2),
				response(carol, Approve, 3),
				response(dave, Approve, 4),
				response(bob, Approve, 5),
				response(carol, Approve, 6),
				response(erin, Approve, 7),
			},
			now: at(8),
			want: Outcome{
				Status: Pending,
				Counted: []Response{
					response(alice, Approve, 1),
					response(dave, Approve, 4),
					response(bob, Approve, 5),
					response(carol, Approve, 6),
					response(erin, Approve, 7),
				},
				Approvers: []string{"alice", "dave", "bob", "carol@corp.example", "Erin (aad-e41n)"},
			},
		},
		{
			name: "re-response then rejection keeps one entry per person",
			gate: quorum(3),
			responses: []Response{
				response(alice, Approve, 1),
				response(bob, Approve, 2),
				response(alice, Approve, 3),
				response(bob, Reject, 4),
			},
			now: at(5),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "bob",
				Counted: []Response{
					response(alice, Approve, 3),
					response(bob, Reject, 4),
				},
				Approvers: []string{"alice"},
				SettledAt: at(4),
			},
		},
		{
			name: "non-approvers, bots and the initiator never count",
			gate: gate(func(g *Gate) { g.ExcludeInitiator = true }),
			responses: []Response{
				response(mallory, Approve, 1),
				response(mallory, Reject, 2),
				response(ciBot, Approve, 3),
				response(Actor{Login: "bob", Bot: true}, Reject, 4),
				response(octocat, Approve, 5),
				response(trigger, Reject, 6),
				response(Actor{Email: "mallory@corp.example"}, Reject, 7),
				response(Actor{Login: "frank", Teams: []string{"acme/ops"}}, Reject, 8),
			},
			now:  at(9),
			want: Outcome{Status: Pending},
		},
		{
			name:      "the initiator approves without exclude-initiator",
			gate:      base,
			responses: []Response{response(octocat, Approve, 1)},
			now:       at(2),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "octocat",
				Counted:   []Response{response(octocat, Approve, 1)},
				Approvers: []string{"octocat"},
				SettledAt: at(1),
			},
		},
		{
			name:      "the triggering actor rejects without exclude-initiator",
			gate:      base,
			responses: []Response{response(trigger, Reject, 1)},
			now:       at(2),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "hubot",
				Counted:   []Response{response(trigger, Reject, 1)},
				SettledAt: at(1),
			},
		},
		{
			name: "ineligible responses between counted ones are skipped",
			gate: gate(func(g *Gate) { g.MinimumApprovals = 2; g.ExcludeInitiator = true }),
			responses: []Response{
				response(alice, Approve, 1),
				response(octocat, Approve, 2),
				response(mallory, Reject, 3),
				response(bob, Approve, 4),
			},
			now: at(5),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "bob",
				Counted:   []Response{response(alice, Approve, 1), response(bob, Approve, 4)},
				Approvers: []string{"alice", "bob"},
				SettledAt: at(4),
			},
		},
		{
			name: "all: a listed email needs an approval from an actor with that email",
			gate: all,
			responses: []Response{
				response(alice, Approve, 1),
				response(dave, Approve, 2),
				response(bob, Approve, 3),
				response(carol, Approve, 4),
			},
			now: at(5),
			want: Outcome{
				Status: Pending,
				Counted: []Response{
					response(alice, Approve, 1),
					response(dave, Approve, 2),
					response(bob, Approve, 3),
					response(carol, Approve, 4),
				},
				Approvers: []string{"alice", "dave", "bob", "carol@corp.example"},
			},
		},
		{
			name: "all: the same person answering by login, then by email alone, covers both",
			gate: all,
			responses: []Response{
				response(alice, Approve, 1),
				response(bob, Approve, 2),
				response(carol, Approve, 3),
				via(response(aliceMail, Approve, 4), ViaEmail),
			},
			now: at(5),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice@corp.example",
				Counted: []Response{
					response(bob, Approve, 2),
					response(carol, Approve, 3),
					via(response(aliceMail, Approve, 4), ViaEmail),
				},
				Approvers: []string{"bob", "carol@corp.example", "alice@corp.example"},
				SettledAt: at(4),
			},
		},
		{
			name: "all: settled by the last listed person, initiators excluded",
			gate: all,
			responses: []Response{
				response(Actor{Person: "alice", Login: "alice", Email: "alice@corp.example"}, Approve, 1),
				response(dave, Approve, 2),
				response(bob, Approve, 3),
				with(response(carol, Approve, 4), reasons, "last one"),
			},
			now: at(5),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "carol@corp.example",
				Counted: []Response{
					response(Actor{Person: "alice", Login: "alice", Email: "alice@corp.example"}, Approve, 1),
					response(dave, Approve, 2),
					response(bob, Approve, 3),
					with(response(carol, Approve, 4), reasons, "last one"),
				},
				Approvers: []string{"alice", "dave", "bob", "carol@corp.example"},
				Fields:    reasons,
				Comment:   "last one",
				SettledAt: at(4),
			},
		},
		{
			name: "all: the initiator is required without exclude-initiator",
			gate: gate(func(g *Gate) { g.RequireAll = true }),
			responses: []Response{
				response(Actor{Person: "alice", Login: "alice", Email: "alice@corp.example"}, Approve, 1),
				response(bob, Approve, 2),
				response(carol, Approve, 3),
				response(trigger, Approve, 4),
			},
			now: at(5),
			want: Outcome{
				Status: Pending,
				Counted: []Response{
					response(Actor{Person: "alice", Login: "alice", Email: "alice@corp.example"}, Approve, 1),
					response(bob, Approve, 2),
					response(carol, Approve, 3),
					response(trigger, Approve, 4),
				},
				Approvers: []string{"alice", "bob", "carol@corp.example", "hubot"},
			},
		},
		{
			name: "all: a rejection by a team member settles",
			gate: all,
			responses: []Response{
				response(alice, Approve, 1),
				response(erin, Reject, 2),
			},
			now: at(3),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "Erin (aad-e41n)",
				Counted:   []Response{response(alice, Approve, 1), response(erin, Reject, 2)},
				Approvers: []string{"alice"},
				SettledAt: at(2),
			},
		},
		{
			name: "all: a listed person's earlier approval replaced by a later one still counts",
			gate: gate(func(g *Gate) {
				g.RequireAll = true
				g.Approvers = Approvers{Logins: []string{"alice", "bob"}}
			}),
			responses: []Response{
				response(alice, Approve, 1),
				response(alice, Approve, 2),
				response(bob, Approve, 3),
			},
			now: at(4),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "bob",
				Counted:   []Response{response(alice, Approve, 2), response(bob, Approve, 3)},
				Approvers: []string{"alice", "bob"},
				SettledAt: at(3),
			},
		},
		{
			name: "all: a person's Teams answer covers their listed login and address",
			gate: gate(func(g *Gate) {
				g.RequireAll = true
				g.Approvers = Approvers{Logins: []string{"alice", "bob"}, Emails: []string{"alice@corp.example"}}
			}),
			responses: []Response{
				response(bob, Approve, 1),
				via(response(aliceEverywhere, Approve, 2), ViaTeams),
			},
			now: at(3),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice",
				Counted:   []Response{response(bob, Approve, 1), via(response(aliceEverywhere, Approve, 2), ViaTeams)},
				Approvers: []string{"bob", "alice"},
				SettledAt: at(2),
			},
		},
		{
			name: "all: team-only approvers never approve",
			gate: gate(func(g *Gate) {
				g.RequireAll = true
				g.Approvers = Approvers{Teams: []string{"acme/release"}}
			}),
			responses: []Response{response(dave, Approve, 1), response(erin, Approve, 2)},
			now:       at(3),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(dave, Approve, 1), response(erin, Approve, 2)},
				Approvers: []string{"dave", "Erin (aad-e41n)"},
			},
		},
		{
			name: "responses out of order are taken by time",
			gate: quorum(2),
			responses: []Response{
				response(bob, Reject, 3),
				response(carol, Approve, 2),
				response(alice, Approve, 1),
			},
			now: at(4),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "carol@corp.example",
				Counted:   []Response{response(alice, Approve, 1), response(carol, Approve, 2)},
				Approvers: []string{"alice", "carol@corp.example"},
				SettledAt: at(2),
			},
		},
		{
			name: "a person's latest response is by time, not input order",
			gate: quorum(2),
			responses: []Response{
				response(alice, Reject, 2),
				response(alice, Approve, 1),
			},
			now: at(3),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "alice",
				Counted:   []Response{response(alice, Reject, 2)},
				SettledAt: at(2),
			},
		},
		{
			name:      "ties keep input order: rejection first",
			gate:      base,
			responses: []Response{response(bob, Reject, 1), response(alice, Approve, 1)},
			now:       at(2),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "bob",
				Counted:   []Response{response(bob, Reject, 1)},
				SettledAt: at(1),
			},
		},
		{
			name:      "ties keep input order: approval first",
			gate:      base,
			responses: []Response{response(alice, Approve, 1), response(bob, Reject, 1)},
			now:       at(2),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice",
				Counted:   []Response{response(alice, Approve, 1)},
				Approvers: []string{"alice"},
				SettledAt: at(1),
			},
		},
		{
			name: "responses after settling are ignored",
			gate: base,
			responses: []Response{
				response(alice, Approve, 1),
				response(bob, Reject, 2),
				response(alice, Reject, 3),
			},
			now: at(4),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice",
				Counted:   []Response{response(alice, Approve, 1)},
				Approvers: []string{"alice"},
				SettledAt: at(1),
			},
		},
		{
			name:      "a settled gate stays settled past the deadline",
			gate:      gate(func(g *Gate) { g.OnTimeout = TimeoutApprove }),
			responses: []Response{response(bob, Reject, 59)},
			now:       at(120),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "bob",
				Counted:   []Response{response(bob, Reject, 59)},
				SettledAt: at(59),
			},
		},
		{
			name:      "a response just before the deadline counts",
			gate:      base,
			responses: []Response{{ID: "c1", Actor: alice, Decision: Approve, At: at(60).Add(-time.Nanosecond)}},
			now:       at(60),
			want: Outcome{
				Status:    Approved,
				Approved:  true,
				DecidedBy: "alice",
				Counted:   []Response{{ID: "c1", Actor: alice, Decision: Approve, At: at(60).Add(-time.Nanosecond)}},
				Approvers: []string{"alice"},
				SettledAt: at(60).Add(-time.Nanosecond),
			},
		},
		{
			name:      "a response at the deadline does not count",
			gate:      base,
			responses: []Response{response(alice, Approve, 60)},
			now:       at(60),
			want:      Outcome{Status: TimedOut, Fields: fields.Values{"rollout": int64(10), "notify": true}, SettledAt: at(60)},
		},
		{
			name: "responses after the deadline do not count, even before now catches up",
			gate: base,
			responses: []Response{
				response(mallory, Approve, 10),
				response(alice, Reject, 61),
			},
			now:  at(59),
			want: Outcome{Status: Pending},
		},
		{
			name: "timeout with on-timeout reject",
			gate: quorum(2),
			responses: []Response{
				with(response(alice, Approve, 10), reasons, "mine"),
				response(bob, Reject, 70),
			},
			now: at(60),
			want: Outcome{
				Status:    TimedOut,
				Counted:   []Response{with(response(alice, Approve, 10), reasons, "mine")},
				Approvers: []string{"alice"},
				Fields:    fields.Values{"rollout": int64(10), "notify": true},
				SettledAt: at(60),
			},
		},
		{
			name: "timeout with on-timeout approve",
			gate: gate(func(g *Gate) { g.MinimumApprovals = 2; g.OnTimeout = TimeoutApprove }),
			responses: []Response{
				with(response(alice, Approve, 10), reasons, "mine"),
			},
			now: at(90),
			want: Outcome{
				Status:    TimedOut,
				Approved:  true,
				Counted:   []Response{with(response(alice, Approve, 10), reasons, "mine")},
				Approvers: []string{"alice"},
				Fields:    fields.Values{"rollout": int64(10), "notify": true},
				SettledAt: at(60),
			},
		},
		{
			name: "timeout with on-timeout error",
			gate: gate(func(g *Gate) { g.OnTimeout = TimeoutError }),
			now:  at(60),
			want: Outcome{
				Status:    TimedOut,
				Fields:    fields.Values{"rollout": int64(10), "notify": true},
				SettledAt: at(60),
			},
		},
		{
			name: "pending just before the deadline",
			gate: quorum(2),
			responses: []Response{
				response(alice, Approve, 10),
			},
			now: at(60).Add(-time.Nanosecond),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(alice, Approve, 10)},
				Approvers: []string{"alice"},
			},
		},
		{
			name:      "a zero deadline never times out",
			gate:      gate(func(g *Gate) { g.Deadline = time.Time{}; g.MinimumApprovals = 2 }),
			responses: []Response{response(alice, Approve, 100000)},
			now:       at(10_000_000),
			want: Outcome{
				Status:    Pending,
				Counted:   []Response{response(alice, Approve, 100000)},
				Approvers: []string{"alice"},
			},
		},
		{
			name:      "a zero deadline takes responses at any time",
			gate:      gate(func(g *Gate) { g.Deadline = time.Time{} }),
			responses: []Response{response(bob, Reject, 100000)},
			now:       at(100001),
			want: Outcome{
				Status:    Rejected,
				DecidedBy: "bob",
				Counted:   []Response{response(bob, Reject, 100000)},
				SettledAt: at(100000),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.responses)
			got := Evaluate(tt.gate, in, tt.now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.responses, in); diff != "" {
				t.Errorf("Evaluate() changed its input (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvaluateProperties checks invariants of Evaluate on pseudo-random gates
// and responses (fixed seed, so failures reproduce). It compares outcomes with
// reflect.DeepEqual, which is much cheaper than cmp.Diff, and shows a diff
// only on failure.
func TestEvaluateProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(20250301, 42))
	logins := []string{"alice", "bob", "carol", "dave", "octocat"}
	actors := []Actor{
		{Person: "alice", Login: "alice"},
		{Person: "alice", Email: "alice@corp.example"},
		{Person: "alice", TeamsID: "aad-a", Name: "Alice"},
		{Login: "Bob"},
		{Login: "bob"},
		{Person: "carol", Login: "carol", Email: "carol@corp.example"},
		{Email: "carol@corp.example"},
		{Person: "dave", Login: "dave", Teams: []string{"acme/ops"}},
		{Person: "erin", TeamsID: "aad-e", Name: "Erin", Teams: []string{"acme/ops"}},
		{Login: "frank", Teams: []string{"acme/dev"}},
		{Login: "octocat"},
		{Login: "hubot"},
		{Login: "mallory"},
		{Login: "alice", Bot: true},
		{Login: "ci[bot]", Bot: true, Teams: []string{"acme/ops"}},
	}
	onTimeout := []OnTimeout{TimeoutReject, TimeoutApprove, TimeoutError}
	pick := func(list []string) []string {
		var out []string
		for _, s := range list {
			if rng.IntN(2) == 0 {
				out = append(out, s)
			}
		}
		return out
	}

	for c := range 3000 {
		g := Gate{
			Approvers: Approvers{
				Logins: pick(logins),
				Teams:  pick([]string{"acme/ops", "acme/dev"}),
				Emails: pick([]string{"alice@corp.example", "carol@corp.example"}),
			},
			MinimumApprovals: 1 + rng.IntN(4),
			RequireAll:       rng.IntN(4) == 0,
			ExcludeInitiator: rng.IntN(2) == 0,
			Initiators:       []string{"octocat", "hubot"},
			Fields:           fields.Schema{{ID: "n", Type: fields.Number, Default: 1.5}},
			OnTimeout:        onTimeout[rng.IntN(len(onTimeout))],
		}
		if rng.IntN(3) > 0 {
			g.Deadline = at(5 + rng.IntN(20))
		}
		responses := make([]Response, rng.IntN(14))
		for i := range responses {
			d := Approve
			if rng.IntN(5) == 0 {
				d = Reject
			}
			responses[i] = Response{
				ID:       fmt.Sprintf("r%d", i),
				Actor:    actors[rng.IntN(len(actors))],
				Decision: d,
				Fields:   fields.Values{"n": float64(i)},
				At:       at(rng.IntN(25)),
			}
		}

		checkOutcome(t, g, responses, Evaluate(g, responses, at(30)))
		checkPrefixes(t, g, responses)
		checkOrderIndependence(t, g, responses, rng)
		if t.Failed() {
			t.Fatalf("case %d:\ngate: %+v\nresponses: %+v", c, g, responses)
		}
	}
}

// checkOutcome checks the invariants of one outcome.
func checkOutcome(t *testing.T, g Gate, responses []Response, o Outcome) {
	t.Helper()
	if o.Approved != (o.Status == Approved || o.Status == TimedOut && g.OnTimeout == TimeoutApprove) {
		t.Errorf("Approved = %t with status %s and on-timeout %s", o.Approved, o.Status, g.OnTimeout)
	}
	eligible := map[string]bool{}
	for _, r := range responses {
		if g.Eligible(r.Actor) == nil {
			eligible[r.Actor.key()] = true
		}
	}
	if len(o.Approvers) > len(eligible) {
		t.Errorf("%d approvers %v from %d eligible people", len(o.Approvers), o.Approvers, len(eligible))
	}
	seen := map[string]bool{}
	for i, r := range o.Counted {
		if err := g.Eligible(r.Actor); err != nil {
			t.Errorf("counted %s from an ineligible actor: %v", r.ID, err)
		}
		if seen[r.Actor.key()] {
			t.Errorf("counted %s: person %q counted twice", r.ID, r.Actor.key())
		}
		seen[r.Actor.key()] = true
		if i > 0 && r.At.Before(o.Counted[i-1].At) {
			t.Errorf("counted %s out of time order", r.ID)
		}
		if !g.Deadline.IsZero() && !r.At.Before(g.Deadline) {
			t.Errorf("counted %s at or after the deadline", r.ID)
		}
	}
	switch o.Status {
	case Approved, Rejected:
		last := o.Counted[len(o.Counted)-1]
		if o.DecidedBy != last.Actor.Identity() || !o.SettledAt.Equal(last.At) {
			t.Errorf("settled by %q at %v, want the last counted response %s", o.DecidedBy, o.SettledAt, last.ID)
		}
		if (o.Status == Rejected) != (last.Decision == Reject) {
			t.Errorf("status %s settled by a %s", o.Status, last.Decision)
		}
	case TimedOut:
		if o.DecidedBy != "" || !o.SettledAt.Equal(g.Deadline) {
			t.Errorf("timed out, decided by %q at %v", o.DecidedBy, o.SettledAt)
		}
	case Pending:
		if o.DecidedBy != "" || !o.SettledAt.IsZero() {
			t.Errorf("pending, decided by %q at %v", o.DecidedBy, o.SettledAt)
		}
	default:
		t.Errorf("status %q", o.Status)
	}
}

// checkPrefixes evaluates the time-ordered responses one at a time, as they
// arrive, and checks that a settled outcome never changes afterwards.
func checkPrefixes(t *testing.T, g Gate, responses []Response) {
	t.Helper()
	sorted := slices.Clone(responses)
	slices.SortStableFunc(sorted, func(a, b Response) int { return a.At.Compare(b.At) })
	var first Outcome
	for k := 0; k <= len(sorted); k++ {
		now := at(0)
		if k > 0 {
			now = sorted[k-1].At
		}
		o := Evaluate(g, sorted[:k], now)
		checkOutcome(t, g, sorted[:k], o)
		if !first.Status.Settled() {
			first = o
			continue
		}
		if !reflect.DeepEqual(first, o) {
			t.Errorf("outcome changed after %d responses (-settled +now):\n%s", k, cmp.Diff(first, o))
		}
	}
	if first.Status.Settled() {
		if o := Evaluate(g, sorted, at(1000)); !reflect.DeepEqual(first, o) {
			t.Errorf("outcome changed later (-settled +now):\n%s", cmp.Diff(first, o))
		}
	}
}

// checkOrderIndependence checks that responses with distinct times give the
// same outcome in any input order.
func checkOrderIndependence(t *testing.T, g Gate, responses []Response, rng *rand.Rand) {
	t.Helper()
	times := map[time.Time]bool{}
	for _, r := range responses {
		times[r.At] = true
	}
	if len(times) != len(responses) {
		return
	}
	want := Evaluate(g, responses, at(30))
	shuffled := slices.Clone(responses)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := Evaluate(g, shuffled, at(30)); !reflect.DeepEqual(want, got) {
		t.Errorf("outcome depends on input order (-want +got):\n%s", cmp.Diff(want, got))
	}
}

func BenchmarkEvaluate(b *testing.B) {
	small := Gate{
		Approvers:        Approvers{Logins: []string{"alice", "bob", "carol"}},
		MinimumApprovals: 2,
		Initiators:       []string{"octocat"},
		ExcludeInitiator: true,
		Deadline:         at(60),
		OnTimeout:        TimeoutReject,
	}
	// Ten responses; only the last one settles the gate.
	smallResponses := []Response{
		response(mallory, Approve, 1),
		response(ciBot, Approve, 2),
		response(octocat, Approve, 3),
		response(alice, Approve, 4),
		response(mallory, Reject, 5),
		response(alice, Approve, 6),
		response(Actor{Login: "frank"}, Reject, 7),
		response(alice, Approve, 8),
		response(ciBot, Reject, 9),
		response(bob, Approve, 10),
	}

	// A hundred listed people and a thousand responses: people 0-98 approve
	// ten times each in turn, person 99 settles the gate with the last one.
	var people []string
	for i := range 100 {
		people = append(people, fmt.Sprintf("person-%02d", i))
	}
	large := Gate{
		Approvers:        Approvers{Logins: people},
		MinimumApprovals: 100,
		Deadline:         at(10_000),
		OnTimeout:        TimeoutReject,
	}
	var largeResponses []Response
	for i := range 999 {
		largeResponses = append(largeResponses, response(Actor{Login: people[i%99]}, Approve, i))
	}
	largeResponses = append(largeResponses, response(Actor{Login: people[99]}, Approve, 999))
	largeAll := large
	largeAll.RequireAll = true

	for _, bb := range []struct {
		name      string
		gate      Gate
		responses []Response
	}{
		{name: "3 approvers quorum 2, 10 responses", gate: small, responses: smallResponses},
		{name: "100 people quorum 100, 1000 responses", gate: large, responses: largeResponses},
		{name: "100 people all, 1000 responses", gate: largeAll, responses: largeResponses},
	} {
		if o := Evaluate(bb.gate, bb.responses, at(0)); o.Status != Approved || !o.SettledAt.Equal(bb.responses[len(bb.responses)-1].At) {
			b.Fatalf("%s: got %s at %v, want approved by the last response", bb.name, o.Status, o.SettledAt)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(bb.gate, bb.responses, at(0))
			}
		})
	}
}

// TestEvaluateManyTies gives enough tied responses, in reverse time order, that
// an unstable sort would reorder them.
func TestEvaluateManyTies(t *testing.T) {
	var people []string
	var responses []Response
	for i := range 16 {
		p := fmt.Sprintf("p%02d", i)
		people = append(people, p)
		responses = append(responses, response(Actor{Login: p}, Approve, (15-i)/4))
	}
	g := Gate{Approvers: Approvers{Logins: people}, MinimumApprovals: 17, OnTimeout: TimeoutReject}
	var want []string
	for _, i := range []int{12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3} {
		want = append(want, people[i])
	}
	if diff := cmp.Diff(want, Evaluate(g, responses, at(0)).Approvers); diff != "" {
		t.Errorf("approvers mismatch (-want +got):\n%s", diff)
	}
}
