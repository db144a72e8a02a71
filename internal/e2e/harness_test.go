package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/actionrun"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

// The repository every test gates, and the run that waits on it.
const (
	owner = "octo-org"
	repo  = "deploy"
)

// waitLimit bounds every wait for something the binary should do; it only
// ever ends a test that has already failed.
const waitLimit = 60 * time.Second

var actionBin, appBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	actionBin, appBin = filepath.Join(dir, "gatehouse-action"), filepath.Join(dir, "gatehouse")
	for bin, pkg := range map[string]string{actionBin: "action", appBin: "app"} {
		build := exec.Command("go", "build", "-o", bin, "github.com/gatehouse-ci/gatehouse/"+pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is a GitHub with an organization, a repository, people and a team.
type world struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	emu    *ghemu.Emulator
	tokens map[string]string // login -> personal token
	// jobToken is the job's GITHUB_TOKEN (github-actions[bot]).
	jobToken string
}

// people: alice, bob and carol may approve; dave is a collaborator who is
// not an approver; octocat starts the runs; erin is an active and frank a
// pending member of octo-org/sre.
func newWorld(t *testing.T, opts ghemu.Options) *world {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{
		Owner: owner, Repo: repo,
		Writers: []string{"alice", "bob", "carol", "octocat", "erin", "frank"},
		Readers: []string{"dave"},
		Teams:   map[string][]string{"sre": {"erin"}},
		GitHub:  opts,
	})
	must(t, err)
	t.Cleanup(sb.Close)
	must(t, sb.GitHub.SetMembership(owner, "sre", "frank", "pending"))
	return &world{t: t, sb: sb, emu: sb.GitHub, tokens: sb.Tokens, jobToken: sb.JobToken}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// client is a go-github client acting as login.
func (w *world) client(login string) *github.Client {
	// A transport of its own: closing another test's server closes the idle
	// connections of http.DefaultTransport.
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	c, err := github.NewClient(hc).WithAuthToken(w.tokens[login]).WithEnterpriseURLs(w.emu.URL(), w.emu.URL())
	if err != nil {
		w.t.Fatal(err)
	}
	// WithEnterpriseURLs appends /api/v3/; the emulator serves at its root.
	c.BaseURL = mustParse(w.t, w.emu.URL())
	return c
}

// say posts a comment on the approval issue as login and returns its id.
func (w *world) say(login, body string) int64 {
	w.t.Helper()
	c, _, err := w.client(login).Issues.CreateComment(context.Background(), owner, repo, 1, &github.IssueComment{Body: &body})
	if err != nil {
		w.t.Fatalf("%s comments: %v", login, err)
	}
	return c.GetID()
}

// issue is the approval issue as it is now (every test's first issue).
func (w *world) issue() ghemu.IssueSnapshot {
	is, _ := w.emu.Issue(owner, repo, 1)
	return is
}

// waitFor waits until cond holds, failing the test after waitLimit.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOpened waits for the action to open the approval issue.
func (w *world) waitOpened() ghemu.IssueSnapshot {
	w.t.Helper()
	w.waitFor("the approval issue", func() bool { _, ok := w.emu.Issue(owner, repo, 1); return ok })
	return w.issue()
}

// waitCounted waits until the action acknowledged comment id with 👍.
func (w *world) waitCounted(id int64) {
	w.t.Helper()
	w.waitFor(fmt.Sprintf("comment %d to be acknowledged", id), func() bool {
		for _, c := range w.issue().Comments {
			if c.ID == id {
				return len(c.Reactions["+1"]) > 0
			}
		}
		return false
	})
}

// waitReads waits until the action has read the comments n more times.
func (w *world) waitReads(n int) {
	w.t.Helper()
	start := w.emu.Stats().Requests[commentsRoute]
	w.waitFor(fmt.Sprintf("%d reads of the comments", n), func() bool { return w.emu.Stats().Requests[commentsRoute] >= start+n })
}

// actionRun is one run of the real action binary.
type actionRun struct {
	cmd         *exec.Cmd
	stdout      *lockedBuffer
	outputPath  string
	summaryPath string
	done        chan struct{}
	code        int
}

// start runs the action in standalone mode as a runner would, with the
// given inputs (names as in action.yml) on top of the runner's variables.
func (w *world) start(inputs map[string]string, env ...string) *actionRun {
	w.t.Helper()
	in := map[string]string{"poll-interval": "1s"}
	for k, v := range inputs {
		in[k] = v
	}
	dir := w.t.TempDir()
	outputPath, summaryPath := filepath.Join(dir, "output"), filepath.Join(dir, "step_summary")
	vars := w.sb.ActionEnv(sandbox.DefaultRun, in, outputPath, summaryPath)
	delete(vars, "ACTIONS_ID_TOKEN_REQUEST_URL")
	delete(vars, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	return w.run(outputPath, summaryPath, append(sandbox.Environ([]string{"PATH=" + os.Getenv("PATH")}, vars), env...))
}

// run starts the action binary with the environment vars.
func (w *world) run(outputPath, summaryPath string, vars []string) *actionRun {
	w.t.Helper()
	r := &actionRun{stdout: &lockedBuffer{}, outputPath: outputPath, summaryPath: summaryPath, done: make(chan struct{})}
	for _, p := range []string{r.outputPath, r.summaryPath} {
		must(w.t, os.WriteFile(p, nil, 0o644))
	}
	r.cmd = exec.Command(actionBin)
	r.cmd.Env = vars
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stdout
	must(w.t, r.cmd.Start())
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	w.t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
		if w.t.Failed() {
			w.t.Logf("action output:\n%s", r.stdout.String())
		}
	})
	return r
}

// wait waits for the action to exit and returns its status and outputs.
func (r *actionRun) wait(t *testing.T) (int, map[string]string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(waitLimit):
		t.Fatalf("the action did not exit; output:\n%s", r.stdout.String())
	}
	data, err := os.ReadFile(r.outputPath)
	if err != nil {
		t.Fatal(err)
	}
	return r.code, parseOutputFile(t, string(data))
}

func (r *actionRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	must(t, r.cmd.Process.Signal(sig))
}

func (r *actionRun) summary(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(r.summaryPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// parseOutputFile reads the GITHUB_OUTPUT file, failing on an output set
// twice.
func parseOutputFile(t *testing.T, data string) map[string]string {
	t.Helper()
	outs, err := actionrun.ReadOutputs(data)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range outs {
		if _, dup := m[kv[0]]; dup {
			t.Fatalf("output %s set twice", kv[0])
		}
		m[kv[0]] = kv[1]
	}
	return m
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

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
