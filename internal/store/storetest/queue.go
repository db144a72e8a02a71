package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

func testDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	const lease = time.Minute
	add := func(d store.Delivery, want bool) {
		t.Helper()
		if added, err := s.AddDelivery(ctx, d, lease); err != nil || added != want {
			t.Fatalf("AddDelivery(%s) = %t, %v; want %t", d.ID, added, err, want)
		}
	}
	claim := func(now time.Time, limit int, want ...store.Delivery) {
		t.Helper()
		got, err := s.ClaimDeliveries(ctx, now, lease, limit)
		if err != nil {
			t.Fatalf("ClaimDeliveries: %v", err)
		}
		diff(t, fmt.Sprintf("ClaimDeliveries at %v", now.Sub(t0)), want, got)
		for _, d := range got {
			inUTC(t, "claimed delivery", d.ReceivedAt, d.DoneAt)
		}
	}

	newer := store.Delivery{ID: "d-newer", Event: "issue_comment", Payload: []byte(`{"action":"created"}`), ReceivedAt: t0}
	older := store.Delivery{ID: "d-older", Event: "issues", Payload: []byte(`{"action":"closed"}`), ReceivedAt: t0.Add(-time.Minute)}
	add(newer, true)
	add(store.Delivery{ID: newer.ID, Event: "other", ReceivedAt: t0.Add(-time.Hour)}, false)
	claim(t0.Add(30*time.Second), 10)
	add(older, true)

	// Both leases have run out at t0+1m: the oldest comes first, and the
	// claim is their second attempt (adding leased the first).
	newer.Attempts, older.Attempts = 2, 2
	claim(t0.Add(lease), 10, older, newer)
	claim(t0.Add(lease), 10)
	claim(t0.Add(lease+59*time.Second), 10)

	if err := s.FinishDelivery(ctx, newer.ID, "recorded", t0.Add(90*time.Second)); err != nil {
		t.Fatalf("FinishDelivery: %v", err)
	}
	add(store.Delivery{ID: newer.ID, Event: "issue_comment", ReceivedAt: t0.Add(time.Hour)}, false)
	older.Attempts = 3
	claim(t0.Add(2*lease), 10, older)
	wantErr(t, "FinishDelivery(missing)", s.FinishDelivery(ctx, "missing", "recorded", t0), store.ErrNotFound)

	// The limit takes the oldest.
	older.Attempts = 4
	var batch []store.Delivery
	for i := range 3 {
		d := store.Delivery{ID: fmt.Sprintf("d-%d", i), Event: "ping", ReceivedAt: t0.Add(time.Duration(i) * time.Second)}
		add(d, true)
		d.Attempts = 2
		batch = append(batch, d)
	}
	claim(t0.Add(time.Hour), 3, older, batch[0], batch[1])

	// A delivery added without a lease is due at once; its first claim is
	// its first attempt.
	for _, d := range append(batch, older) {
		if err := s.FinishDelivery(ctx, d.ID, "recorded", t0.Add(time.Hour)); err != nil {
			t.Fatalf("FinishDelivery: %v", err)
		}
	}
	due := store.Delivery{ID: "d-due", Event: "issue_comment", ReceivedAt: t0.Add(3 * time.Hour)}
	if added, err := s.AddDelivery(ctx, due, 0); err != nil || !added {
		t.Fatalf("AddDelivery(%s, no lease) = %t, %v", due.ID, added, err)
	}
	due.Attempts = 1
	claim(due.ReceivedAt, 1, due)
	claim(due.ReceivedAt, 1)
}

// testClaimDeliveriesConcurrent claims from several goroutines at once:
// no delivery is handed out twice within its lease.
func testClaimDeliveriesConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 40
	for i := range n {
		d := store.Delivery{ID: fmt.Sprintf("d-%02d", i), Event: "ping", ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond)}
		if _, err := s.AddDelivery(ctx, d, 0); err != nil {
			t.Fatalf("AddDelivery: %v", err)
		}
	}
	claimed := claimAll(t, func() ([]string, error) {
		ds, err := s.ClaimDeliveries(ctx, t0.Add(time.Hour), time.Hour, 3)
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids, err
	})
	if len(claimed) != n {
		t.Errorf("claimed %d distinct deliveries, want %d", len(claimed), n)
	}
}

// claimAll runs claim from four goroutines until it returns nothing, and
// counts how often each id was handed out, failing the test for any
// handed out twice.
func claimAll[K comparable](t *testing.T, claim func() ([]K, error)) map[K]int {
	var mu sync.Mutex
	claimed := map[K]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ids, err := claim()
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(ids) == 0 {
					return
				}
				mu.Lock()
				for _, id := range ids {
					claimed[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, n := range claimed {
		if n > 1 {
			t.Errorf("%v claimed %d times within its lease", id, n)
		}
	}
	return claimed
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	const lease = time.Minute
	g := create(t, s, newGate(1))
	other := create(t, s, newGate(2))
	item := func(key string, next time.Time) store.OutboxItem {
		return store.OutboxItem{GateID: g.ID, Key: key, Kind: "comment", Payload: []byte(key), NextAt: next, CreatedAt: t0}
	}
	update(t, s, g.ID, store.Change{Outbox: []store.OutboxItem{item("a", t0), item("b", t0.Add(time.Hour)), item("c", t0)}})
	update(t, s, other.ID, store.Change{Outbox: []store.OutboxItem{{GateID: other.ID, Key: "d", Kind: "close", NextAt: t0.Add(24 * time.Hour), CreatedAt: t0}}})

	items, err := s.Outbox(ctx, g.ID)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	if len(items) != 3 || items[0].ID >= items[1].ID || items[1].ID >= items[2].ID {
		t.Fatalf("Outbox = %+v, want three items in increasing ID order", items)
	}
	a, b, c := items[0], items[1], items[2]
	diff(t, "stored items", []store.OutboxItem{item("a", t0), item("b", t0.Add(time.Hour)), item("c", t0)},
		[]store.OutboxItem{withID(a, 0), withID(b, 0), withID(c, 0)})
	for _, o := range items {
		inUTC(t, "outbox item", o.NextAt, o.CreatedAt, o.DoneAt)
	}
	backlog(t, s, 4)

	claim := func(now time.Time, limit int, want ...store.OutboxItem) {
		t.Helper()
		got, err := s.ClaimOutbox(ctx, now, lease, limit)
		if err != nil {
			t.Fatalf("ClaimOutbox: %v", err)
		}
		diff(t, fmt.Sprintf("ClaimOutbox at %v", now.Sub(t0)), want, got)
	}
	claimed := func(o store.OutboxItem, now time.Time) store.OutboxItem {
		o.Attempts++
		o.NextAt = now.Add(lease)
		return o
	}
	a, c = claimed(a, t0), claimed(c, t0)
	claim(t0, 10, a, c)
	claim(t0.Add(30*time.Second), 10)
	// The lease ran out without Complete or Retry: both are due again.
	now := t0.Add(lease)
	a, c = claimed(a, now), claimed(c, now)
	claim(now, 10, a, c)

	a.DoneAt = now
	if err := s.CompleteOutbox(ctx, a.ID, now); err != nil {
		t.Fatalf("CompleteOutbox: %v", err)
	}
	if err := s.RetryOutbox(ctx, c.ID, t0.Add(10*time.Minute), "502 Bad Gateway"); err != nil {
		t.Fatalf("RetryOutbox: %v", err)
	}
	claim(t0.Add(9*time.Minute), 10)
	backlog(t, s, 3)

	// At t0+1h b and c are due; ID order and the limit pick b.
	now = t0.Add(time.Hour)
	b = claimed(b, now)
	claim(now, 1, b)
	c.NextAt, c.LastError = t0.Add(10*time.Minute), "502 Bad Gateway"
	c = claimed(c, now)
	claim(now, 1, c)

	items, err = s.Outbox(ctx, g.ID)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	diff(t, "Outbox after claims", []store.OutboxItem{a, b, c}, items)
	inUTC(t, "done item", items[0].DoneAt)

	wantErr(t, "CompleteOutbox(missing)", s.CompleteOutbox(ctx, 1<<40, now), store.ErrNotFound)
	wantErr(t, "RetryOutbox(missing)", s.RetryOutbox(ctx, 1<<40, now, "x"), store.ErrNotFound)
	items, err = s.Outbox(ctx, "missing")
	if err != nil || len(items) != 0 {
		t.Errorf("Outbox(missing) = %v, %v; want none", items, err)
	}
}

func withID(o store.OutboxItem, id int64) store.OutboxItem {
	o.ID = id
	return o
}

func backlog(t *testing.T, s store.Store, want int) {
	t.Helper()
	if n, err := s.OutboxBacklog(context.Background()); err != nil || n != want {
		t.Errorf("OutboxBacklog = %d, %v; want %d", n, err, want)
	}
}

// testClaimOutboxConcurrent claims from several goroutines at once: no item
// is handed out twice within its lease.
func testClaimOutboxConcurrent(t *testing.T, s store.Store) {
	const n = 40
	g := create(t, s, newGate(1))
	var items []store.OutboxItem
	for i := range n {
		items = append(items, store.OutboxItem{GateID: g.ID, Key: fmt.Sprintf("k%02d", i), Kind: "comment", NextAt: t0, CreatedAt: t0})
	}
	update(t, s, g.ID, store.Change{Outbox: items})
	claimed := claimAll(t, func() ([]int64, error) {
		got, err := s.ClaimOutbox(context.Background(), t0, time.Hour, 3)
		var ids []int64
		for _, o := range got {
			ids = append(ids, o.ID)
		}
		return ids, err
	})
	if len(claimed) != n {
		t.Errorf("claimed %d distinct items, want %d", len(claimed), n)
	}
}
