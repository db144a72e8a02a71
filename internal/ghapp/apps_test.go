package ghapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
)

func TestNewRejectsBadOptions(t *testing.T) {
	key, err := testKeyPEM()
	check(t, err)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no app id", Options{APIURL: "https://api.github.com", PrivateKeyPEM: key}, "GitHub App id 0"},
		{"no key", Options{APIURL: "https://api.github.com", AppID: 1}, "GitHub App private key"},
		{"not a key", Options{APIURL: "https://api.github.com", AppID: 1, PrivateKeyPEM: []byte("-----BEGIN NOTHING-----")}, "GitHub App private key"},
		{"no URL", Options{AppID: 1, PrivateKeyPEM: key}, "GitHub API URL"},
		{"relative URL", Options{APIURL: "api.github.com", AppID: 1, PrivateKeyPEM: key}, "GitHub API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestIdentityIsAskedOnce(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	a := w.apps(t, w.options())
	for range 2 {
		id, err := a.Identity(t.Context())
		check(t, err)
		if d := cmp.Diff(Identity{ID: testAppID, Slug: "gatehouse-test", BotLogin: "gatehouse-test[bot]"}, id); d != "" {
			t.Errorf("Identity (-want +got):\n%s", d)
		}
	}
	if n := w.emu.Stats().Requests["GET /app"]; n != 1 {
		t.Errorf("GET /app made %d times, want 1", n)
	}
}

func TestRepoInstallation(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	a := w.apps(t, w.options())
	tests := []struct {
		owner, repo string
		want        int64
		wantErr     error
	}{
		{"acme", "app", w.inst, nil},
		{"ACME", "App", w.inst, nil},
		{"acme", "site", 0, ErrNotInstalled},
		{"nobody", "nothing", 0, ErrNotInstalled},
	}
	for _, tt := range tests {
		t.Run(tt.owner+"/"+tt.repo, func(t *testing.T) {
			got, err := a.RepoInstallation(t.Context(), tt.owner, tt.repo)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("RepoInstallation = %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestInstallationClientIsReused(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	a := w.apps(t, w.options())
	c1, err := a.Installation(w.inst)
	check(t, err)
	c2, err := a.Installation(w.inst)
	check(t, err)
	if c1 != c2 {
		t.Error("two clients for one installation")
	}
	for _, id := range []int64{0, -1} {
		if _, err := a.Installation(id); err == nil {
			t.Errorf("Installation(%d) accepted", id)
		}
	}
}

// ghinstallation renews a token a minute before the expiry GitHub gave it.
// GitHub's clock (the emulator's) starts 59.5 minutes behind, so the first
// token expires 30 seconds from now by the local clock; then GitHub's clock
// moves on past that expiry.
func TestInstallationTokenRenewed(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	w.clock.Set(time.Now().Add(-time.Hour + 30*time.Second))
	a := w.apps(t, w.options())
	number := w.issue(t, a)
	if n := w.emu.Stats().Requests[tokensPath]; n != 1 {
		t.Fatalf("%d tokens minted, want 1", n)
	}

	w.clock.Set(time.Now().Add(time.Minute)) // the first token has expired on GitHub
	for i := range 2 {
		if _, err := a.IssueComments(t.Context(), w.inst, "acme", "app", number); err != nil {
			t.Fatalf("call %d after the first token expired: %v", i+1, err)
		}
	}
	// Renewed once; the new token lasts an hour and is reused.
	if n := w.emu.Stats().Requests[tokensPath]; n != 2 {
		t.Errorf("%d tokens minted, want 2", n)
	}
}

func TestIssueCommentsReadsEveryPage(t *testing.T) {
	w := newWorld(t, ghemu.Options{PerPageMax: 2})
	a := w.apps(t, w.options())
	number := w.issue(t, a)
	var want []string
	for i := range 5 {
		body := fmt.Sprintf("comment %d", i)
		_, err := w.emu.Comment("alice", "acme", "app", number, body)
		check(t, err)
		want = append(want, body)
	}
	// A 502 on a page is retried within the call.
	check(t, w.emu.InjectFault(ghemu.Fault{Method: "GET", Path: "/repositories/*/issues/*/comments", Status: 502}))

	cs, err := a.IssueComments(t.Context(), w.inst, "acme", "app", number)
	check(t, err)
	var got []string
	for _, c := range cs {
		got = append(got, c.GetBody())
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}

	if _, err := a.IssueComments(t.Context(), w.inst, "acme", "site", 1); err == nil {
		t.Error("comments of a repository outside the installation: no error")
	}
}

func TestActiveMember(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	a := w.apps(t, w.options())
	tests := []struct {
		org, team, login string
		want             bool
	}{
		{"acme", "release", "bob", true},
		{"ACME", "Release", "BOB", true},
		{"acme", "release", "carol", false}, // pending
		{"acme", "release", "dave", false},  // not a member: 404
		{"acme", "nosuchteam", "bob", false},
	}
	for _, tt := range tests {
		t.Run(tt.org+"/"+tt.team+"/"+tt.login, func(t *testing.T) {
			got, err := a.ActiveMember(t.Context(), w.inst, tt.org, tt.team, tt.login)
			if got != tt.want || err != nil {
				t.Errorf("ActiveMember = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestActiveMemberCache(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	o := w.options()
	o.MembershipTTL = time.Minute
	a := w.apps(t, o)
	ask := func(wantRequests int) {
		t.Helper()
		ok, err := a.ActiveMember(t.Context(), w.inst, "acme", "release", "bob")
		if !ok || err != nil {
			t.Fatalf("ActiveMember = %v, %v", ok, err)
		}
		if n := w.emu.Stats().Requests[membersPath]; n != wantRequests {
			t.Errorf("%d membership requests, want %d", n, wantRequests)
		}
	}
	ask(1)
	w.clock.Advance(59 * time.Second)
	ask(1) // reused
	w.clock.Advance(time.Second)
	ask(2) // expired

	// Failures are not remembered. The 500s outlast the call's retries.
	check(t, w.emu.InjectFault(ghemu.Fault{Path: "/orgs/acme/teams/release/memberships/carol", Status: 500, Times: 3}))
	if _, err := a.ActiveMember(t.Context(), w.inst, "acme", "release", "carol"); err == nil {
		t.Fatal("ActiveMember during an outage: no error")
	}
	if ok, err := a.ActiveMember(t.Context(), w.inst, "acme", "release", "carol"); ok || err != nil {
		t.Errorf("ActiveMember after the outage = %v, %v; want false", ok, err)
	}
}

// By default a wait longer than a few seconds comes back to the caller at
// once, with GitHub's error.
func TestLongWaitsAreLeftToTheCaller(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	o := w.options()
	o.Retry = ghclient.RetryOptions{} // the defaults
	a := w.apps(t, o)
	check(t, w.emu.InjectFault(ghemu.Fault{Path: "/orgs/acme/teams/release/memberships/bob", Status: 403, RetryAfter: time.Hour}))
	_, err := a.ActiveMember(t.Context(), w.inst, "acme", "release", "bob")
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != time.Hour {
		t.Errorf("ActiveMember: %v, want the secondary rate limit with its Retry-After", err)
	}
}

func TestActiveMemberSharesOneRequest(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	release := make(chan struct{})
	o := w.options()
	o.Transport = transportFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/memberships/") {
			<-release
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	a := w.apps(t, o)
	const callers = 5
	var wg sync.WaitGroup
	results := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			ok, err := a.ActiveMember(t.Context(), w.inst, "acme", "release", "bob")
			if err == nil && !ok {
				err = errors.New("not active")
			}
			results[i] = err
		})
	}
	waitFor(t, func() bool {
		a.members.mu.Lock()
		defer a.members.mu.Unlock()
		f := a.members.flights[memberKey{w.inst, "acme", "release", "bob"}]
		return f != nil && f.waiters == callers
	})
	close(release)
	wg.Wait()
	for i, err := range results {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := w.emu.Stats().Requests[membersPath]; n != 1 {
		t.Errorf("%d membership requests, want 1", n)
	}
}

// When every caller has given up, the request is cancelled, and the next
// caller starts a new one.
func TestActiveMemberAbandoned(t *testing.T) {
	w := newWorld(t, ghemu.Options{})
	started, cancelled := make(chan struct{}), make(chan struct{})
	var first sync.Once
	o := w.options()
	o.Transport = transportFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/memberships/") {
			blocked := false
			first.Do(func() { blocked = true })
			if blocked {
				close(started)
				<-r.Context().Done()
				close(cancelled)
				return nil, r.Context().Err()
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	a := w.apps(t, o)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := a.ActiveMember(ctx, w.inst, "acme", "release", "bob")
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned call: %v, want context.Canceled", err)
	}
	<-cancelled
	if ok, err := a.ActiveMember(t.Context(), w.inst, "acme", "release", "bob"); !ok || err != nil {
		t.Errorf("next call = %v, %v; want true", ok, err)
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("condition never held")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestTeamMembersReadsEveryPage(t *testing.T) {
	w := newWorld(t, ghemu.Options{PerPageMax: 2})
	a := w.apps(t, w.options())
	for _, login := range []string{"dave", "erin", "frank"} {
		if _, err := w.emu.AddUser(login); err != nil {
			t.Fatal(err)
		}
		check(t, w.emu.SetMembership("acme", "release", login, "active"))
	}
	got, err := a.TeamMembers(t.Context(), w.inst, "ACME", "release")
	check(t, err)
	slices.Sort(got)
	// carol's invitation is pending: not a member.
	if d := cmp.Diff([]string{"bob", "dave", "erin", "frank"}, got); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	if _, err := a.TeamMembers(t.Context(), w.inst, "acme", "nosuchteam"); err == nil {
		t.Error("members of a team the installation cannot see: no error")
	}
}
