package approval

import (
	"slices"
	"strings"
	"time"
)

// Evaluate applies the decision rules to the responses given so far, at time
// now. Responses may come in any order; they are taken oldest first. Only
// eligible actors count, each person once with their latest response; any
// counted rejection settles the gate as rejected; enough distinct approvals
// settle it as approved; past the deadline it settles as timed out.
// Responses at or after the deadline never count.
func Evaluate(g Gate, responses []Response, now time.Time) Outcome {
	ordered := slices.Clone(responses)
	slices.SortStableFunc(ordered, func(a, b Response) int { return a.At.Compare(b.At) })

	var required []string
	if g.RequireAll {
		required = g.requiredPeople()
	}
	// Until a rejection settles the gate, every counted response approves.
	var counted []Response
	var persons []string         // persons[i] is the person key of counted[i]
	covered := map[string]bool{} // lower-cased logins and emails that approved
	for _, r := range ordered {
		if !g.Deadline.IsZero() && !r.At.Before(g.Deadline) {
			break
		}
		if g.Eligible(r.Actor) != nil {
			continue
		}
		// A person's new response replaces their earlier one.
		k := r.Actor.key()
		if i := slices.Index(persons, k); i >= 0 {
			counted = slices.Delete(counted, i, i+1)
			persons = slices.Delete(persons, i, i+1)
		}
		counted = append(counted, r)
		persons = append(persons, k)
		if r.Decision == Reject {
			return settled(Rejected, false, r, counted)
		}
		covered[strings.ToLower(r.Actor.Login)] = true
		for _, e := range r.Actor.addresses() {
			covered[strings.ToLower(e)] = true
		}
		if g.approvedBy(len(counted), required, covered) {
			return settled(Approved, true, r, counted)
		}
	}
	if !g.Deadline.IsZero() && !now.Before(g.Deadline) {
		return Outcome{
			Status:    TimedOut,
			Approved:  g.OnTimeout == TimeoutApprove,
			Counted:   counted,
			Approvers: approvers(counted),
			Fields:    g.Fields.Defaults(),
			SettledAt: g.Deadline,
		}
	}
	return Outcome{Status: Pending, Counted: counted, Approvers: approvers(counted)}
}

// approvedBy reports whether n distinct approvals reach the gate's quorum;
// with RequireAll, every required person must be among the covered logins
// and emails.
func (g Gate) approvedBy(n int, required []string, covered map[string]bool) bool {
	if !g.RequireAll {
		return n >= g.MinimumApprovals
	}
	for _, p := range required {
		if !covered[p] {
			return false
		}
	}
	return len(required) > 0
}

func settled(s Status, ok bool, by Response, counted []Response) Outcome {
	return Outcome{
		Status:    s,
		Approved:  ok,
		DecidedBy: by.Actor.Identity(),
		Counted:   counted,
		Approvers: approvers(counted),
		Fields:    by.Fields,
		Comment:   by.Comment,
		SettledAt: by.At,
	}
}

func approvers(counted []Response) []string {
	var ids []string
	for _, r := range counted {
		if r.Decision == Approve {
			ids = append(ids, r.Actor.Identity())
		}
	}
	return ids
}
