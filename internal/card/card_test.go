package card

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/google/go-cmp/cmp"
)

func TestInputs(t *testing.T) {
	tests := []struct {
		name  string
		field string
		want  map[string]any
	}{
		{
			name:  "boolean",
			field: "{id: notify, type: boolean, description: Tell the team, default: true}",
			want: map[string]any{
				"type": "Input.Toggle", "id": "notify", "label": "notify — Tell the team", "title": "Tell the team",
				"value": "true", "valueOn": "true", "valueOff": "false", "wrap": true,
			},
		},
		{
			name:  "boolean required, no description",
			field: "{id: notify, type: boolean, required: true}",
			want: map[string]any{
				"type": "Input.Toggle", "id": "notify", "label": "notify", "title": "notify",
				"valueOn": "true", "valueOff": "false", "wrap": true,
			},
		},
		{
			name:  "string",
			field: "{id: reason, type: string}",
			want:  map[string]any{"type": "Input.Text", "id": "reason", "label": "reason"},
		},
		{
			name:  "string required with pattern, max-length and default",
			field: `{id: ticket, type: string, required: true, description: Change ticket, pattern: "[A-Z]+-[0-9]+|n/a", max-length: 20, default: OPS-1}`,
			want: map[string]any{
				"type": "Input.Text", "id": "ticket", "label": "ticket — Change ticket", "isRequired": true,
				"errorMessage": "ticket: required; must match the pattern [A-Z]+-[0-9]+|n/a",
				"regex":        "^(?:[A-Z]+-[0-9]+|n/a)$", "maxLength": 20.0, "value": "OPS-1",
			},
		},
		{
			name:  "number",
			field: "{id: rollout, type: number, min: 1, max: 100, default: 10, integer: true}",
			want: map[string]any{
				"type": "Input.Number", "id": "rollout", "label": "rollout", "min": 1.0, "max": 100.0, "value": 10.0,
			},
		},
		{
			name:  "number without bounds, required",
			field: "{id: ratio, type: number, required: true}",
			want: map[string]any{
				"type": "Input.Number", "id": "ratio", "label": "ratio", "isRequired": true, "errorMessage": "ratio: required",
			},
		},
		{
			name:  "number with zero default",
			field: "{id: delta, type: number, min: -5, max: 5, default: 0}",
			want: map[string]any{
				"type": "Input.Number", "id": "delta", "label": "delta", "min": -5.0, "max": 5.0, "value": 0.0,
			},
		},
		{
			name:  "select",
			field: "{id: team, type: select, values: [HR, Finance, IT], default: IT}",
			want: map[string]any{
				"type": "Input.ChoiceSet", "id": "team", "label": "team", "style": "compact", "value": "IT", "wrap": true,
				"choices": []any{
					map[string]any{"title": "HR", "value": "HR"},
					map[string]any{"title": "Finance", "value": "Finance"},
					map[string]any{"title": "IT", "value": "IT"},
				},
			},
		},
		{
			name:  "multiselect",
			field: "{id: regions, type: multiselect, values: [eu, us, ap], default: [ap, eu], required: true}",
			want: map[string]any{
				"type": "Input.ChoiceSet", "id": "regions", "label": "regions", "style": "compact", "isMultiSelect": true,
				"value": "eu,ap", "wrap": true, "isRequired": true, "errorMessage": "regions: required",
				"choices": []any{
					map[string]any{"title": "eu", "value": "eu"},
					map[string]any{"title": "us", "value": "us"},
					map[string]any{"title": "ap", "value": "ap"},
				},
			},
		},
		{
			name:  "date",
			field: "{id: start, type: date, default: 2026-01-31}",
			want:  map[string]any{"type": "Input.Date", "id": "start", "label": "start", "value": "2026-01-31"},
		},
		{
			name:  "datetime",
			field: "{id: window, type: datetime, description: Maintenance window}",
			want: map[string]any{
				"type": "Input.Text", "id": "window", "label": "window — Maintenance window",
				"placeholder": "2026-01-02T15:04:05Z", "regex": rfc3339,
				"errorMessage": "window: must be a date and time as RFC 3339, like 2026-01-02T15:04:05Z",
			},
		},
		{
			name:  "duration",
			field: "{id: soak, type: duration, default: 90m}",
			want:  map[string]any{"type": "Input.Text", "id": "soak", "label": "soak", "placeholder": "1h30m", "value": "1h30m0s"},
		},
		{
			name:  "email",
			field: "{id: owner, type: email}",
			want:  map[string]any{"type": "Input.Text", "id": "owner", "label": "owner", "style": "email"},
		},
		{
			name:  "url",
			field: "{id: dashboard, type: url, default: 'https://grafana.example/d/1'}",
			want: map[string]any{
				"type": "Input.Text", "id": "dashboard", "label": "dashboard", "style": "url", "value": "https://grafana.example/d/1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gate(t, "- "+tt.field)
			c := mustCard(t)(Pending(g))
			inputs, ids := c.inputs()
			id := g.Fields[0].ID
			if diff := cmp.Diff([]string{id, CommentKey}, ids); diff != "" {
				t.Fatalf("input ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, inputs[id]); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInputsShowValues checks what the inputs of an answered card show: a
// value given in canonical form, an invalid one as typed where the input can
// hold it, else the default.
func TestInputsShowValues(t *testing.T) {
	g := gate(t, everyType)
	tests := []struct {
		name   string
		values map[string]string
		want   map[string]any // input id → shown value; nil for none
	}{
		{
			name:   "nothing given: defaults",
			values: nil,
			want: map[string]any{
				"reason": nil, "notify": "true", "rollout": 10.0, "team": "IT", "regions": "eu,ap", "start": "2026-01-31",
				"window": nil, "soak": "1h30m0s", "owner": nil, "dashboard": nil, CommentKey: nil,
			},
		},
		{
			name: "valid values in canonical form",
			values: map[string]string{
				"reason": "OPS-9", "notify": "false", "rollout": "1e1", "team": "finance", "regions": "AP, us",
				"start": "2026-02-01", "window": "2026-02-01T10:00:00+01:00", "soak": "2d", "owner": "a@b.example",
				"dashboard": "https://x.example", CommentKey: "ok",
			},
			want: map[string]any{
				"reason": "OPS-9", "notify": "false", "rollout": 10.0, "team": "Finance", "regions": "us,ap", "start": "2026-02-01",
				"window": "2026-02-01T10:00:00+01:00", "soak": "48h0m0s", "owner": "a@b.example", "dashboard": "https://x.example", CommentKey: "ok",
			},
		},
		{
			name: "invalid values where they fit, else nothing",
			values: map[string]string{
				"reason": "ops 1", "notify": "maybe", "rollout": "500", "team": "Legal", "regions": "mars",
				"start": "2026-13-01", "window": "tomorrow", "soak": "long", "owner": "nobody", "dashboard": "ftp://x",
			},
			want: map[string]any{
				"reason": "ops 1", "notify": nil, "rollout": 500.0, "team": nil, "regions": nil, "start": nil,
				"window": "tomorrow", "soak": "long", "owner": "nobody", "dashboard": "ftp://x", CommentKey: nil,
			},
		},
		{
			name:   "a number that is not one",
			values: map[string]string{"rollout": "NaN"},
			want: map[string]any{
				"reason": nil, "notify": "true", "rollout": nil, "team": "IT", "regions": "eu,ap", "start": "2026-01-31",
				"window": nil, "soak": "1h30m0s", "owner": nil, "dashboard": nil, CommentKey: nil,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := gates.Answered{Result: gates.Invalid, Problems: []string{"reason: required"}, Gate: g}
			c := mustCard(t)(Answered(g, a, tt.values))
			inputs, _ := c.inputs()
			got := map[string]any{}
			for id, in := range inputs {
				got[id] = in["value"]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("shown values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPending(t *testing.T) {
	g := gate(t, everyType)
	c := mustCard(t)(Pending(g))
	for key, want := range map[string]any{"$schema": schemaURL, "type": "AdaptiveCard", "version": "1.5"} {
		if c[key] != want {
			t.Errorf("%s = %v, want %v", key, c[key], want)
		}
	}
	body := c.body()
	if diff := cmp.Diff(map[string]any{
		"type": "TextBlock", "text": "Deploy shop to production", "wrap": true, "size": "large", "weight": "bolder",
	}, body[0]); diff != "" {
		t.Errorf("title (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"type": "TextBlock", "text": "Check the **dashboard** first.", "wrap": true}, body[1]); diff != "" {
		t.Errorf("instructions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{
		"Repository": "acme/shop",
		"Workflow":   "[release #42](" + runURL + ")",
		"Issue":      "[#7](" + issueURL + ")",
		"Needs":      "2 approvals",
		"Deadline":   "2026-01-02 14:04:05 UTC",
	}, c.facts()); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	inputs, ids := c.inputs()
	if diff := cmp.Diff(append(g.Fields.IDs(), CommentKey), ids); diff != "" {
		t.Errorf("input ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{
		"type": "Input.Text", "id": CommentKey, "label": "Reason (optional)", "isMultiline": true, "maxLength": 2000.0,
	}, inputs[CommentKey]); diff != "" {
		t.Errorf("reason input (-want +got):\n%s", diff)
	}
	data := map[string]any{GateKey: g.ID}
	if diff := cmp.Diff([]any{
		map[string]any{"type": "Action.Execute", "title": "Approve", "verb": "approve", "style": "positive", "data": data, "associatedInputs": "auto"},
		map[string]any{"type": "Action.Execute", "title": "Reject", "verb": "reject", "style": "destructive", "data": data, "associatedInputs": "auto"},
	}, c.actions()); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

func TestFacts(t *testing.T) {
	tests := []struct {
		name   string
		change func(*gates.Info)
		want   map[string]string
	}{
		{
			name:   "every listed approver, no deadline",
			change: func(g *gates.Info) { g.RequireAll, g.MinimumApprovals, g.Deadline = true, 0, time.Time{} },
			want:   map[string]string{"Needs": "every listed approver", "Deadline": "none"},
		},
		{
			name:   "one approval",
			change: func(g *gates.Info) { g.MinimumApprovals = 1 },
			want:   map[string]string{"Needs": "1 approval"},
		},
		{
			name: "links only to http(s) URLs, no brackets from the workflow name",
			change: func(g *gates.Info) {
				g.Run.Workflow, g.Run.URL, g.IssueURL = "ship [it]](https://evil.example)", "javascript:alert(1)", "https://github.com/a/b/issues/7"
			},
			want: map[string]string{"Workflow": "ship (it))(https://evil.example) #42", "Issue": "[#7](https://github.com/a/b/issues/7)"},
		},
		{
			name:   "workflow name as link text",
			change: func(g *gates.Info) { g.Run.Workflow = "ship [it]" },
			want:   map[string]string{"Workflow": "[ship (it) #42](" + runURL + ")"},
		},
		{
			name:   "no workflow name",
			change: func(g *gates.Info) { g.Run.Workflow = "" },
			want:   map[string]string{"Workflow": "[run #42](" + runURL + ")"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gate(t, "")
			tt.change(&g)
			c := mustCard(t)(Pending(g))
			got := c.facts()
			for title, want := range tt.want {
				if got[title] != want {
					t.Errorf("fact %s = %q, want %q", title, got[title], want)
				}
			}
		})
	}
}

func TestAnswered(t *testing.T) {
	g := gate(t, everyType)
	values := map[string]string{"reason": "OPS-3", CommentKey: "fine by me"}
	tests := []struct {
		name      string
		a         gates.Answered
		wantTexts []string
		wantOpen  bool // inputs and buttons kept
	}{
		{
			name:      "recorded approval",
			a:         gates.Answered{Result: gates.Recorded, Identity: "alice", Gate: settle(g, "pending")},
			wantTexts: []string{"✓ Recorded: you approved as alice", "Approvals so far: 0 of 2."},
			wantOpen:  true,
		},
		{
			name:      "recorded rejection, identity matched ignoring case",
			a:         gates.Answered{Result: gates.Recorded, Identity: "Carol", Gate: settle(g, "pending")},
			wantTexts: []string{"✓ Recorded: you rejected as Carol"},
			wantOpen:  true,
		},
		{
			name:      "recorded, response not in the view",
			a:         gates.Answered{Result: gates.Recorded, Identity: "Dave (6f1c)", Gate: g},
			wantTexts: []string{"✓ Recorded as Dave (6f1c)"},
			wantOpen:  true,
		},
		{
			name:      "recorded and settled",
			a:         gates.Answered{Result: gates.Recorded, Identity: "bob", Gate: settle(g, "approved")},
			wantTexts: []string{"✓ Recorded: you approved as bob", "Approved by bob"},
		},
		{
			name:      "duplicate",
			a:         gates.Answered{Result: gates.Duplicate, Identity: "alice", Gate: settle(g, "pending")},
			wantTexts: []string{"✓ Recorded: you approved as alice"},
			wantOpen:  true,
		},
		{
			name:      "invalid",
			a:         gates.Answered{Result: gates.Invalid, Identity: "alice", Problems: []string{"rollout: must be a whole number between 1 and 100", "team: required"}, Gate: g},
			wantTexts: []string{"Not recorded. Fix these and answer again:\n\n- rollout: must be a whole number between 1 and 100\n- team: required"},
			wantOpen:  true,
		},
		{
			name:      "invalid without problems",
			a:         gates.Answered{Result: gates.Invalid, Identity: "alice"},
			wantTexts: []string{"Not recorded: a field does not validate."},
			wantOpen:  true,
		},
		{
			name:      "not eligible",
			a:         gates.Answered{Result: gates.NotEligible, Identity: "mallory", Reason: "not an approver of this gate", Gate: g},
			wantTexts: []string{"Not counted: not an approver of this gate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCard(t)(Answered(g, tt.a, values))
			texts := c.texts()
			for _, want := range tt.wantTexts {
				if !slices.Contains(texts, want) {
					t.Errorf("no TextBlock %q in %q", want, texts)
				}
			}
			inputs, ids := c.inputs()
			if !tt.wantOpen {
				if len(ids) > 0 || len(c.actions()) > 0 {
					t.Errorf("inputs %v and %d actions; want none", ids, len(c.actions()))
				}
				return
			}
			if diff := cmp.Diff(append(g.Fields.IDs(), CommentKey), ids); diff != "" {
				t.Errorf("input ids (-want +got):\n%s", diff)
			}
			if inputs["reason"]["value"] != "OPS-3" || inputs[CommentKey]["value"] != "fine by me" {
				t.Errorf("inputs show %v and %v; want the values given", inputs["reason"]["value"], inputs[CommentKey]["value"])
			}
			if got := len(c.actions()); got != 2 {
				t.Errorf("%d actions, want 2", got)
			}
		})
	}
}

func TestAnsweredColors(t *testing.T) {
	g := gate(t, everyType)
	tests := []struct {
		name   string
		a      gates.Answered
		prefix string
		color  string
	}{
		{"recorded", gates.Answered{Result: gates.Recorded, Identity: "alice", Gate: settle(g, "pending")}, "✓ Recorded", "good"},
		{"invalid", gates.Answered{Result: gates.Invalid, Problems: []string{"x"}, Gate: g}, "Not recorded", "attention"},
		{"not eligible", gates.Answered{Result: gates.NotEligible, Reason: "bot", Gate: g}, "Not counted", "attention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCard(t)(Answered(g, tt.a, nil))
			for _, el := range c.body() {
				if s, _ := el["text"].(string); strings.HasPrefix(s, tt.prefix) {
					if el["color"] != tt.color {
						t.Errorf("%q has color %v, want %s", s, el["color"], tt.color)
					}
					return
				}
			}
			t.Errorf("no TextBlock starting %q", tt.prefix)
		})
	}
}

func TestAnsweredClosedIsSettled(t *testing.T) {
	g := gate(t, everyType)
	for _, status := range []string{"rejected", "pending"} {
		t.Run(status, func(t *testing.T) {
			settled := settle(g, status)
			want, err := Settled(settled)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Answered(g, gates.Answered{Result: gates.Closed, Gate: settled}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("closed card is not the settled card (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnsweredUnknownResult(t *testing.T) {
	g := gate(t, "")
	_, err := Answered(g, gates.Answered{Result: "maybe"}, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown answer result "maybe"`) {
		t.Errorf("error = %v, want one naming the unknown result", err)
	}
}

func TestSettled(t *testing.T) {
	g := gate(t, everyType)
	tests := []struct {
		status    string
		headline  string
		color     string
		comment   string
		approvers string
	}{
		{"approved", "Approved by bob", "good", "Comment: Dashboards are green.", "alice, bob"},
		{"rejected", "Rejected by carol", "attention", "Comment: Not during the freeze.", "alice"},
		{"timed_out", "Timed out (not approved)", "warning", "", ""},
		{"timed_out_approved", "Timed out (approved by on-timeout)", "warning", "", ""},
		{"cancelled", "Cancelled: the workflow run was cancelled", "warning", "", ""},
		{"pending", "Closed: the deadline has passed", "warning", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			c := mustCard(t)(Settled(settle(g, tt.status)))
			body := c.body()
			if diff := cmp.Diff(map[string]any{
				"type": "TextBlock", "text": tt.headline, "wrap": true, "size": "medium", "weight": "bolder", "color": tt.color,
			}, body[1]); diff != "" {
				t.Errorf("headline (-want +got):\n%s", diff)
			}
			texts := c.texts()
			if tt.comment != "" && !slices.Contains(texts, tt.comment) {
				t.Errorf("no comment %q in %q", tt.comment, texts)
			}
			if _, ids := c.inputs(); len(ids) > 0 || c["actions"] != nil {
				t.Errorf("inputs %v, actions %v; want none", ids, c["actions"])
			}
			facts := c.facts()
			if facts["Approved by"] != tt.approvers {
				t.Errorf("approvers %q, want %q", facts["Approved by"], tt.approvers)
			}
			wantFacts := map[string]string{
				"Issue": "[#7](" + issueURL + ")", "Settled": "2026-01-01 09:30:00 UTC",
				"notify": "true", "rollout": "10", "regions": "eu,ap", "window": "—",
			}
			for title, want := range wantFacts {
				if facts[title] != want {
					t.Errorf("fact %s = %q, want %q", title, facts[title], want)
				}
			}
		})
	}
}

func TestSettledApprovedShowsTheDecidingValues(t *testing.T) {
	c := mustCard(t)(Settled(settle(gate(t, everyType), "approved")))
	if got := c.facts()["reason"]; got != "OPS-12" {
		t.Errorf("reason = %q, want OPS-12", got)
	}
}

func TestLinks(t *testing.T) {
	g := gate(t, everyType)
	c := mustCard(t)(Links(g, respondURL))
	if diff := cmp.Diff([]any{
		map[string]any{"type": "Action.OpenUrl", "title": "Approve or reject…", "url": respondURL},
		map[string]any{"type": "Action.OpenUrl", "title": "Open the issue", "url": issueURL},
	}, c.actions()); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if _, ids := c.inputs(); len(ids) > 0 {
		t.Errorf("inputs %v; want none", ids)
	}
	if diff := cmp.Diff([]string{"Deploy shop to production", "Check the **dashboard** first."}, c.texts()); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
	if got := c.facts()["Needs"]; got != "2 approvals" {
		t.Errorf("Needs = %q", got)
	}
}

func TestLinksRefusesOtherURLs(t *testing.T) {
	tests := []struct {
		name       string
		respond    string
		issue      string
		wantErr    string
		notInError string
	}{
		{"javascript respond URL", "javascript:alert(1)", issueURL, "the respond URL is not an absolute http(s) URL", "javascript"},
		{"relative respond URL", "/respond/tok_secret", issueURL, "the respond URL is not an absolute http(s) URL", "tok_secret"},
		{"issue URL with a space", respondURL, "https://github.com/a b", `issue URL "https://github.com/a b" is not an absolute http(s) URL`, "tok_abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gate(t, "")
			g.IssueURL = tt.issue
			_, err := Links(g, tt.respond)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.notInError) {
				t.Errorf("error %q shows %q", err, tt.notInError)
			}
		})
	}
}

// bigGate has 64 KiB of instructions, the longest title, 200 approvers and
// 30 fields with long descriptions, patterns and values.
func bigGate(t *testing.T) gates.Info {
	t.Helper()
	var b strings.Builder
	types := []string{"boolean", "string", "number", "select", "multiselect", "date", "datetime", "duration", "email", "url"}
	for i := range 30 {
		typ := types[i%len(types)]
		fmt.Fprintf(&b, "- id: field%02d\n  type: %s\n  required: %t\n  description: %q\n", i, typ, i%2 == 0, strings.Repeat("<described> ", 25))
		switch typ {
		case "string":
			fmt.Fprintf(&b, "  pattern: %q\n  max-length: 500\n", strings.Repeat("[a-z]", 40))
		case "select", "multiselect":
			b.WriteString("  values: [")
			for j := range 25 {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "value-%02d-%s", j, strings.Repeat("x", 12))
			}
			b.WriteString("]\n")
		}
	}
	g := gate(t, b.String())
	g.Title = strings.Repeat("<&>", 85)
	g.Instructions = strings.Repeat("Ship it é\n", 64<<10/len("Ship it é\n"))
	approvers := make([]string, 200)
	for i := range approvers {
		approvers[i] = fmt.Sprintf("Reviewer Number %03d (6f1c2d3e-0000-4000-8000-%012d)", i, i)
	}
	g.View.Approvers = approvers
	return g
}

func TestSize(t *testing.T) {
	g := bigGate(t)
	huge := strings.Repeat("ü", 20000)
	values := map[string]string{CommentKey: huge}
	problems := make([]string, 0, len(g.Fields))
	for _, f := range g.Fields {
		values[f.ID] = huge
		problems = append(problems, f.ID+": "+huge)
	}
	settled := settle(g, "approved")
	settled.View.Approvers, settled.View.Comment, settled.View.Reason = g.View.Approvers, huge, huge
	for _, f := range g.Fields {
		settled.View.Fields[f.ID] = huge
	}
	cancelled := settle(settled, "cancelled")
	cancelled.View.Reason = huge

	open := []struct {
		name string
		make func() (json.RawMessage, error)
	}{
		{"pending", func() (json.RawMessage, error) { return Pending(g) }},
		{"invalid", func() (json.RawMessage, error) {
			return Answered(g, gates.Answered{Result: gates.Invalid, Problems: problems, Gate: g}, values)
		}},
		{"recorded", func() (json.RawMessage, error) {
			return Answered(g, gates.Answered{Result: gates.Recorded, Identity: huge, Gate: g}, values)
		}},
	}
	for _, tt := range open {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCard(t)(tt.make())
			if _, ids := c.inputs(); !cmp.Equal(append(g.Fields.IDs(), CommentKey), ids) {
				t.Errorf("inputs %v; want every field and the reason", ids)
			}
			if len(c.actions()) != 2 {
				t.Errorf("%d actions, want 2", len(c.actions()))
			}
		})
	}
	t.Run("pending instructions shortened", func(t *testing.T) {
		raw, err := Pending(g)
		c := mustCard(t)(raw, err)
		instr := c.texts()[1]
		const more = "… (read the rest on the issue)"
		head, ok := strings.CutSuffix(instr, more)
		if !ok || !strings.HasPrefix(g.Instructions, head) || head == "" || !utf8.ValidString(instr) {
			t.Errorf("instructions %q… do not end with %q after a prefix of the instructions", instr[:min(len(instr), 40)], more)
		}
		if len(raw) < MaxBytes-64 {
			t.Errorf("card is %d bytes: instructions shortened more than needed for %d", len(raw), MaxBytes)
		}
	})
	others := []struct {
		name string
		make func() (json.RawMessage, error)
	}{
		{"links", func() (json.RawMessage, error) { return Links(g, respondURL) }},
		{"not eligible", func() (json.RawMessage, error) {
			return Answered(g, gates.Answered{Result: gates.NotEligible, Reason: huge, Gate: g}, nil)
		}},
		{"recorded settled", func() (json.RawMessage, error) {
			return Answered(g, gates.Answered{Result: gates.Recorded, Identity: huge, Gate: settled}, values)
		}},
		{"settled", func() (json.RawMessage, error) { return Settled(settled) }},
		{"cancelled", func() (json.RawMessage, error) { return Settled(cancelled) }},
	}
	for _, tt := range others {
		t.Run(tt.name, func(t *testing.T) {
			mustCard(t)(tt.make())
		})
	}
}

func TestSizeTooManyFields(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "- {id: f%03d, type: select, values: [alpha, bravo, charlie, delta, echo, foxtrot]}\n", i)
	}
	g := gate(t, b.String())
	_, err := Pending(g)
	if err == nil || !strings.Contains(err.Error(), "card for gate "+g.ID) || !strings.Contains(err.Error(), "too many or too large fields") {
		t.Errorf("error = %v, want one saying the fields do not fit", err)
	}
}

// TestUserTextOnlyInText checks that text the workflow's author or a
// reviewer controls reaches only text properties of every card.
func TestUserTextOnlyInText(t *testing.T) {
	const mark = `ZZ"](https://evil.example/ZZ)<b>`
	g := gate(t, fmt.Sprintf(`
- {id: reason, type: string, description: %q, pattern: %q, default: %q}
- {id: team, type: select, values: [%q], description: %q}
- {id: go, type: boolean, description: %q}
`, mark, "ZZ.*", "ZZ", "ZZ", mark, mark))
	g.Title, g.Instructions, g.Repository, g.Run.Workflow = mark, mark, mark, mark
	values := map[string]string{"reason": mark, "team": mark, CommentKey: mark}
	answers := []gates.Answered{
		{Result: gates.Invalid, Problems: []string{mark}, Gate: g},
		{Result: gates.NotEligible, Reason: mark, Identity: mark, Gate: g},
		{Result: gates.Recorded, Identity: mark, Gate: g},
	}
	var cards []json.RawMessage
	add := func(raw json.RawMessage, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, raw)
	}
	add(Pending(g))
	add(Links(g, respondURL))
	for _, a := range answers {
		add(Answered(g, a, values))
	}
	s := settle(g, "cancelled")
	s.View.Reason, s.View.Comment, s.View.DecidedBy, s.View.Approvers = mark, mark, mark, []string{mark}
	s.View.Fields = map[string]any{"reason": mark}
	add(Settled(s))

	textKeys := map[string]bool{"text": true, "title": true, "value": true, "label": true, "errorMessage": true, "placeholder": true, "regex": true}
	for i, raw := range cards {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		walk(v, "", func(key string, s string) {
			if !textKeys[key] && strings.Contains(s, "ZZ") {
				t.Errorf("card %d: user text in %q: %q", i, key, s)
			}
		})
		if strings.Contains(string(raw), `\u003c`) {
			t.Errorf("card %d escapes HTML characters", i)
		}
	}
}

// walk calls fn with every string in v and the key it is under.
func walk(v any, key string, fn func(key, s string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walk(e, k, fn)
		}
	case []any:
		for _, e := range v {
			walk(e, key, fn)
		}
	case string:
		fn(key, v)
	}
}

func TestDatetimeRegexAgreesWithCoerce(t *testing.T) {
	f := schema(t, "- {id: at, type: datetime}")[0]
	re := regexp.MustCompile(rfc3339)
	for _, s := range []string{
		"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789Z", "2026-01-02T15:04:05+05:30", "2026-01-02T15:04:05-00:00",
		"2026-01-02 15:04:05Z", "2026-01-02T15:04Z", "2026-01-02", "2026-01-02T15:04:05", "2026-01-02t15:04:05z",
		"2026-01-02T15:04:05+0530", "tomorrow",
	} {
		_, err := f.Coerce(s)
		if got, want := re.MatchString(s), err == nil; got != want {
			t.Errorf("regex matches %q: %t; Coerce accepts it: %t", s, got, want)
		}
	}
}

func TestShorten(t *testing.T) {
	const more = "… (read the rest on the issue)"
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"all of it", 9, "all of it"},
		{"all of it", 100, "all of it"},
		{"all of it", 6, "all of" + more},
		{"all of it", 4, "all" + more},
		{"héllo", 2, "h" + more},
		{"héllo", 3, "hé" + more},
		{"  text", 2, "Read the instructions on the issue."},
		{"text", 0, "Read the instructions on the issue."},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.in, tt.n), func(t *testing.T) {
			if got := shorten(tt.in, tt.n); got != tt.want {
				t.Errorf("shorten(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestClipAndJoinFit(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"short", clip("abc", 10), "abc"},
		{"exact", clip("abcdefghij", 10), "abcdefghij"},
		{"cut", clip("abcdefghijk", 10), "abcdefg…"},
		{"cut before a rune", clip("abcdeféghijk", 10), "abcdef…"},
		{"join all", joinFit([]string{"alice", "bob"}, ", ", 20), "alice, bob"},
		{"join some", joinFit([]string{"alice", "bob", "carol", "dave"}, ", ", 12), "alice, bob, and 2 more"},
		{"join clips a long first item", joinFit([]string{"abcdefghijklmnop", "x"}, ", ", 10), "abcdefg…, and 1 more"},
		{"join none", joinFit(nil, ", ", 10), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
