package outbox

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

func TestItem(t *testing.T) {
	base := Effect{Installation: 7, Owner: "acme", Repo: "app", Issue: 3}
	with := func(f func(*Effect)) Effect {
		e := base
		f(&e)
		return e
	}
	comment := with(func(e *Effect) { e.Kind, e.Body = KindComment, "<!-- gatehouse:summary gate=g1 -->\n### Approved" })
	react := with(func(e *Effect) { e.Kind, e.CommentID, e.Content = KindReact, 12, "+1" })
	closed := with(func(e *Effect) { e.Kind, e.Reason = KindClose, "not_planned" })
	tests := []struct {
		name    string
		gate    string
		e       Effect
		wantErr string
	}{
		{"comment", "g1", comment, ""},
		{"react", "g1", react, ""},
		{"close", "g1", closed, ""},
		{"no gate", "", comment, "gate id and key are required"},
		{"unknown kind", "g1", with(func(e *Effect) { e.Kind = "label" }), `effect kind "label"`},
		{"no installation", "g1", with(func(e *Effect) { e.Kind, e.Installation = KindClose, 0 }), "installation, owner, repo and issue are required"},
		{"no issue", "g1", with(func(e *Effect) { e.Kind, e.Issue = KindClose, 0 }), "installation, owner, repo and issue are required"},
		{"comment without marker", "g1", with(func(e *Effect) { e.Kind, e.Body = KindComment, "Approved" }), "must start with an audit marker"},
		{"react without comment", "g1", with(func(e *Effect) { e.Kind, e.Content = KindReact, "+1" }), "comment id is required"},
		{"react with unknown content", "g1", with(func(e *Effect) { e.Kind, e.CommentID, e.Content = KindReact, 12, "thumbsup" }), `content "thumbsup"`},
		{"close with unknown reason", "g1", with(func(e *Effect) { e.Kind, e.Reason = KindClose, "duplicate" }), `reason "duplicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := Item(tt.gate, tt.gate+"/x", tt.e)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Item: %v, want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.GateID != tt.gate || it.Key != tt.gate+"/x" || it.Kind != string(tt.e.Kind) || !it.NextAt.IsZero() {
				t.Errorf("item = %+v", it)
			}
			got, err := decode(it)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.e, got); d != "" {
				t.Errorf("decoded (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeRejectsBadItems(t *testing.T) {
	for _, it := range []store.OutboxItem{
		{Kind: "comment", Payload: []byte("not json")},
		{Kind: "close", Payload: []byte(`{"kind":"comment","installation":1,"owner":"o","repo":"r","issue":1,"body":"<!-- gatehouse:summary gate=g -->"}`)},
		{Kind: "close", Payload: []byte(`{"kind":"close","installation":1,"owner":"o","repo":"r","issue":1}`)},
	} {
		if e, err := decode(it); err == nil {
			t.Errorf("decode(%s %s) = %+v, want an error", it.Kind, it.Payload, e)
		}
	}
}

// An item that cannot be decoded will never succeed: it is given up at
// once.
func TestUndecodableItemGivenUp(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	e.store.items = append(e.store.items, store.OutboxItem{ID: 1, GateID: "g1", Key: "g1/bad", Kind: "comment", Payload: []byte("{")})
	w.runOnce(t.Context())
	if it := e.store.item(1); it.DoneAt.IsZero() || !strings.HasPrefix(it.LastError, "gave up: payload") {
		t.Errorf("item: done %v, last error %q", it.DoneAt, it.LastError)
	}
	if d := cmp.Diff(map[string]int{"comment gave_up": 1}, e.observations()); d != "" {
		t.Errorf("observed (-want +got):\n%s", d)
	}
}
