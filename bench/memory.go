package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
)

const (
	// firstMemoryRun is the run id of the first gate of the memory part.
	firstMemoryRun = 300_000
	// holdLimit bounds the wait for the app to hold every poll, and then
	// for every poll to come back settled.
	holdLimit = 90 * time.Second
)

// memoryResult is the memory part's outcome.
type memoryResult struct {
	Waiters int `json:"waiters"`
	// The app's memory at start, with the gates registered, and while it
	// holds the polls.
	Started    rss `json:"started"`
	Registered rss `json:"registered"`
	Waiting    rss `json:"waiting"`
	// Approved counts the polls that came back approved; Decision is
	// from alice's comment to its poll's return; SettleSeconds from the
	// first approval to the last poll's return.
	Approved      int         `json:"approved"`
	Decision      percentiles `json:"decision"`
	SettleSeconds float64     `json:"settle_seconds"`
	Usage         usage       `json:"usage"`
}

// held is how one waiting action's polls ended.
type held struct {
	status string
	at     time.Time
	err    error
}

func (w *world) memory(ctx context.Context, n int) (*memoryResult, error) {
	a, err := w.startApp(ctx, "memory")
	if err != nil {
		return nil, err
	}
	defer a.stop()
	finish, err := a.meter()
	if err != nil {
		return nil, err
	}
	r := &memoryResult{Waiters: n}
	if r.Started, err = a.rss(); err != nil {
		return nil, err
	}
	gates, err := w.registerGates(ctx, a, n, firstMemoryRun, "alice", "1")
	if err != nil {
		return nil, err
	}
	if err := w.sb.GitHub.WaitDeliveries(ctx); err != nil {
		return nil, err
	}
	if r.Registered, err = a.rss(); err != nil {
		return nil, err
	}

	progress("memory: %d gates registered; holding %d long polls", n, n)
	ctx, cancel := context.WithTimeout(ctx, holdLimit)
	hc := newClient(n, nil)
	polls := make([]held, n)
	var wg sync.WaitGroup
	defer wg.Wait() // on an early return, after cancel ends the polls
	defer cancel()
	for i, g := range gates {
		wg.Go(func() { polls[i] = hold(ctx, hc, a, g) })
	}
	if err := waitHeld(ctx, a, n); err != nil {
		return nil, err
	}
	if r.Waiting, err = a.rss(); err != nil {
		return nil, err
	}

	first := time.Now()
	approved := make([]time.Time, n)
	err = forEach(ctx, n, 8, func(_ context.Context, i int) error {
		if _, err := w.sb.GitHub.Comment("alice", owner, repo, gates[i].issue, "approve"); err != nil {
			return fmt.Errorf("alice approves gate %s: %w", gates[i].id, err)
		}
		approved[i] = time.Now()
		return nil
	})
	if err != nil {
		return nil, err
	}
	wg.Wait()
	var last time.Time
	var decisions []time.Duration
	for i, p := range polls {
		switch {
		case p.err != nil:
			return nil, fmt.Errorf("the poll of gate %s: %w", gates[i].id, p.err)
		case p.status == "approved":
			r.Approved++
		}
		if p.at.After(last) {
			last = p.at
		}
		decisions = append(decisions, p.at.Sub(approved[i]))
	}
	r.Decision = percentilesOf(decisions)
	r.SettleSeconds = last.Sub(first).Seconds()
	if r.Usage, err = finish(); err != nil {
		return nil, err
	}
	if r.Approved != n {
		return r, fmt.Errorf("%d of %d polls came back approved", r.Approved, n)
	}
	return r, nil
}

// hold long-polls a gate, as a waiting action does, until it settles.
func hold(ctx context.Context, hc *http.Client, a *app, g gate) held {
	url := fmt.Sprintf("%s%s/%s?wait=%d", a.url, api.GatesPath, g.id, api.MaxWait)
	for {
		var view api.Gate
		if err := doJSON(ctx, hc, http.MethodGet, url, g.token, nil, &view); err != nil {
			return held{err: err}
		}
		if view.Status != "pending" {
			return held{status: view.Status, at: time.Now()}
		}
	}
}

// waitHeld waits until the app holds n long polls.
func waitHeld(ctx context.Context, a *app, n int) error {
	var held float64
	err := every(ctx, 100*time.Millisecond, func() (bool, error) {
		var err error
		held, err = a.metric(ctx, "gatehouse_waiting_polls")
		return int(held) >= n, err
	})
	if err != nil {
		return fmt.Errorf("the app held %.0f of %d long polls: %w", held, n, err)
	}
	return nil
}
