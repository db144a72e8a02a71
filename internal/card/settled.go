package card

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// Settled is the outcome for everyone, without inputs or buttons: the
// headline, the comment of the deciding response, the approvers, the field
// values and the issue link. A gate whose deadline has passed but whose
// outcome is not yet recorded shows as closed.
func Settled(g gates.Info) (json.RawMessage, error) {
	return fit(g.ID, 0, func(l limits) card { return settledCard(g, l) })
}

func settledCard(g gates.Info, l limits) card {
	v := g.View
	headline, color := outcome(v.Status, v.Approved, clip(v.DecidedBy, l.text), clip(v.Reason, l.text))
	h := colored(headline, color)
	h.Size, h.Weight = "medium", "bolder"
	body := []any{heading(clip(g.Title, l.text)), h}
	if v.Comment != "" {
		body = append(body, text("Comment: "+clip(v.Comment, l.text)))
	}
	about := []fact{{Title: "Repository", Value: clip(g.Repository, l.text)}, runFact(g, l), issueFact(g)}
	if len(v.Approvers) > 0 {
		about = append(about, fact{Title: "Approved by", Value: joinFit(v.Approvers, ", ", l.text)})
	}
	if v.SettledAt != nil {
		about = append(about, fact{Title: "Settled", Value: v.SettledAt.UTC().Format(time.DateTime + " UTC")})
	}
	body = append(body, factSet{Type: "FactSet", Facts: about})
	if len(g.Fields) > 0 {
		values := make([]fact, len(g.Fields))
		for i, f := range g.Fields {
			s := fields.Format(v.Fields[f.ID])
			if s == "" {
				s = "—"
			}
			values[i] = fact{Title: f.ID, Value: clip(s, l.text)}
		}
		body = append(body, factSet{Type: "FactSet", Facts: values})
	}
	return newCard(body, nil)
}

// outcome is the headline of a gate's status and its color.
func outcome(status string, approved bool, by, reason string) (string, string) {
	switch approval.Status(status) {
	case approval.Approved:
		if by == "" {
			return "Approved", "good"
		}
		return "Approved by " + by, "good"
	case approval.Rejected:
		if by == "" {
			return "Rejected", "attention"
		}
		return "Rejected by " + by, "attention"
	case approval.TimedOut:
		if approved {
			return "Timed out (approved by on-timeout)", "warning"
		}
		return "Timed out (not approved)", "warning"
	case approval.Cancelled:
		if reason == "" {
			return "Cancelled", "warning"
		}
		return "Cancelled: " + reason, "warning"
	case approval.Pending, "":
		return "Closed: the deadline has passed", "warning"
	}
	return fmt.Sprintf("Closed (%s)", status), "default"
}
