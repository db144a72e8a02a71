package gates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Register stores the gate a job registers, authorized by the job's
// verified OIDC claims: the token must come from the same repository and run
// attempt. Registering the same gate again returns it unchanged; created
// tells which.
func (s *Service) Register(ctx context.Context, claims *oidc.Claims, r api.Register) (reg api.Registered, created bool, err error) {
	sp, timeout, err := parseRegistration(r)
	if err != nil {
		return api.Registered{}, false, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !strings.EqualFold(claims.Repository, r.Repository) {
		return api.Registered{}, false, fmt.Errorf("%w: the OIDC token was issued to a job of %s, not of %s", ErrForbidden, claims.Repository, r.Repository)
	}
	if claims.RunID != r.RunID || claims.RunAttempt != r.RunAttempt {
		return api.Registered{}, false, fmt.Errorf("%w: the OIDC token was issued to run %d attempt %d, not run %d attempt %d", ErrForbidden, claims.RunID, claims.RunAttempt, r.RunID, r.RunAttempt)
	}
	inst, err := s.installation(ctx, sp.Owner, sp.Repo)
	if err != nil {
		return api.Registered{}, false, err
	}
	// What people read in a card or an email comes from the verified
	// token and the app's own GitHub URL, never from the request alone.
	if want := fmt.Sprintf("%s/%s/issues/%d", s.serverURL, r.Repository, r.IssueNumber); !strings.EqualFold(r.IssueURL, want) {
		return api.Registered{}, false, fmt.Errorf("%w: issue_url: must be %s, the page of issue #%d on this app's GitHub, got %q", ErrInvalid, want, r.IssueNumber, r.IssueURL)
	}
	sp.Run.URL = fmt.Sprintf("%s/%s/actions/runs/%d", s.serverURL, r.Repository, r.RunID)
	if claims.Actor != "" {
		sp.Run.Actor = claims.Actor
	}
	if claims.RunNumber > 0 {
		sp.Run.Number = claims.RunNumber
	}
	if sp.TeamsChannel != "" {
		if sp.Teams, sp.TeamsProblem, err = s.resolveTeams(ctx, sp.TeamsChannel); err != nil {
			return api.Registered{}, false, err
		}
	}
	if sp.Email && !s.email {
		sp.EmailProblem = "no email was sent: this Gatehouse app has no email transport set up"
	}
	id := api.GateID(r.Repository, r.RunID, r.RunAttempt, r.Key)
	token := s.pollToken(id)
	specJSON, err := json.Marshal(sp)
	if err != nil {
		return api.Registered{}, false, fmt.Errorf("encode gate %s: %w", id, err)
	}
	now := s.now().UTC()
	g, created, err := s.store.CreateGate(ctx, store.Gate{
		ID: id, Repository: r.Repository, InstallationID: inst,
		RunID: r.RunID, RunAttempt: r.RunAttempt, Key: r.Key,
		IssueNumber: r.IssueNumber, IssueURL: r.IssueURL,
		PollTokenHash: hashToken(token), Spec: specJSON, Status: approval.Pending,
		Deadline: now.Add(timeout), CreatedAt: now,
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return api.Registered{}, false, fmt.Errorf("%w: issue #%d of %s already belongs to another gate", ErrConflict, r.IssueNumber, r.Repository)
	case err != nil:
		return api.Registered{}, false, fmt.Errorf("register gate %s: %w", id, err)
	case !strings.EqualFold(g.Repository, r.Repository) || g.RunID != r.RunID || g.RunAttempt != r.RunAttempt || g.Key != r.Key:
		// Another gate's id: never hand out its token.
		return api.Registered{}, false, fmt.Errorf("%w: gate id %s is taken by another gate", ErrConflict, id)
	case g.IssueNumber != r.IssueNumber:
		return api.Registered{}, false, fmt.Errorf("%w: gate key %q of this run attempt is already registered for issue #%d; give each gate of a job (or matrix leg) its own gate-key", ErrConflict, r.Key, g.IssueNumber)
	}
	if created {
		s.log.Info("gate registered", "gate", id, "repository", r.Repository, "issue", r.IssueNumber, "deadline", g.Deadline)
		select {
		case s.wakeTimeouts <- struct{}{}:
		default:
		}
	}
	if err := s.notify(ctx, g); err != nil {
		return api.Registered{}, false, err
	}
	// Comments made before the gate was stored are read from the issue by
	// a delivery of our own: durable and retried like a webhook. Added on
	// every registration, once, in case a crash came between.
	catchUp := store.Delivery{ID: catchUpEvent + ":" + id, Event: catchUpEvent, Payload: []byte(id), ReceivedAt: now}
	if _, err := s.store.AddDelivery(ctx, catchUp, 0); err != nil {
		return api.Registered{}, false, fmt.Errorf("register gate %s: %w", id, err)
	}
	s.Accept(catchUp)
	st, err := s.state(ctx, id)
	if err != nil {
		return api.Registered{}, false, err
	}
	reg = api.Registered{Gate: view(st, s.now()), PollToken: token}
	if st.spec.TeamsProblem != "" {
		reg.Warnings = append(reg.Warnings, "Teams: "+st.spec.TeamsProblem)
	}
	if problem := s.emailProblem(st.spec); problem != "" {
		reg.Warnings = append(reg.Warnings, "Email: "+problem)
	}
	return reg, created, nil
}

// resolveTeams finds where the gate's Teams card goes; a name the app does
// not know is a problem for the audit trail, not an error.
func (s *Service) resolveTeams(ctx context.Context, name string) (*TeamsTarget, string, error) {
	if s.channels == nil {
		return nil, fmt.Sprintf("the card for %q was not posted: this Gatehouse app has neither a Teams bot nor Workflows webhooks set up", name), nil
	}
	t, err := s.channels.Resolve(ctx, name)
	switch {
	case errors.Is(err, ErrUnknownChannel):
		// What the app knows stays in its log: the issue and the job's
		// log may be public.
		s.log.Warn("teams-channel not resolved", "name", name, "error", err)
		return nil, fmt.Sprintf("the card was not posted: the app knows no single Teams channel or Workflows webhook named %q (write team/channel when several teams have one; the app's log lists what it knows)", name), nil
	case err != nil:
		return nil, "", fmt.Errorf("resolve Teams channel %q: %w", name, err)
	}
	return &t, "", nil
}

// notify enqueues, once, what a pending gate sends out: its Teams card
// and its email, or the notices that say why they go nowhere.
func (s *Service) notify(ctx context.Context, g store.Gate) error {
	sp, err := decodeSpec(g)
	if err != nil {
		return err
	}
	var items []store.OutboxItem
	if it, ok, err := teamsNotice(g, sp); err != nil {
		return err
	} else if ok {
		items = append(items, it)
	}
	if sp.Email && sp.EmailProblem == "" {
		payload, err := json.Marshal(EmailItem{Gate: g.ID})
		if err != nil {
			return fmt.Errorf("encode email item of gate %s: %w", g.ID, err)
		}
		items = append(items, store.OutboxItem{GateID: g.ID, Key: g.ID + "/email", Kind: KindEmail, Payload: payload})
	}
	if problem := s.emailProblem(sp); problem != "" {
		it, err := noticeItem(g, sp, "email", "Email: "+problem)
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil
	}
	if err := s.enqueue(ctx, g.ID, items...); err != nil {
		return fmt.Errorf("notify for gate %s: %w", g.ID, err)
	}
	return nil
}

// teamsNotice is the gate's Teams card item, or the notice that it goes
// nowhere; ok is false when the gate does not notify Teams.
func teamsNotice(g store.Gate, sp spec) (item store.OutboxItem, ok bool, err error) {
	switch {
	case sp.Teams != nil && sp.Teams.Webhook != "":
		item, err = teamsItem(g.ID, "teams", KindTeamsWebhook, *sp.Teams)
	case sp.Teams != nil:
		item, err = teamsItem(g.ID, "teams", KindTeamsCard, *sp.Teams)
	case sp.TeamsProblem != "":
		item, err = noticeItem(g, sp, "teams", "Microsoft Teams: "+sp.TeamsProblem)
	default:
		return store.OutboxItem{}, false, nil
	}
	return item, err == nil, err
}

// teamsItem is an outbox item for the Teams channel.
func teamsItem(gateID, key, kind string, t TeamsTarget) (store.OutboxItem, error) {
	payload, err := json.Marshal(TeamsItem{Gate: gateID, Target: t})
	if err != nil {
		return store.OutboxItem{}, fmt.Errorf("encode Teams item of gate %s: %w", gateID, err)
	}
	return store.OutboxItem{GateID: gateID, Key: gateID + "/" + key, Kind: kind, Payload: payload}, nil
}

// installation finds the app's installation on a repository: from the
// installation webhooks, else by asking GitHub (and remembering it).
func (s *Service) installation(ctx context.Context, owner, repo string) (int64, error) {
	full := owner + "/" + repo
	id, err := s.store.InstallationFor(ctx, full)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("find installation for %s: %w", full, err)
	}
	id, err = s.github.RepoInstallation(ctx, owner, repo)
	if err != nil {
		if errors.Is(err, ghapp.ErrNotInstalled) {
			return 0, fmt.Errorf("%w: the Gatehouse app is not installed on %s", ErrForbidden, full)
		}
		return 0, fmt.Errorf("find installation for %s: %w", full, err)
	}
	err = s.store.AddInstallationRepos(ctx, id, []string{full})
	if errors.Is(err, store.ErrNotFound) {
		err = s.store.PutInstallation(ctx, store.Installation{ID: id, Account: owner}, []string{full})
	}
	if err != nil {
		s.log.Warn("remember installation", "installation", id, "repository", full, "error", err)
	}
	return id, nil
}

// readIssue records the comments a gate's issue got before the gate was
// stored; later ones arrive as webhooks.
func (s *Service) readIssue(ctx context.Context, g store.Gate) (int, error) {
	sp, err := decodeSpec(g)
	if err != nil {
		return 0, err
	}
	cs, err := s.github.IssueComments(ctx, g.InstallationID, sp.Owner, sp.Repo, g.IssueNumber)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if _, err := s.recordComment(ctx, g, c, s.now()); err != nil {
			return 0, err
		}
	}
	return len(cs), nil
}

// View returns the gate view to the holder of its poll token, waiting up to
// wait for the gate to settle.
func (s *Service) View(ctx context.Context, id, token string, wait time.Duration) (api.Gate, error) {
	st, err := s.authorizedState(ctx, id, token)
	if err != nil {
		return api.Gate{}, err
	}
	if st.outcome != nil || wait <= 0 {
		return view(st, s.now()), nil
	}
	woken, done := s.hub.wait(id)
	defer done()
	// Read again now that the waiter is in place: a settle since the first
	// read has not woken it.
	if st, err = s.state(ctx, id); err != nil || st.outcome != nil {
		if err != nil {
			return api.Gate{}, err
		}
		return view(st, s.now()), nil
	}
	s.metrics.Waiting(1)
	defer s.metrics.Waiting(-1)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-woken:
	case <-t.C:
	case <-ctx.Done():
		return api.Gate{}, ctx.Err()
	}
	st, err = s.state(ctx, id)
	if err != nil {
		return api.Gate{}, err
	}
	return view(st, s.now()), nil
}

// Cancel settles a pending gate as cancelled, for the holder of its poll
// token; a settled gate is returned as it is.
func (s *Service) Cancel(ctx context.Context, id, token, reason string) (api.Gate, error) {
	if _, err := s.authorizedState(ctx, id, token); err != nil {
		return api.Gate{}, err
	}
	if reason == "" {
		reason = "The workflow run was cancelled."
	}
	if len(reason) > 1024 {
		reason = strings.ToValidUTF8(reason[:1024], "")
	}
	st, err := s.cancel(ctx, id, reason, true)
	if err != nil {
		return api.Gate{}, err
	}
	return view(st, s.now()), nil
}

func (s *Service) authorizedState(ctx context.Context, id, token string) (*gateState, error) {
	st, err := s.state(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := authorize(st.gate, token); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Service) state(ctx context.Context, id string) (*gateState, error) {
	snap, err := s.store.Snapshot(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read gate %s: %w", id, err)
	}
	return decodeState(snap)
}

// view is the JSON gate view at now.
func view(st *gateState, now time.Time) api.Gate {
	g := api.Gate{
		ID:               st.gate.ID,
		Status:           string(st.gate.Status),
		IssueNumber:      st.gate.IssueNumber,
		IssueURL:         st.gate.IssueURL,
		MinimumApprovals: st.spec.MinimumApprovals,
		Deadline:         st.gate.Deadline,
		Notes:            st.notes,
		Reason:           st.reason,
	}
	if st.spec.RequireAll {
		g.MinimumApprovals = len(st.spec.Approvers.Emails)
		for _, l := range st.spec.Approvers.Logins {
			if !st.spec.ExcludeInitiator || !slices.ContainsFunc(st.spec.Initiators, func(i string) bool { return strings.EqualFold(i, l) }) {
				g.MinimumApprovals++
			}
		}
	}
	if st.outcome == nil {
		sofar := approval.Evaluate(st.rules(), st.responses, now)
		g.Approvals = len(sofar.Approvers)
		g.Approvers = nonNil(sofar.Approvers)
		g.Fields = st.spec.Fields.Complete(st.spec.Fields.Defaults())
		g.Responses = api.Responses(sofar.Counted)
		return g
	}
	o := st.outcome
	at := o.SettledAt
	g.SettledAt = &at
	g.Approved, g.DecidedBy, g.Comment = o.Approved, o.DecidedBy, o.Comment
	g.Approvers = nonNil(o.Approvers)
	g.Approvals = len(o.Approvers)
	values := o.Fields
	if values == nil || o.Status == approval.Cancelled {
		values = st.spec.Fields.Defaults()
	}
	g.Fields = st.spec.Fields.Complete(values)
	g.Responses = api.Responses(o.Counted)
	return g
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
