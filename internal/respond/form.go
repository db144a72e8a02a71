package respond

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

// formView is the response form.
type formView struct {
	Action  string
	CSRF    string
	Inputs  []inputView
	Comment string
	// Problems are every problem of the last answer, for the summary.
	Problems []string
	// Intent is the decision chosen before the page (an email's approve
	// or reject link): its button comes first and is the primary one.
	Intent approval.Decision
}

// buttonView is one of the decision buttons.
type buttonView struct {
	Value approval.Decision
	Label string
	Class string
}

// Buttons are the decision buttons in order: approve then reject, or the
// intended one first.
func (f *formView) Buttons() []buttonView {
	approve := buttonView{Value: approval.Approve, Label: "Approve", Class: "approve"}
	reject := buttonView{Value: approval.Reject, Label: "Reject", Class: "reject"}
	switch f.Intent {
	case approval.Approve:
		approve.Class += " primary"
		reject.Class += " secondary"
	case approval.Reject:
		reject.Class += " primary"
		approve.Class += " secondary"
		return []buttonView{reject, approve}
	}
	return []buttonView{approve, reject}
}

// inputView is one field's input. Element ids are "f-<field id>" and
// suffixes after a dot, which no field id holds, so they never clash.
type inputView struct {
	Name        string // the field id
	ElemID      string
	Control     string // "checkbox", "select", "choices" (checkboxes) or "input"
	Type        string // of an "input": text, number, date, email or url
	Description string
	Required    bool // the required attribute
	Mandatory   bool // shown as required
	Value       string
	Checked     bool
	Options     []optionView
	MaxLength   int
	Pattern     string
	PatternHint string
	Placeholder string
	Min, Max    string
	Step        string
	Problem     string
}

type optionView struct {
	Value    string
	ElemID   string
	Selected bool
}

// DescID is the id of the input's description.
func (in inputView) DescID() string { return in.ElemID + ".desc" }

// ProblemID is the id of the input's problem.
func (in inputView) ProblemID() string { return in.ElemID + ".problem" }

// DescribedBy lists the ids that describe the input.
func (in inputView) DescribedBy() string {
	var ids []string
	if in.Description != "" {
		ids = append(ids, in.DescID())
	}
	if in.Problem != "" {
		ids = append(ids, in.ProblemID())
	}
	return strings.Join(ids, " ")
}

// newForm builds the form for a schema: with the defaults when submitted is
// nil, else with the values submitted and the problems found in them.
func newForm(schema fields.Schema, action, csrf string, submitted url.Values, comment string, problems []string) *formView {
	f := &formView{Action: action, CSRF: csrf, Comment: comment, Problems: problems}
	for _, fd := range schema {
		in := newInput(fd, submitted)
		for _, p := range problems {
			if msg, ok := strings.CutPrefix(p, fd.ID+": "); ok {
				in.Problem = msg
				break
			}
		}
		f.Inputs = append(f.Inputs, in)
	}
	return f
}

func newInput(fd fields.Field, submitted url.Values) inputView {
	in := inputView{
		Name:        fd.ID,
		ElemID:      "f-" + fd.ID,
		Control:     "input",
		Type:        "text",
		Description: fd.Description,
		Required:    fd.Required,
		Mandatory:   fd.Required,
	}
	given := submitted[fd.ID]
	value := fields.Format(fd.Default)
	if submitted != nil {
		value = ""
		if len(given) > 0 {
			value = given[0]
		}
	}
	in.Value = value
	switch fd.Type {
	case fields.Boolean:
		// An unchecked box is false, a value like any other: never required.
		in.Control, in.Required, in.Mandatory = "checkbox", false, false
		in.Checked = fd.Default == true
		if submitted != nil {
			in.Checked = slices.Contains(given, "true")
		}
	case fields.String:
		in.MaxLength = fd.MaxLength
		if htmlPattern(fd.Pattern) {
			in.Pattern = fd.Pattern
			in.PatternHint = "Must match " + fd.Pattern
		}
	case fields.Number:
		in.Type, in.Step = "number", "any"
		if fd.Integer {
			in.Step = "1"
		}
		if fd.Min != nil {
			in.Min = fields.Format(*fd.Min)
		}
		if fd.Max != nil {
			in.Max = fields.Format(*fd.Max)
		}
	case fields.Select:
		in.Control = "select"
		in.Options = options(fd, []string{value})
	case fields.Multiselect:
		// Checkboxes cannot require one of them: the service checks that.
		in.Control, in.Required = "choices", false
		chosen, _ := fd.Default.([]string)
		if submitted != nil {
			chosen = given
		}
		in.Options = options(fd, chosen)
	case fields.Date:
		in.Type = "date"
	case fields.Datetime:
		// A datetime-local input has no offset, which RFC 3339 needs.
		in.Placeholder = "2024-05-01T14:30:00Z"
	case fields.Duration:
		in.Placeholder = "90m, 36h or 7d"
	case fields.Email:
		in.Type = "email"
	case fields.URL:
		in.Type = "url"
	}
	return in
}

func options(fd fields.Field, chosen []string) []optionView {
	out := make([]optionView, len(fd.Values))
	for i, v := range fd.Values {
		out[i] = optionView{Value: v, ElemID: "f-" + fd.ID + "." + strconv.Itoa(i), Selected: slices.Contains(chosen, v)}
	}
	return out
}

// htmlPattern reports whether a field's pattern can go in the pattern
// attribute. Browsers read it as a JavaScript expression; where that syntax
// differs from Go's they mostly reject the pattern and do not check it, but
// a POSIX class such as [[:alpha:]] would check something else.
func htmlPattern(p string) bool {
	return p != "" && !strings.Contains(p, "[:")
}

// formValues are the raw values of the schema's fields in a submitted form:
// a checkbox is "true" or "false", the boxes of a multiselect are joined
// with ",", other inputs give their first value. Other form keys are left
// out.
func formValues(schema fields.Schema, form url.Values) map[string]string {
	out := map[string]string{}
	for _, fd := range schema {
		given := form[fd.ID]
		switch {
		case fd.Type == fields.Boolean:
			out[fd.ID] = "false"
			if slices.Contains(given, "true") {
				out[fd.ID] = "true"
			}
		case fd.Type == fields.Multiselect && len(given) > 0:
			out[fd.ID] = strings.Join(given, ",")
		case len(given) > 0 && strings.TrimSpace(given[0]) != "":
			out[fd.ID] = given[0]
		}
	}
	return out
}
