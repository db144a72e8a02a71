package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

const (
	defaultLease = 2 * time.Minute
	defaultBatch = 50
	defaultIdle  = time.Second
	// parallelGates bounds how many gates' items run at once.
	parallelGates = 8
	// maxAttempts is how many times an item that fails for a reason
	// retrying will not fix is tried before it is given up. Attempts are
	// the store's claims, so a hand-back (behind a failed item of the same
	// gate) counts as one.
	maxAttempts = 8
	// itemTimeout bounds one item's calls to GitHub (at most half the
	// lease), including when the worker is stopping.
	itemTimeout = 30 * time.Second
	// storeTimeout bounds a store write made after the worker was told to
	// stop, so that what was done is recorded.
	storeTimeout = 10 * time.Second
	// maxErrorLen bounds the error text stored with an item.
	maxErrorLen = 300
)

// Store is the part of store.Store the worker uses.
type Store interface {
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxItem, error)
	CompleteOutbox(ctx context.Context, id int64, at time.Time) error
	RetryOutbox(ctx context.Context, id int64, next time.Time, lastError string) error
	Outbox(ctx context.Context, gateID string) ([]store.OutboxItem, error)
}

// GitHub gives the client of an installation; *ghapp.Apps is one. The
// client's own retries should keep their waits short: the outbox retries
// durably.
type GitHub interface {
	Installation(id int64) (*github.Client, error)
	// Identity names the app, whose comments are the only ones that count
	// as already posted.
	Identity(ctx context.Context) (ghapp.Identity, error)
}

// Options configures a Worker. Store and GitHub are required.
type Options struct {
	Store  Store
	GitHub GitHub
	Now    func() time.Time // default time.Now
	// Lease is how long a claimed item is the worker's; default 2 minutes.
	Lease time.Duration
	// Batch is how many items are claimed at once; default 50.
	Batch int
	// Idle is how often to look for due items when not kicked; default 1s.
	Idle time.Duration
	// Backoff is the wait before retrying an item that failed on its
	// given attempt (1 for the first); default 2s doubling up to 5
	// minutes, with jitter. GitHub's Retry-After or rate-limit reset is
	// honoured when later.
	Backoff func(attempt int) time.Duration
	// Observe, when set, counts outcomes: kind and "done", "retry",
	// "again" (a Handler made progress and runs again at once) or
	// "gave_up".
	Observe func(kind, result string)
	Logger  *slog.Logger // default discards
	// Handlers perform the items of kinds other than GitHub's, by kind
	// (e.g. posting a Teams card). A handler's error is retried with
	// backoff unless it is Permanent; RetryAt sets its earliest retry;
	// Again is no failure: the item runs again at once.
	// A gate's items run in order within their lane: the GitHub kinds are
	// one lane, and kinds named "<lane>.<action>" another each, so that
	// Teams failing never holds up the audit trail on the issue.
	Handlers map[string]Handler
}

// Handler performs outbox items of one kind.
type Handler interface {
	Perform(ctx context.Context, it store.OutboxItem) error
}

// Worker performs due outbox items until its context ends. Several workers
// (in several processes) may share one store: claims are leases.
type Worker struct {
	o           Options
	itemTimeout time.Duration
	kick        chan struct{}
}

// NewWorker returns a worker configured by o.
func NewWorker(o Options) *Worker {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = defaultLease
	}
	if o.Batch <= 0 {
		o.Batch = defaultBatch
	}
	if o.Idle <= 0 {
		o.Idle = defaultIdle
	}
	if o.Backoff == nil {
		o.Backoff = backoff
	}
	if o.Observe == nil {
		o.Observe = func(string, string) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{o: o, itemTimeout: min(itemTimeout, o.Lease/2), kick: make(chan struct{}, 1)}
}

// Kick makes the worker look for due items now. It does not block.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run performs due items until ctx ends, then finishes the items in flight
// (each bounded by a timeout), hands back those not started, and returns
// nil. It fails only when the options lack Store or GitHub.
func (w *Worker) Run(ctx context.Context) error {
	if w.o.Store == nil || w.o.GitHub == nil {
		return errors.New("outbox worker: Options.Store and Options.GitHub are required")
	}
	idle := time.NewTimer(w.o.Idle)
	defer idle.Stop()
	for {
		full := w.runOnce(ctx) == w.o.Batch
		if ctx.Err() != nil {
			return nil
		}
		if full {
			continue // more may be due
		}
		idle.Reset(w.o.Idle)
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-idle.C:
		}
	}
}

// runOnce claims a batch of due items and runs it: each gate's items in
// order, gates concurrently. It returns how many items it claimed.
func (w *Worker) runOnce(ctx context.Context) int {
	now := w.o.Now()
	items, err := w.o.Store.ClaimOutbox(ctx, now, w.o.Lease, w.o.Batch)
	if err != nil {
		if ctx.Err() == nil {
			w.o.Logger.Error("claim outbox items", "error", err)
		}
		return 0
	}
	leaseEnd := now.Add(w.o.Lease)
	sem := make(chan struct{}, parallelGates)
	var wg sync.WaitGroup
	for _, run := range byLane(items) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			w.runLane(ctx, run, leaseEnd)
		})
	}
	wg.Wait()
	return len(items)
}

// byLane splits items, in ID order, into the runs of each gate's lanes,
// keeping their order.
func byLane(items []store.OutboxItem) [][]store.OutboxItem {
	var runs [][]store.OutboxItem
	index := map[string]int{}
	for _, it := range items {
		key := it.GateID + "\x00" + lane(it.Kind)
		i, ok := index[key]
		if !ok {
			i = len(runs)
			index[key] = i
			runs = append(runs, nil)
		}
		runs[i] = append(runs[i], it)
	}
	return runs
}

// lane names the lane of a kind: "" for GitHub's, else the part before the
// dot ("teams" for "teams.card").
func lane(kind string) string {
	l, _, ok := strings.Cut(kind, ".")
	if !ok {
		return ""
	}
	return l
}

// runLane runs one lane of a gate's claimed items in order. When an item fails, the
// items after it are handed back to be due with it, so they never run
// before it.
func (w *Worker) runLane(ctx context.Context, items []store.OutboxItem, leaseEnd time.Time) {
	first := items[0]
	blocker, err := w.earlier(ctx, first)
	switch {
	case ctx.Err() != nil:
		w.release(ctx, items, w.o.Now())
		return
	case err != nil:
		// Left to their lease: they are due again when it runs out.
		w.o.Logger.Error("read a gate's outbox", "gate", first.GateID, "error", err)
		return
	case blocker != nil:
		at := later(blocker.NextAt, w.o.Now())
		w.o.Logger.Debug("outbox items wait for an earlier item of their gate", "gate", first.GateID, "key", first.Key, "waiting_for", blocker.Key, "until", at)
		w.release(ctx, items, at)
		return
	}
	for i, it := range items {
		if ctx.Err() != nil {
			w.release(ctx, items[i:], w.o.Now())
			return
		}
		if w.o.Now().Add(w.itemTimeout).After(leaseEnd) {
			return // the lease may run out meanwhile; the rest wait for it
		}
		if next, ok := w.runItem(ctx, it); !ok {
			w.release(ctx, items[i+1:], next)
			return
		}
	}
}

// earlier returns an item of first's gate and lane before it that is not
// done, or nil when there is none.
func (w *Worker) earlier(ctx context.Context, first store.OutboxItem) (*store.OutboxItem, error) {
	all, err := w.o.Store.Outbox(ctx, first.GateID)
	if err != nil {
		return nil, err
	}
	for _, it := range all {
		if it.ID < first.ID && it.DoneAt.IsZero() && lane(it.Kind) == lane(first.Kind) {
			return &it, nil
		}
	}
	return nil, nil
}

// release hands items back, due at at, untried.
func (w *Worker) release(ctx context.Context, items []store.OutboxItem, at time.Time) {
	for _, it := range items {
		if err := w.retry(ctx, it.ID, at, it.LastError); err != nil {
			w.o.Logger.Error("hand back an outbox item", "gate", it.GateID, "key", it.Key, "error", err)
		}
	}
}

// runItem performs one item and records the outcome. It returns false, with
// the item's retry time, when the item is to be retried or, after a
// Handler's Again, run again.
func (w *Worker) runItem(ctx context.Context, it store.OutboxItem) (time.Time, bool) {
	log := w.o.Logger.With("gate", it.GateID, "key", it.Key, "kind", it.Kind, "attempt", it.Attempts)
	err := w.perform(ctx, it)
	var bad *badItem
	if errors.As(err, &bad) {
		w.giveUp(ctx, log, it, err)
		return time.Time{}, true
	}
	now := w.o.Now()
	if err == nil {
		if err := w.complete(ctx, it.ID, now); err != nil {
			log.Error("outbox item done but not recorded as done", "error", err)
		} else {
			log.Debug("outbox item done")
		}
		w.o.Observe(it.Kind, "done")
		return time.Time{}, true
	}
	if isAgain(err) {
		// Due again now; runLane hands the lane's later items back with
		// it, so they keep their order. The kick claims it at once.
		if serr := w.retry(ctx, it.ID, now, it.LastError); serr != nil {
			log.Error("outbox item made progress and was not handed back", "error", serr)
		} else {
			log.Debug("outbox item made progress; due again now", "progress", short(err))
		}
		w.o.Observe(it.Kind, "again")
		w.Kick()
		return now, false
	}
	f := classify(err, now)
	if !f.transient && it.Attempts >= maxAttempts {
		w.giveUp(ctx, log, it, err)
		return time.Time{}, true
	}
	next := later(now.Add(w.o.Backoff(it.Attempts)), f.until)
	msg := short(err)
	if err := w.retry(ctx, it.ID, next, msg); err != nil {
		log.Error("outbox item failed and its retry was not recorded", "error", msg, "store_error", err)
	} else {
		log.Warn("outbox item failed; retrying", "next", next, "error", msg)
	}
	w.o.Observe(it.Kind, "retry")
	return next, false
}

// isAgain reports whether err is a Handler's Again.
func isAgain(err error) bool {
	var h *handlerError
	return errors.As(err, &h) && h.again
}

// badItem is an item that cannot be read: it is given up at once.
type badItem struct{ err error }

func (b *badItem) Error() string { return b.err.Error() }
func (b *badItem) Unwrap() error { return b.err }

// perform makes the item's call, on a context that outlives ctx by up to
// the item timeout, so that stopping does not cut an effect in half.
func (w *Worker) perform(ctx context.Context, it store.OutboxItem) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.itemTimeout)
	defer cancel()
	if h, ok := w.o.Handlers[it.Kind]; ok {
		return h.Perform(ctx, it)
	}
	e, err := decode(it)
	if err != nil {
		return &badItem{err}
	}
	return w.github(ctx, e, it.Attempts)
}

// github performs an effect on GitHub.
func (w *Worker) github(ctx context.Context, e Effect, attempts int) error {
	c, err := w.o.GitHub.Installation(e.Installation)
	if err != nil {
		return err
	}
	author := ""
	if attempts > 1 {
		id, err := w.o.GitHub.Identity(ctx)
		if err != nil {
			return fmt.Errorf("learn the app's identity: %w", err)
		}
		author = id.BotLogin
	}
	return perform(ctx, c, e, author)
}

// giveUp records an item that will not succeed as done, with why.
func (w *Worker) giveUp(ctx context.Context, log *slog.Logger, it store.OutboxItem, cause error) {
	msg := "gave up: " + short(cause)
	now := w.o.Now()
	err := w.retry(ctx, it.ID, now, msg)
	if err == nil {
		err = w.complete(ctx, it.ID, now)
	}
	if err != nil {
		log.Error("giving up on outbox item; not recorded, it will be tried again", "error", msg, "store_error", err)
	} else {
		log.Error("gave up on outbox item", "error", msg)
	}
	w.o.Observe(it.Kind, "gave_up")
}

// complete and retry write to the store even when ctx has ended, so that
// what was done is recorded.
func (w *Worker) complete(ctx context.Context, id int64, at time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	return w.o.Store.CompleteOutbox(ctx, id, at)
}

func (w *Worker) retry(ctx context.Context, id int64, next time.Time, lastError string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	return w.o.Store.RetryOutbox(ctx, id, next, lastError)
}

// backoff is the default Options.Backoff: 2s doubling per attempt, capped at
// 5 minutes, then between half and all of it, at random.
func backoff(attempt int) time.Duration {
	const base, ceiling = 2 * time.Second, 5 * time.Minute
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + rand.N(d/2+1)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// short is err's text cut to maxErrorLen bytes. GitHub's errors name the
// method, URL and message, never a token.
func short(err error) string {
	s := err.Error()
	if len(s) <= maxErrorLen {
		return s
	}
	s = s[:maxErrorLen]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
