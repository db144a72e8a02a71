package outbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/store"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

const (
	bot          = "gatehouse[bot]"
	postComments = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
)

// testKeyPEM is one App key for the whole test binary: generating RSA keys
// is slow.
var testKeyPEM = sync.OnceValues(func() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), nil
})

// fakeStore is the outbox part of store.Store in memory, as the contract
// describes it.
type fakeStore struct {
	mu    sync.Mutex
	items []store.OutboxItem
	// failComplete is how many CompleteOutbox calls fail (after doing
	// nothing), as when the process dies before recording.
	failComplete int
	// claims, when set, receives the number of items of every claim.
	claims chan int
}

func (s *fakeStore) add(t *testing.T, gateID, key string, e Effect) int64 {
	t.Helper()
	it, err := Item(gateID, key, e)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it.ID = int64(len(s.items) + 1)
	s.items = append(s.items, it)
	return it.ID
}

func (s *fakeStore) item(id int64) store.OutboxItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.items[id-1]
}

func (s *fakeStore) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxItem, error) {
	s.mu.Lock()
	var out []store.OutboxItem
	for i := range s.items {
		it := &s.items[i]
		if len(out) == limit {
			break
		}
		if it.DoneAt.IsZero() && !it.NextAt.After(now) {
			it.NextAt = now.Add(lease)
			it.Attempts++
			out = append(out, *it)
		}
	}
	s.mu.Unlock()
	if s.claims != nil {
		s.claims <- len(out)
	}
	return out, nil
}

func (s *fakeStore) CompleteOutbox(ctx context.Context, id int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failComplete > 0 {
		s.failComplete--
		return errors.New("database is locked")
	}
	if id < 1 || int(id) > len(s.items) {
		return store.ErrNotFound
	}
	s.items[id-1].DoneAt = at
	return nil
}

func (s *fakeStore) RetryOutbox(ctx context.Context, id int64, next time.Time, lastError string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.items) {
		return store.ErrNotFound
	}
	s.items[id-1].NextAt, s.items[id-1].LastError = next, lastError
	return nil
}

func (s *fakeStore) Outbox(ctx context.Context, gateID string) ([]store.OutboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.OutboxItem
	for _, it := range s.items {
		if it.GateID == gateID {
			out = append(out, it)
		}
	}
	return out, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is GitHub (the emulator) with the App installed on acme/app, where
// alice writes, the outbox in memory, and a worker over both.
type env struct {
	emu   *ghemu.Emulator
	clock *testclock.Clock
	store *fakeStore
	apps  ghapp.Options
	inst  int64
	logs  *syncBuffer

	mu       sync.Mutex
	observed map[string]int // "kind result" -> count
	results  chan string    // every observation, when set
}

func newEnv(t *testing.T) *env {
	t.Helper()
	key, err := testKeyPEM()
	check(t, err)
	e := &env{
		clock:    testclock.New(time.Now()),
		store:    &fakeStore{},
		logs:     &syncBuffer{},
		observed: map[string]int{},
	}
	e.emu, err = ghemu.New(ghemu.Options{AppPrivateKeyPEM: key})
	check(t, err)
	check(t, e.emu.Start())
	t.Cleanup(func() { check(t, e.emu.Close()) })
	_, err = e.emu.AddUser("alice")
	check(t, err)
	check(t, e.emu.AddOrg("acme", "alice"))
	check(t, e.emu.AddRepo("acme", "app", map[string]string{"alice": "write"}))
	e.inst, err = e.emu.InstallApp("acme", "app")
	check(t, err)
	e.apps = ghapp.Options{
		APIURL:        e.emu.APIURL(),
		AppID:         e.emu.AppID(),
		PrivateKeyPEM: key,
		Retry:         ghclient.RetryOptions{BaseDelay: time.Millisecond},
	}
	return e
}

// github returns the App's clients.
func (e *env) github(t *testing.T) *ghapp.Apps {
	t.Helper()
	a, err := ghapp.New(e.apps)
	check(t, err)
	return a
}

// worker returns a worker over the env with backoffs of attempt seconds;
// change adjusts its options.
func (e *env) worker(t *testing.T, gh GitHub, change ...func(*Options)) *Worker {
	t.Helper()
	o := Options{
		Store:   e.store,
		GitHub:  gh,
		Now:     e.clock.Now,
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Second },
		Observe: e.observe,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range change {
		f(&o)
	}
	return NewWorker(o)
}

func (e *env) observe(kind, result string) {
	e.mu.Lock()
	e.observed[kind+" "+result]++
	ch := e.results
	e.mu.Unlock()
	if ch != nil {
		ch <- kind + " " + result
	}
}

func (e *env) observations() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.observed)
}

// issue opens an issue on acme/app and returns its number.
func (e *env) issue(t *testing.T) int {
	t.Helper()
	c, err := e.github(t).Installation(e.inst)
	check(t, err)
	is, _, err := c.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{Title: github.String("gate")})
	check(t, err)
	return is.GetNumber()
}

// effect is an effect on acme/app#issue.
func (e *env) effect(kind Kind, issue int) Effect {
	return Effect{Kind: kind, Installation: e.inst, Owner: "acme", Repo: "app", Issue: issue}
}

// comment is a comment effect on acme/app#issue with a response marker for
// gate and text.
func (e *env) comment(gate string, issue int, text string) Effect {
	c := e.effect(KindComment, issue)
	c.Body = audit.Marker{Kind: audit.KindResponse, Gate: gate}.String() + "\n" + text
	return c
}

// bodies returns the text after the marker line of each comment on
// acme/app#issue, with its author.
func (e *env) bodies(issue int) []string {
	var out []string
	for _, c := range e.emu.Comments("acme", "app", issue) {
		_, text, _ := strings.Cut(c.Body, "\n")
		out = append(out, c.Author+": "+text)
	}
	return out
}

func (e *env) posts() int { return e.emu.Stats().Requests[postComments] }

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// transportFunc adapts a function to http.RoundTripper.
type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// freshClients makes a new App client for every item, as a restarted
// process would. go-github remembers a secondary rate limit and refuses
// requests by wall-clock time until its Retry-After has passed; a fresh
// client leaves the decision to the outbox's clock.
type freshClients struct{ o ghapp.Options }

func (f freshClients) Installation(id int64) (*github.Client, error) {
	a, err := ghapp.New(f.o)
	if err != nil {
		return nil, err
	}
	return a.Installation(id)
}

func (f freshClients) Identity(ctx context.Context) (ghapp.Identity, error) {
	a, err := ghapp.New(f.o)
	if err != nil {
		return ghapp.Identity{}, err
	}
	return a.Identity(ctx)
}
