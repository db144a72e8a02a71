package gates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// KindEmail sends a gate's email notification: one message to each
// approver with a known address. Its payload is an EmailItem.
const KindEmail = "email.send"

// EmailItem is the payload of a KindEmail item.
type EmailItem struct {
	Gate string `json:"gate"`
}

// Recipient is an approver the gate's email goes to.
type Recipient struct {
	// Address is where the message goes, lower-cased.
	Address string
	// Label names the recipient on the issue without revealing an address
	// the workflow does not show: the listed address, or "@login".
	Label string
}

// EmailRecipients lists who a gate's email goes to, one message a person:
// the listed addresses, and the first address the identities file gives
// for each listed login and each active member of a listed team. With
// exclude-initiator the run's actors get none; with MailDomains only those
// domains get any. A listed team GitHub does not know is skipped, and said
// so on the issue; other failures to list a team are errors, to retry.
func (s *Service) EmailRecipients(ctx context.Context, gateID string) ([]Recipient, error) {
	st, err := s.state(ctx, gateID)
	if err != nil {
		return nil, err
	}
	sp := st.spec
	var out []Recipient
	var elsewhere []string
	seen := map[string]bool{}
	add := func(a approval.Actor, address, label string) {
		if address == "" {
			return
		}
		who := s.identify(a)
		if s.initiator(sp, who.Login) || seen[who.Person] {
			return
		}
		seen[who.Person] = true
		if !s.allowedDomain(address) {
			elsewhere = append(elsewhere, label)
			return
		}
		out = append(out, Recipient{Address: strings.ToLower(address), Label: label})
	}
	for _, addr := range sp.Approvers.Emails {
		add(approval.Actor{Email: addr}, addr, addr)
	}
	for _, login := range sp.Approvers.Logins {
		add(approval.Actor{Login: login}, s.addressOf(login), "@"+login)
	}
	for _, team := range sp.Approvers.Teams {
		org, slug, _ := strings.Cut(team, "/")
		logins, err := s.github.TeamMembers(ctx, st.gate.InstallationID, org, slug)
		if ghclient.IsNotFound(err) {
			if err := s.Notice(ctx, gateID, "email/team/"+strings.ToLower(team), fmt.Sprintf("Email: the members of %s got no email: GitHub does not show this app that team.", team)); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, login := range logins {
			add(approval.Actor{Login: login}, s.addressOf(login), "@"+login)
		}
	}
	if len(elsewhere) > 0 {
		if err := s.Notice(ctx, gateID, "email/domains", fmt.Sprintf("Email: %s got no email: this app sends only to addresses at %s.", strings.Join(elsewhere, ", "), strings.Join(s.domains, ", "))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// initiator reports whether login started the run of a gate that excludes
// its initiators.
func (s *Service) initiator(sp spec, login string) bool {
	return login != "" && sp.ExcludeInitiator && slices.ContainsFunc(sp.Initiators, func(i string) bool { return strings.EqualFold(i, login) })
}

// allowedDomain reports whether email may go to address.
func (s *Service) allowedDomain(address string) bool {
	if len(s.domains) == 0 {
		return true
	}
	_, domain, _ := strings.Cut(address, "@")
	return slices.ContainsFunc(s.domains, func(d string) bool { return strings.EqualFold(d, domain) })
}

// addressOf is the first address the identities file gives for login.
func (s *Service) addressOf(login string) string {
	if s.identities == nil {
		return ""
	}
	p, ok := s.identities.ByLogin(login)
	if !ok || len(p.Emails) == 0 {
		return ""
	}
	return p.Emails[0]
}

// unaddressed lists the listed logins the gate's email cannot reach.
func (s *Service) unaddressed(sp spec) []string {
	var out []string
	for _, login := range sp.Approvers.Logins {
		if !s.initiator(sp, login) && s.addressOf(login) == "" {
			out = append(out, "@"+login)
		}
	}
	return out
}

// emailProblem says what the issue and the job should know about a gate's
// email before it is sent: no transport, or listed logins without an
// address. Empty when there is nothing to say.
func (s *Service) emailProblem(sp spec) string {
	if !sp.Email {
		return ""
	}
	if sp.EmailProblem != "" {
		return sp.EmailProblem
	}
	if missing := s.unaddressed(sp); len(missing) > 0 {
		return fmt.Sprintf("no address is known for %s, so they get no email; they can answer on the issue", strings.Join(missing, ", "))
	}
	return ""
}

// Notice writes text on a pending gate's issue as a notice, once per key.
func (s *Service) Notice(ctx context.Context, gateID, key, text string) error {
	st, err := s.state(ctx, gateID)
	if err != nil {
		return err
	}
	item, err := noticeItem(st.gate, st.spec, key, text)
	if err != nil {
		return err
	}
	if err := s.enqueue(ctx, gateID, item); err != nil {
		return fmt.Errorf("notice on gate %s: %w", gateID, err)
	}
	return nil
}

// noticeItem is the outbox item of a notice on the gate's issue.
func noticeItem(g store.Gate, sp spec, key, text string) (store.OutboxItem, error) {
	return outbox.Item(g.ID, g.ID+"/notice/"+key, outbox.Effect{
		Kind: outbox.KindComment, Installation: g.InstallationID, Owner: sp.Owner, Repo: sp.Repo,
		Issue: g.IssueNumber, Body: audit.Notice(g.ID, text),
	})
}

// enqueue adds items to a pending gate's outbox, each once, and kicks the
// worker; a settled gate gets none.
func (s *Service) enqueue(ctx context.Context, gateID string, items ...store.OutboxItem) error {
	if _, err := s.store.Update(ctx, gateID, func(snap store.Snapshot) (store.Change, error) {
		if snap.Gate.Status.Settled() {
			return store.Change{}, nil
		}
		return store.Change{Outbox: items}, nil
	}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	s.kick()
	return nil
}

// Response returns the response recorded on a gate under an answer ID.
func (s *Service) Response(ctx context.Context, gateID, answerID string) (approval.Response, bool, error) {
	st, err := s.state(ctx, gateID)
	if err != nil {
		return approval.Response{}, false, err
	}
	i := slices.IndexFunc(st.responses, func(r approval.Response) bool { return r.ID == answerID })
	if i < 0 {
		return approval.Response{}, false, nil
	}
	return st.responses[i], true, nil
}
