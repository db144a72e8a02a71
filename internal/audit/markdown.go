package audit

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

// Run is the workflow run a gate belongs to.
type Run struct {
	Repository string // owner/name
	Workflow   string
	Job        string
	Number     int
	URL        string // the run's web page
	Actor      string
	SHA        string
	Ref        string
}

// Gate is what the issue texts say about a gate.
type Gate struct {
	ID           string
	Run          Run
	Instructions string
	Rules        approval.Gate
}

const timeLayout = "2006-01-02 15:04:05 UTC"

// maxComment is the longest text written on an issue: GitHub refuses a
// comment of more than 65,536 characters.
const maxComment = 60000

// IssueBody is the approval issue's body: what is asked, who may answer, how
// to answer, the fields, and the deadline.
func IssueBody(g Gate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", Marker{Kind: KindOpened, Gate: g.ID})
	fmt.Fprintf(&b, "**%s** run [#%d](%s) (job `%s`", g.Run.Workflow, g.Run.Number, g.Run.URL, g.Run.Job)
	if g.Run.Actor != "" {
		fmt.Fprintf(&b, ", started by @%s", g.Run.Actor)
	}
	b.WriteString(") is waiting for approval")
	if g.Run.SHA != "" {
		fmt.Fprintf(&b, " at `%s`", short(g.Run.SHA))
	}
	if g.Run.Ref != "" {
		fmt.Fprintf(&b, " on `%s`", g.Run.Ref)
	}
	b.WriteString(".\n\n")
	if s := strings.TrimSpace(g.Instructions); s != "" {
		b.WriteString(s + "\n\n")
	}

	r := g.Rules
	b.WriteString("### Approvers\n")
	b.WriteString(strings.Join(mentions(r.Approvers), ", ") + "\n\n")
	if r.RequireAll {
		b.WriteString("Every listed person must approve.")
	} else {
		fmt.Fprintf(&b, "%d %s needed.", r.MinimumApprovals, plural(r.MinimumApprovals, "approval", "approvals"))
	}
	b.WriteString(" Any rejection by an approver rejects.")
	if r.ExcludeInitiator {
		b.WriteString(" The person who started the run cannot approve.")
	}
	b.WriteString("\n\n### How to respond\n")
	b.WriteString("Comment on this issue with `approve` or `reject` on the first line.")
	if len(r.Fields) > 0 {
		b.WriteString(" Give fields as `id: value` lines;")
	}
	b.WriteString(" any other lines are your comment. Your latest response before the gate settles is the one that counts.\n\n")
	b.WriteString("```\napprove\n")
	for _, f := range r.Fields {
		if f.Required {
			fmt.Fprintf(&b, "%s: %s\n", f.ID, example(f))
		}
	}
	b.WriteString("Checked on staging.\n```\n")
	if len(r.Fields) > 0 {
		b.WriteString("\n### Fields\n| field | value | required | default | description |\n|---|---|---|---|---|\n")
		for _, f := range r.Fields {
			req := ""
			if f.Required {
				req = "yes"
			}
			def := ""
			if f.Default != nil {
				def = "`" + cell(fields.Format(f.Default)) + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.ID, cell(Describe(f)), req, def, cell(f.Description))
		}
	}
	if !r.Deadline.IsZero() {
		fmt.Fprintf(&b, "\nThis gate times out at %s; then it %s.\n", r.Deadline.UTC().Format(timeLayout), timeoutEffect(r.OnTimeout))
	}
	return b.String()
}

// Summary is the comment that settles a gate: the outcome and every counted
// response with identity, channel, time and fields, then any notes (such as
// a counted comment edited afterwards).
func Summary(gateID string, r approval.Gate, o approval.Outcome, notes ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### %s\n\n", Marker{Kind: KindSummary, Gate: gateID}, headline(o))
	switch o.Status {
	case approval.TimedOut:
		fmt.Fprintf(&b, "No decision was reached by %s; the gate %s.\n", o.SettledAt.UTC().Format(timeLayout), timeoutEffect(r.OnTimeout))
	default:
		fmt.Fprintf(&b, "Settled by **%s** at %s", cell(o.DecidedBy), o.SettledAt.UTC().Format(timeLayout))
		if o.Status == approval.Approved && !r.RequireAll {
			fmt.Fprintf(&b, " with %d of %d %s", len(o.Approvers), r.MinimumApprovals, plural(r.MinimumApprovals, "approval", "approvals"))
		}
		b.WriteString(".\n")
	}
	if len(o.Counted) > 0 {
		b.WriteString("\n| who | via | decision | when | fields | comment |\n|---|---|---|---|---|---|\n")
		for _, c := range o.Counted {
			who := cell(c.Actor.Identity())
			if c.URL != "" {
				who = fmt.Sprintf("[%s](%s)", who, c.URL)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", who, c.Via, c.Decision, c.At.UTC().Format(timeLayout), cell(formatValues(r.Fields, c.Fields)), cell(c.Comment))
		}
	}
	if s := formatValues(r.Fields, o.Fields); s != "" {
		fmt.Fprintf(&b, "\n**Fields:** %s\n", cell(s))
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return fit(b.String())
}

// fit cuts a text that GitHub would refuse, on a line boundary, and says so.
func fit(s string) string {
	if len(s) <= maxComment {
		return s
	}
	cut := strings.LastIndexByte(s[:maxComment], '\n')
	return s[:cut+1] + "\n*…cut: the full record is in the step's `responses` output.*\n"
}

// InvalidReply answers a decision comment whose fields did not validate.
func InvalidReply(gateID string, commentID int64, actor, commentURL string, problems []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n@%s your [response](%s) was not counted:\n\n", Marker{Kind: KindInvalid, Gate: gateID, Comment: commentID}, actor, commentURL)
	for _, p := range problems {
		fmt.Fprintf(&b, "- %s\n", cell(p))
	}
	b.WriteString("\nPost a new comment with the decision and corrected values.\n")
	return b.String()
}

// channels names a response's channel in prose.
var channels = map[approval.Via]string{
	approval.ViaComment: "a comment", approval.ViaTeams: "Microsoft Teams",
	approval.ViaEmail: "email", approval.ViaWeb: "the web",
}

// ResponseNote records on the issue a response that did not come from a
// comment: who, through which channel, the decision, when, the fields and
// the reason.
func ResponseNote(gateID string, s fields.Schema, r approval.Response) string {
	var b strings.Builder
	verb := "Approved"
	if r.Decision == approval.Reject {
		verb = "Rejected"
	}
	via := channels[r.Via]
	if via == "" {
		via = string(r.Via)
	}
	fmt.Fprintf(&b, "%s\n**%s** by **%s** via %s at %s", Marker{Kind: KindResponse, Gate: gateID}, verb, cell(r.Actor.Identity()), via, r.At.UTC().Format(timeLayout))
	if r.Comment != "" {
		fmt.Fprintf(&b, ": %s", cell(r.Comment))
	}
	b.WriteString("\n")
	if v := formatValues(s, r.Fields); v != "" {
		fmt.Fprintf(&b, "\n**Fields:** %s\n", cell(v))
	}
	return fit(b.String())
}

// Notice reports a problem with the gate on its issue.
func Notice(gateID, text string) string {
	return fmt.Sprintf("%s\n> [!WARNING]\n> %s\n", Marker{Kind: KindNotice, Gate: gateID}, cell(text))
}

// CancelledNote says a gate was cancelled and why.
func CancelledNote(gateID, why string) string {
	return fmt.Sprintf("%s\n### ⏹️ Cancelled\n\n%s Nothing was approved.\n", Marker{Kind: KindCancelled, Gate: gateID}, why)
}

// Describe says in a few words what a field accepts.
func Describe(f fields.Field) string {
	switch f.Type {
	case fields.Boolean:
		return "true or false"
	case fields.String:
		s := "text"
		if f.Pattern != "" {
			s += " matching `" + f.Pattern + "`"
		}
		if f.MaxLength > 0 {
			s += fmt.Sprintf(", at most %d characters", f.MaxLength)
		}
		return s
	case fields.Number:
		s := "number"
		if f.Integer {
			s = "whole number"
		}
		switch {
		case f.Min != nil && f.Max != nil:
			s += fmt.Sprintf(" from %s to %s", fields.Format(*f.Min), fields.Format(*f.Max))
		case f.Min != nil:
			s += " ≥ " + fields.Format(*f.Min)
		case f.Max != nil:
			s += " ≤ " + fields.Format(*f.Max)
		}
		return s
	case fields.Select:
		return "one of " + codeList(f.Values)
	case fields.Multiselect:
		return "one or more of " + codeList(f.Values) + ", comma-separated"
	case fields.Date:
		return "date, YYYY-MM-DD"
	case fields.Datetime:
		return "date and time, RFC 3339"
	case fields.Duration:
		return "duration, like 90m, 36h or 7d"
	case fields.Email:
		return "email address"
	case fields.URL:
		return "http(s) URL"
	}
	return string(f.Type)
}

func example(f fields.Field) string {
	switch f.Type {
	case fields.Boolean:
		return "true"
	case fields.Number:
		if f.Min != nil {
			return fields.Format(*f.Min)
		}
		return "1"
	case fields.Select, fields.Multiselect:
		return f.Values[0]
	case fields.Date:
		return "2030-01-31"
	case fields.Datetime:
		return "2030-01-31T18:00:00Z"
	case fields.Duration:
		return "1h"
	case fields.Email:
		return "someone@example.com"
	case fields.URL:
		return "https://example.com"
	}
	return "your answer"
}

func headline(o approval.Outcome) string {
	switch o.Status {
	case approval.Approved:
		return "✅ Approved"
	case approval.Rejected:
		return "❌ Rejected"
	case approval.TimedOut:
		if o.Approved {
			return "⌛ Timed out — approved by on-timeout"
		}
		return "⌛ Timed out"
	case approval.Cancelled:
		return "⏹️ Cancelled"
	}
	return string(o.Status)
}

func timeoutEffect(t approval.OnTimeout) string {
	switch t {
	case approval.TimeoutApprove:
		return "approves (on-timeout: approve)"
	case approval.TimeoutError:
		return "fails the job (on-timeout: error)"
	}
	return "rejects (on-timeout: reject)"
}

func formatValues(s fields.Schema, v fields.Values) string {
	var parts []string
	for _, f := range s {
		if val, ok := v[f.ID]; ok && val != nil {
			parts = append(parts, fmt.Sprintf("%s: %s", f.ID, fields.Format(val)))
		}
	}
	return strings.Join(parts, "; ")
}

func mentions(a approval.Approvers) []string {
	var m []string
	for _, l := range a.Logins {
		m = append(m, "@"+l)
	}
	for _, t := range a.Teams {
		m = append(m, "@"+t)
	}
	return append(m, a.Emails...)
}

func codeList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

var cellBreaks = regexp.MustCompile(`\s*\r?\n\s*`)

// cell makes text safe inside a one-line markdown table cell.
func cell(s string) string {
	s = cellBreaks.ReplaceAllString(strings.TrimSpace(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

func short(sha string) string { return sha[:min(len(sha), 7)] }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
