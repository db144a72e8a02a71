package approval

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

// Decision is what a response says.
type Decision string

// The two decisions a person can give.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
)

// Status is the state of a gate.
type Status string

// Gate statuses, as reported in the `decision` output and the gate view.
const (
	Pending   Status = "pending"
	Approved  Status = "approved"
	Rejected  Status = "rejected"
	TimedOut  Status = "timed_out"
	Cancelled Status = "cancelled"
)

// Settled reports whether the status is final.
func (s Status) Settled() bool { return s != Pending && s != "" }

// OnTimeout is the effect of reaching the deadline without a decision.
type OnTimeout string

// The on-timeout effects.
const (
	TimeoutReject  OnTimeout = "reject"
	TimeoutApprove OnTimeout = "approve"
	TimeoutError   OnTimeout = "error"
)

// ParseOnTimeout reads an on-timeout value, case-insensitively.
func ParseOnTimeout(s string) (OnTimeout, error) {
	switch t := OnTimeout(strings.ToLower(strings.TrimSpace(s))); t {
	case TimeoutReject, TimeoutApprove, TimeoutError:
		return t, nil
	}
	return "", fmt.Errorf("on-timeout: must be reject, approve or error, got %q", s)
}

// Via names the channel a response came through.
type Via string

// The channels of the contract's `responses` output.
const (
	ViaComment Via = "comment"
	ViaTeams   Via = "teams"
	ViaEmail   Via = "email"
	ViaWeb     Via = "web"
)

// Gate is what the decision rules need to know about a gate.
type Gate struct {
	Approvers Approvers
	// MinimumApprovals is the number of distinct approvals that settle the
	// gate; ignored when RequireAll is set.
	MinimumApprovals int
	// RequireAll means every listed person (login or email) must approve.
	RequireAll       bool
	ExcludeInitiator bool
	// Initiators are the run's actor and triggering actor.
	Initiators []string
	Fields     fields.Schema
	// Deadline is when the gate times out; zero means never.
	Deadline  time.Time
	OnTimeout OnTimeout
}

// Actor is the person behind a response, as established by the channel that
// authenticated them and by the identities file.
type Actor struct {
	// Person is the key that makes one human count once across channels.
	Person string
	Login  string
	// Email is the address the actor answered with, if any.
	Email string
	// Emails are every address the identities file knows for the person.
	Emails  []string
	TeamsID string
	Name    string
	// Teams lists the gate's approver teams ("org/slug") that the actor is an
	// active member of, as resolved by the caller.
	Teams []string
	Bot   bool
}

// Identity is how the actor is named in outputs and in the audit trail: the
// GitHub login, else the email address, else the Teams name and object id.
func (a Actor) Identity() string {
	switch {
	case a.Login != "":
		return a.Login
	case a.Email != "":
		return a.Email
	case a.TeamsID != "" && a.Name != "":
		return fmt.Sprintf("%s (%s)", a.Name, a.TeamsID)
	case a.TeamsID != "":
		return a.TeamsID
	default:
		return a.Person
	}
}

// addresses are the actor's email addresses: the one answered with and the
// person's others.
func (a Actor) addresses() []string {
	if a.Email == "" {
		return a.Emails
	}
	return append([]string{a.Email}, a.Emails...)
}

func (a Actor) key() string {
	if a.Person != "" {
		return strings.ToLower(a.Person)
	}
	return strings.ToLower(a.Identity())
}

// Response is one person's decision from one channel.
type Response struct {
	// ID is unique per source, e.g. "comment:1234".
	ID       string
	Actor    Actor
	Via      Via
	Decision Decision
	// Fields are validated values with defaults filled in.
	Fields  fields.Values
	Comment string
	At      time.Time
	URL     string
}

// Outcome is the result of evaluating a gate.
type Outcome struct {
	Status   Status
	Approved bool
	// DecidedBy is the identity whose response settled the gate; empty on
	// timeout or while pending.
	DecidedBy string
	// Counted holds the latest response of each eligible person, oldest
	// first, up to the point the gate settled.
	Counted []Response
	// Approvers are the identities whose counted response approves.
	Approvers []string
	// Fields and Comment come from the settling response; on timeout Fields
	// are the defaults.
	Fields    fields.Values
	Comment   string
	SettledAt time.Time
}

// Reasons a response is not counted.
var (
	ErrBot         = errors.New("responses from bots never count")
	ErrInitiator   = errors.New("the run's initiator cannot approve this gate (exclude-initiator)")
	ErrNotApprover = errors.New("not an approver of this gate")
)

// Eligible reports why an actor may not respond to the gate, or nil.
func (g Gate) Eligible(a Actor) error {
	if a.Bot {
		return ErrBot
	}
	if g.ExcludeInitiator && a.Login != "" && containsFold(g.Initiators, a.Login) {
		return ErrInitiator
	}
	if a.Login != "" && containsFold(g.Approvers.Logins, a.Login) {
		return nil
	}
	for _, e := range a.addresses() {
		if containsFold(g.Approvers.Emails, e) {
			return nil
		}
	}
	for _, t := range a.Teams {
		if containsFold(g.Approvers.Teams, t) {
			return nil
		}
	}
	return ErrNotApprover
}

// Validate reports a gate that can never be approved or is malformed.
func (g Gate) Validate() error {
	var errs []error
	if g.Approvers.Empty() {
		errs = append(errs, errors.New("approvers: at least one approver is required"))
	}
	people := len(g.requiredPeople())
	switch {
	case !g.RequireAll && g.MinimumApprovals < 1:
		errs = append(errs, fmt.Errorf("minimum-approvals: must be at least 1, got %d", g.MinimumApprovals))
	case g.Approvers.Empty():
		// Already reported: there is nothing to count approvals against.
	case g.RequireAll && people == 0 && len(g.Approvers.Logins) > 0:
		errs = append(errs, errors.New("minimum-approvals: \"all\" leaves no one to approve: every listed login is an excluded initiator (exclude-initiator)"))
	case g.RequireAll && people == 0:
		errs = append(errs, errors.New("minimum-approvals: \"all\" needs approvers that name people (logins or emails), not only teams"))
	case !g.RequireAll && len(g.Approvers.Teams) == 0 && g.MinimumApprovals > people:
		errs = append(errs, fmt.Errorf("minimum-approvals: %d approvals needed but only %d eligible approvers listed", g.MinimumApprovals, people))
	}
	switch g.OnTimeout {
	case TimeoutReject, TimeoutApprove, TimeoutError:
	default:
		errs = append(errs, fmt.Errorf("on-timeout: must be reject, approve or error, got %q", g.OnTimeout))
	}
	return errors.Join(errs...)
}

// requiredPeople are the listed individuals who may approve: logins (less
// excluded initiators) and emails.
func (g Gate) requiredPeople() []string {
	var people []string
	for _, l := range g.Approvers.Logins {
		if g.ExcludeInitiator && containsFold(g.Initiators, l) {
			continue
		}
		people = append(people, strings.ToLower(l))
	}
	for _, e := range g.Approvers.Emails {
		people = append(people, strings.ToLower(e))
	}
	return people
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
