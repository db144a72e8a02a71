package gates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Events are the webhook events the service handles; the others are
// answered without being stored.
var Events = []string{"issue_comment", "issues", "installation", "installation_repositories"}

// catchUpEvent names the deliveries the service adds itself to read the
// comments an issue got before its gate was registered. It is no GitHub
// event, so a webhook cannot pose as one.
const catchUpEvent = "gatehouse.catch_up"

const (
	// deliveryTimeout bounds handling one delivery.
	deliveryTimeout = 20 * time.Second
	// deliveryLease is how long a claimed delivery stays the claimer's: a
	// claimed delivery waits for at most one other to finish before it
	// starts. One left unfinished (a crash, an error) is claimed again
	// after it.
	deliveryLease = 3 * deliveryTimeout
	// deliveryRetention is how long a delivery that keeps failing is
	// tried again: a GitHub or store outage must not lose a decision.
	deliveryRetention = 24 * time.Hour
	// sweepInterval is how often deliveries are looked for when no new one
	// is announced: those whose lease ran out.
	sweepInterval = time.Second
)

// Accept announces a freshly stored delivery to the workers. It never
// blocks; the delivery waits in the store until a worker claims it.
func (s *Service) Accept(store.Delivery) {
	select {
	case s.newDeliveries <- struct{}{}:
	default:
	}
}

// RunDeliveries processes the stored deliveries with the given number of
// workers until ctx ends, then lets the ones in progress finish. It claims
// them from the store in batches, oldest first, so a burst larger than the
// workers waits in the store, not in memory, and a crash loses none.
func (s *Service) RunDeliveries(ctx context.Context, workers int) error {
	work := make(chan store.Delivery)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				s.handle(context.WithoutCancel(ctx), d)
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	batch := workers
	for {
		ds, err := s.store.ClaimDeliveries(ctx, s.now(), deliveryLease, batch)
		if err != nil && ctx.Err() == nil {
			s.log.Error("claim deliveries", "error", err)
		}
		for _, d := range ds {
			select {
			case work <- d:
			case <-ctx.Done():
				// Claimed but not started: taken up again after the lease.
				return nil
			}
		}
		if len(ds) == batch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.newDeliveries:
		case <-t.C:
		}
	}
}

// handle processes one delivery and stores its result. A failure leaves it
// unfinished, to be tried again when its lease ends, for a day.
func (s *Service) handle(ctx context.Context, d store.Delivery) {
	hctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	result, err := s.processSafely(hctx, d)
	cancel()
	log := s.log.With("delivery", d.ID, "event", d.Event)
	if err != nil {
		if s.now().Sub(d.ReceivedAt) < deliveryRetention {
			log.Warn("delivery failed; it will be tried again", "attempt", d.Attempts, "error", err)
			return
		}
		log.Error("delivery failed for a day; giving up", "attempts", d.Attempts, "error", err)
		result = "failed: " + err.Error()
	}
	if err := s.store.FinishDelivery(ctx, d.ID, result, s.now()); err != nil {
		log.Error("finish delivery", "error", err)
		return
	}
	log.Debug("delivery handled", "result", result)
}

// processSafely is Process with a panic turned into an error, so that one
// bad delivery cannot stop the app.
func (s *Service) processSafely(ctx context.Context, d store.Delivery) (result string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return s.Process(ctx, d)
}

// Relevant tells whether a delivery concerns a gate, so that the intake
// stores only those: a comment on an approval issue, an approval issue
// closed, and the installation events. A comment on an issue whose gate is
// not registered yet is read when it registers.
func (s *Service) Relevant(ctx context.Context, event string, payload []byte) (bool, error) {
	if event != "issue_comment" && event != "issues" {
		return true, nil
	}
	var p struct {
		Action string `json:"action"`
		Issue  struct {
			Number      int             `json:"number"`
			PullRequest json.RawMessage `json:"pull_request"`
		} `json:"issue"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return true, nil // Process says what is wrong with it
	}
	if p.Issue.PullRequest != nil || event == "issues" && p.Action != "closed" {
		return false, nil
	}
	_, err := s.store.GateByIssue(ctx, p.Repository.FullName, p.Issue.Number)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Process handles one delivery and says what became of it. An error means
// it may succeed if tried again.
func (s *Service) Process(ctx context.Context, d store.Delivery) (string, error) {
	if d.Event == catchUpEvent {
		return s.catchUp(ctx, string(d.Payload))
	}
	ev, err := github.ParseWebHook(d.Event, d.Payload)
	if err != nil {
		return "ignored: unreadable payload: " + err.Error(), nil
	}
	switch e := ev.(type) {
	case *github.IssueCommentEvent:
		return s.issueComment(ctx, e, d.ReceivedAt)
	case *github.IssuesEvent:
		return s.issues(ctx, e)
	case *github.InstallationEvent:
		return s.installationEvent(ctx, e)
	case *github.InstallationRepositoriesEvent:
		return s.installationRepositories(ctx, e)
	}
	return "ignored: event not handled", nil
}

// catchUp reads the comments of gate id's issue.
func (s *Service) catchUp(ctx context.Context, id string) (string, error) {
	g, err := s.store.Gate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "ignored: no such gate", nil
	}
	if err != nil {
		return "", fmt.Errorf("catch up gate %s: %w", id, err)
	}
	if g.Status.Settled() {
		return "ignored: the gate has settled", nil
	}
	n, err := s.readIssue(ctx, g)
	if err != nil {
		return "", fmt.Errorf("catch up gate %s: %w", id, err)
	}
	return fmt.Sprintf("caught up: %d comments read", n), nil
}

// gateOf finds the gate of the issue an event is about.
func (s *Service) gateOf(ctx context.Context, repo *github.Repository, issue *github.Issue) (store.Gate, bool, error) {
	if issue.IsPullRequest() {
		return store.Gate{}, false, nil
	}
	g, err := s.store.GateByIssue(ctx, repo.GetFullName(), issue.GetNumber())
	if errors.Is(err, store.ErrNotFound) {
		return store.Gate{}, false, nil
	}
	if err != nil {
		return store.Gate{}, false, fmt.Errorf("find gate of %s#%d: %w", repo.GetFullName(), issue.GetNumber(), err)
	}
	return g, true, nil
}

func (s *Service) issueComment(ctx context.Context, e *github.IssueCommentEvent, received time.Time) (string, error) {
	g, ok, err := s.gateOf(ctx, e.GetRepo(), e.GetIssue())
	if err != nil || !ok {
		return "ignored: not an approval issue", err
	}
	switch e.GetAction() {
	case "created":
		return s.recordComment(ctx, g, e.GetComment(), received)
	case "edited", "deleted":
		return s.noteChange(ctx, g, e.GetComment(), e.GetSender().GetLogin(), e.GetAction())
	}
	return "ignored: action " + e.GetAction(), nil
}

// issues cancels the gate of an approval issue that a person closed.
func (s *Service) issues(ctx context.Context, e *github.IssuesEvent) (string, error) {
	if e.GetAction() != "closed" {
		return "ignored: action " + e.GetAction(), nil
	}
	g, ok, err := s.gateOf(ctx, e.GetRepo(), e.GetIssue())
	if err != nil || !ok {
		return "ignored: not an approval issue", err
	}
	sender := e.GetSender()
	if sender.GetType() == "Bot" || strings.HasSuffix(sender.GetLogin(), "[bot]") {
		return "ignored: closed by a bot", nil
	}
	if g.Status.Settled() {
		return "ignored: the gate has settled", nil
	}
	why := fmt.Sprintf("@%s closed the approval issue.", sender.GetLogin())
	if _, err := s.cancel(ctx, g.ID, why, false); err != nil {
		return "", err
	}
	return resultCancelled, nil
}

func (s *Service) installationEvent(ctx context.Context, e *github.InstallationEvent) (string, error) {
	in := e.GetInstallation()
	switch e.GetAction() {
	case "created", "new_permissions_accepted", "unsuspend":
		err := s.store.PutInstallation(ctx, installationOf(in), fullNames(e.Repositories))
		if err != nil {
			return "", fmt.Errorf("store installation %d: %w", in.GetID(), err)
		}
		s.log.Info("installation stored", "installation", in.GetID(), "account", in.GetAccount().GetLogin())
		return "installation stored", nil
	case "deleted", "suspend":
		if err := s.store.DeleteInstallation(ctx, in.GetID()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("forget installation %d: %w", in.GetID(), err)
		}
		s.log.Info("installation forgotten", "installation", in.GetID(), "action", e.GetAction())
		return "installation forgotten", nil
	}
	return "ignored: action " + e.GetAction(), nil
}

func (s *Service) installationRepositories(ctx context.Context, e *github.InstallationRepositoriesEvent) (string, error) {
	in := e.GetInstallation()
	added, removed := fullNames(e.RepositoriesAdded), fullNames(e.RepositoriesRemoved)
	err := s.store.AddInstallationRepos(ctx, in.GetID(), added)
	if errors.Is(err, store.ErrNotFound) {
		err = s.store.PutInstallation(ctx, installationOf(in), added)
	}
	if err == nil {
		err = s.store.RemoveInstallationRepos(ctx, in.GetID(), removed)
	}
	if err != nil {
		return "", fmt.Errorf("update installation %d: %w", in.GetID(), err)
	}
	return fmt.Sprintf("installation updated: %d added, %d removed", len(added), len(removed)), nil
}

func installationOf(in *github.Installation) store.Installation {
	return store.Installation{
		ID:              in.GetID(),
		Account:         in.GetAccount().GetLogin(),
		AllRepositories: in.GetRepositorySelection() == "all",
	}
}

func fullNames(rs []*github.Repository) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetFullName())
	}
	return out
}
