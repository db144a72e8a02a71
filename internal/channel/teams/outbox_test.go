package teams

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/card"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/store"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

// performerEnv is a Performer on a fake of the Microsoft services, a
// webhook server, a SQLite store and fake gates.
type performerEnv struct {
	ms       *fakeMS
	clock    *testclock.Clock
	store    *sqlite.Store
	gates    *fakeGates
	hook     *[]string
	hookURL  string
	p        *Performer
	respond  string
	conv     string
	activity string // the path of the conversation's activities
}

func newPerformerEnv(t *testing.T, webhookStatus int) *performerEnv {
	t.Helper()
	ms := newFakeMS(t)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := testclock.New(time.Now().UTC().Truncate(time.Millisecond))
	// Cards belong to a stored gate.
	if _, _, err := st.CreateGate(t.Context(), store.Gate{
		ID: "g1", Repository: "acme/app", InstallationID: 1, RunID: 1, RunAttempt: 1, Key: "deploy",
		IssueNumber: 7, IssueURL: "https://github.com/acme/app/issues/7", PollTokenHash: []byte{1},
		Spec: []byte(`{}`), Status: approval.Pending, CreatedAt: c.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	srv, hook := webhookServer(t, webhookStatus, "")
	e := &performerEnv{
		ms: ms, clock: c, store: st, hook: hook,
		gates:    &fakeGates{infos: map[string]gates.Info{"g1": testInfo("pending")}},
		hookURL:  srv.URL + "/workflows/1?" + webhookSecret,
		respond:  "https://gatehouse.example/respond/signed-token",
		conv:     "19:rel@thread.tacv2",
		activity: "/amer/v3/conversations/19:rel@thread.tacv2/activities",
	}
	e.p = NewPerformer(PerformerOptions{
		Connector:  ms.newConnector(c),
		Webhooks:   NewWebhooks(map[string]string{"ops": e.hookURL}, srv.Client()),
		Store:      st,
		Gates:      e.gates,
		RespondURL: func(info gates.Info) (string, error) { return e.respond, nil },
		Now:        c.Now,
	})
	return e
}

func item(t *testing.T, kind string, target gates.TeamsTarget) store.OutboxItem {
	t.Helper()
	payload, err := json.Marshal(gates.TeamsItem{Gate: "g1", Target: target})
	if err != nil {
		t.Fatal(err)
	}
	return store.OutboxItem{ID: 1, GateID: "g1", Key: "g1/" + kind, Kind: kind, Payload: payload, Attempts: 1}
}

func (e *performerEnv) target() gates.TeamsTarget {
	return gates.TeamsTarget{ServiceURL: e.ms.ServiceURL(), ConversationID: e.conv}
}

// cardBody is the activity the Connector gets for a card.
func cardBody(t *testing.T, id string, cardJSON json.RawMessage, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cardMessage{Type: "message", ID: id, Attachments: []cardAttachment{{ContentType: card.ContentType, Content: cardJSON}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPerformCard(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"pending", "approved"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			e := newPerformerEnv(t, http.StatusAccepted)
			e.gates.infos["g1"] = testInfo(status)
			it := item(t, gates.KindTeamsCard, e.target())
			if err := e.p.Perform(t.Context(), it); err != nil {
				t.Fatal(err)
			}
			build := card.Pending
			if status != "pending" {
				build = card.Settled
			}
			body, err := build(testInfo(status))
			want := []call{{Method: "POST", Path: e.activity, Auth: "Bearer bot-token-1", Body: cardBody(t, "", body, err)}}
			if d := cmp.Diff(want, e.ms.Calls()); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
			got, err := e.store.Card(t.Context(), "g1")
			if err != nil {
				t.Fatal(err)
			}
			wantCard := store.Card{GateID: "g1", ServiceURL: e.ms.ServiceURL(), ConversationID: e.conv, ActivityID: "activity-1", PostedAt: e.clock.Now()}
			if d := cmp.Diff(wantCard, got); d != "" {
				t.Errorf("card (-want +got):\n%s", d)
			}
			// Performed again (its completion was not recorded): not posted again.
			it.Attempts = 2
			if err := e.p.Perform(t.Context(), it); err != nil {
				t.Fatal(err)
			}
			if n := len(e.ms.Calls()); n != 1 {
				t.Errorf("%d Connector calls after a second attempt, want 1", n)
			}
		})
	}
}

func TestPerformUpdate(t *testing.T) {
	e := newPerformerEnv(t, http.StatusAccepted)
	it := item(t, gates.KindTeamsUpdate, gates.TeamsTarget{})
	// No card was posted: nothing to update.
	if err := e.p.Perform(t.Context(), it); err != nil {
		t.Fatal(err)
	}
	if n := len(e.ms.Calls()); n != 0 {
		t.Fatalf("%d Connector calls without a posted card", n)
	}
	if err := e.store.PutCard(t.Context(), store.Card{GateID: "g1", ServiceURL: e.ms.ServiceURL(), ConversationID: e.conv, ActivityID: "1700000000001", PostedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.gates.infos["g1"] = testInfo("rejected")
	if err := e.p.Perform(t.Context(), it); err != nil {
		t.Fatal(err)
	}
	body, err := card.Settled(testInfo("rejected"))
	want := []call{{Method: "PUT", Path: e.activity + "/1700000000001", Auth: "Bearer bot-token-1", Body: cardBody(t, "1700000000001", body, err)}}
	if d := cmp.Diff(want, e.ms.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestPerformWebhook(t *testing.T) {
	e := newPerformerEnv(t, http.StatusAccepted)
	if err := e.p.Perform(t.Context(), item(t, gates.KindTeamsWebhook, gates.TeamsTarget{Webhook: "ops"})); err != nil {
		t.Fatal(err)
	}
	links, err := card.Links(testInfo("pending"), e.respond)
	if err != nil {
		t.Fatal(err)
	}
	if len(*e.hook) != 1 || !strings.Contains((*e.hook)[0], `"content":`+string(links)+`}]}`) {
		t.Errorf("webhook got %q, want the links card %s", *e.hook, links)
	}
	if n := len(e.ms.Calls()) + len(e.ms.TokenForms()); n != 0 {
		t.Errorf("%d calls to the bot services for a webhook", n)
	}
}

// A webhook's failure names the webhook, never its URL.
func TestPerformWebhookErrorKeepsURLSecret(t *testing.T) {
	e := newPerformerEnv(t, http.StatusBadRequest)
	err := e.p.Perform(t.Context(), item(t, gates.KindTeamsWebhook, gates.TeamsTarget{Webhook: "ops"}))
	if err == nil {
		t.Fatal("Perform succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "workflows") {
		t.Errorf("error %q shows the webhook's URL", err)
	}
	if !strings.Contains(err.Error(), `webhook "ops"`) || !strings.Contains(err.Error(), "gate g1") {
		t.Errorf("error %q does not say what failed", err)
	}
}

func TestPerformFailures(t *testing.T) {
	t.Parallel()
	good := gates.TeamsTarget{ServiceURL: "SERVICE_URL", ConversationID: "19:rel@thread.tacv2"}
	tests := []struct {
		name      string
		it        func(e *performerEnv, t *testing.T) store.OutboxItem
		setup     func(e *performerEnv)
		permanent bool
		wait      time.Duration // the Retry-After honoured
		errHas    string
	}{
		{"payload not JSON", func(e *performerEnv, t *testing.T) store.OutboxItem {
			return store.OutboxItem{Key: "g1/x", Kind: gates.KindTeamsCard, Payload: []byte("{")}
		}, nil, true, 0, "not a Teams item"},
		{"unknown kind", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, "teams.poke", good) }, nil, true, 0, `kind "teams.poke"`},
		{"unknown gate", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsCard, good) },
			func(e *performerEnv) { delete(e.gates.infos, "g1") }, true, 0, "no such gate"},
		{"no conversation", func(e *performerEnv, t *testing.T) store.OutboxItem {
			return item(t, gates.KindTeamsCard, gates.TeamsTarget{Webhook: "ops"})
		}, nil,
			true, 0, "names no conversation"},
		{"service URL not allowed", func(e *performerEnv, t *testing.T) store.OutboxItem {
			return item(t, gates.KindTeamsCard, gates.TeamsTarget{ServiceURL: "http://smba.example/", ConversationID: "19:c"})
		}, nil, true, 0, "not allowed"},
		{"unknown webhook", func(e *performerEnv, t *testing.T) store.OutboxItem {
			return item(t, gates.KindTeamsWebhook, gates.TeamsTarget{Webhook: "releases"})
		}, nil, true, 0, `webhook "releases"`},
		{"Connector 503", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsCard, good) },
			func(e *performerEnv) { e.ms.fail("POST", e.activity, answer{status: 503}) }, false, 0, "HTTP 503"},
		{"Connector 429 with Retry-After", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsCard, good) },
			func(e *performerEnv) { e.ms.fail("POST", e.activity, answer{status: 429, retryAfter: "20"}) }, false, 20 * time.Second, "HTTP 429"},
		{"Connector 408", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsCard, good) },
			func(e *performerEnv) { e.ms.fail("POST", e.activity, answer{status: 408}) }, false, 0, "HTTP 408"},
		{"Connector 403", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsCard, good) },
			func(e *performerEnv) {
				e.ms.fail("POST", e.activity, answer{status: 403, body: `{"error":{"code":"BotNotInConversationRoster","message":"not in roster"}}`})
			}, true, 0, "BotNotInConversationRoster"},
		{"token endpoint refuses the credentials", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsCard, good) },
			func(e *performerEnv) { e.ms.tokenStatus = http.StatusUnauthorized }, true, 0, "bot token"},
		{"update's card unreadable", func(e *performerEnv, t *testing.T) store.OutboxItem { return item(t, gates.KindTeamsUpdate, good) },
			func(e *performerEnv) { e.store.Close() }, false, 0, "update the card of gate g1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newPerformerEnv(t, http.StatusAccepted)
			if tt.setup != nil {
				tt.setup(e)
			}
			it := tt.it(e, t)
			it.Payload = []byte(strings.ReplaceAll(string(it.Payload), "SERVICE_URL", e.ms.ServiceURL()))
			err := e.p.perform(t.Context(), it)
			if !contains(err, tt.errHas) {
				t.Fatalf("perform: %v, want an error about %q", err, tt.errHas)
			}
			want := judgement{permanent: tt.permanent}
			if tt.wait > 0 {
				want.notBefore = e.clock.Now().Add(tt.wait)
			}
			if d := cmp.Diff(want, e.p.judge(err), cmp.AllowUnexported(judgement{})); d != "" {
				t.Errorf("judgement (-want +got):\n%s", d)
			}
			if err := e.p.Perform(t.Context(), it); err == nil {
				t.Error("Perform succeeded")
			}
		})
	}
}

func TestJudge(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p := NewPerformer(PerformerOptions{Now: func() time.Time { return now }})
	retrieve := func(status int) error {
		return fmt.Errorf("get a bot token: %w", &oauth2.RetrieveError{Response: &http.Response{StatusCode: status}})
	}
	tests := []struct {
		name string
		err  error
		want judgement
	}{
		{"network", errors.New("dial tcp: connection refused"), judgement{}},
		{"500", &HTTPError{Status: 500}, judgement{}},
		{"404", fmt.Errorf("x: %w", &HTTPError{Status: 404}), judgement{permanent: true}},
		{"429", &HTTPError{Status: 429}, judgement{}},
		{"503 with Retry-After", &HTTPError{Status: 503, RetryAfter: time.Minute}, judgement{notBefore: now.Add(time.Minute)}},
		{"token 400", retrieve(400), judgement{permanent: true}},
		{"token 503", retrieve(503), judgement{}},
		{"too large", fmt.Errorf("x: %w", ErrTooLarge), judgement{permanent: true}},
		{"gate gone", fmt.Errorf("gate g1: %w", gates.ErrNotFound), judgement{permanent: true}},
		{"store", fmt.Errorf("card of gate g1: %w", errors.New("database is locked")), judgement{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, p.judge(tt.err), cmp.AllowUnexported(judgement{})); d != "" {
				t.Errorf("judge(%v) (-want +got):\n%s", tt.err, d)
			}
		})
	}
}
