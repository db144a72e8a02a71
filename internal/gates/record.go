package gates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/comment"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Results of handling a delivery, as logged and stored with it.
const (
	resultRecorded  = "recorded"
	resultDuplicate = "duplicate"
	resultInvalid   = "invalid: replied"
	resultCancelled = "cancelled"
)

// errSettled stops an update of a gate that has settled meanwhile.
var errSettled = errors.New("the gate has settled")

// recordComment takes a comment on a gate's issue through the decision
// path and says what became of it.
func (s *Service) recordComment(ctx context.Context, g store.Gate, c *github.IssueComment, received time.Time) (string, error) {
	sp, err := decodeSpec(g)
	if err != nil {
		return "", err
	}
	if _, ours := audit.ParseMarker(c.GetBody()); ours {
		return "ignored: written by Gatehouse", nil
	}
	p, ok := comment.Parse(c.GetBody(), sp.Fields.IDs(), sp.Words)
	if !ok {
		return "ignored: discussion", nil
	}
	if g.Status.Settled() {
		return "ignored: the gate has settled", nil
	}
	user := c.GetUser()
	actor := s.identify(approval.Actor{
		Login: user.GetLogin(),
		Bot:   user.GetType() == "Bot" || strings.HasSuffix(user.GetLogin(), "[bot]"),
	})
	rules := sp.rules(g.Deadline)
	if !actor.Bot {
		if actor.Teams, err = s.teams(ctx, g.InstallationID, rules, actor.Login); err != nil {
			return "", err
		}
	}
	if err := rules.Eligible(actor); err != nil {
		return "ignored: " + err.Error(), nil
	}
	at := c.GetCreatedAt().Time
	if !at.Before(g.Deadline) {
		return "ignored: after the deadline", nil
	}
	values, err := sp.Fields.Resolve(p.Fields)
	problems := append(p.Problems, fields.Problems(err)...)
	if len(problems) > 0 {
		return s.replyInvalid(ctx, g, sp, c, actor, problems)
	}
	r := approval.Response{
		ID: fmt.Sprintf("comment:%d", c.GetID()), Actor: actor, Via: approval.ViaComment,
		Decision: p.Decision, Fields: values, Comment: p.Comment, At: at, URL: c.GetHTMLURL(),
	}
	react, err := outbox.Item(g.ID, fmt.Sprintf("%s/react/%d", g.ID, c.GetID()), outbox.Effect{
		Kind: outbox.KindReact, Installation: g.InstallationID, Owner: sp.Owner, Repo: sp.Repo,
		Issue: g.IssueNumber, CommentID: c.GetID(), Content: "+1",
	})
	if err != nil {
		return "", err
	}
	return s.record(ctx, g.ID, r, received, react)
}

// record stores a response with its acknowledgement and settles the gate
// when it decides it.
func (s *Service) record(ctx context.Context, gateID string, r approval.Response, received time.Time, ack store.OutboxItem) (string, error) {
	result := resultRecorded
	var settled bool
	_, err := s.store.Update(ctx, gateID, func(snap store.Snapshot) (store.Change, error) {
		result, settled = resultRecorded, false
		st, err := decodeState(snap)
		if err != nil {
			return store.Change{}, err
		}
		// A duplicate first: an answer raced by its own twin that settled
		// the gate is a duplicate, not late.
		if slices.ContainsFunc(st.responses, func(x approval.Response) bool { return x.ID == r.ID }) {
			result = resultDuplicate
			return store.Change{}, nil
		}
		if st.outcome != nil {
			return store.Change{}, errSettled
		}
		now := s.now()
		rec, err := encodeResponse(gateID, r, now)
		if err != nil {
			return store.Change{}, err
		}
		ch := store.Change{Response: rec, Outbox: []store.OutboxItem{ack}}
		o := approval.Evaluate(st.rules(), append(st.responses, r), now)
		if o.Status == approval.Pending {
			return ch, nil
		}
		settle, err := s.settlement(st, o, "", true)
		if err != nil {
			return store.Change{}, err
		}
		settled = true
		ch.Settle, ch.Outbox = settle.Settle, append(ch.Outbox, settle.Outbox...)
		return ch, nil
	})
	if errors.Is(err, errSettled) {
		return "ignored: the gate has settled", nil
	}
	if err != nil {
		return "", fmt.Errorf("record %s on gate %s: %w", r.ID, gateID, err)
	}
	if result == resultRecorded {
		s.metrics.ResponseRecorded(string(r.Via), s.now().Sub(received))
		s.log.Info("response recorded", "gate", gateID, "response", r.ID, "actor", r.Actor.Identity(), "decision", r.Decision, "settled", settled)
	}
	s.after(gateID, settled)
	return result, nil
}

// after wakes the pollers of a settled gate and the outbox.
func (s *Service) after(gateID string, settled bool) {
	if settled {
		s.hub.notify(gateID)
	}
	s.kick()
}

// settlement is the change that settles a gate with o: the outcome, then
// closing the issue (unless a person closed it already) and the summary, or
// for a cancelled gate the note that says why.
func (s *Service) settlement(st *gateState, o approval.Outcome, reason string, closeIssue bool) (store.Change, error) {
	settle, err := encodeOutcome(o, reason)
	if err != nil {
		return store.Change{}, err
	}
	base := outbox.Effect{Installation: st.gate.InstallationID, Owner: st.spec.Owner, Repo: st.spec.Repo, Issue: st.gate.IssueNumber}
	var effects []outbox.Effect
	var keys []string
	if closeIssue {
		e := base
		e.Kind, e.Reason = outbox.KindClose, "not_planned"
		if o.Approved {
			e.Reason = "completed"
		}
		effects, keys = append(effects, e), append(keys, "close")
	}
	e := base
	e.Kind = outbox.KindComment
	if o.Status == approval.Cancelled {
		e.Body = audit.CancelledNote(st.gate.ID, reason)
	} else {
		e.Body = audit.Summary(st.gate.ID, st.rules(), o, st.notes...)
	}
	effects, keys = append(effects, e), append(keys, "summary")
	ch := store.Change{Settle: settle}
	for i, e := range effects {
		item, err := outbox.Item(st.gate.ID, st.gate.ID+"/"+keys[i], e)
		if err != nil {
			return store.Change{}, err
		}
		ch.Outbox = append(ch.Outbox, item)
	}
	if t := st.spec.Teams; t != nil && t.ConversationID != "" {
		item, err := teamsItem(st.gate.ID, "teams/update", KindTeamsUpdate, *t)
		if err != nil {
			return store.Change{}, err
		}
		ch.Outbox = append(ch.Outbox, item)
	}
	return ch, nil
}

// replyInvalid answers, once, a decision whose fields do not validate.
func (s *Service) replyInvalid(ctx context.Context, g store.Gate, sp spec, c *github.IssueComment, actor approval.Actor, problems []string) (string, error) {
	item, err := outbox.Item(g.ID, fmt.Sprintf("%s/invalid/%d", g.ID, c.GetID()), outbox.Effect{
		Kind: outbox.KindComment, Installation: g.InstallationID, Owner: sp.Owner, Repo: sp.Repo, Issue: g.IssueNumber,
		Body: audit.InvalidReply(g.ID, c.GetID(), actor.Login, c.GetHTMLURL(), problems),
	})
	if err != nil {
		return "", err
	}
	if _, err := s.store.Update(ctx, g.ID, func(store.Snapshot) (store.Change, error) {
		return store.Change{Outbox: []store.OutboxItem{item}}, nil
	}); err != nil {
		return "", fmt.Errorf("reply to comment %d on gate %s: %w", c.GetID(), g.ID, err)
	}
	s.log.Info("response not counted: invalid fields", "gate", g.ID, "comment", c.GetID(), "actor", actor.Login, "problems", strings.Join(problems, "; "))
	s.kick()
	return resultInvalid, nil
}

// teams returns the gate's approver teams that login is an active member
// of; a listed login needs none.
func (s *Service) teams(ctx context.Context, installation int64, rules approval.Gate, login string) ([]string, error) {
	if len(rules.Approvers.Teams) == 0 || slices.ContainsFunc(rules.Approvers.Logins, func(l string) bool { return strings.EqualFold(l, login) }) {
		return nil, nil
	}
	var teams []string
	for _, t := range rules.Approvers.Teams {
		org, slug, _ := strings.Cut(t, "/")
		ok, err := s.github.ActiveMember(ctx, installation, org, slug, login)
		if err != nil {
			return nil, fmt.Errorf("team membership of %s in %s: %w", login, t, err)
		}
		if ok {
			teams = append(teams, t)
		}
	}
	return teams, nil
}

// noteChange audits an edit or deletion of a counted comment: the counted
// response stands, and the summary says so.
func (s *Service) noteChange(ctx context.Context, g store.Gate, c *github.IssueComment, sender, what string) (string, error) {
	id := fmt.Sprintf("comment:%d", c.GetID())
	noted := false
	_, err := s.store.Update(ctx, g.ID, func(snap store.Snapshot) (store.Change, error) {
		noted = false
		if snap.Gate.Status.Settled() || !slices.ContainsFunc(snap.Responses, func(r store.Response) bool { return r.ID == id }) {
			return store.Change{}, nil
		}
		noted = true
		text := fmt.Sprintf("%s %s the [counted comment](%s) of %s after it was counted; the response as first read stands.", sender, what, c.GetHTMLURL(), c.GetUser().GetLogin())
		return store.Change{Notes: []store.Note{{Text: text, At: s.now()}}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("note %s comment %d on gate %s: %w", what, c.GetID(), g.ID, err)
	}
	if !noted {
		return "ignored: not a counted comment of a pending gate", nil
	}
	s.log.Info("counted comment changed; the response stands", "gate", g.ID, "comment", c.GetID(), "change", what, "sender", sender)
	return "noted: " + what, nil
}

// cancel settles a pending gate as cancelled.
func (s *Service) cancel(ctx context.Context, id, reason string, closeIssue bool) (*gateState, error) {
	settled := false
	snap, err := s.store.Update(ctx, id, func(snap store.Snapshot) (store.Change, error) {
		settled = false
		st, err := decodeState(snap)
		if err != nil || st.outcome != nil {
			return store.Change{}, err
		}
		o := approval.Outcome{Status: approval.Cancelled, Fields: st.spec.Fields.Defaults(), SettledAt: s.now()}
		ch, err := s.settlement(st, o, reason, closeIssue)
		settled = err == nil
		return ch, err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cancel gate %s: %w", id, err)
	}
	if settled {
		s.log.Info("gate cancelled", "gate", id, "reason", reason)
	}
	s.after(id, settled)
	return decodeState(snap)
}
