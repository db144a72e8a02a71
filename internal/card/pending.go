package card

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// rfc3339 is the client-side check of a datetime input: the text that
// fields.Coerce reads with time.RFC3339.
const rfc3339 = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})$`

// Pending is the card posted when the gate opens: what is asked, the facts,
// one input per field showing its default, a reason input, and the Approve
// and Reject buttons.
func Pending(g gates.Info) (json.RawMessage, error) {
	shown := showAll(g.Fields, nil)
	return fit(g.ID, len(g.Instructions), func(l limits) card { return openCard(g, shown, "", l) })
}

// Links is the card for a Workflows incoming webhook, which runs only
// Action.OpenUrl: what is asked, the facts, and links to the response page
// at respondURL and to the issue. Both URLs must be absolute http(s) URLs.
func Links(g gates.Info, respondURL string) (json.RawMessage, error) {
	if !webURL(respondURL) {
		return nil, fmt.Errorf("links card for gate %s: the respond URL is not an absolute http(s) URL", g.ID)
	}
	if !webURL(g.IssueURL) {
		return nil, fmt.Errorf("links card for gate %s: issue URL %q is not an absolute http(s) URL", g.ID, g.IssueURL)
	}
	actions := []action{
		{Type: "Action.OpenUrl", Title: "Approve or reject…", URL: respondURL},
		{Type: "Action.OpenUrl", Title: "Open the issue", URL: g.IssueURL},
	}
	return fit(g.ID, len(g.Instructions), func(l limits) card {
		body := []any{heading(clip(g.Title, l.text))}
		body = append(body, instructions(g.Instructions, l)...)
		body = append(body, facts(g, l))
		return newCard(body, actions)
	})
}

// openCard is the card of a gate that takes answers, its inputs showing
// what showAll found for each field and the reason comment.
func openCard(g gates.Info, shown []shownValue, comment string, l limits) card {
	body := []any{heading(clip(g.Title, l.text))}
	body = append(body, instructions(g.Instructions, l)...)
	body = append(body, facts(g, l))
	for i, f := range g.Fields {
		body = append(body, input(f, shown[i], l))
	}
	body = append(body, textInput{
		inputBase:   inputBase{Type: "Input.Text", ID: CommentKey, Label: "Reason (optional)"},
		Value:       clip(comment, min(l.text, maxComment)),
		MaxLength:   maxComment,
		IsMultiline: true,
	})
	data := map[string]string{GateKey: g.ID}
	return newCard(body, []action{
		{Type: "Action.Execute", Title: "Approve", Verb: VerbApprove, Style: "positive", Data: data, AssociatedInputs: "auto"},
		{Type: "Action.Execute", Title: "Reject", Verb: VerbReject, Style: "destructive", Data: data, AssociatedInputs: "auto"},
	})
}

// instructions is the instructions block, shortened to the limits; none
// when there are no instructions.
func instructions(s string, l limits) []any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return []any{text(shorten(s, l.instructions))}
}

// facts says where the gate comes from and what it needs.
func facts(g gates.Info, l limits) factSet {
	needs := "every listed approver"
	if !g.RequireAll {
		needs = plural(g.MinimumApprovals, "approval", "approvals")
	}
	deadline := "none"
	if !g.Deadline.IsZero() {
		deadline = g.Deadline.UTC().Format(time.DateTime + " UTC")
	}
	return factSet{Type: "FactSet", Facts: []fact{
		{Title: "Repository", Value: clip(g.Repository, l.text)},
		runFact(g, l),
		issueFact(g),
		{Title: "Needs", Value: needs},
		{Title: "Deadline", Value: deadline},
	}}
}

func runFact(g gates.Info, l limits) fact {
	name := g.Run.Workflow
	if name == "" {
		name = "run"
	}
	return fact{Title: "Workflow", Value: link(fmt.Sprintf("%s #%d", clip(name, l.text), g.Run.Number), g.Run.URL)}
}

func issueFact(g gates.Info) fact {
	return fact{Title: "Issue", Value: link(fmt.Sprintf("#%d", g.IssueNumber), g.IssueURL)}
}

// input is the card input of a field showing s.
func input(f fields.Field, s shownValue, l limits) any {
	base := inputBase{ID: f.ID, Label: clip(label(f), l.text), IsRequired: f.Required, ErrorMessage: clip(errorMessage(f), l.text)}
	switch f.Type {
	case fields.Boolean:
		// A toggle always sends valueOn or valueOff, so the field is always
		// given; a required toggle would have to be on, which would rule
		// out false.
		base.Type, base.IsRequired, base.ErrorMessage = "Input.Toggle", false, ""
		title := f.Description
		if title == "" {
			title = f.ID
		}
		t := toggleInput{inputBase: base, Title: clip(title, l.text), ValueOn: "true", ValueOff: "false", Wrap: true}
		if s.valid {
			t.Value = s.value
		}
		return t
	case fields.Number:
		base.Type = "Input.Number"
		return numberInput{inputBase: base, Value: number(s.value), Min: f.Min, Max: f.Max}
	case fields.Select, fields.Multiselect:
		base.Type = "Input.ChoiceSet"
		choices := make([]choice, len(f.Values))
		for i, v := range f.Values {
			choices[i] = choice{Title: v, Value: v}
		}
		c := choiceSetInput{inputBase: base, Choices: choices, Style: "compact", IsMultiSelect: f.Type == fields.Multiselect, Wrap: true}
		if s.valid {
			c.Value = s.value
		}
		return c
	case fields.Date:
		base.Type = "Input.Date"
		d := dateInput{inputBase: base}
		if s.valid {
			d.Value = s.value
		}
		return d
	}
	base.Type = "Input.Text"
	t := textInput{inputBase: base, Value: clip(s.value, l.text)}
	switch f.Type {
	case fields.String:
		t.MaxLength = f.MaxLength
		if f.Pattern != "" {
			// Anchored as fields.Coerce anchors it.
			t.Regex = `^(?:` + f.Pattern + `)$`
		}
	case fields.Datetime:
		t.Placeholder, t.Regex = "2026-01-02T15:04:05Z", rfc3339
	case fields.Duration:
		t.Placeholder = "1h30m"
	case fields.Email:
		t.Style = "email"
	case fields.URL:
		t.Style = "url"
	}
	return t
}

func label(f fields.Field) string {
	if f.Description == "" {
		return f.ID
	}
	return f.ID + " — " + f.Description
}

// errorMessage is what a client shows when an input fails its own check:
// a required input left empty, or text that does not match its regex.
func errorMessage(f fields.Field) string {
	var parts []string
	if f.Required {
		parts = append(parts, "required")
	}
	switch {
	case f.Type == fields.String && f.Pattern != "":
		parts = append(parts, "must match the pattern "+f.Pattern)
	case f.Type == fields.Datetime:
		parts = append(parts, "must be a date and time as RFC 3339, like 2026-01-02T15:04:05Z")
	}
	if len(parts) == 0 {
		return ""
	}
	return f.ID + ": " + strings.Join(parts, "; ")
}

// shownValue is what a field's input shows, as fields.Format writes it.
// valid is false for a raw value that does not validate, which only text
// and number inputs can show.
type shownValue struct {
	value string
	valid bool
}

// showAll finds what each field's input shows: the raw value given by field
// id, in canonical form when it is valid, else the field's default ("" for
// none).
func showAll(s fields.Schema, raw map[string]string) []shownValue {
	out := make([]shownValue, len(s))
	for i, f := range s {
		r := raw[f.ID]
		if strings.TrimSpace(r) == "" {
			out[i] = shownValue{fields.Format(f.Default), true}
			continue
		}
		v, err := f.Coerce(r)
		if err != nil {
			out[i] = shownValue{r, false}
			continue
		}
		out[i] = shownValue{fields.Format(v), true}
	}
	return out
}

// number reads a number input's value; nil for none or not a finite number.
func number(s string) *float64 {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// link is a markdown link to u, or the bare text when u is not a plain
// absolute http(s) URL. Brackets in the text become parentheses, so that
// the text can neither end the link nor make one of its own.
func link(s, u string) string {
	s = strings.NewReplacer("[", "(", "]", ")", "\n", " ", "\r", " ").Replace(s)
	if !webURL(u) {
		return s
	}
	return "[" + s + "](" + u + ")"
}

// webURL reports whether u is an absolute http(s) URL that a markdown link
// carries as written.
func webURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" &&
		!strings.ContainsAny(u, " ()[]<>\"'`\\") && !strings.ContainsFunc(u, unicode.IsControl)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
