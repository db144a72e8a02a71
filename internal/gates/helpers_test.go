package gates

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/store"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

const (
	testRepo         = "octo-org/deploy"
	testInstallation = 77
)

// fakeGitHub answers the service's questions from maps.
type fakeGitHub struct {
	mu        sync.Mutex
	installed map[string]int64       // "owner/repo" -> installation
	members   map[string]bool        // "org/slug/login" -> active
	comments  []*github.IssueComment // the approval issue's comments
	calls     map[string]int         // by method
	fail      error                  // every call fails with it when set
}

func newFakeGitHub() *fakeGitHub {
	return &fakeGitHub{installed: map[string]int64{testRepo: testInstallation}, members: map[string]bool{}, calls: map[string]int{}}
}

func (f *fakeGitHub) RepoInstallation(_ context.Context, owner, repo string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["RepoInstallation"]++
	if f.fail != nil {
		return 0, f.fail
	}
	id, ok := f.installed[owner+"/"+repo]
	if !ok {
		return 0, fmt.Errorf("%s/%s: %w", owner, repo, ghapp.ErrNotInstalled)
	}
	return id, nil
}

func (f *fakeGitHub) ActiveMember(_ context.Context, _ int64, org, slug, login string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ActiveMember"]++
	if f.fail != nil {
		return false, f.fail
	}
	return f.members[org+"/"+slug+"/"+strings.ToLower(login)], nil
}

func (f *fakeGitHub) TeamMembers(_ context.Context, _ int64, org, slug string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["TeamMembers"]++
	if f.fail != nil {
		return nil, f.fail
	}
	if slug == "no-such-team" {
		return nil, &github.ErrorResponse{Response: &http.Response{StatusCode: http.StatusNotFound}, Message: "Not Found"}
	}
	var logins []string
	for k, active := range f.members {
		if login, ok := strings.CutPrefix(k, org+"/"+slug+"/"); ok && active {
			logins = append(logins, login)
		}
	}
	slices.Sort(logins)
	return logins, nil
}

func (f *fakeGitHub) IssueComments(context.Context, int64, string, string, int) ([]*github.IssueComment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["IssueComments"]++
	if f.fail != nil {
		return nil, f.fail
	}
	return f.comments, nil
}

type fixture struct {
	t     *testing.T
	svc   *Service
	store *sqlite.Store
	gh    *fakeGitHub
	clock *testclock.Clock
	// lastID numbers comments and deliveries.
	lastID int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gates.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, gh: newFakeGitHub(), clock: testclock.New(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))}
	f.svc = New(Options{
		Store: st, GitHub: f.gh, SecretKey: []byte("0123456789abcdef0123456789abcdef"),
		Kick: func() {}, Now: f.clock.Now,
	})
	return f
}

func claimsFor(r api.Register) *oidc.Claims {
	return &oidc.Claims{Repository: r.Repository, RunID: r.RunID, RunAttempt: r.RunAttempt}
}

// registration is a valid gate for testRepo; change lets a test adjust it.
func registration(change func(*api.Register)) api.Register {
	r := api.Register{
		Repository: testRepo, RunID: 9001, RunAttempt: 1, Key: "ship/gate",
		IssueNumber: 1, IssueURL: "https://github.com/octo-org/deploy/issues/1",
		Title: "Approval needed: release #42", Approvers: "alice, bob, octo-org/sre",
		MinimumApprovals: "1", TimeoutSeconds: 3600, OnTimeout: "reject",
		Fields:     "- id: rollout\n  type: number\n  integer: true\n  min: 1\n  max: 100\n  default: 10\n",
		Initiators: []string{"octocat"},
		Run:        api.Run{Workflow: "release", Job: "ship", Number: 42, Actor: "octocat"},
	}
	if change != nil {
		change(&r)
	}
	if r.IssueURL == "https://github.com/octo-org/deploy/issues/1" {
		r.IssueURL = fmt.Sprintf("https://github.com/%s/issues/%d", r.Repository, r.IssueNumber)
	}
	return r
}

func (f *fixture) register(change func(*api.Register)) api.Registered {
	f.t.Helper()
	r := registration(change)
	reg, _, err := f.svc.Register(context.Background(), claimsFor(r), r)
	if err != nil {
		f.t.Fatalf("register: %v", err)
	}
	return reg
}

// comment is a comment by login on the approval issue, made now.
func (f *fixture) comment(login, body string) *github.IssueComment {
	f.lastID++
	id := 5000 + f.lastID
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	at := github.Timestamp{Time: f.clock.Now()}
	return &github.IssueComment{
		ID: github.Int64(id), Body: github.String(body), CreatedAt: &at, UpdatedAt: &at,
		HTMLURL: github.String(fmt.Sprintf("https://github.com/octo-org/deploy/issues/1#issuecomment-%d", id)),
		User:    &github.User{Login: github.String(login), Type: github.String(typ)},
	}
}

// deliver hands an issue_comment webhook for c to the service.
func (f *fixture) deliver(action string, c *github.IssueComment) string {
	f.t.Helper()
	return f.process("issue_comment", &github.IssueCommentEvent{
		Action:  github.String(action),
		Comment: c,
		Issue:   &github.Issue{Number: github.Int(1)},
		Repo:    &github.Repository{FullName: github.String(testRepo)},
		Sender:  c.User,
	})
}

func (f *fixture) process(event string, payload any) string {
	f.t.Helper()
	data, err := json.Marshal(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	f.lastID++
	result, err := f.svc.Process(context.Background(), store.Delivery{ID: fmt.Sprint(f.lastID), Event: event, Payload: data, ReceivedAt: f.clock.Now()})
	if err != nil {
		f.t.Fatalf("process %s: %v", event, err)
	}
	return result
}

func (f *fixture) view(id, token string) api.Gate {
	f.t.Helper()
	g, err := f.svc.View(context.Background(), id, token, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

// effects lists the gate's outbox items as "kind key-suffix".
func (f *fixture) effects(gateID string) []string {
	f.t.Helper()
	items, err := f.store.Outbox(context.Background(), gateID)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Kind+" "+strings.TrimPrefix(it.Key, gateID+"/"))
	}
	return out
}

// effect decodes the outbox item with the key suffix.
func (f *fixture) effect(gateID, suffix string) outbox.Effect {
	f.t.Helper()
	items, err := f.store.Outbox(context.Background(), gateID)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, it := range items {
		if it.Key == gateID+"/"+suffix {
			var e outbox.Effect
			if err := json.Unmarshal(it.Payload, &e); err != nil {
				f.t.Fatal(err)
			}
			return e
		}
	}
	f.t.Fatalf("no outbox item %s", suffix)
	return outbox.Effect{}
}

// delivery is an issue_comment delivery of c, received now.
func (f *fixture) delivery(c *github.IssueComment) store.Delivery {
	t := f.t
	t.Helper()
	data, err := json.Marshal(&github.IssueCommentEvent{
		Action: github.String("created"), Comment: c,
		Issue:  &github.Issue{Number: github.Int(1)},
		Repo:   &github.Repository{FullName: github.String(testRepo)},
		Sender: c.User,
	})
	if err != nil {
		t.Fatal(err)
	}
	return store.Delivery{ID: "d-" + fmt.Sprint(c.GetID()), Event: "issue_comment", Payload: data, ReceivedAt: f.clock.Now()}
}
