package card

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

const (
	issueURL   = "https://github.com/acme/shop/issues/7"
	runURL     = "https://github.com/acme/shop/actions/runs/99"
	respondURL = "https://gatehouse.example/respond/tok_abc"
)

// everyType defines one field of each type.
const everyType = `
- id: reason
  type: string
  required: true
  description: Why?
  pattern: "[A-Z]+-[0-9]+"
  max-length: 40
- id: notify
  type: boolean
  description: Tell the team
  default: true
- id: rollout
  type: number
  min: 1
  max: 100
  integer: true
  default: 10
- id: team
  type: select
  values: [HR, Finance, IT]
  default: IT
- id: regions
  type: multiselect
  values: [eu, us, ap]
  default: [ap, eu]
- id: start
  type: date
  default: 2026-01-31
- id: window
  type: datetime
- id: soak
  type: duration
  default: 90m
- id: owner
  type: email
- id: dashboard
  type: url
`

func schema(t *testing.T, yamlText string) fields.Schema {
	t.Helper()
	s, err := fields.Parse(yamlText)
	if err != nil {
		t.Fatalf("fields.Parse: %v", err)
	}
	return s
}

// gate is an open gate with the given fields.
func gate(t *testing.T, fieldsYAML string) gates.Info {
	t.Helper()
	deadline := time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	return gates.Info{
		ID:               "a1b2c3d4e5f60718",
		Repository:       "acme/shop",
		Title:            "Deploy shop to production",
		Instructions:     "Check the **dashboard** first.",
		IssueNumber:      7,
		IssueURL:         issueURL,
		Run:              api.Run{Workflow: "release", Job: "deploy", Number: 42, URL: runURL, Actor: "octocat"},
		Fields:           schema(t, fieldsYAML),
		MinimumApprovals: 2,
		Deadline:         deadline,
		View: api.Gate{
			ID: "a1b2c3d4e5f60718", Status: "pending", IssueNumber: 7, IssueURL: issueURL,
			MinimumApprovals: 2, Deadline: deadline, Approvers: []string{}, Responses: []api.Response{},
		},
	}
}

// settle makes g settled with status, approved by alice and bob.
func settle(g gates.Info, status string) gates.Info {
	at := time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC)
	v := &g.View
	v.Status, v.SettledAt = status, &at
	v.Fields = g.Fields.Complete(g.Fields.Defaults())
	switch status {
	case "approved":
		v.Approved, v.DecidedBy, v.Comment = true, "bob", "Dashboards are green."
		v.Approvers, v.Approvals = []string{"alice", "bob"}, 2
		v.Fields["reason"] = "OPS-12"
	case "rejected":
		v.DecidedBy, v.Comment = "carol", "Not during the freeze."
		v.Approvers, v.Approvals = []string{"alice"}, 1
	case "timed_out_approved":
		v.Status, v.Approved = "timed_out", true
	case "cancelled":
		v.Reason = "the workflow run was cancelled"
	}
	v.Responses = []api.Response{
		{Actor: "alice", Via: "teams", Decision: "approve"},
		{Actor: "bob", Via: "comment", Decision: "approve"},
		{Actor: "carol", Via: "teams", Decision: "reject"},
	}
	return g
}

// decoded is a card read back as generic JSON.
type decoded map[string]any

func decode(t *testing.T, raw json.RawMessage) decoded {
	t.Helper()
	var c decoded
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("card is not JSON: %v\n%s", err, raw)
	}
	return c
}

func (c decoded) body() []map[string]any {
	items, _ := c["body"].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

func (c decoded) actions() []any {
	a, _ := c["actions"].([]any)
	return a
}

// inputs returns the card's inputs by id, and their ids in order.
func (c decoded) inputs() (map[string]map[string]any, []string) {
	byID := map[string]map[string]any{}
	var ids []string
	for _, el := range c.body() {
		if strings.HasPrefix(el["type"].(string), "Input.") {
			id := el["id"].(string)
			byID[id] = el
			ids = append(ids, id)
		}
	}
	return byID, ids
}

// texts returns the text of every TextBlock.
func (c decoded) texts() []string {
	var out []string
	for _, el := range c.body() {
		if el["type"] == "TextBlock" {
			out = append(out, el["text"].(string))
		}
	}
	return out
}

// facts returns every fact's value by title.
func (c decoded) facts() map[string]string {
	out := map[string]string{}
	for _, el := range c.body() {
		if el["type"] != "FactSet" {
			continue
		}
		for _, f := range el["facts"].([]any) {
			f := f.(map[string]any)
			out[f["title"].(string)] = f["value"].(string)
		}
	}
	return out
}

// mustCard returns a check of what a card function returns: no error, at
// most MaxBytes, JSON.
func mustCard(t *testing.T) func(json.RawMessage, error) decoded {
	return func(raw json.RawMessage, err error) decoded {
		t.Helper()
		if err != nil {
			t.Fatalf("card: %v", err)
		}
		if len(raw) > MaxBytes {
			t.Errorf("card is %d bytes, more than MaxBytes %d", len(raw), MaxBytes)
		}
		return decode(t, raw)
	}
}

// allCards makes every kind of card for the gate with every field type.
func allCards(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	g := gate(t, everyType)
	values := map[string]string{"reason": "ops 1", "rollout": "500", "team": "finance", CommentKey: "see above"}
	cards := map[string]json.RawMessage{}
	add := func(name string, raw json.RawMessage, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cards[name] = raw
	}
	raw, err := Pending(g)
	add("pending", raw, err)
	raw, err = Links(g, respondURL)
	add("links", raw, err)
	answers := map[string]gates.Answered{
		"recorded":         {Result: gates.Recorded, Identity: "alice", Gate: settle(g, "pending")},
		"recorded settled": {Result: gates.Recorded, Identity: "bob", Gate: settle(g, "approved")},
		"duplicate":        {Result: gates.Duplicate, Identity: "alice", Gate: settle(g, "pending")},
		"invalid":          {Result: gates.Invalid, Identity: "alice", Problems: []string{"reason: must match the pattern [A-Z]+-[0-9]+", "rollout: must be a whole number between 1 and 100"}, Gate: g},
		"not eligible":     {Result: gates.NotEligible, Identity: "mallory", Reason: "not an approver of this gate", Gate: g},
		"closed":           {Result: gates.Closed, Identity: "alice", Gate: settle(g, "rejected")},
	}
	for name, a := range answers {
		raw, err := Answered(g, a, values)
		add("answered "+name, raw, err)
	}
	for _, status := range []string{"approved", "rejected", "timed_out", "timed_out_approved", "cancelled", "pending"} {
		raw, err := Settled(settle(g, status))
		add("settled "+status, raw, err)
	}
	return cards
}
