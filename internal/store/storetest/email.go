package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// newEmail is a pending email of gate to addr, added at t0.
func newEmail(gate, addr string) store.Email {
	return store.Email{GateID: gate, Recipient: addr, Label: addr, MessageID: "gh." + addr, State: store.EmailPending, UpdatedAt: t0}
}

func addEmails(t *testing.T, s store.Store, emails ...store.Email) {
	t.Helper()
	if err := s.AddEmails(context.Background(), emails); err != nil {
		t.Fatalf("AddEmails: %v", err)
	}
}

// checkEmails compares a gate's stored emails with want, times in UTC.
func checkEmails(t *testing.T, s store.Store, step, gateID string, want ...store.Email) {
	t.Helper()
	got, err := s.Emails(context.Background(), gateID)
	if err != nil {
		t.Fatalf("%s: Emails(%s): %v", step, gateID, err)
	}
	for i := range want {
		want[i].UpdatedAt = want[i].UpdatedAt.UTC()
	}
	diff(t, step, want, got)
	for _, e := range got {
		inUTC(t, step, e.UpdatedAt)
	}
}

func testEmails(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := create(t, s, newGate(1))
	other := create(t, s, newGate(2))
	checkEmails(t, s, "before AddEmails", g.ID)

	bob, alice := newEmail(g.ID, "bob@corp.example"), newEmail(g.ID, "alice@corp.example")
	alice.Label = "@alice"
	addEmails(t, s, bob, alice)
	theirs := newEmail(other.ID, "alice@corp.example")
	addEmails(t, s, theirs)
	checkEmails(t, s, "added", g.ID, bob, alice)

	// A recipient the gate has keeps its email, whatever the new one says;
	// a new one comes after the others.
	changed := alice
	changed.Label, changed.MessageID, changed.State, changed.Attempts, changed.LastError, changed.UpdatedAt =
		"alice@corp.example", "gh.other", store.EmailSent, 3, "boom", t0.Add(time.Hour)
	carol := newEmail(g.ID, "carol@corp.example")
	carol.State, carol.Attempts, carol.LastError = store.EmailUnknown, 1, "stopped while sending"
	addEmails(t, s, changed, carol)
	addEmails(t, s)
	checkEmails(t, s, "added again", g.ID, bob, alice, carol)
	checkEmails(t, s, "the other gate's", other.ID, theirs)
	checkEmails(t, s, "an unknown gate's", "gate-missing")

	// A refused call stores nothing.
	dave := newEmail(g.ID, "dave@corp.example")
	bad := func(change func(*store.Email)) store.Email {
		e := newEmail(g.ID, "erin@corp.example")
		change(&e)
		return e
	}
	for name, e := range map[string]store.Email{
		"unknown gate":    bad(func(e *store.Email) { e.GateID = "gate-missing" }),
		"empty gate id":   bad(func(e *store.Email) { e.GateID = "" }),
		"empty recipient": bad(func(e *store.Email) { e.Recipient = "" }),
		"empty state":     bad(func(e *store.Email) { e.State = "" }),
		"unknown state":   bad(func(e *store.Email) { e.State = "bounced" }),
	} {
		if err := s.AddEmails(ctx, []store.Email{dave, e}); err == nil {
			t.Errorf("AddEmails with %s succeeded", name)
		}
	}
	checkEmails(t, s, "after refused adds", g.ID, bob, alice, carol)
}

func testMoveEmail(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := create(t, s, newGate(1))
	other := create(t, s, newGate(2))
	alice, bob := newEmail(g.ID, "alice@corp.example"), newEmail(g.ID, "bob@corp.example")
	carol, dave := newEmail(g.ID, "carol@corp.example"), newEmail(g.ID, "dave@corp.example")
	theirs := newEmail(other.ID, alice.Recipient)
	addEmails(t, s, alice, bob, carol, dave)
	addEmails(t, s, theirs)

	// move moves e and makes the same change to it, but for the attempts,
	// which the test states.
	move := func(e *store.Email, from, to store.EmailState, lastError string, at time.Time) {
		t.Helper()
		if err := s.MoveEmail(ctx, e.GateID, e.Recipient, from, to, lastError, at); err != nil {
			t.Fatalf("MoveEmail(%s, %s→%s): %v", e.Recipient, from, to, err)
		}
		e.State, e.LastError, e.UpdatedAt = to, lastError, at
	}
	// A transport refuses once, for now; the next attempt goes through.
	move(&alice, store.EmailPending, store.EmailSending, "", t0.Add(time.Minute))
	move(&alice, store.EmailSending, store.EmailPending, "421 4.7.0 try again later", t0.Add(2*time.Minute))
	alice.Attempts = 1
	checkEmails(t, s, "after a refusal for now", g.ID, alice, bob, carol, dave)
	move(&alice, store.EmailPending, store.EmailSending, "", t0.Add(3*time.Minute))
	move(&alice, store.EmailSending, store.EmailSent, "", t0.Add(4*time.Minute))
	// The other states count no attempt.
	move(&bob, store.EmailPending, store.EmailSkipped, "", t0.Add(5*time.Minute))
	move(&carol, store.EmailPending, store.EmailSending, "", t0.Add(6*time.Minute))
	move(&carol, store.EmailSending, store.EmailUnknown, "the app stopped while sending", t0.Add(7*time.Minute))
	move(&dave, store.EmailPending, store.EmailSending, "", t0.Add(8*time.Minute))
	move(&dave, store.EmailSending, store.EmailFailed, "550 5.1.1 no such user", t0.Add(9*time.Minute))
	alice.Attempts, bob.Attempts, carol.Attempts, dave.Attempts = 2, 0, 1, 1
	checkEmails(t, s, "moved", g.ID, alice, bob, carol, dave)
	checkEmails(t, s, "the other gate's", other.ID, theirs)

	// A move from the wrong state, or of an email that is not there,
	// changes nothing.
	later := t0.Add(time.Hour)
	for _, tt := range []struct {
		name            string
		gate, recipient string
		from, to        store.EmailState
		want            error
	}{
		{"sent again", g.ID, alice.Recipient, store.EmailPending, store.EmailSending, store.ErrConflict},
		{"from a state it left", g.ID, alice.Recipient, store.EmailSending, store.EmailSent, store.ErrConflict},
		{"an email in state unknown", g.ID, carol.Recipient, store.EmailPending, store.EmailSending, store.ErrConflict},
		{"a skipped email", g.ID, bob.Recipient, store.EmailPending, store.EmailSending, store.ErrConflict},
		{"an unknown recipient", g.ID, "erin@corp.example", store.EmailPending, store.EmailSending, store.ErrNotFound},
		{"an unknown gate", "gate-missing", alice.Recipient, store.EmailPending, store.EmailSending, store.ErrNotFound},
	} {
		wantErr(t, "MoveEmail of "+tt.name, s.MoveEmail(ctx, tt.gate, tt.recipient, tt.from, tt.to, "x", later), tt.want)
	}
	for _, tt := range []struct {
		name            string
		gate, recipient string
		from, to        store.EmailState
	}{
		{"empty gate id", "", alice.Recipient, store.EmailSent, store.EmailPending},
		{"empty recipient", g.ID, "", store.EmailSent, store.EmailPending},
		{"unknown from", g.ID, alice.Recipient, "delivered", store.EmailPending},
		{"unknown to", g.ID, alice.Recipient, store.EmailSent, "delivered"},
		{"empty to", g.ID, alice.Recipient, store.EmailSent, ""},
	} {
		err := s.MoveEmail(ctx, tt.gate, tt.recipient, tt.from, tt.to, "x", later)
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("MoveEmail with %s: error %v, want it refused", tt.name, err)
		}
	}
	checkEmails(t, s, "after refused moves", g.ID, alice, bob, carol, dave)
	checkEmails(t, s, "the other gate's after refused moves", other.ID, theirs)
}

// testMoveEmailConcurrent races several goroutines to hand one email to
// the transport: exactly one wins, and one attempt is counted.
func testMoveEmailConcurrent(t *testing.T, s store.Store) {
	const n = 16
	g := create(t, s, newGate(1))
	e := newEmail(g.ID, "alice@corp.example")
	addEmails(t, s, e)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  int
		errs []error
	)
	for range n {
		wg.Go(func() {
			err := s.MoveEmail(context.Background(), e.GateID, e.Recipient, store.EmailPending, store.EmailSending, "", t0.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d moves won, want 1", won)
	}
	for _, err := range errs {
		wantErr(t, "a losing move", err, store.ErrConflict)
	}
	e.State, e.Attempts, e.UpdatedAt = store.EmailSending, 1, t0.Add(time.Minute)
	checkEmails(t, s, "after the race", g.ID, e)
}
