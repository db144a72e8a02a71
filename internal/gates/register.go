package gates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// catchUpTimeout bounds reading the comments an issue got before its gate
// was registered.
const catchUpTimeout = 30 * time.Second

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
	case g.IssueNumber != r.IssueNumber:
		return api.Registered{}, false, fmt.Errorf("%w: gate key %q of this run attempt is already registered for issue #%d; give each gate of a job (or matrix leg) its own gate-key", ErrConflict, r.Key, g.IssueNumber)
	}
	if created {
		s.log.Info("gate registered", "gate", id, "repository", r.Repository, "issue", r.IssueNumber, "deadline", g.Deadline)
		select {
		case s.wakeTimeouts <- struct{}{}:
		default:
		}
		s.catchUp(ctx, g)
	}
	st, err := s.state(ctx, id)
	if err != nil {
		return api.Registered{}, false, err
	}
	return api.Registered{Gate: view(st, s.now()), PollToken: token}, created, nil
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

// catchUp records the comments the issue got before its gate was stored;
// later ones arrive as webhooks. It runs again in the background when
// GitHub does not answer at once.
func (s *Service) catchUp(ctx context.Context, g store.Gate) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catchUpTimeout)
	err := s.readIssue(cctx, g)
	cancel()
	if err == nil {
		return
	}
	s.log.Warn("read the approval issue's first comments; retrying in the background", "gate", g.ID, "error", err)
	go func() {
		for delay := time.Second; delay < 10*time.Minute; delay *= 2 {
			time.Sleep(delay)
			cctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
			err := s.readIssue(cctx, g)
			cancel()
			if err == nil {
				return
			}
			s.log.Warn("read the approval issue's first comments", "gate", g.ID, "error", err)
		}
	}()
}

func (s *Service) readIssue(ctx context.Context, g store.Gate) error {
	sp, err := decodeSpec(g)
	if err != nil {
		return err
	}
	cs, err := s.github.IssueComments(ctx, g.InstallationID, sp.Owner, sp.Repo, g.IssueNumber)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if _, ours := audit.ParseMarker(c.GetBody()); ours {
			continue
		}
		if _, err := s.recordComment(ctx, g, c, s.now()); err != nil {
			return err
		}
	}
	return nil
}

// View returns the gate view to the holder of its poll token, waiting up to
// wait for the gate to settle.
func (s *Service) View(ctx context.Context, id, token string, wait time.Duration) (api.Gate, error) {
	woken := s.hub.wait(id)
	st, err := s.authorizedState(ctx, id, token)
	if err != nil || st.outcome != nil || wait <= 0 {
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
		reason = reason[:1024]
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
		g.MinimumApprovals = len(st.spec.Approvers.Logins) + len(st.spec.Approvers.Emails)
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
