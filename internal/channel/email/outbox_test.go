package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/store"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

// fakeGates is the gates service: one gate's info and recipients, and the
// notices posted, once per key as the service does.
type fakeGates struct {
	mu         sync.Mutex
	info       gates.Info
	infoErr    error
	recipients []gates.Recipient
	notices    []notice
}

type notice struct{ Key, Text string }

func (g *fakeGates) Info(_ context.Context, gateID string) (gates.Info, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.infoErr != nil {
		return gates.Info{}, g.infoErr
	}
	if gateID != g.info.ID {
		return gates.Info{}, gates.ErrNotFound
	}
	return g.info, nil
}

func (g *fakeGates) EmailRecipients(_ context.Context, gateID string) ([]gates.Recipient, error) {
	if gateID != g.info.ID {
		return nil, gates.ErrNotFound
	}
	return g.recipients, nil
}

func (g *fakeGates) Notice(_ context.Context, gateID, key, text string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gateID != g.info.ID {
		return gates.ErrNotFound
	}
	if !slices.ContainsFunc(g.notices, func(n notice) bool { return n.Key == key }) {
		g.notices = append(g.notices, notice{key, text})
	}
	return nil
}

func (g *fakeGates) Notices() []notice {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.notices)
}

// fakeTransport fails each recipient's sends as scripted, in order, and
// takes the rest. Its sessions' Timeout is timeout.
type fakeTransport struct {
	timeout time.Duration
	// onSend, when set, is called as each message is handed over.
	onSend func(ctx context.Context, to string)
	mu     sync.Mutex
	script map[string][]error // by recipient
	tries  []string           // recipients, in the order handed over
	taken  []Message
	open   int // sessions not closed
}

func (f *fakeTransport) Name() string { return "smtp" }

func (f *fakeTransport) Open() Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open++
	return fakeSession{f}
}

// fakeSession is a session of a fakeTransport.
type fakeSession struct{ f *fakeTransport }

func (s fakeSession) Timeout() time.Duration { return s.f.timeout }

func (s fakeSession) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.open--
}

func (s fakeSession) Send(ctx context.Context, m Message) error {
	f := s.f
	if f.onSend != nil {
		f.onSend(ctx, m.To)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries = append(f.tries, m.To)
	if errs := f.script[m.To]; len(errs) > 0 {
		f.script[m.To] = errs[1:]
		if errs[0] != nil {
			return errs[0]
		}
	}
	f.taken = append(f.taken, m)
	return nil
}

func (f *fakeTransport) Tries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tries)
}

func (f *fakeTransport) Taken() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.taken)
}

func (f *fakeTransport) Unclosed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

const (
	alice = "alice@corp.example"
	bob   = "bob@corp.example"
)

// performerEnv is a Performer on a SQLite store, fake gates and a fake
// transport.
type performerEnv struct {
	store     *sqlite.Store
	gates     *fakeGates
	transport *fakeTransport
	clock     *testclock.Clock
	p         *Performer

	mu       sync.Mutex
	observed []string
	links    []string // "gate recipient expires" of each link minted
}

func newPerformerEnv(t *testing.T) *performerEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := testclock.New(time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC))
	if _, _, err := st.CreateGate(t.Context(), store.Gate{
		ID: "g1", Repository: "acme/app", InstallationID: 1, RunID: 1, RunAttempt: 1, Key: "deploy",
		IssueNumber: 7, IssueURL: "https://github.com/acme/app/issues/7", PollTokenHash: []byte{1},
		Spec: []byte(`{}`), Status: approval.Pending, CreatedAt: c.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	e := &performerEnv{
		store: st, clock: c,
		gates: &fakeGates{info: testInfo(), recipients: []gates.Recipient{
			{Address: alice, Label: "@alice"},
			{Address: bob, Label: bob},
		}},
		transport: &fakeTransport{timeout: time.Second, script: map[string][]error{}},
	}
	e.p = NewPerformer(PerformerOptions{
		Transport: e.transport,
		From:      "Gatehouse <" + testFrom + ">",
		Gates:     e.gates,
		Store:     st,
		Link: func(gateID, recipient string, expires time.Time) string {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.links = append(e.links, fmt.Sprintf("%s %s %s", gateID, recipient, expires.UTC().Format(time.RFC3339)))
			return "https://gatehouse.example/respond/token-for-" + strings.Split(recipient, "@")[0]
		},
		Observe: func(transport, result string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.observed = append(e.observed, transport+":"+result)
		},
		Now: c.Now,
	})
	return e
}

func (e *performerEnv) Observed() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.observed)
}

func emailItem(t *testing.T, gateID string) store.OutboxItem {
	t.Helper()
	payload, err := json.Marshal(gates.EmailItem{Gate: gateID})
	if err != nil {
		t.Fatal(err)
	}
	return store.OutboxItem{ID: 1, GateID: gateID, Key: gateID + "/email", Kind: gates.KindEmail, Payload: payload, Attempts: 1}
}

// emailState is what the tests compare of a stored email.
type emailState struct {
	Recipient, Label string
	State            store.EmailState
	Attempts         int
	LastError        string
}

func (e *performerEnv) states(t *testing.T) []emailState {
	t.Helper()
	emails, err := e.store.Emails(t.Context(), "g1")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]emailState, len(emails))
	for i, m := range emails {
		out[i] = emailState{m.Recipient, m.Label, m.State, m.Attempts, m.LastError}
	}
	return out
}

func (e *performerEnv) perform(t *testing.T) error {
	t.Helper()
	return e.p.Perform(t.Context(), emailItem(t, "g1"))
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

var messageID = regexp.MustCompile(`^[0-9a-f]{32}@corp\.example$`)

func TestPerformSendsEach(t *testing.T) {
	e := newPerformerEnv(t)
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "emails", []emailState{
		{alice, "@alice", store.EmailSent, 1, ""},
		{bob, bob, store.EmailSent, 1, ""},
	}, e.states(t))
	diff(t, "observed", []string{"smtp:sent", "smtp:sent"}, e.Observed())
	diff(t, "links", []string{"g1 " + alice + " 2025-03-04T07:00:00Z", "g1 " + bob + " 2025-03-04T07:00:00Z"}, e.links)
	taken := e.transport.Taken()
	if len(taken) != 2 {
		t.Fatalf("%d messages, want 2", len(taken))
	}
	stored, err := e.store.Emails(t.Context(), "g1")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range taken {
		if m.To != stored[i].Recipient || m.MessageID != stored[i].MessageID || !messageID.MatchString(m.MessageID) {
			t.Errorf("message %d to %s with id %s; stored %+v", i, m.To, m.MessageID, stored[i])
		}
		if m.From != "Gatehouse <"+testFrom+">" || !m.Date.Equal(e.clock.Now()) {
			t.Errorf("message %d from %q at %v", i, m.From, m.Date)
		}
		link := "https://gatehouse.example/respond/token-for-" + strings.Split(m.To, "@")[0] + "?decision=approve"
		if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, link) {
			t.Errorf("message %d has no link %s", i, link)
		}
	}
	if taken[0].MessageID == taken[1].MessageID {
		t.Error("two messages share a Message-ID")
	}
	diff(t, "notices", []notice(nil), e.gates.Notices())

	// Performed again (its completion was not recorded): nothing is sent.
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	if n := len(e.transport.Tries()); n != 2 {
		t.Errorf("%d sends after a second run, want 2", n)
	}
}

func TestPerformRetries(t *testing.T) {
	e := newPerformerEnv(t)
	down := &Error{Failure: Retry, Reason: "the mail server could not be reached", Err: errors.New("dial tcp: connection refused")}
	e.transport.script[bob] = []error{down}
	err := e.perform(t)
	if err == nil {
		t.Fatal("a run that left an email to send: no error")
	}
	diff(t, "emails after the first run", []emailState{
		{alice, "@alice", store.EmailSent, 1, ""},
		{bob, bob, store.EmailPending, 1, "the mail server could not be reached"},
	}, e.states(t))
	diff(t, "notices", []notice{{"email/delayed",
		"The approval email is delayed: the mail server could not be reached. The app keeps trying until the gate settles."}}, e.gates.Notices())

	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "emails after the second run", []emailState{
		{alice, "@alice", store.EmailSent, 1, ""},
		{bob, bob, store.EmailSent, 2, ""},
	}, e.states(t))
	diff(t, "sends", []string{alice, bob, bob}, e.transport.Tries())
	var to []string
	for _, m := range e.transport.Taken() {
		to = append(to, m.To)
	}
	diff(t, "messages taken", []string{alice, bob}, to)
	diff(t, "observed", []string{"smtp:sent", "smtp:retry", "smtp:sent"}, e.Observed())
	if n := len(e.gates.Notices()); n != 1 {
		t.Errorf("%d notices, want 1", n)
	}
}

func TestPerformOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		state   store.EmailState
		result  string
		notices []notice
	}{
		{
			name:   "refused",
			err:    &Error{Failure: Refused, Reason: "the mail server refused it (550 5.1.1)", Err: errors.New("550")},
			state:  store.EmailFailed,
			result: "smtp:failed",
			notices: []notice{{"email/failed/1",
				"The approval email to " + bob + " was not sent: the mail server refused it (550 5.1.1). " + bob + " can answer here."}},
		},
		{
			name:   "unsure",
			err:    &Error{Failure: Unsure, Reason: "the mail server did not confirm it after taking it", Err: errors.New("EOF")},
			state:  store.EmailUnknown,
			result: "smtp:unknown",
			notices: []notice{{"email/unknown/1",
				"The approval email to " + bob + " may not have arrived: the mail server did not confirm it after taking it. It is not sent twice; " + bob + " can answer here."}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPerformerEnv(t)
			e.transport.script[bob] = []error{tc.err}
			if err := e.perform(t); err != nil {
				t.Fatal(err)
			}
			diff(t, "emails", []emailState{
				{alice, "@alice", store.EmailSent, 1, ""},
				{bob, bob, tc.state, 1, Reason(tc.err)},
			}, e.states(t))
			diff(t, "observed", []string{"smtp:sent", tc.result}, e.Observed())
			diff(t, "notices", tc.notices, e.gates.Notices())
			// Performed again: not sent again, noted once.
			if err := e.perform(t); err != nil {
				t.Fatal(err)
			}
			diff(t, "sends", []string{alice, bob}, e.transport.Tries())
			diff(t, "notices after a second run", tc.notices, e.gates.Notices())
		})
	}
}

func TestPerformAfterCrash(t *testing.T) {
	e := newPerformerEnv(t)
	// A run stopped after handing alice's email over.
	if err := e.store.AddEmails(t.Context(), []store.Email{
		{GateID: "g1", Recipient: alice, Label: "@alice", MessageID: "a@corp.example", State: store.EmailSending, Attempts: 1, UpdatedAt: e.clock.Now()},
		{GateID: "g1", Recipient: bob, Label: bob, MessageID: "b@corp.example", State: store.EmailPending, UpdatedAt: e.clock.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "sends", []string{bob}, e.transport.Tries())
	diff(t, "emails", []emailState{
		{alice, "@alice", store.EmailUnknown, 1, "the outcome of handing it over was not recorded"},
		{bob, bob, store.EmailSent, 1, ""},
	}, e.states(t))
	diff(t, "observed", []string{"smtp:unknown", "smtp:sent"}, e.Observed())
	diff(t, "notices", []notice{{"email/unknown/0",
		"The approval email to @alice may not have arrived: the outcome of handing it over was not recorded. It is not sent twice; @alice can answer here."}}, e.gates.Notices())
	if m := e.transport.Taken(); len(m) != 1 || m[0].MessageID != "b@corp.example" {
		t.Errorf("taken %+v, want bob's with its stored Message-ID", m)
	}
}

func TestPerformSettled(t *testing.T) {
	e := newPerformerEnv(t)
	if err := e.store.AddEmails(t.Context(), []store.Email{
		{GateID: "g1", Recipient: alice, Label: "@alice", MessageID: "a@corp.example", State: store.EmailSent, Attempts: 1, UpdatedAt: e.clock.Now()},
		{GateID: "g1", Recipient: bob, Label: bob, MessageID: "b@corp.example", State: store.EmailPending, Attempts: 1, LastError: "down", UpdatedAt: e.clock.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	e.gates.info.View.Status = string(approval.Approved)
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "sends", []string(nil), e.transport.Tries())
	diff(t, "emails", []emailState{
		{alice, "@alice", store.EmailSent, 1, ""},
		{bob, bob, store.EmailSkipped, 1, "the gate settled first"},
	}, e.states(t))
	diff(t, "observed", []string{"smtp:skipped"}, e.Observed())
	diff(t, "notices", []notice(nil), e.gates.Notices())
}

func TestPerformNoRecipients(t *testing.T) {
	e := newPerformerEnv(t)
	e.gates.recipients = nil
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "notices", []notice{{"email/none",
		"No approver has an address known to this app, so no email was sent; approvers can answer here."}}, e.gates.Notices())
	diff(t, "emails", []emailState{}, e.states(t))
	diff(t, "sends", []string(nil), e.transport.Tries())
}

func TestPerformOutOfTime(t *testing.T) {
	e := newPerformerEnv(t)
	e.transport.timeout = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The first send always starts; the second needs more time than is left.
	if err := e.p.Perform(ctx, emailItem(t, "g1")); !errors.Is(err, errTimeUp) {
		t.Fatalf("a run out of time: %v, want %v", err, errTimeUp)
	}
	diff(t, "sends", []string{alice}, e.transport.Tries())
	diff(t, "emails", []emailState{
		{alice, "@alice", store.EmailSent, 1, ""},
		{bob, bob, store.EmailPending, 0, ""},
	}, e.states(t))
	if n := e.transport.Unclosed(); n != 0 {
		t.Errorf("%d sessions left open", n)
	}
}

// racyStore hides the stored emails from the first read, as if another
// process stored them between that read and this process's AddEmails.
type racyStore struct {
	*sqlite.Store
	hidden bool
}

func (r *racyStore) Emails(ctx context.Context, gateID string) ([]store.Email, error) {
	if !r.hidden {
		r.hidden = true
		return nil, nil
	}
	return r.Store.Emails(ctx, gateID)
}

func TestPerformStoredFirstWins(t *testing.T) {
	e := newPerformerEnv(t)
	if err := e.store.AddEmails(t.Context(), []store.Email{
		{GateID: "g1", Recipient: alice, Label: "@alice", MessageID: "first@corp.example", State: store.EmailPending, UpdatedAt: e.clock.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	e.p.o.Store = &racyStore{Store: e.store}
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	taken := e.transport.Taken()
	if len(taken) != 2 || taken[0].MessageID != "first@corp.example" || !messageID.MatchString(taken[1].MessageID) {
		t.Errorf("taken %+v, want alice's with the stored Message-ID, then bob's", taken)
	}
}

func TestPerformBadItems(t *testing.T) {
	for name, it := range map[string]store.OutboxItem{
		"not JSON":     {Key: "k", Kind: gates.KindEmail, Payload: []byte("{")},
		"no gate":      {Key: "k", Kind: gates.KindEmail, Payload: []byte(`{}`)},
		"another kind": {Key: "k", Kind: gates.KindTeamsCard, Payload: []byte(`{"gate":"g1"}`)},
		"unknown gate": {Key: "k", Kind: gates.KindEmail, Payload: []byte(`{"gate":"nope"}`)},
	} {
		t.Run(name, func(t *testing.T) {
			e := newPerformerEnv(t)
			if err := e.p.Perform(t.Context(), it); err == nil {
				t.Error("no error")
			}
			diff(t, "sends", []string(nil), e.transport.Tries())
		})
	}
}

// noGitHub is the outbox's GitHub, which email items never use.
type noGitHub struct{}

func (noGitHub) Installation(int64) (*github.Client, error) {
	return nil, errors.New("no GitHub here")
}

func (noGitHub) Identity(context.Context) (ghapp.Identity, error) {
	return ghapp.Identity{}, errors.New("no GitHub here")
}

// outboxRun enqueues the gate's email item and has the outbox worker
// perform it, on e's clock, which stands still, with backoff after a
// failure, until the item is done or fails. It returns the worker's
// results and the item as it was left.
func (e *performerEnv) outboxRun(t *testing.T, backoff time.Duration) ([]string, store.OutboxItem) {
	t.Helper()
	it := emailItem(t, "g1")
	it.ID, it.Attempts, it.NextAt = 0, 0, e.clock.Now()
	if _, err := e.store.Update(t.Context(), "g1", func(store.Snapshot) (store.Change, error) {
		return store.Change{Outbox: []store.OutboxItem{it}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu      sync.Mutex
		results []string
	)
	w := outbox.NewWorker(outbox.Options{
		Store: e.store, GitHub: noGitHub{}, Now: e.clock.Now,
		Backoff:  func(int) time.Duration { return backoff },
		Handlers: map[string]outbox.Handler{gates.KindEmail: e.p},
		Observe: func(_, result string) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, result)
			if result != "again" {
				cancel()
			}
		},
	})
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := e.store.Outbox(t.Context(), "g1")
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox items %+v, %v; want one", items, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return results, items[0]
}

// A run out of time after sending some runs again at once: with the clock
// standing still and an hour's backoff, only that sends the rest.
func TestPerformAgainInTheOutbox(t *testing.T) {
	e := newPerformerEnv(t)
	e.transport.timeout = time.Hour
	results, it := e.outboxRun(t, time.Hour)
	diff(t, "outbox results", []string{"again", "done"}, results)
	if it.DoneAt.IsZero() || it.LastError != "" {
		t.Errorf("item done %v, last error %q; want done without error", it.DoneAt, it.LastError)
	}
	diff(t, "sends", []string{alice, bob}, e.transport.Tries())
	diff(t, "observed", []string{"smtp:sent", "smtp:sent"}, e.Observed())
}

// Retry-After holds every message: the run stops, and the item is due when
// the service said, when every failure of the run said so.
func TestPerformRetryAfter(t *testing.T) {
	throttled := &Error{Failure: Retry, Reason: "Microsoft Graph is throttling (429 ApplicationThrottled)", RetryAfter: 30 * time.Second, Err: errors.New("429")}
	down := &Error{Failure: Retry, Reason: "Microsoft Graph could not be reached", Err: errors.New("dial")}
	for _, tc := range []struct {
		name   string
		script map[string][]error
		sends  []string
		next   time.Duration
	}{
		{"throttled", map[string][]error{alice: {throttled}}, []string{alice}, 30 * time.Second},
		{"throttled after a failure without Retry-After", map[string][]error{alice: {down}, bob: {throttled}}, []string{alice, bob}, 0},
		{"no Retry-After", map[string][]error{alice: {down}}, []string{alice, bob}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPerformerEnv(t)
			e.transport.script = tc.script
			start := e.clock.Now()
			results, it := e.outboxRun(t, 0)
			diff(t, "outbox results", []string{"retry"}, results)
			if got := it.NextAt.Sub(start); got != tc.next {
				t.Errorf("item due in %v, want %v", got, tc.next)
			}
			diff(t, "sends", tc.sends, e.transport.Tries())
			if st := e.states(t); st[0].State != store.EmailPending {
				t.Errorf("alice's email %+v, want pending", st[0])
			}
		})
	}
}

// A refusal of the app's set-up moves the message back to pending, stops
// the run, and says once on the issue that no email can be sent; once the
// set-up is fixed, the emails go.
func TestPerformBlocked(t *testing.T) {
	e := newPerformerEnv(t)
	login := &Error{Failure: Blocked, Reason: "the mail server refused the login (535 5.7.8)", Err: errors.New("535")}
	e.transport.script[alice] = []error{login, login}
	want := []notice{{"email/blocked",
		"No approval email can be sent: the mail server refused the login (535 5.7.8). The app keeps trying; its operator needs to fix the mail settings."}}
	for run := 1; run <= 2; run++ {
		err := e.perform(t)
		if err == nil || errors.Is(err, errTimeUp) {
			t.Fatalf("run %d: %v, want the refusal", run, err)
		}
		diff(t, "emails", []emailState{
			{alice, "@alice", store.EmailPending, run, "the mail server refused the login (535 5.7.8)"},
			{bob, bob, store.EmailPending, 0, ""},
		}, e.states(t))
		diff(t, "notices", want, e.gates.Notices())
	}
	diff(t, "sends while blocked", []string{alice, alice}, e.transport.Tries())
	diff(t, "observed while blocked", []string{"smtp:retry", "smtp:retry"}, e.Observed())

	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "emails once fixed", []emailState{
		{alice, "@alice", store.EmailSent, 3, ""},
		{bob, bob, store.EmailSent, 1, ""},
	}, e.states(t))
	diff(t, "notices once fixed", want, e.gates.Notices())
}

// What came of a send is recorded even when the item's time ran out while
// sending; nothing more is sent then.
func TestPerformRecordsAfterTheContextEnds(t *testing.T) {
	e := newPerformerEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.transport.onSend = func(context.Context, string) { cancel() }
	if err := e.p.Perform(ctx, emailItem(t, "g1")); !errors.Is(err, errTimeUp) {
		t.Fatalf("Perform: %v, want %v", err, errTimeUp)
	}
	diff(t, "emails", []emailState{
		{alice, "@alice", store.EmailSent, 1, ""},
		{bob, bob, store.EmailPending, 0, ""},
	}, e.states(t))
	diff(t, "observed", []string{"smtp:sent"}, e.Observed())
}

// A gate that settles, or whose deadline passes, while its emails go out
// gets no more: the rest are skipped.
func TestPerformGateOverWhileSending(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *performerEnv)
		reason string
	}{
		{
			name: "settled",
			change: func(e *performerEnv) {
				e.gates.mu.Lock()
				defer e.gates.mu.Unlock()
				e.gates.info.View.Status = string(approval.Approved)
			},
			reason: "the gate settled first",
		},
		{
			name:   "deadline",
			change: func(e *performerEnv) { e.clock.Advance(2 * time.Hour) },
			reason: "the gate's deadline passed first",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPerformerEnv(t)
			e.transport.onSend = func(context.Context, string) { tc.change(e) }
			if err := e.perform(t); err != nil {
				t.Fatal(err)
			}
			diff(t, "sends", []string{alice}, e.transport.Tries())
			diff(t, "emails", []emailState{
				{alice, "@alice", store.EmailSent, 1, ""},
				{bob, bob, store.EmailSkipped, 0, tc.reason},
			}, e.states(t))
			diff(t, "observed", []string{"smtp:sent", "smtp:skipped"}, e.Observed())
		})
	}
}

func TestPerformPastDeadline(t *testing.T) {
	e := newPerformerEnv(t)
	e.clock.Advance(3 * time.Hour)
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "sends", []string(nil), e.transport.Tries())
	diff(t, "emails", []emailState{}, e.states(t))
	diff(t, "notices", []notice(nil), e.gates.Notices())
}

// An email left "sending" by a run that stopped is unknown once the gate
// settled, not sending for ever.
func TestPerformSettledWhileSending(t *testing.T) {
	e := newPerformerEnv(t)
	if err := e.store.AddEmails(t.Context(), []store.Email{
		{GateID: "g1", Recipient: alice, Label: "@alice", MessageID: "a@corp.example", State: store.EmailSending, Attempts: 1, UpdatedAt: e.clock.Now()},
		{GateID: "g1", Recipient: bob, Label: bob, MessageID: "b@corp.example", State: store.EmailPending, UpdatedAt: e.clock.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	e.gates.info.View.Status = string(approval.Rejected)
	if err := e.perform(t); err != nil {
		t.Fatal(err)
	}
	diff(t, "emails", []emailState{
		{alice, "@alice", store.EmailUnknown, 1, "the outcome of handing it over was not recorded"},
		{bob, bob, store.EmailSkipped, 0, "the gate settled first"},
	}, e.states(t))
	diff(t, "observed", []string{"smtp:unknown", "smtp:skipped"}, e.Observed())
	diff(t, "sends", []string(nil), e.transport.Tries())
}
