package gates

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// maxTimeoutSleep bounds the scheduler's sleep, so that a deadline stored
// by another process is seen within it.
const maxTimeoutSleep = 30 * time.Second

// RunTimeouts settles gates as their deadlines pass until ctx ends. The
// deadlines live in the store, so a restart loses none, and settling is a
// transaction on a pending gate, so none fires twice.
func (s *Service) RunTimeouts(ctx context.Context) error {
	for {
		s.settleDue(ctx)
		wait := maxTimeoutSleep
		next, ok, err := s.store.NextDeadline(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("read the next deadline", "error", err)
		case ok:
			wait = min(wait, max(next.Sub(s.now()), 0))
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

func (s *Service) settleDue(ctx context.Context) {
	for {
		due, err := s.store.DueGates(ctx, s.now(), 100)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("read gates past their deadline", "error", err)
			}
			return
		}
		for _, g := range due {
			if err := s.timeOut(ctx, g.ID); err != nil {
				s.log.Error("settle a gate past its deadline", "gate", g.ID, "error", err)
				return
			}
		}
		if len(due) < 100 {
			return
		}
	}
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
