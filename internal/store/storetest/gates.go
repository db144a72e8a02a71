package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

func testCreateGate(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := newGate(1)
	g.Deadline = t0.Add(time.Hour)

	stored, created, err := s.CreateGate(ctx, g)
	if err != nil || !created {
		t.Fatalf("CreateGate = created %t, %v; want created", created, err)
	}
	diff(t, "created gate", g, stored)
	inUTC(t, "created gate", stored.CreatedAt, stored.Deadline, stored.SettledAt)

	got, err := s.Gate(ctx, g.ID)
	if err != nil {
		t.Fatalf("Gate: %v", err)
	}
	diff(t, "Gate", g, got)
	inUTC(t, "Gate", got.CreatedAt, got.Deadline, got.SettledAt)

	again := newGate(2)
	again.ID = g.ID
	stored, created, err = s.CreateGate(ctx, again)
	if err != nil || created {
		t.Fatalf("CreateGate with a stored id = created %t, %v; want not created", created, err)
	}
	diff(t, "gate with a stored id", g, stored)

	sameIssue := newGate(1)
	sameIssue.ID, sameIssue.Repository, sameIssue.RunID = "other", "acme/WIDGETS", 99
	_, _, err = s.CreateGate(ctx, sameIssue)
	wantErr(t, "CreateGate on a used issue", err, store.ErrConflict)

	sameRun := newGate(3)
	sameRun.RunID, sameRun.Repository = g.RunID, "acme/widgets"
	_, _, err = s.CreateGate(ctx, sameRun)
	wantErr(t, "CreateGate for a used run attempt and key", err, store.ErrConflict)

	otherRepo := newGate(1)
	otherRepo.ID, otherRepo.Repository = "other-repo", "acme/gears"
	create(t, s, otherRepo)
	otherAttempt := newGate(4)
	otherAttempt.RunID, otherAttempt.RunAttempt = g.RunID, 2
	create(t, s, otherAttempt)

	settled := newGate(5)
	settled.Status, settled.Outcome, settled.SettledAt = approval.Approved, []byte(`{"ok":true}`), t0.Add(time.Minute)
	diff(t, "settled gate", settled, create(t, s, settled))

	if _, _, err := s.CreateGate(ctx, store.Gate{}); err == nil {
		t.Error("CreateGate without an id succeeded")
	}
}

func testGateLookups(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := create(t, s, newGate(1))
	create(t, s, newGate(2))

	if _, err := s.Gate(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Gate(missing) error %v, want ErrNotFound", err)
	}
	for _, tt := range []struct {
		repo  string
		issue int
		want  error
	}{
		{"Acme/Widgets", 1, nil},
		{"acme/widgets", 1, nil},
		{"ACME/WIDGETS", 1, nil},
		{"acme/widgets", 3, store.ErrNotFound},
		{"acme/gears", 1, store.ErrNotFound},
	} {
		t.Run(fmt.Sprintf("%s#%d", tt.repo, tt.issue), func(t *testing.T) {
			got, err := s.GateByIssue(ctx, tt.repo, tt.issue)
			if !errors.Is(err, tt.want) {
				t.Fatalf("GateByIssue error %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				diff(t, "GateByIssue", g, got)
			}
		})
	}

	snap, err := s.Snapshot(ctx, g.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	diff(t, "Snapshot of a new gate", store.Snapshot{Gate: g}, snap)
	if _, err := s.Snapshot(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Snapshot(missing) error %v, want ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := create(t, s, newGate(1))
	r1 := store.Response{GateID: g.ID, ID: "comment:1", Data: []byte(`{"decision":"approve"}`), CreatedAt: t0.Add(time.Second)}
	n1 := store.Note{Text: "comment 1 was edited", At: t0.Add(2 * time.Second)}
	o1 := store.OutboxItem{GateID: g.ID, Key: "react:comment:1", Kind: "reaction", Payload: []byte(`{"content":"+1"}`), NextAt: t0, CreatedAt: t0}

	got := update(t, s, g.ID, store.Change{Response: &r1, Notes: []store.Note{n1}, Outbox: []store.OutboxItem{o1}})
	want := store.Snapshot{Gate: g, Responses: []store.Response{r1}, Notes: []store.Note{n1}}
	diff(t, "Update result", want, got)
	inUTC(t, "Update result", got.Responses[0].CreatedAt, got.Notes[0].At)
	diff(t, "Snapshot after Update", want, snapshot(t, s, g.ID))
	stored := snapshot(t, s, g.ID)
	inUTC(t, "Snapshot", stored.Responses[0].CreatedAt, stored.Notes[0].At)

	// fn sees the current state; a response with a recorded id and an
	// outbox item with a used key are skipped, the rest is written.
	r1b := r1
	r1b.Data = []byte(`{"decision":"reject"}`)
	n2 := store.Note{Text: "second", At: t0.Add(3 * time.Second)}
	o1b := o1
	o1b.Payload = []byte(`{"content":"-1"}`)
	o2 := store.OutboxItem{GateID: g.ID, Key: "comment:summary", Kind: "comment", Payload: []byte("hi"), NextAt: t0, CreatedAt: t0}
	got, err := s.Update(ctx, g.ID, func(cur store.Snapshot) (store.Change, error) {
		diff(t, "state given to fn", want, cur)
		return store.Change{Response: &r1b, Notes: []store.Note{n2}, Outbox: []store.OutboxItem{o1b, o2}}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Notes = append(want.Notes, n2)
	diff(t, "Update with a recorded response id", want, got)
	diff(t, "Snapshot", want, snapshot(t, s, g.ID))
	items, err := s.Outbox(ctx, g.ID)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	diff(t, "outbox keys", []string{o1.Key, o2.Key}, keys(items))
	diff(t, "payload of the first item with a key", o1.Payload, items[0].Payload)

	// An error from fn is returned as is and nothing is written.
	errStop := errors.New("stop")
	_, err = s.Update(ctx, g.ID, func(store.Snapshot) (store.Change, error) {
		return store.Change{Response: &store.Response{ID: "comment:9"}, Notes: []store.Note{n1}}, errStop
	})
	if err != errStop {
		t.Errorf("Update with a failing fn: error %v, want %v as is", err, errStop)
	}
	diff(t, "Snapshot after a failed fn", want, snapshot(t, s, g.ID))

	// The zero Change writes nothing.
	diff(t, "Update with no change", want, update(t, s, g.ID, store.Change{}))
	diff(t, "Snapshot after no change", want, snapshot(t, s, g.ID))

	called := false
	_, err = s.Update(ctx, "missing", func(store.Snapshot) (store.Change, error) {
		called = true
		return store.Change{}, nil
	})
	wantErr(t, "Update(missing)", err, store.ErrNotFound)
	if called {
		t.Error("Update(missing) called fn")
	}
}

func testUpdateSettle(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := newGate(1)
	g.Deadline = t0.Add(time.Hour)
	g = create(t, s, g)

	// Settling with a status that is not settled is refused.
	_, err := s.Update(ctx, g.ID, func(store.Snapshot) (store.Change, error) {
		return store.Change{Settle: &store.Settlement{Status: approval.Pending, At: t0}}, nil
	})
	if err == nil {
		t.Error("settling as pending succeeded")
	}

	settle := store.Settlement{Status: approval.Approved, Outcome: []byte(`{"approved":true}`), At: t0.Add(time.Minute)}
	got := update(t, s, g.ID, store.Change{Settle: &settle})
	want := g
	want.Status, want.Outcome, want.SettledAt = settle.Status, settle.Outcome, settle.At
	diff(t, "settled gate", store.Snapshot{Gate: want}, got)
	inUTC(t, "settled gate", got.Gate.SettledAt)
	stored := snapshot(t, s, g.ID)
	diff(t, "stored settled gate", store.Snapshot{Gate: want}, stored)
	inUTC(t, "stored settled gate", stored.Gate.SettledAt)

	// Settling again is a conflict and nothing of that change is written.
	_, err = s.Update(ctx, g.ID, func(store.Snapshot) (store.Change, error) {
		return store.Change{
			Response: &store.Response{ID: "comment:2", CreatedAt: t0},
			Notes:    []store.Note{{Text: "late", At: t0}},
			Settle:   &store.Settlement{Status: approval.Rejected, At: t0.Add(2 * time.Minute)},
			Outbox:   []store.OutboxItem{{Key: "comment:late", Kind: "comment", NextAt: t0, CreatedAt: t0}},
		}, nil
	})
	wantErr(t, "settling a settled gate", err, store.ErrConflict)
	diff(t, "gate after a conflicting settlement", store.Snapshot{Gate: want}, snapshot(t, s, g.ID))
	items, err := s.Outbox(ctx, g.ID)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	diff(t, "outbox after a conflicting settlement", []store.OutboxItem(nil), items)
}

func testUpdateOrder(t *testing.T, s store.Store) {
	g := create(t, s, newGate(1))
	var want store.Snapshot
	for i, id := range []string{"comment:30", "teams:b", "comment:4", "email:a"} {
		r := store.Response{GateID: g.ID, ID: id, Data: []byte(id), CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}
		n := store.Note{Text: fmt.Sprintf("note %c", 'z'-i), At: t0.Add(-time.Duration(i) * time.Minute)}
		want = update(t, s, g.ID, store.Change{Response: &r, Notes: []store.Note{n}})
	}
	diff(t, "responses and notes in the order recorded", want, snapshot(t, s, g.ID))
	var ids []string
	for _, r := range want.Responses {
		ids = append(ids, r.ID)
	}
	diff(t, "response order", []string{"comment:30", "teams:b", "comment:4", "email:a"}, ids)
}

// testUpdateConcurrent updates one gate from many goroutines: every update
// is applied, and each sees all that ran before it.
func testUpdateConcurrent(t *testing.T, s store.Store) {
	const workers, each = 8, 6
	g := create(t, s, newGate(1))
	var mu sync.Mutex
	var seen []int
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d:%d", w, i)
				snap, err := s.Update(context.Background(), g.ID, func(cur store.Snapshot) (store.Change, error) {
					return store.Change{
						Response: &store.Response{ID: id, CreatedAt: t0},
						Notes:    []store.Note{{Text: fmt.Sprintf("%s saw %d", id, len(cur.Responses)), At: t0}},
					}, nil
				})
				if err != nil {
					t.Errorf("Update %s: %v", id, err)
					return
				}
				mu.Lock()
				seen = append(seen, len(snap.Responses))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	snap := snapshot(t, s, g.ID)
	if len(snap.Responses) != workers*each || len(snap.Notes) != workers*each {
		t.Errorf("after %d updates: %d responses, %d notes", workers*each, len(snap.Responses), len(snap.Notes))
	}
	slices.Sort(seen)
	var want []int
	for i := range workers * each {
		want = append(want, i+1)
	}
	diff(t, "responses after each update", want, seen)
}

func testDueGates(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, ok, err := s.NextDeadline(ctx); err != nil || ok {
		t.Errorf("NextDeadline of an empty store = ok %t, %v; want none", ok, err)
	}
	gate := func(n int, deadline time.Duration) store.Gate {
		g := newGate(n)
		if deadline != 0 {
			g.Deadline = t0.Add(deadline)
		}
		return create(t, s, g)
	}
	late := gate(1, 2*time.Hour)
	early := gate(2, time.Hour)
	settled := gate(3, 30*time.Minute)
	gate(4, 0)
	gate(5, 3*time.Hour)
	update(t, s, settled.ID, store.Change{Settle: &store.Settlement{Status: approval.Cancelled, At: t0}})

	for _, tt := range []struct {
		name  string
		now   time.Time
		limit int
		want  []store.Gate
	}{
		{"none due", t0.Add(59 * time.Minute), 10, nil},
		{"deadline at now", t0.Add(time.Hour), 10, []store.Gate{early}},
		{"earliest first", t0.Add(150 * time.Minute), 10, []store.Gate{early, late}},
		{"limit", t0.Add(150 * time.Minute), 1, []store.Gate{early}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DueGates(ctx, tt.now, tt.limit)
			if err != nil {
				t.Fatalf("DueGates: %v", err)
			}
			diff(t, "DueGates", tt.want, got)
		})
	}

	d, ok, err := s.NextDeadline(ctx)
	if err != nil || !ok || !d.Equal(early.Deadline) {
		t.Errorf("NextDeadline = %v, %t, %v; want %v", d, ok, err, early.Deadline)
	}
	inUTC(t, "NextDeadline", d)
	for _, g := range []store.Gate{early, late, gate(6, 4*time.Hour)} {
		update(t, s, g.ID, store.Change{Settle: &store.Settlement{Status: approval.TimedOut, At: t0}})
	}
	d, ok, err = s.NextDeadline(ctx)
	if err != nil || !ok || !d.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("NextDeadline = %v, %t, %v; want %v", d, ok, err, t0.Add(3*time.Hour))
	}
}

func testCountGates(t *testing.T, s store.Store) {
	ctx := context.Background()
	got, err := s.CountGates(ctx)
	if err != nil {
		t.Fatalf("CountGates: %v", err)
	}
	diff(t, "CountGates of an empty store", map[approval.Status]int{}, got)

	for n := 1; n <= 6; n++ {
		create(t, s, newGate(n))
	}
	for n, st := range map[int]approval.Status{1: approval.Approved, 2: approval.Rejected, 3: approval.Approved} {
		update(t, s, newGate(n).ID, store.Change{Settle: &store.Settlement{Status: st, At: t0}})
	}
	got, err = s.CountGates(ctx)
	if err != nil {
		t.Fatalf("CountGates: %v", err)
	}
	diff(t, "CountGates", map[approval.Status]int{approval.Pending: 3, approval.Approved: 2, approval.Rejected: 1}, got)
}

func keys(items []store.OutboxItem) []string {
	var ks []string
	for _, o := range items {
		ks = append(ks, o.Key)
	}
	return ks
}
