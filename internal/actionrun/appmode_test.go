package actionrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
)

const (
	testOwner = "octo-org"
	testRepo  = "deploy"
	// testWaitLimit bounds every wait for the action; it only ever ends a
	// test that has already failed.
	testWaitLimit = 30 * time.Second
)

const appFields = `- id: reason
  type: string
  required: true
- id: rollout
  type: number
  integer: true
  default: 10
- id: regions
  type: multiselect
  values: [eu, us, apac]
`

// testTiming paces app mode in milliseconds; polls are held for a second
// at most and woken by every change of the gate.
func testTiming() appTiming {
	return appTiming{
		firstBackoff:  time.Millisecond,
		maxBackoff:    4 * time.Millisecond,
		maxRetryAfter: 20 * time.Millisecond,
		maxOutage:     time.Minute,
		grace:         time.Minute,
		pollGap:       time.Millisecond,
		firstLog:      time.Minute,
		wait:          1,
	}
}

// appWorld is GitHub (the emulator), the runner's OIDC token endpoint, and
// a fake of the app's gate API.
type appWorld struct {
	t        *testing.T
	emu      *ghemu.Emulator
	jobToken string
	issuer   *oidcissuer.Issuer
	app      *fakeApp
}

func newAppWorld(t *testing.T) *appWorld {
	t.Helper()
	emu, err := ghemu.New(ghemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	collaborators := map[string]string{"github-actions[bot]": "write"}
	for _, login := range []string{"alice", "bob", "octocat"} {
		if _, err := emu.AddUser(login); err != nil {
			t.Fatal(err)
		}
		collaborators[login] = "write"
	}
	w := &appWorld{t: t, emu: emu}
	if w.jobToken, err = emu.AddBot("github-actions"); err != nil {
		t.Fatal(err)
	}
	if err := emu.AddOrg(testOwner, "alice", "bob", "octocat"); err != nil {
		t.Fatal(err)
	}
	if err := emu.AddRepo(testOwner, testRepo, collaborators); err != nil {
		t.Fatal(err)
	}
	w.issuer = oidcissuer.New()
	w.issuer.Start()
	t.Cleanup(w.issuer.Close)
	w.app = startFakeApp(t, w.issuer.Issuer())
	return w
}

// issue is the approval issue as it is now.
func (w *appWorld) issue() ghemu.IssueSnapshot {
	is, _ := w.emu.Issue(testOwner, testRepo, 1)
	return is
}

// githubRequests counts the requests GitHub has served.
func (w *appWorld) githubRequests() int {
	n := 0
	for _, c := range w.emu.Stats().Requests {
		n += c
	}
	return n
}

// actionRun is one run of the action's Main.
type actionRun struct {
	t           *testing.T
	stdout      *lockedBuffer
	outputPath  string
	summaryPath string
	cancel      context.CancelFunc
	done        chan struct{}
	code        int
}

// start runs the action in app mode with the given inputs (names as in
// action.yml); env overrides the runner's variables ("" unsets one).
func (w *appWorld) start(inputs, env map[string]string, timing appTiming) *actionRun {
	w.t.Helper()
	dir := w.t.TempDir()
	r := &actionRun{
		t:           w.t,
		stdout:      &lockedBuffer{},
		outputPath:  filepath.Join(dir, "output"),
		summaryPath: filepath.Join(dir, "step_summary"),
		done:        make(chan struct{}),
	}
	requestURL, requestToken := w.issuer.RequestURL(oidcissuer.JobClaims{
		Repository: testOwner + "/" + testRepo, RunID: 9001, RunNumber: 42, RunAttempt: 1,
		Actor: "octocat", Workflow: "release", Ref: "refs/heads/main", SHA: strings.Repeat("ab", 20), EventName: "push",
	})
	vars := map[string]string{
		"GITHUB_REPOSITORY":              testOwner + "/" + testRepo,
		"GITHUB_RUN_ID":                  "9001",
		"GITHUB_RUN_ATTEMPT":             "1",
		"GITHUB_RUN_NUMBER":              "42",
		"GITHUB_WORKFLOW":                "release",
		"GITHUB_JOB":                     "ship",
		"GITHUB_ACTION":                  "gate",
		"GITHUB_ACTOR":                   "octocat",
		"GITHUB_TRIGGERING_ACTOR":        "octocat",
		"GITHUB_SHA":                     strings.Repeat("ab", 20),
		"GITHUB_REF":                     "refs/heads/main",
		"GITHUB_SERVER_URL":              w.emu.WebURL(),
		"GITHUB_API_URL":                 w.emu.APIURL(),
		"GITHUB_OUTPUT":                  r.outputPath,
		"GITHUB_STEP_SUMMARY":            r.summaryPath,
		"ACTIONS_ID_TOKEN_REQUEST_URL":   requestURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
		"INPUT_GITHUB-TOKEN":             w.jobToken,
		"INPUT_APP-URL":                  w.app.url + "/",
		"INPUT_APPROVERS":                "alice, bob",
	}
	for name, v := range inputs {
		vars["INPUT_"+strings.ToUpper(name)] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	for _, p := range []string{r.outputPath, r.summaryPath} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.code = Main(ctx, Options{Getenv: func(k string) string { return vars[k] }, Stdout: r.stdout, timing: timing})
	}()
	w.t.Cleanup(func() {
		cancel()
		<-r.done
		if w.t.Failed() {
			w.t.Logf("action output:\n%s", r.stdout.String())
		}
	})
	return r
}

// wait waits for Main to return and gives its exit status and outputs.
func (r *actionRun) wait() (int, map[string]string) {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(testWaitLimit):
		r.t.Fatalf("the action did not end; output:\n%s", r.stdout.String())
	}
	data, err := os.ReadFile(r.outputPath)
	if err != nil {
		r.t.Fatal(err)
	}
	outs, err := ReadOutputs(string(data))
	if err != nil {
		r.t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range outs {
		if _, dup := m[kv[0]]; dup {
			r.t.Fatalf("output %s set twice", kv[0])
		}
		m[kv[0]] = kv[1]
	}
	return r.code, m
}

// waitLog waits until the action has logged text n times.
func (r *actionRun) waitLog(text string, n int) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d× %q in the log", n, text), func() bool { return strings.Count(r.stdout.String(), text) >= n })
}

func (r *actionRun) summary() string {
	r.t.Helper()
	data, err := os.ReadFile(r.summaryPath)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(data)
}

// checkMasked fails unless secret appears in the log only in its
// ::add-mask:: command.
func (r *actionRun) checkMasked(what, secret string) {
	r.t.Helper()
	out := r.stdout.String()
	if !strings.Contains(out, "::add-mask::"+secret+"\n") {
		r.t.Errorf("the %s was never masked", what)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, secret) && line != "::add-mask::"+secret {
			r.t.Errorf("the %s is printed: %q", what, line)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// alicesApproval is the app's view of a gate alice approved through Teams.
func alicesApproval(v *api.Gate) {
	at := time.Date(2026, 11, 21, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	values := map[string]any{"reason": "canary clean", "rollout": 25, "regions": []string{"eu", "us"}}
	v.Status, v.Approved, v.DecidedBy, v.Approvers = "approved", true, "alice", []string{"alice"}
	v.Approvals, v.Fields, v.Comment = 1, values, "Ship it."
	v.Responses = []api.Response{{
		Actor: "alice", Via: "teams", Decision: "approve", Fields: values, Comment: "Ship it.",
		At: at, URL: "https://github.com/octo-org/deploy/issues/1#issuecomment-7",
	}}
}

func TestAppApproveWithTypedFields(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.start(map[string]string{"fields": appFields, "approve-words": "ship it", "exclude-initiator": "true", "instructions": "Check the dashboard."}, nil, testTiming())
	run.waitLog("Waiting for approval on", 1)
	before := w.githubRequests()
	w.app.settle(alicesApproval)
	code, out := run.wait()
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}

	is := w.issue()
	want := api.Register{
		Repository: "octo-org/deploy", RunID: 9001, RunAttempt: 1, Key: "ship/gate",
		IssueNumber: 1, IssueURL: is.HTMLURL, Title: "Approval needed: release #42", Instructions: "Check the dashboard.",
		Approvers: "alice, bob", MinimumApprovals: "1", Fields: strings.TrimSpace(appFields),
		TimeoutSeconds: 3600, OnTimeout: "reject", ExcludeInitiator: true, Initiators: []string{"octocat"},
		ApproveWords: "ship it",
		Run: api.Run{
			Workflow: "release", Job: "ship", Number: 42, URL: w.emu.WebURL() + "/octo-org/deploy/actions/runs/9001",
			Actor: "octocat", SHA: strings.Repeat("ab", 20), Ref: "refs/heads/main",
		},
	}
	if diff := cmp.Diff([]api.Register{want}, w.app.registered()); diff != "" {
		t.Errorf("registration (-want +got):\n%s", diff)
	}

	wantOut := map[string]string{
		"decision":      "approved",
		"approved":      "true",
		"approvers":     "alice",
		"decided-by":    "alice",
		"fields":        `{"reason":"canary clean","regions":["eu","us"],"rollout":25}`,
		"field-reason":  "canary clean",
		"field-rollout": "25",
		"field-regions": "eu,us",
		"comment":       "Ship it.",
		"responses":     `[{"actor":"alice","via":"teams","decision":"approve","fields":{"reason":"canary clean","regions":["eu","us"],"rollout":25},"comment":"Ship it.","at":"2026-11-21T09:30:00Z","url":"https://github.com/octo-org/deploy/issues/1#issuecomment-7"}]`,
		"issue-number":  "1",
		"issue-url":     is.HTMLURL,
	}
	if diff := cmp.Diff(wantOut, out); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	// The app writes the outcome on the issue and closes it; the action
	// makes no GitHub call once the gate is registered.
	if is.State != "open" || len(is.Comments) != 0 {
		t.Errorf("the action touched the issue: state %s, comments %+v", is.State, is.Comments)
	}
	if after := w.githubRequests(); after != before {
		t.Errorf("%d GitHub requests while waiting", after-before)
	}
	for _, want := range []string{"✅ Approved", is.HTMLURL, "| [alice](https://github.com/octo-org/deploy/issues/1#issuecomment-7) | teams | approve | 2026-11-21 09:30:00 UTC | reason: canary clean; rollout: 25; regions: eu,us | Ship it. |"} {
		if s := run.summary(); !strings.Contains(s, want) {
			t.Errorf("step summary lacks %q:\n%s", want, s)
		}
	}
	idTokens, _, pollToken := w.app.seen()
	run.checkMasked("poll token", pollToken)
	for _, tok := range idTokens {
		run.checkMasked("OIDC token", tok)
	}
}

func TestAppOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		inputs   map[string]string
		settle   func(*api.Gate)
		wantCode int
		want     map[string]string
		wantLog  string
	}{
		{
			name: "rejected",
			settle: func(v *api.Gate) {
				v.Status, v.DecidedBy, v.Comment, v.Fields = "rejected", "bob", "Not on a Friday.", map[string]any{"rollout": 10}
				v.Responses = []api.Response{{Actor: "bob", Via: "comment", Decision: "reject", Comment: "Not on a Friday.", At: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}}
			},
			wantCode: 1,
			want: map[string]string{
				"decision": "rejected", "approved": "false", "decided-by": "bob", "comment": "Not on a Friday.", "field-rollout": "10",
				"responses": `[{"actor":"bob","via":"comment","decision":"reject","fields":{},"comment":"Not on a Friday.","at":"2026-11-21T09:00:00Z","url":""}]`,
			},
			wantLog: "::error::Rejected by bob: Not on a Friday.",
		},
		{
			name:     "rejected without failing",
			inputs:   map[string]string{"fail-on-reject": "false"},
			settle:   func(v *api.Gate) { v.Status, v.DecidedBy = "rejected", "bob" },
			want:     map[string]string{"decision": "rejected", "approved": "false"},
			wantLog:  "continuing because fail-on-reject is false",
			wantCode: 0,
		},
		{
			name: "timed out",
			settle: func(v *api.Gate) {
				v.Status, v.Fields = "timed_out", map[string]any{"reason": nil, "rollout": 10, "regions": nil}
			},
			wantCode: 1,
			want:     map[string]string{"decision": "timed_out", "approved": "false", "decided-by": "", "fields": `{"reason":null,"regions":null,"rollout":10}`, "responses": "[]"},
			wantLog:  "timed out as rejected",
		},
		{
			name:   "timed out, approved by on-timeout",
			inputs: map[string]string{"on-timeout": "approve"},
			settle: func(v *api.Gate) { v.Status, v.Approved = "timed_out", true },
			want:   map[string]string{"decision": "timed_out", "approved": "true", "field-rollout": "10"},
		},
		{
			name:     "cancelled by closing the issue",
			settle:   func(v *api.Gate) { v.Status, v.Reason = "cancelled", "The approval issue was closed by @bob." },
			wantCode: 1,
			want:     map[string]string{"decision": "cancelled", "approved": "false"},
			wantLog:  "The approval gate was cancelled. The approval issue was closed by @bob.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newAppWorld(t)
			inputs := map[string]string{"fields": appFields}
			for k, v := range tc.inputs {
				inputs[k] = v
			}
			run := w.start(inputs, nil, testTiming())
			run.waitLog("Waiting for approval on", 1)
			w.app.settle(tc.settle)
			code, out := run.wait()
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			for k, v := range tc.want {
				if out[k] != v {
					t.Errorf("output %s = %q, want %q", k, out[k], v)
				}
			}
			if !strings.Contains(run.stdout.String(), tc.wantLog) {
				t.Errorf("log lacks %q", tc.wantLog)
			}
			if is := w.issue(); is.State != "open" || len(is.Comments) != 0 {
				t.Errorf("the action touched the issue: state %s, comments %+v", is.State, is.Comments)
			}
		})
	}
}

// A refused registration is an error, never a rejection: the issue is
// closed with a note and nothing is retried.
func TestAppRegistrationRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		refuse *fault
		inputs map[string]string
		want   []string
	}{
		{
			name:   "not installed",
			refuse: &fault{status: http.StatusForbidden, message: "the Gatehouse app is not installed on octo-org/deploy"},
			want:   []string{"HTTP 403: the Gatehouse app is not installed on octo-org/deploy", "or the Gatehouse app is not installed on octo-org/deploy"},
		},
		{
			name:   "token for another audience",
			inputs: map[string]string{"oidc-audience": "https://elsewhere.example"},
			want:   []string{"HTTP 401: the OIDC token is not valid", "could not verify the job's OIDC token"},
		},
		{
			name:   "gate key taken",
			refuse: &fault{status: http.StatusConflict, message: "gate key ship/gate is registered to issue #7"},
			want:   []string{"HTTP 409: gate key ship/gate is registered to issue #7", "set gate-key"},
		},
		{
			name:   "bad request",
			refuse: &fault{status: http.StatusBadRequest, message: "fields: rollout: unknown type"},
			want:   []string{"HTTP 400: fields: rollout: unknown type"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newAppWorld(t)
			w.app.refuse = tc.refuse
			run := w.start(tc.inputs, nil, testTiming())
			code, out := run.wait()
			if code != 1 || len(out) != 0 {
				t.Errorf("exit %d with outputs %v, want 1 and none", code, out)
			}
			log := run.stdout.String()
			for _, want := range tc.want {
				if !strings.Contains(log, "::error::") || !strings.Contains(log, want) {
					t.Errorf("no error saying %q", want)
				}
			}
			if idTokens, _, _ := w.app.seen(); len(idTokens) != 1 {
				t.Errorf("%d registration attempts, want 1", len(idTokens))
			}
			is := w.issue()
			notes := markerComments(is, audit.KindCancelled)
			if is.State != "closed" || is.StateReason != "not_planned" || len(notes) != 1 || !strings.Contains(notes[0].Body, "The action stopped with an error") {
				t.Errorf("issue %s (%s), notes %+v", is.State, is.StateReason, notes)
			}
		})
	}
}

func markerComments(is ghemu.IssueSnapshot, kind audit.Kind) []ghemu.CommentSnapshot {
	var out []ghemu.CommentSnapshot
	for _, c := range is.Comments {
		if m, ok := audit.ParseMarker(c.Body); ok && m.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// Without id-token: write the action stops before opening an issue.
func TestAppWithoutIDToken(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.start(nil, map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""}, testTiming())
	code, _ := run.wait()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if log := run.stdout.String(); !strings.Contains(log, "::error::") || !strings.Contains(log, "`permissions: id-token: write`") {
		t.Errorf("no error naming id-token: write:\n%s", log)
	}
	idTokens, _, _ := w.app.seen()
	if _, opened := w.emu.Issue(testOwner, testRepo, 1); opened || len(idTokens) != 0 {
		t.Errorf("issue opened: %v, registration attempts: %d", opened, len(idTokens))
	}
}

// The action rides out error answers, dropped connections and a restart
// of the app, registering with a fresh OIDC token on every attempt.
func TestAppReconnects(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	w.app.inject(routeRegister,
		fault{status: http.StatusServiceUnavailable},
		fault{drop: true},
		fault{status: http.StatusTooManyRequests, retryAfter: "1"},
		fault{status: http.StatusBadGateway},
	)
	w.app.inject(routePoll,
		fault{status: http.StatusGatewayTimeout},
		fault{drop: true},
		fault{status: http.StatusInternalServerError},
		fault{status: http.StatusTooManyRequests, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"},
	)
	timing := testTiming()
	timing.firstLog = time.Nanosecond // report an outage again at twice as far in
	run := w.start(map[string]string{"fields": appFields}, nil, timing)
	run.waitLog("Waiting for approval on", 1)
	w.app.waitPolls(1)               // the poll after the faults
	w.app.update(func(*api.Gate) {}) // answers it
	run.waitLog("Reading the gate works again", 1)

	w.app.stop()
	run.waitLog("connection refused", 1)
	w.app.start()
	w.app.waitPolls(3) // the one the stop cut off, and one after the restart
	w.app.update(func(*api.Gate) {})
	run.waitLog("Reading the gate works again", 2)
	w.app.settle(alicesApproval)
	code, out := run.wait()
	if code != 0 || out["decision"] != "approved" {
		t.Fatalf("exit %d, decision %q", code, out["decision"])
	}

	idTokens, _, pollToken := w.app.seen()
	distinct := map[string]bool{}
	for _, tok := range idTokens {
		distinct[tok] = true
	}
	if len(idTokens) != 5 || len(distinct) != 5 {
		t.Errorf("%d registration attempts with %d distinct OIDC tokens, want 5 and 5", len(idTokens), len(distinct))
	}
	if n := len(w.app.registered()); n != 1 {
		t.Errorf("%d registrations, want 1", n)
	}
	run.checkMasked("poll token", pollToken)
}

// An app that keeps failing makes the action give up with an error, in a
// few lines of log, cancelling the gate in the app or, when the app cannot
// be told, closing the issue itself.
func TestAppGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		timing     func(*appTiming)
		app        func(*fakeApp)
		want       string
		closedHere bool
	}{
		{
			name:   "outage",
			timing: func(t *appTiming) { t.maxOutage = 100 * time.Millisecond },
			app: func(f *fakeApp) {
				f.mu.Lock()
				f.failAll = true
				f.mu.Unlock()
				f.update(func(*api.Gate) {})
			},
			want: "the Gatehouse app has failed every request for",
			// The app cannot be told: the action closes the issue.
			closedHere: true,
		},
		{
			name:   "deadline passed",
			timing: func(t *appTiming) { t.grace = time.Millisecond },
			app:    func(f *fakeApp) { f.update(func(v *api.Gate) { v.Deadline = time.Now().Add(-time.Minute) }) },
			want:   "the Gatehouse app has not settled gate",
			// The app is told and cancels the gate (and closes the issue).
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newAppWorld(t)
			timing := testTiming()
			tc.timing(&timing)
			run := w.start(nil, nil, timing)
			run.waitLog("Waiting for approval on", 1)
			tc.app(w.app)
			code, out := run.wait()
			if code != 1 || len(out) != 0 {
				t.Errorf("exit %d with outputs %v, want 1 and none", code, out)
			}
			log := run.stdout.String()
			if !strings.Contains(log, tc.want) {
				t.Errorf("log lacks %q", tc.want)
			}
			if n := strings.Count(log, "Reading the gate failed"); n > 1 {
				t.Errorf("%d log lines for one outage", n)
			}
			_, cancels, _ := w.app.seen()
			if is := w.issue(); tc.closedHere && (is.State != "closed" || len(markerComments(is, audit.KindCancelled)) != 1) {
				t.Errorf("issue %s, comments %+v", is.State, is.Comments)
			}
			if !tc.closedHere && (len(cancels) != 1 || !strings.Contains(cancels[0].Reason, "stopped with an error")) {
				t.Errorf("the gate was not cancelled in the app: %+v", cancels)
			}
		})
	}
}

// A cancelled run cancels the gate in the app, which closes the issue.
func TestAppCancel(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.start(nil, nil, testTiming())
	run.waitLog("Waiting for approval on", 1)
	run.cancel()
	code, out := run.wait()
	if code != 1 || out["decision"] != "cancelled" {
		t.Errorf("exit %d, decision %q", code, out["decision"])
	}
	if _, cancels, _ := w.app.seen(); !cmp.Equal([]api.Cancel{{Reason: "The workflow run was cancelled."}}, cancels) {
		t.Errorf("cancel requests %+v", cancels)
	}
	if is := w.issue(); is.State != "open" || len(is.Comments) != 0 {
		t.Errorf("the action touched the issue: state %s, comments %+v", is.State, is.Comments)
	}
}

// When the app cannot be told, the action closes the issue itself.
func TestAppCancelWhileAppDown(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.start(nil, nil, testTiming())
	run.waitLog("Waiting for approval on", 1)
	w.app.stop()
	run.cancel()
	code, out := run.wait()
	if code != 1 || out["decision"] != "cancelled" {
		t.Errorf("exit %d, decision %q", code, out["decision"])
	}
	is := w.issue()
	notes := markerComments(is, audit.KindCancelled)
	if is.State != "closed" || is.StateReason != "not_planned" || len(notes) != 1 || !strings.Contains(notes[0].Body, "The workflow run was cancelled.") {
		t.Errorf("issue %s (%s), notes %+v", is.State, is.StateReason, notes)
	}
}

// A run cancelled before the app took the gate is cancelled as in
// standalone mode: the action closes the issue itself.
func TestAppCancelBeforeRegistration(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	for range 1000 {
		w.app.inject(routeRegister, fault{status: http.StatusServiceUnavailable})
	}
	run := w.start(nil, nil, testTiming())
	run.waitLog("Registering the gate failed", 1)
	run.cancel()
	code, out := run.wait()
	if code != 1 || out["decision"] != "cancelled" {
		t.Errorf("exit %d, decision %q", code, out["decision"])
	}
	is := w.issue()
	notes := markerComments(is, audit.KindCancelled)
	if is.State != "closed" || is.StateReason != "not_planned" || len(notes) != 1 || !strings.Contains(notes[0].Body, "The workflow run was cancelled.") {
		t.Errorf("issue %s (%s), notes %+v", is.State, is.StateReason, notes)
	}
	if _, cancels, _ := w.app.seen(); len(cancels) != 0 || len(w.app.registered()) != 0 {
		t.Errorf("the app got %d cancel requests and %d registrations", len(cancels), len(w.app.registered()))
	}
}

// A gate approved a moment before the run was cancelled stays approved.
func TestAppCancelAfterApproval(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	w.app.onCancel = alicesApproval
	run := w.start(map[string]string{"fields": appFields}, nil, testTiming())
	run.waitLog("Waiting for approval on", 1)
	run.cancel()
	code, out := run.wait()
	if code != 0 || out["decision"] != "approved" || out["field-rollout"] != "25" {
		t.Errorf("exit %d, outputs %v", code, out)
	}
	if _, cancels, _ := w.app.seen(); len(cancels) != 1 {
		t.Errorf("%d cancel requests, want 1", len(cancels))
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		want       bool
		wantAfter  time.Duration
	}{
		{http.StatusTooManyRequests, "7", true, 7 * time.Second},
		{http.StatusServiceUnavailable, "", true, 0},
		{http.StatusTooManyRequests, "Wed, 21 Oct 2015 07:28:00 GMT", true, 0},
		{http.StatusInternalServerError, "", true, 0},
		{http.StatusBadGateway, "", true, 0},
		{http.StatusGatewayTimeout, "", true, 0},
		{http.StatusNotImplemented, "", false, 0},
		{http.StatusBadRequest, "", false, 0},
		{http.StatusUnauthorized, "", false, 0},
		{http.StatusForbidden, "", false, 0},
		{http.StatusNotFound, "", false, 0},
		{http.StatusConflict, "", false, 0},
		{http.StatusRequestEntityTooLarge, "", false, 0},
	} {
		t.Run(fmt.Sprint(tc.status, tc.retryAfter), func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			err := fmt.Errorf("register: %w", statusError(resp, []byte(`{"error":"  why  "}`)))
			if got := err.Error(); got != fmt.Sprintf("register: HTTP %d: why", tc.status) {
				t.Errorf("message %q", got)
			}
			retry, after := retryable(err)
			if retry != tc.want || after != tc.wantAfter {
				t.Errorf("retryable = %v, %s; want %v, %s", retry, after, tc.want, tc.wantAfter)
			}
		})
	}
	if retry, _ := retryable(fmt.Errorf("decode: %w", &json.SyntaxError{})); retry {
		t.Error("a malformed answer is retried")
	}
}

func TestRetryWait(t *testing.T) {
	timing := defaultAppTiming()
	for _, tc := range []struct {
		failures int
		after    time.Duration
		min, max time.Duration
	}{
		{0, 0, 500 * time.Millisecond, time.Second},
		{0, 7 * time.Second, 7 * time.Second, 7 * time.Second},
		{4, 2 * time.Second, 7500 * time.Millisecond, 15 * time.Second},
		{0, time.Hour, time.Minute, time.Minute},
	} {
		if got := timing.retryWait(tc.failures, tc.after); got < tc.min || got > tc.max {
			t.Errorf("retryWait(%d, %s) = %s, want %s to %s", tc.failures, tc.after, got, tc.min, tc.max)
		}
	}
}

func TestBackoff(t *testing.T) {
	timing := defaultAppTiming()
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second} {
		for range 20 {
			if got := timing.backoff(n); got < want/2 || got > want {
				t.Fatalf("backoff after %d failures = %s, want %s to %s", n+1, got, want/2, want)
			}
		}
	}
	if got := timing.backoff(1000); got < 7500*time.Millisecond || got > 15*time.Second {
		t.Errorf("backoff after 1000 failures = %s", got)
	}
}
