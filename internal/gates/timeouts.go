package gates

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

const (
	// maxTimeoutSleep bounds the scheduler's sleep, so that a deadline
	// stored by another process is seen within it.
	maxTimeoutSleep = 30 * time.Second
	// timeoutGrace is how long after its deadline a gate is settled as
	// timed out: a comment made just before the deadline may still be on
	// its way as a webhook, and it counts.
	timeoutGrace = 5 * time.Second
	// timeoutRetry is the pause after the store failed.
	timeoutRetry = 5 * time.Second
)

// RunTimeouts settles gates as their deadlines pass until ctx ends. The
// deadlines live in the store, so a restart loses none, and settling is a
// transaction on a pending gate, so none fires twice.
func (s *Service) RunTimeouts(ctx context.Context) error {
	for {
		failed := s.settleDue(ctx)
		wait := maxTimeoutSleep
		next, ok, err := s.store.NextDeadline(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("read the next deadline", "error", err)
			failed = true
		case ok:
			wait = min(wait, max(next.Add(timeoutGrace).Sub(s.now()), 0))
		}
		if failed {
			wait = max(wait, timeoutRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-s.wakeTimeouts:
			t.Stop()
		}
	}
}

// settleDue settles the gates whose deadline (and grace) has passed and
// reports whether any could not be settled; those are tried again later,
// and the others are not held up by them.
func (s *Service) settleDue(ctx context.Context) (failed bool) {
	due, err := s.store.DueGates(ctx, s.now().Add(-timeoutGrace), 1000)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("read gates past their deadline", "error", err)
		}
		return true
	}
	for _, g := range due {
		if err := s.timeOut(ctx, g.ID); err != nil {
			s.log.Error("settle a gate past its deadline", "gate", g.ID, "error", err)
			failed = true
		}
	}
	return failed
}

// timeOut settles a gate whose deadline has passed.
func (s *Service) timeOut(ctx context.Context, id string) error {
	var o approval.Outcome
	_, err := s.store.Update(ctx, id, func(snap store.Snapshot) (store.Change, error) {
		o = approval.Outcome{}
		st, err := decodeState(snap)
		if err != nil || st.outcome != nil {
			return store.Change{}, err
		}
		o = approval.Evaluate(st.rules(), st.responses, s.now())
		if o.Status == approval.Pending {
			return store.Change{}, nil
		}
		return s.settlement(st, o, "", true)
	})
	if err != nil {
		return fmt.Errorf("time out gate %s: %w", id, err)
	}
	settled := o.Status.Settled()
	if settled {
		s.log.Info("gate timed out", "gate", id, "status", o.Status, "approved", o.Approved)
	}
	s.after(id, settled)
	return nil
}
