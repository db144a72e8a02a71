package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

// appWorld is the world of newWorld with the Gatehouse app serving it: the
// real gatehouse binary on SQLite, the emulator as GitHub and as the
// Actions OIDC issuer.
type appWorld struct {
	*world
	sb   *sandbox.Sandbox
	env  map[string]string
	url  string
	app  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

func newAppWorld(t *testing.T) *appWorld { return newAppWorldWith(t, nil) }

// newAppWorldWith is newAppWorld with configure run before the app starts,
// to change its environment.
func newAppWorldWith(t *testing.T, configure func(*appWorld)) *appWorld {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{
		Owner: owner, Repo: repo,
		Writers: []string{"alice", "bob", "carol", "octocat", "erin", "frank"},
		Readers: []string{"dave"},
		Teams:   map[string][]string{"sre": {"erin"}},
	})
	must(t, err)
	t.Cleanup(sb.Close)
	must(t, sb.GitHub.SetMembership(owner, "sre", "frank", "pending"))
	w := &appWorld{
		world: &world{t: t, emu: sb.GitHub, tokens: sb.Tokens, jobToken: sb.JobToken},
		sb:    sb,
		logs:  &lockedBuffer{},
	}
	addr, err := sandbox.FreeAddr()
	must(t, err)
	w.env, err = sb.AppEnv(addr, filepath.Join(t.TempDir(), "gatehouse.db"))
	must(t, err)
	w.env["GATEHOUSE_LOG_LEVEL"] = "debug"
	w.url = "http://" + addr
	if configure != nil {
		configure(w)
	}
	w.startApp()
	t.Cleanup(func() {
		w.stopApp(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("app log:\n%s", w.logs.String())
		}
	})
	return w
}

// startApp runs the app binary and waits until it is ready.
func (w *appWorld) startApp() {
	w.t.Helper()
	w.app = exec.Command(appBin)
	w.app.Env = sandbox.Environ([]string{"PATH=" + os.Getenv("PATH")}, w.env)
	w.app.Stdout, w.app.Stderr = w.logs, w.logs
	must(w.t, w.app.Start())
	done := make(chan struct{})
	w.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(w.app)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: time.Second}
	w.waitFor("the app to be ready", func() bool {
		resp, err := client.Get(w.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stopApp signals the app and waits for it to exit.
func (w *appWorld) stopApp(sig syscall.Signal) {
	if w.app == nil {
		return
	}
	w.app.Process.Signal(sig)
	select {
	case <-w.done:
	case <-time.After(waitLimit):
		w.t.Errorf("the app did not exit after %v", sig)
		w.app.Process.Kill()
	}
	w.app = nil
}

// startGate runs the action in app mode with the given inputs.
func (w *appWorld) startGate(inputs map[string]string, env ...string) *actionRun {
	w.t.Helper()
	return w.startRun(sandbox.DefaultRun, inputs, env...)
}

func (w *appWorld) startRun(run sandbox.Run, inputs map[string]string, env ...string) *actionRun {
	w.t.Helper()
	in := map[string]string{"app-url": w.url}
	for k, v := range inputs {
		in[k] = v
	}
	dir := w.t.TempDir()
	outputPath, summaryPath := filepath.Join(dir, "output"), filepath.Join(dir, "step_summary")
	vars := sandbox.Environ([]string{"PATH=" + os.Getenv("PATH")}, w.sb.ActionEnv(run, in, outputPath, summaryPath))
	return w.run(outputPath, summaryPath, append(vars, env...))
}

// metric reads one unlabelled sample (name with its labels) from the app's
// metrics.
func (w *appWorld) metric(name string) string {
	w.t.Helper()
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 5 * time.Second}
	resp, err := client.Get(w.url + "/metrics")
	must(w.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(w.t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// waitSummary waits for the app's summary (or cancelled note) on the
// approval issue and returns the issue then.
func (w *appWorld) waitSummary(kind audit.Kind) ghemu.IssueSnapshot {
	w.t.Helper()
	w.waitFor("the "+string(kind)+" comment", func() bool { return len(comments(w.issue(), kind)) > 0 })
	w.waitFor("the issue to be closed", func() bool { return w.issue().State == "closed" })
	return w.issue()
}

// redeliverFailed sends again, as an operator would, every delivery the
// app did not take.
func (w *appWorld) redeliverFailed() {
	w.t.Helper()
	for _, d := range w.emu.Deliveries() {
		if d.StatusCode == 0 || d.StatusCode >= 500 {
			code, err := w.emu.Redeliver(context.Background(), d.ID)
			if err != nil || code >= 300 {
				w.t.Fatalf("redeliver %s: %d %v", d.ID, code, err)
			}
		}
	}
}

func (w *appWorld) String() string { return fmt.Sprintf("app at %s", w.url) }

// botLogin is the author of everything the app writes on GitHub.
const botLogin = "gatehouse[bot]"

// waitRegistered waits until the action says the app took its gate.
func (w *appWorld) waitRegistered(run *actionRun) {
	w.t.Helper()
	w.waitFor("the gate to be registered", func() bool { return strings.Contains(run.stdout.String(), "Registered gate ") })
}

// gateID is the id of the approval issue's gate, read from the issue body's
// opened marker.
func (w *appWorld) gateID() string {
	w.t.Helper()
	m, ok := audit.ParseMarker(w.issue().Body)
	if !ok || m.Kind != audit.KindOpened {
		w.t.Fatalf("the approval issue has no opened marker:\n%s", w.issue().Body)
	}
	return m.Gate
}

// running reports whether the action has not exited yet.
func (r *actionRun) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// commentDelivery waits for the emulator's first attempt at delivering the
// issue_comment event (created, edited…) of comment id, and returns it.
func (w *appWorld) commentDelivery(id int64, action string) ghemu.Delivery {
	w.t.Helper()
	var found ghemu.Delivery
	w.waitFor(fmt.Sprintf("the %s delivery of comment %d", action, id), func() bool {
		for _, d := range w.emu.Deliveries() {
			if d.Event != "issue_comment" || d.Action != action || d.Redelivery {
				continue
			}
			var p struct {
				Comment struct {
					ID int64 `json:"id"`
				} `json:"comment"`
			}
			if json.Unmarshal(d.Payload, &p) == nil && p.Comment.ID == id {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// logRecord returns the first record of the app's log, from byte since of
// it on, with message msg and attributes attrs; nil when there is none.
func (w *appWorld) logRecord(since int, msg string, attrs map[string]string) map[string]any {
	for _, line := range strings.Split(w.logs.String()[since:], "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
			continue
		}
		match := true
		for k, v := range attrs {
			if rec[k] != v {
				match = false
				break
			}
		}
		if match {
			return rec
		}
	}
	return nil
}

// logSize is how long the app's log is now, for logRecord.
func (w *appWorld) logSize() int { return len(w.logs.String()) }

// waitHandled waits until the app is done with delivery id and returns
// what became of it, as the app logs it: the intake's result for a
// delivery it did not store ("ignored", "duplicate"), else the result of
// handling it ("recorded", "ignored: discussion"…).
func (w *appWorld) waitHandled(id string) string {
	w.t.Helper()
	var result string
	w.waitFor("delivery "+id+" to be handled", func() bool {
		rec := w.logRecord(0, "webhook delivery", map[string]string{"delivery": id})
		if rec == nil {
			return false
		}
		if result, _ = rec["result"].(string); result != "accepted" {
			return true
		}
		rec = w.logRecord(0, "delivery handled", map[string]string{"delivery": id})
		if rec == nil {
			return false
		}
		result, _ = rec["result"].(string)
		return true
	})
	return result
}

// waitWithin is waitFor with its own limit, for waits that are long by
// design.
func (w *appWorld) waitWithin(what string, limit time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("gave up waiting %v for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends one request to the app and returns the status, the headers
// and the body of its answer.
func (w *appWorld) call(method, path string, header http.Header, body []byte) (int, http.Header, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, bytes.NewReader(body))
	must(w.t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	must(w.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(w.t, err)
	return resp.StatusCode, resp.Header, data
}

// errorAnswer decodes the app's JSON error answer, failing the test when
// the answer is not one.
func errorAnswer(t *testing.T, header http.Header, body []byte) string {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer Content-Type %q, want application/json", ct)
	}
	var e api.Error
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Errorf("error answer %q is not {\"error\": …}", body)
	}
	return e.Error
}

// jobClaims are the OIDC claims of run's job in repository.
func jobClaims(run sandbox.Run, repository string) oidcissuer.JobClaims {
	return oidcissuer.JobClaims{
		Repository: repository, RunID: int64(run.ID), RunAttempt: run.Attempt, RunNumber: run.Number,
		Workflow: run.Workflow, Actor: run.Actor, Ref: "refs/heads/main", EventName: "push",
	}
}

// oidcEnv points the action at a token request for claims, replacing the
// runner's.
func (w *appWorld) oidcEnv(claims oidcissuer.JobClaims) []string {
	reqURL, reqToken := w.sb.OIDC.RequestURL(claims)
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + reqURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + reqToken}
}

// heldOIDC puts a proxy in front of the token request of run's job that
// answers only after release, so that the action registers its gate only
// then. It returns the environment that points the action at the proxy.
func (w *appWorld) heldOIDC(run sandbox.Run) (env []string, release func()) {
	w.t.Helper()
	held, stop := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(held) }) }
	proxy := httputil.NewSingleHostReverseProxy(mustParse(w.t, w.sb.OIDC.Issuer()))
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-held:
			proxy.ServeHTTP(rw, r)
		case <-stop:
			http.Error(rw, "stopped", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	}))
	w.t.Cleanup(func() { close(stop); srv.Close() })

	raw, reqToken := w.sb.OIDC.RequestURL(jobClaims(run, w.sb.Repository()))
	reqURL, proxied := mustParse(w.t, raw), mustParse(w.t, srv.URL)
	reqURL.Scheme, reqURL.Host = proxied.Scheme, proxied.Host
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + reqURL.String(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + reqToken}, release
}

// checkOutputs compares the outputs named in want.
func checkOutputs(t *testing.T, out, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
}

// responseOut is one element of the responses output, in part.
type responseOut struct {
	Actor, Decision, URL, Via string
}

func responsesOutput(t *testing.T, out map[string]string) []responseOut {
	t.Helper()
	var rs []responseOut
	if err := json.Unmarshal([]byte(out["responses"]), &rs); err != nil {
		t.Fatalf("responses output %q: %v", out["responses"], err)
	}
	return rs
}

// who lists the actors and decisions of responses, "alice:approve".
func who(rs []responseOut) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Actor+":"+r.Decision)
	}
	return out
}

// appComments returns the issue's comments of kind written by the app.
func appComments(is ghemu.IssueSnapshot, kind audit.Kind) []ghemu.CommentSnapshot {
	var out []ghemu.CommentSnapshot
	for _, c := range comments(is, kind) {
		if c.Author == botLogin {
			out = append(out, c)
		}
	}
	return out
}

// reactions returns who reacted with content to comment id.
func reactions(is ghemu.IssueSnapshot, id int64, content string) []string {
	for _, c := range is.Comments {
		if c.ID == id {
			return c.Reactions[content]
		}
	}
	return nil
}

// bobApprovesSecond has bob approve a gate of two that alice alone has
// approved, and checks that it settles approved by both.
func (w *appWorld) bobApprovesSecond(run *actionRun) {
	t := w.t
	t.Helper()
	w.say("bob", "approve")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "approvers": "alice,bob", "decided-by": "bob"})
	if diff := cmp.Diff([]string{"alice:approve", "bob:approve"}, who(responsesOutput(t, out))); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
}
