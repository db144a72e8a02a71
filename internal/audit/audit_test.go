package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

func TestMarkerRoundTrip(t *testing.T) {
	for _, m := range []Marker{
		{Kind: KindOpened, Gate: "a1b2"},
		{Kind: KindSummary, Gate: "a1b2"},
		{Kind: KindResponse, Gate: "g_1-x"},
		{Kind: KindInvalid, Gate: "a1b2", Comment: 1234567890123},
		{Kind: KindCancelled, Gate: "a1b2"},
	} {
		got, ok := ParseMarker(m.String() + "\nbody text")
		if !ok {
			t.Fatalf("%s: not parsed", m)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", m, diff)
		}
	}
	for _, body := range []string{"", "approve", "text <!-- gatehouse:summary gate=x -->", "<!-- gatehouse:summary -->", "<!-- gatehouse:invalid gate=x comment=99999999999999999999 -->"} {
		if m, ok := ParseMarker(body); ok {
			t.Errorf("ParseMarker(%q) = %v, want none", body, m)
		}
	}
}

func testGate(t *testing.T) Gate {
	t.Helper()
	schema, err := fields.Parse("- id: reason\n  type: string\n  required: true\n  description: Why now?\n- id: rollout\n  type: number\n  min: 1\n  max: 100\n  default: 10\n- id: team\n  type: select\n  values: [HR, IT]\n")
	if err != nil {
		t.Fatal(err)
	}
	return Gate{
		ID:           "g1",
		Run:          Run{Repository: "o/r", Workflow: "release", Job: "ship", Number: 42, URL: "https://github.com/o/r/actions/runs/9", Actor: "octocat", SHA: "0123456789abcdef", Ref: "refs/heads/main"},
		Instructions: "Check the **dashboard** first.",
		Rules: approval.Gate{
			Approvers:        approval.Approvers{Logins: []string{"alice"}, Teams: []string{"o/sre"}},
			MinimumApprovals: 2, ExcludeInitiator: true, Fields: schema,
			Deadline: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), OnTimeout: approval.TimeoutReject,
		},
	}
}

func TestIssueBody(t *testing.T) {
	body := IssueBody(testGate(t))
	if m, ok := ParseMarker(body); !ok || m != (Marker{Kind: KindOpened, Gate: "g1"}) {
		t.Errorf("marker %v %v", m, ok)
	}
	for _, want := range []string{
		"**release** run [#42](https://github.com/o/r/actions/runs/9)", "started by @octocat", "`0123456`",
		"Check the **dashboard** first.", "@alice, @o/sre", "2 approvals needed.", "cannot approve",
		"reason: your answer", "| `reason` | text | yes |  | Why now? |", "| `rollout` | number from 1 to 100 |  | `10` |",
		"one of `HR`, `IT`", "times out at 2026-11-21 10:00:00 UTC; then it rejects",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("issue body lacks %q:\n%s", want, body)
		}
	}
}

func TestSummary(t *testing.T) {
	g := testGate(t)
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	resp := func(login string, d approval.Decision, comment string) approval.Response {
		return approval.Response{Actor: approval.Actor{Login: login}, Via: approval.ViaComment, Decision: d, Comment: comment, At: at,
			URL: "https://github.com/o/r/issues/1#issuecomment-1", Fields: fields.Values{"reason": "a|b", "rollout": int64(10)}}
	}
	o := approval.Outcome{
		Status: approval.Approved, Approved: true, DecidedBy: "bob", Approvers: []string{"alice", "bob"},
		Counted:   []approval.Response{resp("alice", approval.Approve, "line one\nline <two>"), resp("bob", approval.Approve, "")},
		Fields:    fields.Values{"reason": "a|b", "rollout": int64(10)},
		SettledAt: at,
	}
	s := Summary("g1", g.Rules, o, "alice edited a counted comment.")
	for _, want := range []string{
		"<!-- gatehouse:summary gate=g1 -->", "### ✅ Approved", "Settled by **bob** at 2026-11-21 09:00:00 UTC with 2 of 2 approvals.",
		"| [alice](https://github.com/o/r/issues/1#issuecomment-1) | comment | approve | 2026-11-21 09:00:00 UTC | reason: a\\|b; rollout: 10 | line one line &lt;two&gt; |",
		"**Fields:** reason: a\\|b; rollout: 10", "- alice edited a counted comment.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}

	timedOut := Summary("g1", g.Rules, approval.Outcome{Status: approval.TimedOut, SettledAt: g.Rules.Deadline, Fields: fields.Values{"rollout": int64(10)}})
	if !strings.Contains(timedOut, "### ⌛ Timed out\n\nNo decision was reached by 2026-11-21 10:00:00 UTC; the gate rejects") {
		t.Errorf("timed-out summary:\n%s", timedOut)
	}
}

func TestInvalidReplyAndCancelled(t *testing.T) {
	r := InvalidReply("g1", 77, "alice", "https://x/1#issuecomment-77", []string{"rollout: must be a number from 1 to 100", "reason: required"})
	if m, _ := ParseMarker(r); m != (Marker{Kind: KindInvalid, Gate: "g1", Comment: 77}) {
		t.Errorf("marker %v", m)
	}
	if !strings.Contains(r, "@alice your [response](https://x/1#issuecomment-77) was not counted") || !strings.Contains(r, "- reason: required") {
		t.Errorf("reply:\n%s", r)
	}
	c := CancelledNote("g1", "The workflow run was cancelled.")
	if m, _ := ParseMarker(c); m != (Marker{Kind: KindCancelled, Gate: "g1"}) || !strings.Contains(c, "The workflow run was cancelled. Nothing was approved.") {
		t.Errorf("cancelled note:\n%s", c)
	}
}

func TestSummaryFitsInAComment(t *testing.T) {
	g := testGate(t)
	var o approval.Outcome
	o.Status, o.DecidedBy = approval.Approved, "alice"
	for i := range 400 {
		o.Counted = append(o.Counted, approval.Response{
			ID: fmt.Sprint(i), Actor: approval.Actor{Login: "alice"}, Via: approval.ViaComment,
			Decision: approval.Approve, Comment: strings.Repeat("long comment ", 20),
		})
	}
	s := Summary("g1", g.Rules, o)
	if len(s) > maxComment+100 || !strings.HasPrefix(s, Marker{Kind: KindSummary, Gate: "g1"}.String()) || !strings.Contains(s, "cut") {
		t.Errorf("summary of %d bytes, begins %q, ends %q", len(s), s[:60], s[len(s)-80:])
	}
}

func TestResponseNote(t *testing.T) {
	schema := fields.Schema{{ID: "rollout", Type: fields.Number, Integer: true}, {ID: "ticket", Type: fields.String}}
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		r    approval.Response
		want string
	}{
		{
			name: "teams approval with fields and reason",
			r: approval.Response{
				Actor: approval.Actor{Login: "alice", TeamsID: "aad-a11ce", Name: "Alice"}, Via: approval.ViaTeams, Decision: approval.Approve,
				Fields: fields.Values{"rollout": int64(25)}, Comment: "canary looks fine\nship it", At: at,
			},
			want: "<!-- gatehouse:response gate=g1 -->\n**Approved** by **alice** via Microsoft Teams at 2026-11-21 08:30:00 UTC: canary looks fine ship it\n\n**Fields:** rollout: 25\n",
		},
		{
			name: "teams rejection by a person known only to Teams",
			r:    approval.Response{Actor: approval.Actor{TeamsID: "aad-e41n", Name: "Erin | Ops"}, Via: approval.ViaTeams, Decision: approval.Reject, At: at},
			want: "<!-- gatehouse:response gate=g1 -->\n**Rejected** by **Erin \\| Ops (aad-e41n)** via Microsoft Teams at 2026-11-21 08:30:00 UTC\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResponseNote("g1", schema, tt.r)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("note (-want +got):\n%s", d)
			}
		})
	}
}

func TestNotice(t *testing.T) {
	n := Notice("g1", "No Teams channel named \"releases\" is known.")
	if m, _ := ParseMarker(n); m != (Marker{Kind: KindNotice, Gate: "g1"}) || !strings.Contains(n, "> No Teams channel named \"releases\" is known.") {
		t.Errorf("notice:\n%s", n)
	}
}
