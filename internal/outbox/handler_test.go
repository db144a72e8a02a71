package outbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// scriptedHandler answers each call with the next error of its script, then
// nil, and records the keys it was given.
type scriptedHandler struct {
	script []error
	keys   []string
}

func (h *scriptedHandler) Perform(_ context.Context, it store.OutboxItem) error {
	h.keys = append(h.keys, it.Key)
	if len(h.script) == 0 {
		return nil
	}
	err := h.script[0]
	h.script = h.script[1:]
	return err
}

func (s *fakeStore) addRaw(gateID, key, kind string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := int64(len(s.items) + 1)
	s.items = append(s.items, store.OutboxItem{ID: id, GateID: gateID, Key: key, Kind: kind, Payload: []byte(`{}`)})
	return id
}

func TestHandlers(t *testing.T) {
	failed := errors.New("connector: 502 Bad Gateway")
	tests := []struct {
		name     string
		script   []error
		runs     int
		wantDone bool
		wantLast string
		observed map[string]int
	}{
		{"done at once", nil, 1, true, "", map[string]int{"card done": 1}},
		{"transient error retried until done", []error{failed, failed}, 3, true, failed.Error(), map[string]int{"card retry": 2, "card done": 1}},
		{"permanent error given up", repeat(Permanent(failed), maxAttempts), maxAttempts, true, "gave up: " + failed.Error(), map[string]int{"card retry": maxAttempts - 1, "card gave_up": 1}},
		{"transient error never given up", repeat(failed, maxAttempts+2), maxAttempts + 2, false, failed.Error(), map[string]int{"card retry": maxAttempts + 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			h := &scriptedHandler{script: tt.script}
			w := e.worker(t, e.github(t), func(o *Options) { o.Handlers = map[string]Handler{"card": h} })
			id := e.store.addRaw("g1", "g1/card", "card")
			for range tt.runs {
				w.runOnce(t.Context())
				e.clock.Advance(time.Hour)
			}
			it := e.store.item(id)
			if done := !it.DoneAt.IsZero(); done != tt.wantDone || it.LastError != tt.wantLast {
				t.Errorf("item done %v, last error %q; want done %v, %q", done, it.LastError, tt.wantDone, tt.wantLast)
			}
			if d := cmp.Diff(tt.observed, e.observations()); d != "" {
				t.Errorf("observed (-want +got):\n%s", d)
			}
			if len(h.keys) != tt.runs {
				t.Errorf("handler called %d times, want %d", len(h.keys), tt.runs)
			}
		})
	}
}

func TestHandlerRetryAt(t *testing.T) {
	e := newEnv(t)
	at := e.clock.Now().Add(10 * time.Minute)
	h := &scriptedHandler{script: []error{RetryAt(errors.New("429 Too Many Requests"), at)}}
	w := e.worker(t, e.github(t), func(o *Options) { o.Handlers = map[string]Handler{"card": h} })
	id := e.store.addRaw("g1", "g1/card", "card")
	w.runOnce(t.Context())
	if it := e.store.item(id); !it.NextAt.Equal(at) || !strings.Contains(it.LastError, "429") {
		t.Errorf("next %v, last error %q; want %v after the 429", it.NextAt, it.LastError, at)
	}
}

func TestUnreadableItemGivenUpAtOnce(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	id := e.store.addRaw("g1", "g1/x", "mystery")
	w.runOnce(t.Context())
	if it := e.store.item(id); it.DoneAt.IsZero() || !strings.Contains(it.LastError, `"mystery"`) {
		t.Errorf("done %v, last error %q; want given up naming the kind", it.DoneAt, it.LastError)
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// A Teams item failing holds up the Teams items after it, never the GitHub
// effects of its gate.
func TestLanes(t *testing.T) {
	e := newEnv(t)
	issue := e.issue(t)
	h := &scriptedHandler{script: []error{errors.New("connector: 502")}}
	w := e.worker(t, e.github(t), func(o *Options) { o.Handlers = map[string]Handler{"teams.card": h, "teams.update": h} })
	card := e.store.addRaw("g1", "g1/teams", "teams.card")
	summary := e.store.add(t, "g1", "g1/summary", e.comment("g1", issue, "Approved."))
	update := e.store.addRaw("g1", "g1/teams/update", "teams.update")
	w.runOnce(t.Context())
	if it := e.store.item(summary); it.DoneAt.IsZero() {
		t.Errorf("the summary waits for the failed card: %+v", it)
	}
	if it := e.store.item(card); !it.DoneAt.IsZero() || !e.store.item(update).DoneAt.IsZero() {
		t.Errorf("card done %v, update done %v; want both waiting", it.DoneAt, e.store.item(update).DoneAt)
	}
	e.clock.Advance(time.Hour)
	w.runOnce(t.Context())
	if d := cmp.Diff([]string{"g1/teams", "g1/teams", "g1/teams/update"}, h.keys); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
}

// A handler that made progress runs again at once: no backoff, no failure
// counted or logged, and its lane's later items stay behind it.
func TestHandlerAgain(t *testing.T) {
	e := newEnv(t)
	h := &scriptedHandler{script: []error{Again(errors.New("3 of 5 not sent yet")), Again(errors.New("1 of 5 not sent yet"))}}
	w := e.worker(t, e.github(t), func(o *Options) {
		o.Handlers = map[string]Handler{"mail.send": h, "mail.other": h}
		o.Backoff = func(int) time.Duration { return time.Hour }
	})
	first := e.store.addRaw("g1", "g1/mail", "mail.send")
	second := e.store.addRaw("g1", "g1/mail/2", "mail.other")

	start := e.clock.Now()
	w.runOnce(t.Context())
	for _, id := range []int64{first, second} {
		if it := e.store.item(id); !it.DoneAt.IsZero() || !it.NextAt.Equal(start) || it.LastError != "" {
			t.Errorf("item %s: done %v, next %v, last error %q; want due again now, no error", it.Key, it.DoneAt, it.NextAt.Sub(start), it.LastError)
		}
	}
	select {
	case <-w.kick:
	default:
		t.Error("the worker was not kicked to run the item again")
	}
	// The clock stands still: only an item due now is claimed.
	w.runOnce(t.Context())
	w.runOnce(t.Context())
	if it := e.store.item(first); it.DoneAt.IsZero() || it.Attempts != 3 {
		t.Errorf("first item: attempts %d, done %v; want done on attempt 3", it.Attempts, it.DoneAt)
	}
	if d := cmp.Diff([]string{"g1/mail", "g1/mail", "g1/mail", "g1/mail/2"}, h.keys); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"mail.send again": 2, "mail.send done": 1, "mail.other done": 1}, e.observations()); d != "" {
		t.Errorf("observed (-want +got):\n%s", d)
	}
	if logs := e.logs.String(); strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "made progress") {
		t.Errorf("logs:\n%s\nwant progress at debug level only", logs)
	}
}
