package card

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// Answered is the card the person who clicked a button sees next. It shows
// a.Gate, or g when a.Gate is not set (no ID). values are the raw inputs
// the click sent, by field id, with the reason under CommentKey:
//
//   - Recorded and Duplicate: what was recorded and the standing, with the
//     inputs (showing values) and buttons kept while the gate is open so
//     that the answer can be changed, else the outcome;
//   - Invalid: the Pending card with the problems and the inputs showing values;
//   - NotEligible: why the answer does not count, without inputs or buttons;
//   - Closed: the Settled card.
func Answered(g gates.Info, a gates.Answered, values map[string]string) (json.RawMessage, error) {
	if a.Gate.ID != "" {
		g = a.Gate
	}
	shown := showAll(g.Fields, values)
	switch a.Result {
	case gates.Recorded, gates.Duplicate:
		if approval.Status(g.View.Status).Settled() {
			return fit(g.ID, 0, func(l limits) card {
				c := settledCard(g, l)
				c.Body = slices.Insert(c.Body, 1, any(recordedNote(g, a.Identity, l)))
				return c
			})
		}
		return fit(g.ID, len(g.Instructions), func(l limits) card {
			c := openCard(g, shown, values[CommentKey], l)
			c.Body = slices.Insert(c.Body, 1, any(recordedNote(g, a.Identity, l)), any(text(standing(g))))
			return c
		})
	case gates.Invalid:
		return fit(g.ID, len(g.Instructions), func(l limits) card {
			c := openCard(g, shown, values[CommentKey], l)
			c.Body = slices.Insert(c.Body, 1, any(colored(problems(a.Problems, l), "attention")))
			return c
		})
	case gates.NotEligible:
		return fit(g.ID, 0, func(l limits) card {
			return newCard([]any{
				heading(clip(g.Title, l.text)),
				colored("Not counted: "+clip(a.Reason, l.text), "attention"),
				facts(g, l),
			}, nil)
		})
	case gates.Closed:
		return Settled(g)
	}
	return nil, fmt.Errorf("card for gate %s: unknown answer result %q", g.ID, a.Result)
}

// recordedNote says what was recorded for identity: the decision of the
// identity's counted response.
func recordedNote(g gates.Info, identity string, l limits) textBlock {
	who := clip(identity, l.text)
	rs := g.View.Responses
	for i := len(rs) - 1; i >= 0; i-- {
		if strings.EqualFold(rs[i].Actor, identity) {
			verb := "approved"
			if rs[i].Decision == string(approval.Reject) {
				verb = "rejected"
			}
			return colored(fmt.Sprintf("✓ Recorded: you %s as %s", verb, who), "good")
		}
	}
	return colored("✓ Recorded as "+who, "good")
}

// standing says how far an open gate is from approval.
func standing(g gates.Info) string {
	needed := g.View.MinimumApprovals
	if needed == 0 {
		needed = g.MinimumApprovals
	}
	return fmt.Sprintf("Approvals so far: %d of %d.", g.View.Approvals, needed)
}

// problems lists the problems of an invalid answer as markdown.
func problems(ps []string, l limits) string {
	if len(ps) == 0 {
		return "Not recorded: a field does not validate."
	}
	return "Not recorded. Fix these and answer again:\n\n- " + joinFit(ps, "\n- ", l.text)
}
