package outbox

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
)

func TestEachKind(t *testing.T) {
	e := newEnv(t)
	gh := e.github(t)
	w := e.worker(t, gh)

	n := e.issue(t)
	alice, err := e.emu.Comment("alice", "acme", "app", n, "approve")
	check(t, err)
	comment := e.comment("g1", n, "Approved by alice via Teams.")
	react := e.effect(KindReact, n)
	react.CommentID, react.Content = alice, "+1"
	closed := e.effect(KindClose, n)
	closed.Reason = "completed"
	e.store.add(t, "g1", "g1/react", react)
	e.store.add(t, "g1", "g1/react-again", react) // GitHub answers 200: done
	e.store.add(t, "g1", "g1/response", comment)
	e.store.add(t, "g1", "g1/close", closed)
	e.store.add(t, "g1", "g1/close-again", closed) // closing a closed issue is fine

	other := e.issue(t)
	notPlanned := e.effect(KindClose, other)
	notPlanned.Reason = "not_planned"
	e.store.add(t, "g2", "g2/close", notPlanned)

	if got := w.runOnce(t.Context()); got != 6 {
		t.Fatalf("claimed %d items, want 6", got)
	}
	if d := cmp.Diff([]string{"alice: ", bot + ": Approved by alice via Teams."}, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
	if got := e.emu.Comments("acme", "app", n)[0].Reactions; !cmp.Equal(got, map[string][]string{"+1": {bot}}) {
		t.Errorf("reactions on alice's comment = %v", got)
	}
	for _, c := range []struct {
		issue  int
		reason string
	}{{n, "completed"}, {other, "not_planned"}} {
		is, _ := e.emu.Issue("acme", "app", c.issue)
		if is.State != "closed" || is.StateReason != c.reason || is.ClosedBy != bot {
			t.Errorf("issue %d: %s %q by %s, want closed %q by the app", c.issue, is.State, is.StateReason, is.ClosedBy, c.reason)
		}
	}
	want := map[string]int{"react done": 2, "comment done": 1, "close done": 3}
	if d := cmp.Diff(want, e.observations()); d != "" {
		t.Errorf("observed (-want +got):\n%s", d)
	}
	for id := int64(1); id <= 6; id++ {
		if it := e.store.item(id); it.DoneAt.IsZero() {
			t.Errorf("item %s not done", it.Key)
		}
	}
}

func TestServerErrorsThenPostedOnce(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	n := e.issue(t)
	id := e.store.add(t, "g1", "g1/response", e.comment("g1", n, "Approved."))
	check(t, e.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/acme/app/issues/*/comments", Status: http.StatusBadGateway, Times: 2}))

	start := e.clock.Now()
	w.runOnce(t.Context())
	it := e.store.item(id)
	// A POST that failed with a 5xx is not re-sent within the request.
	if !it.NextAt.Equal(start.Add(time.Second)) || !strings.Contains(it.LastError, "502") || !it.DoneAt.IsZero() {
		t.Fatalf("after the first 502: next %v (want +1s), last error %q, done %v", it.NextAt.Sub(start), it.LastError, it.DoneAt)
	}
	for attempt := 2; attempt <= 3; attempt++ {
		w.runOnce(t.Context())
		if got := e.store.item(id).Attempts; got != attempt-1 {
			t.Fatalf("claimed before its retry time: attempts %d", got)
		}
		e.clock.Advance(time.Duration(attempt-1) * time.Second)
		w.runOnce(t.Context())
	}
	if d := cmp.Diff([]string{bot + ": Approved."}, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
	if it := e.store.item(id); it.DoneAt.IsZero() || it.Attempts != 3 {
		t.Errorf("item: attempts %d, done %v; want 3, done", it.Attempts, it.DoneAt)
	}
	if d := cmp.Diff(map[string]int{"comment retry": 2, "comment done": 1}, e.observations()); d != "" {
		t.Errorf("observed (-want +got):\n%s", d)
	}
}

func TestSecondaryRateLimitRetriedAfterRetryAfter(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, freshClients{e.apps})
	n := e.issue(t)
	id := e.store.add(t, "g1", "g1/response", e.comment("g1", n, "Approved."))
	// Longer than the client's own retries wait, so it reaches the outbox.
	check(t, e.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/acme/app/issues/*/comments", Status: http.StatusForbidden, RetryAfter: 90 * time.Second}))

	start := e.clock.Now()
	w.runOnce(t.Context())
	it := e.store.item(id)
	if want := start.Add(90 * time.Second); !it.NextAt.Equal(want) || !strings.Contains(it.LastError, "secondary rate limit") {
		t.Fatalf("retry at +%v (want +90s), last error %q", it.NextAt.Sub(start), it.LastError)
	}
	e.clock.Advance(89 * time.Second)
	if got := w.runOnce(t.Context()); got != 0 {
		t.Fatalf("claimed %d items before Retry-After passed", got)
	}
	e.clock.Advance(time.Second)
	w.runOnce(t.Context())
	if d := cmp.Diff([]string{bot + ": Approved."}, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
}

// The process posts a comment and dies before recording it: the item's
// lease runs out, it is claimed again, and the comment is found.
func TestPostedButNotRecorded(t *testing.T) {
	tests := []struct {
		name   string
		marker audit.Marker
	}{
		{"summary", audit.Marker{Kind: audit.KindSummary, Gate: "g1"}},
		{"invalid", audit.Marker{Kind: audit.KindInvalid, Gate: "g1", Comment: 77}},
		{"response", audit.Marker{Kind: audit.KindResponse, Gate: "g1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.worker(t, e.github(t))
			n := e.issue(t)
			c := e.effect(KindComment, n)
			c.Body = tt.marker.String() + "\ntext"
			id := e.store.add(t, "g1", "g1/x", c)
			e.store.failComplete = 1

			w.runOnce(t.Context())
			if it := e.store.item(id); !it.DoneAt.IsZero() || e.posts() != 1 {
				t.Fatalf("first attempt: done %v, %d posts", it.DoneAt, e.posts())
			}
			e.clock.Advance(2 * time.Minute) // the lease runs out
			if got := w.runOnce(t.Context()); got != 1 {
				t.Fatalf("claimed %d items after the lease ran out, want 1", got)
			}
			if it := e.store.item(id); it.DoneAt.IsZero() || it.Attempts != 2 {
				t.Errorf("second attempt: attempts %d, done %v", it.Attempts, it.DoneAt)
			}
			if e.posts() != 1 || len(e.emu.Comments("acme", "app", n)) != 1 {
				t.Errorf("%d posts, %d comments; want 1 and 1", e.posts(), len(e.emu.Comments("acme", "app", n)))
			}
		})
	}
}

// A gate has several response comments with the same marker; an earlier
// one is not the one a retried item posts.
func TestRetriedResponseIsNotAnEarlierOne(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	n := e.issue(t)
	e.store.add(t, "g1", "g1/response/1", e.comment("g1", n, "Approved by alice via Teams."))
	w.runOnce(t.Context())

	second := e.store.add(t, "g1", "g1/response/2", e.comment("g1", n, "Approved by bob via email."))
	check(t, e.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/acme/app/issues/*/comments", Status: http.StatusBadGateway}))
	w.runOnce(t.Context())
	e.clock.Advance(time.Second)
	w.runOnce(t.Context())
	if it := e.store.item(second); it.Attempts != 2 || it.DoneAt.IsZero() {
		t.Errorf("second item: attempts %d, done %v; want done on attempt 2", it.Attempts, it.DoneAt)
	}
	want := []string{bot + ": Approved by alice via Teams.", bot + ": Approved by bob via email."}
	if d := cmp.Diff(want, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
}

// TestForgedMarkerIsNotThePost: anyone can write a marker; only the app's
// own comment counts as already posted.
func TestForgedMarkerIsNotThePost(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	n := e.issue(t)
	summary := e.effect(KindComment, n)
	summary.Body = audit.Marker{Kind: audit.KindSummary, Gate: "g1"}.String() + "\nApproved."
	id := e.store.add(t, "g1", "g1/summary", summary)
	check(t, e.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/acme/app/issues/*/comments", Status: http.StatusBadGateway}))
	w.runOnce(t.Context())
	if _, err := e.emu.Comment("alice", "acme", "app", n, audit.Marker{Kind: audit.KindSummary, Gate: "g1"}.String()+"\nRejected, says alice."); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	w.runOnce(t.Context())
	if it := e.store.item(id); it.DoneAt.IsZero() {
		t.Fatalf("summary not done: %+v", it)
	}
	want := []string{"alice: Rejected, says alice.", bot + ": Approved."}
	if d := cmp.Diff(want, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
}

func TestPermanentFailureGivenUp(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	e.issue(t)
	id := e.store.add(t, "g1", "g1/response", e.comment("g1", 99, "Approved.")) // no such issue: 404
	for attempt := 1; attempt <= 8; attempt++ {
		if got := w.runOnce(t.Context()); got != 1 {
			t.Fatalf("attempt %d: claimed %d items", attempt, got)
		}
		e.clock.Advance(time.Hour)
	}
	it := e.store.item(id)
	if it.DoneAt.IsZero() || it.Attempts != 8 || !strings.HasPrefix(it.LastError, "gave up: ") || !strings.Contains(it.LastError, "404") {
		t.Errorf("item: attempts %d, done %v, last error %q", it.Attempts, it.DoneAt, it.LastError)
	}
	if got := w.runOnce(t.Context()); got != 0 {
		t.Errorf("claimed %d items after giving up", got)
	}
	if d := cmp.Diff(map[string]int{"comment retry": 7, "comment gave_up": 1}, e.observations()); d != "" {
		t.Errorf("observed (-want +got):\n%s", d)
	}
	var gaveUp []string
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			gaveUp = append(gaveUp, line)
		}
	}
	if len(gaveUp) != 1 || !strings.Contains(gaveUp[0], "gate=g1") || !strings.Contains(gaveUp[0], "key=g1/response") {
		t.Errorf("error log lines %q, want one naming the gate and key", gaveUp)
	}
}

func TestOrderWithinAGate(t *testing.T) {
	e := newEnv(t)
	w := e.worker(t, e.github(t))
	a, b := e.issue(t), e.issue(t)
	closeA := e.effect(KindClose, a)
	closeA.Reason = "completed"
	a1 := e.store.add(t, "ga", "ga/1", e.comment("ga", a, "one"))
	a2 := e.store.add(t, "ga", "ga/2", e.comment("ga", a, "two"))
	a3 := e.store.add(t, "ga", "ga/3", closeA)
	e.store.add(t, "gb", "gb/1", e.comment("gb", b, "other gate"))
	check(t, e.emu.InjectFault(ghemu.Fault{Method: "POST", Path: "/repos/acme/app/issues/1/comments", Status: http.StatusBadGateway}))

	w.runOnce(t.Context())
	// Gate b went ahead; gate a's later items wait for its first.
	if d := cmp.Diff([]string{bot + ": other gate"}, e.bodies(b)); d != "" {
		t.Errorf("gate b (-want +got):\n%s", d)
	}
	retryAt := e.store.item(a1).NextAt
	for _, id := range []int64{a2, a3} {
		if it := e.store.item(id); !it.NextAt.Equal(retryAt) || !it.DoneAt.IsZero() {
			t.Errorf("item %s: next %v, done %v; want due with the failed item at %v", it.Key, it.NextAt, it.DoneAt, retryAt)
		}
	}
	if is, _ := e.emu.Issue("acme", "app", a); is.State != "open" || len(is.Comments) != 0 {
		t.Errorf("gate a's issue: %s with %d comments, want untouched", is.State, len(is.Comments))
	}

	// An item enqueued meanwhile is due now but waits for the earlier ones.
	a4 := e.store.add(t, "ga", "ga/4", e.comment("ga", a, "four"))
	if got := w.runOnce(t.Context()); got != 1 {
		t.Fatalf("claimed %d items, want the new one", got)
	}
	if it := e.store.item(a4); !it.NextAt.Equal(retryAt) || len(e.emu.Comments("acme", "app", a)) != 0 {
		t.Errorf("new item: next %v, want %v, and nothing posted", it.NextAt, retryAt)
	}

	e.clock.Advance(time.Second)
	w.runOnce(t.Context())
	if d := cmp.Diff([]string{bot + ": one", bot + ": two", bot + ": four"}, e.bodies(a)); d != "" {
		t.Errorf("gate a (-want +got):\n%s", d)
	}
	if is, _ := e.emu.Issue("acme", "app", a); is.State != "closed" {
		t.Errorf("gate a's issue is %s", is.State)
	}
}

func TestKickWakesTheWorker(t *testing.T) {
	e := newEnv(t)
	e.store.claims = make(chan int, 10)
	e.results = make(chan string, 10)
	w := e.worker(t, e.github(t), func(o *Options) { o.Idle = time.Hour })
	n := e.issue(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()

	if got := <-e.store.claims; got != 0 {
		t.Fatalf("first claim: %d items, want none", got)
	}
	e.store.add(t, "g1", "g1/response", e.comment("g1", n, "Approved."))
	w.Kick()
	if got := <-e.results; got != "comment done" {
		t.Errorf("observed %q, want comment done", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if d := cmp.Diff([]string{bot + ": Approved."}, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
}

// Told to stop while posting, the worker finishes the post and records
// it, hands back the gate's next item untried, and returns.
func TestRunFinishesTheItemInFlight(t *testing.T) {
	e := newEnv(t)
	started, proceed := make(chan struct{}), make(chan struct{})
	start := sync.OnceFunc(func() { close(started) })
	e.apps.Transport = transportFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/comments") {
			start()
			<-proceed
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	n := e.issue(t)
	first := e.store.add(t, "g1", "g1/1", e.comment("g1", n, "one"))
	next := e.store.add(t, "g1", "g1/2", e.comment("g1", n, "two"))
	w := e.worker(t, e.github(t))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()

	<-started
	cancel()
	close(proceed)
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if d := cmp.Diff([]string{bot + ": one"}, e.bodies(n)); d != "" {
		t.Errorf("comments (-want +got):\n%s", d)
	}
	if it := e.store.item(first); it.DoneAt.IsZero() {
		t.Error("the item in flight was not recorded as done")
	}
	if it := e.store.item(next); !it.DoneAt.IsZero() || !it.NextAt.Equal(e.clock.Now()) {
		t.Errorf("the next item: done %v, due %v; want handed back, due now", it.DoneAt, it.NextAt)
	}
}

func TestRunNeedsStoreAndGitHub(t *testing.T) {
	if err := NewWorker(Options{}).Run(t.Context()); err == nil {
		t.Error("Run without a store or GitHub: no error")
	}
}
