package gates

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/identities"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
)

// Kinds of the outbox items that the Teams channel performs; their payload
// is a TeamsItem.
const (
	// KindTeamsCard posts the gate's card to a conversation of the bot.
	KindTeamsCard = "teams.card"
	// KindTeamsUpdate updates the posted card to show the outcome.
	KindTeamsUpdate = "teams.update"
	// KindTeamsWebhook posts a card of links to a Workflows webhook.
	KindTeamsWebhook = "teams.webhook"
)

// TeamsTarget is where a gate's Teams card goes: a conversation the bot is
// in, or a named Workflows webhook.
type TeamsTarget struct {
	Webhook        string `json:"webhook,omitempty"`
	ServiceURL     string `json:"service_url,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// TeamsItem is the payload of the Teams outbox items.
type TeamsItem struct {
	Gate   string      `json:"gate"`
	Target TeamsTarget `json:"target"`
}

// Info describes a gate to the people deciding it: what a card or a
// response page shows.
type Info struct {
	ID           string
	Repository   string // owner/name
	Title        string
	Instructions string // markdown
	IssueNumber  int
	IssueURL     string
	Run          api.Run
	Fields       fields.Schema
	// MinimumApprovals is the quorum; with RequireAll every listed person
	// must approve.
	MinimumApprovals int
	RequireAll       bool
	Deadline         time.Time
	// View is the gate as it stands: status, approvals, outcome, responses.
	View api.Gate
}

// Answer is a decision given through a channel other than an issue comment:
// a Teams card or a response page.
type Answer struct {
	// ID makes the answer idempotent: an answer whose ID the gate has
	// recorded is a duplicate (e.g. "teams:<activity id>").
	ID string
	// Actor is who the channel authenticated: a GitHub Login (sign-in), an
	// Email (an email link, a Teams member's address), or a TeamsID and
	// Name. The identities file fills in the rest.
	Actor    approval.Actor
	Via      approval.Via
	Decision approval.Decision
	// Fields are the raw input values by field id; blank means not given.
	Fields  map[string]string
	Comment string
	At      time.Time
}

// Result says what became of an answer.
type Result string

// The results of an answer.
const (
	// Recorded: the answer counts.
	Recorded Result = "recorded"
	// Duplicate: the same answer (ID) was recorded before.
	Duplicate Result = "duplicate"
	// Invalid: a field does not validate; see Answered.Problems.
	Invalid Result = "invalid"
	// NotEligible: the actor may not decide this gate; see Answered.Reason.
	NotEligible Result = "not_eligible"
	// Closed: the gate had settled, or the deadline had passed.
	Closed Result = "closed"
)

// Answered is the outcome of an answer.
type Answered struct {
	Result Result
	// Identity is who the answer counts as (outputs and audit trail).
	Identity string
	// Problems are the field problems of an Invalid answer.
	Problems []string
	// Reason says why a NotEligible answer does not count.
	Reason string
	// Gate is the gate after the answer.
	Gate Info
}

// maxAnswerComment bounds the reason given with an answer.
const maxAnswerComment = 2000

// Info describes a gate to the people deciding it.
func (s *Service) Info(ctx context.Context, gateID string) (Info, error) {
	st, err := s.state(ctx, gateID)
	if err != nil {
		return Info{}, err
	}
	return info(st, s.now()), nil
}

func info(st *gateState, now time.Time) Info {
	sp := st.spec
	return Info{
		ID: st.gate.ID, Repository: sp.Owner + "/" + sp.Repo, Title: sp.Title, Instructions: sp.Instructions,
		IssueNumber: st.gate.IssueNumber, IssueURL: st.gate.IssueURL, Run: sp.Run, Fields: sp.Fields,
		MinimumApprovals: sp.MinimumApprovals, RequireAll: sp.RequireAll, Deadline: st.gate.Deadline,
		View: view(st, now),
	}
}

// Answer takes a decision given through a Teams card or a response page
// through the same path as a comment: identify the person, authorize them
// against the gate's approvers, validate the fields, record the response
// (once per ID) with a comment on the issue that records it, and settle the
// gate when it decides it. Only a malformed answer or a failure is an
// error; everything a person can cause is in the Result.
func (s *Service) Answer(ctx context.Context, gateID string, a Answer) (Answered, error) {
	received := s.now()
	if a.ID == "" || (a.Decision != approval.Approve && a.Decision != approval.Reject) {
		return Answered{}, fmt.Errorf("%w: an answer needs an id and the decision approve or reject", ErrInvalid)
	}
	st, err := s.state(ctx, gateID)
	if err != nil {
		return Answered{}, err
	}
	actor := s.identify(a.Actor)
	out := Answered{Identity: actor.Identity(), Gate: info(st, received)}
	if slices.ContainsFunc(st.responses, func(r approval.Response) bool { return r.ID == a.ID }) {
		out.Result = Duplicate
		return out, nil
	}
	if st.outcome != nil || (!st.gate.Deadline.IsZero() && !received.Before(st.gate.Deadline)) {
		out.Result = Closed
		return out, nil
	}
	if actor.Login != "" {
		if actor.Teams, err = s.teams(ctx, st.gate.InstallationID, st.rules(), actor.Login); err != nil {
			return Answered{}, err
		}
	}
	if err := st.rules().Eligible(actor); err != nil {
		out.Result, out.Reason = NotEligible, err.Error()
		s.log.Info("answer not counted", "gate", gateID, "answer", a.ID, "via", a.Via, "actor", out.Identity, "reason", out.Reason)
		return out, nil
	}
	values, err := st.spec.Fields.Resolve(a.Fields)
	if err != nil {
		out.Result, out.Problems = Invalid, fields.Problems(err)
		s.log.Info("answer not counted: invalid fields", "gate", gateID, "answer", a.ID, "via", a.Via, "actor", out.Identity, "problems", strings.Join(out.Problems, "; "))
		return out, nil
	}
	comment := strings.TrimSpace(a.Comment)
	if len(comment) > maxAnswerComment {
		comment = strings.ToValidUTF8(comment[:maxAnswerComment], "") + "…"
	}
	r := approval.Response{
		ID: a.ID, Actor: actor, Via: a.Via, Decision: a.Decision,
		Fields: values, Comment: comment, At: received, URL: st.gate.IssueURL,
	}
	note, err := outbox.Item(gateID, gateID+"/response/"+a.ID, outbox.Effect{
		Kind: outbox.KindComment, Installation: st.gate.InstallationID, Owner: st.spec.Owner, Repo: st.spec.Repo,
		Issue: st.gate.IssueNumber, Body: audit.ResponseNote(gateID, st.spec.Fields, r),
	})
	if err != nil {
		return Answered{}, err
	}
	result, err := s.record(ctx, gateID, r, received, note)
	if err != nil {
		return Answered{}, err
	}
	switch result {
	case resultRecorded:
		out.Result = Recorded
	case resultDuplicate:
		out.Result = Duplicate
	default:
		out.Result = Closed
	}
	if st, err = s.state(ctx, gateID); err != nil {
		return Answered{}, err
	}
	out.Gate = info(st, s.now())
	return out, nil
}

// identify completes an actor from the identities file, so that one person
// counts once whichever channel they answer through.
func (s *Service) identify(a approval.Actor) approval.Actor {
	p, ok := identities.Person{}, false
	if s.identities != nil {
		switch {
		case a.Login != "":
			p, ok = s.identities.ByLogin(a.Login)
		case a.TeamsID != "":
			p, ok = s.identities.ByTeamsID(a.TeamsID)
			if !ok && a.Email != "" {
				// By address only a person whose Teams account is not
				// another one.
				p, ok = s.identities.ByEmail(a.Email)
				ok = ok && (p.Teams == "" || strings.EqualFold(p.Teams, a.TeamsID))
			}
		case a.Email != "":
			p, ok = s.identities.ByEmail(a.Email)
		}
	}
	if !ok {
		switch {
		case a.Login != "":
			a.Person = strings.ToLower(a.Login)
		case a.Email != "":
			a.Person = strings.ToLower(a.Email)
		default:
			a.Person = "teams:" + strings.ToLower(a.TeamsID)
		}
		return a
	}
	if a.Login == "" {
		a.Login = p.GitHub
	}
	if a.TeamsID == "" {
		a.TeamsID = p.Teams
	}
	a.Emails, a.Person = p.Emails, p.Key()
	return a
}
