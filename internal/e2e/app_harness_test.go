package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
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

func newAppWorld(t *testing.T) *appWorld {
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
