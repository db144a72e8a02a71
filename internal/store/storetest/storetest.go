package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Run runs the contract suite. open returns a new, empty store for each
// subtest; Run closes it when the subtest ends. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"CreateGate", testCreateGate},
		{"GateLookups", testGateLookups},
		{"Update", testUpdate},
		{"UpdateSettle", testUpdateSettle},
		{"UpdateOrder", testUpdateOrder},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"DueGates", testDueGates},
		{"CountGates", testCountGates},
		{"Deliveries", testDeliveries},
		{"ClaimDeliveriesConcurrent", testClaimDeliveriesConcurrent},
		{"Outbox", testOutbox},
		{"ClaimOutboxConcurrent", testClaimOutboxConcurrent},
		{"Installations", testInstallations},
		{"Conversations", testConversations},
		{"Cards", testCards},
		{"Emails", testEmails},
		{"MoveEmail", testMoveEmail},
		{"MoveEmailConcurrent", testMoveEmailConcurrent},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// t0 is the suite's "now". Times are whole milliseconds, the precision every
// store keeps, and not in UTC, which every store returns.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).In(time.FixedZone("CET", 3600))

var opts = cmp.Options{cmpopts.EquateEmpty()}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, opts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// inUTC fails the test for every time not in UTC.
func inUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for _, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// newGate is gate n of acme/widgets: a pending gate on issue n.
func newGate(n int) store.Gate {
	return store.Gate{
		ID:             fmt.Sprintf("gate-%d", n),
		Repository:     "Acme/Widgets",
		InstallationID: 7,
		RunID:          int64(1000 + n),
		RunAttempt:     1,
		Key:            "deploy",
		IssueNumber:    n,
		IssueURL:       fmt.Sprintf("https://github.com/Acme/Widgets/issues/%d", n),
		PollTokenHash:  []byte{0xde, 0xad, byte(n)},
		Spec:           []byte(`{"title":"Ship it"}`),
		Status:         approval.Pending,
		CreatedAt:      t0,
	}
}

func create(t *testing.T, s store.Store, g store.Gate) store.Gate {
	t.Helper()
	stored, created, err := s.CreateGate(context.Background(), g)
	if err != nil || !created {
		t.Fatalf("CreateGate(%s) = created %t, %v; want created", g.ID, created, err)
	}
	return stored
}

func update(t *testing.T, s store.Store, id string, ch store.Change) store.Snapshot {
	t.Helper()
	snap, err := s.Update(context.Background(), id, func(store.Snapshot) (store.Change, error) { return ch, nil })
	if err != nil {
		t.Fatalf("Update(%s): %v", id, err)
	}
	return snap
}

func snapshot(t *testing.T, s store.Store, id string) store.Snapshot {
	t.Helper()
	snap, err := s.Snapshot(context.Background(), id)
	if err != nil {
		t.Fatalf("Snapshot(%s): %v", id, err)
	}
	return snap
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
