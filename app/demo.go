package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/actionrun"
	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

const (
	demoOwner  = "demo-org"
	demoRepo   = "shop"
	demoIssue  = 1 // the sandbox's first issue is the approval issue
	demoFields = `- id: reason
  type: string
  required: true
  description: Why it is safe to ship, or why not
- id: rollout
  type: number
  integer: true
  min: 1
  max: 100
  default: 10
`
	// approveAfter is the moment alice takes to answer with --auto.
	approveAfter = time.Second
	// stopGrace is how long the action may take to wind up once it is
	// asked to stop; its own cleanup is bounded well within it.
	stopGrace = 15 * time.Second
	// settleWait bounds the wait for the app's last word on the issue.
	settleWait = 30 * time.Second
	// logTail is how many lines of the app's log a failure shows.
	logTail = 20
)

// runDemo runs one gate on this machine: a sandbox (an emulated GitHub with
// the Gatehouse GitHub App installed, and the Actions OIDC issuer), the app
// on SQLite in a temporary directory, and the action binary waiting on the
// gate in app mode. A reviewer answers: alice on her own with --auto, else
// the person running the demo with a command it prints. Ctrl-C (ctx ending)
// cancels the gate. It ends by printing the issue thread, the audit trail,
// and the action's outputs.
func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	auto := fs.Bool("auto", false, "approve as alice after a moment instead of waiting for you")
	verbose := fs.Bool("verbose", false, "show the app's log as it runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return fmt.Errorf("create a working directory: %w", err)
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "gatehouse.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create the app's log: %w", err)
	}
	defer logFile.Close()

	out := &syncWriter{w: stdout} // the action's lines, the app's and the demo's interleave
	var appLog io.Writer = logFile
	if *verbose {
		appLog = io.MultiWriter(logFile, &prefixWriter{w: out, prefix: "  app    │ "})
	}
	if err := demo(ctx, out, dir, appLog, *auto); err != nil {
		if data, rerr := os.ReadFile(logPath); rerr == nil && len(data) > 0 {
			lines := splitLines(string(data))
			fmt.Fprintf(out, "\nThe app's log ends with:\n\n%s", indent(strings.Join(lines[max(0, len(lines)-logTail):], "\n")))
		}
		return err
	}
	return nil
}

// demo starts the world and the app, runs the gate and shuts the app down.
func demo(ctx context.Context, out io.Writer, dir string, appLog io.Writer, auto bool) error {
	sb, err := sandbox.Start(sandbox.Options{Owner: demoOwner, Repo: demoRepo, Writers: []string{"alice", "bob", "octocat"}})
	if err != nil {
		return fmt.Errorf("start the emulated GitHub: %w", err)
	}
	defer sb.Close()
	appURL, stopApp, err := startApp(ctx, sb, filepath.Join(dir, "gatehouse.db"), appLog)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "GitHub (emulated, with the Gatehouse app installed on %s) is at %s\n", sb.Repository(), sb.GitHub.APIURL())
	fmt.Fprintf(out, "The Gatehouse app is at %s, on SQLite\n\nThe action starts, as a workflow step would:\n\n", appURL)
	err = runGate(ctx, out, sb, appURL, dir, auto)
	return errors.Join(err, stopApp())
}

// startApp runs the app in-process against the sandbox, with its database
// at dbPath, and returns its URL and a function that shuts it down
// gracefully. The app outlives ctx so that it can settle a cancelled gate.
func startApp(ctx context.Context, sb *sandbox.Sandbox, dbPath string, log io.Writer) (string, func() error, error) {
	addr, err := sandbox.FreeAddr()
	if err != nil {
		return "", nil, fmt.Errorf("find a free port for the app: %w", err)
	}
	env, err := sb.AppEnv(addr, dbPath)
	if err != nil {
		return "", nil, fmt.Errorf("connect the app to the emulated GitHub: %w", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		served <- serve(actx, func(k string) string { return env[k] }, log, func(string) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-served:
		cancel()
		return "", nil, fmt.Errorf("start the app: %w", err)
	}
	stop := func() error {
		cancel()
		if err := <-served; err != nil {
			return fmt.Errorf("the app: %w", err)
		}
		return nil
	}
	return "http://" + addr, stop, nil
}

// runGate runs the action binary on the gate, has it answered, and prints
// the audit trail and the action's outputs.
func runGate(ctx context.Context, out io.Writer, sb *sandbox.Sandbox, appURL, dir string, auto bool) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the gatehouse binary: %w", err)
	}
	outputPath := filepath.Join(dir, "output")
	env := sb.ActionEnv(sandbox.DefaultRun, map[string]string{
		"app-url":      appURL,
		"approvers":    "alice, bob",
		"fields":       demoFields,
		"instructions": "Release `shop` to production.",
		"timeout":      "15m",
	}, outputPath, filepath.Join(dir, "step_summary"))
	cmd := exec.CommandContext(ctx, exe, "action")
	cmd.Env = sandbox.Environ([]string{"PATH=" + os.Getenv("PATH")}, env)
	// Cancelled as a runner cancels a step: asked to stop, killed later.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("run the action: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run the action: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		prefixLines(out, pipe, "  action │ ")
		cmd.Wait() // its exit status is read below
	}()

	if waitForIssue(ctx, sb.GitHub, done) {
		answer(ctx, out, sb, auto)
	}
	<-done
	code := cmd.ProcessState.ExitCode()
	if _, opened := sb.GitHub.Issue(demoOwner, demoRepo, demoIssue); opened {
		is, err := waitSettled(context.WithoutCancel(ctx), sb.GitHub)
		printThread(out, is)
		if err != nil {
			return err
		}
	} else if ctx.Err() == nil {
		return fmt.Errorf("the action exited %d before opening the approval issue", code)
	}
	data, err := os.ReadFile(outputPath)
	if err != nil {
		return fmt.Errorf("read the action's outputs: %w", err)
	}
	outs, err := actionrun.ReadOutputs(string(data))
	if err != nil {
		return fmt.Errorf("read the action's outputs: %w", err)
	}
	fmt.Fprintf(out, "\nThe action exited %d with these outputs:\n\n", code)
	for _, kv := range outs {
		fmt.Fprintf(out, "  %-13s %s\n", kv[0], kv[1])
	}
	return nil
}

// answer has the gate answered: by alice after a moment with auto, else
// by the person running the demo, to whom it says how.
func answer(ctx context.Context, out io.Writer, sb *sandbox.Sandbox, auto bool) {
	if !auto {
		comments := fmt.Sprintf("%s/repos/%s/issues/%d/comments", sb.GitHub.APIURL(), sb.Repository(), demoIssue)
		fmt.Fprintf(out, `
The approval issue is open at %s/%s/issues/%d
Answer it as a reviewer from another terminal. Approve as alice:

  curl -sS -H 'Authorization: Bearer %s' -d '{"body":"approve\nreason: canary clean for an hour\nrollout: 25"}' %s

or reject as bob:

  curl -sS -H 'Authorization: Bearer %s' -d '{"body":"reject\nreason: not during the freeze"}' %s

Waiting (Ctrl-C cancels the gate)…
`, sb.GitHub.WebURL(), sb.Repository(), demoIssue, sb.Tokens["alice"], comments, sb.Tokens["bob"], comments)
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(approveAfter):
	}
	fmt.Fprintln(out, "\nalice approves with a comment on the issue.")
	body := "approve\nreason: canary clean for an hour\nrollout: 25\nWatching the dashboards."
	if _, err := sb.GitHub.Comment("alice", demoOwner, demoRepo, demoIssue, body); err != nil {
		fmt.Fprintf(out, "alice could not comment: %v\n", err)
	}
}

// waitForIssue waits for the action to open the approval issue. It is
// false when the action ended, or ctx did, first.
func waitForIssue(ctx context.Context, emu *ghemu.Emulator, done <-chan struct{}) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok := emu.Issue(demoOwner, demoRepo, demoIssue); ok {
			return true
		}
		select {
		case <-done:
			return false
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// waitSettled waits, for settleWait at most, for the last word on the
// approval issue: the summary or the cancelled note, and the issue closed.
func waitSettled(ctx context.Context, emu *ghemu.Emulator) (ghemu.IssueSnapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		is, _ := emu.Issue(demoOwner, demoRepo, demoIssue)
		if is.State == "closed" && slices.ContainsFunc(is.Comments, final) {
			return is, nil
		}
		select {
		case <-ctx.Done():
			return is, fmt.Errorf("the approval issue was not settled within %v", settleWait)
		case <-tick.C:
		}
	}
}

// final reports whether c is the summary or the cancelled note of a gate.
func final(c ghemu.CommentSnapshot) bool {
	m, ok := audit.ParseMarker(c.Body)
	return ok && (m.Kind == audit.KindSummary || m.Kind == audit.KindCancelled)
}

func printThread(w io.Writer, is ghemu.IssueSnapshot) {
	fmt.Fprintf(w, "\nThe approval issue, the audit trail (%s):\n\n  #%d %s — %s", is.HTMLURL, is.Number, is.Title, is.State)
	if is.StateReason != "" {
		fmt.Fprintf(w, " (%s)", is.StateReason)
	}
	fmt.Fprintf(w, "\n\n%s", indent(is.Body))
	for _, c := range is.Comments {
		fmt.Fprintf(w, "\n  ── %s at %s", c.Author, c.CreatedAt.UTC().Format(time.RFC3339))
		for _, r := range slices.Sorted(maps.Keys(c.Reactions)) {
			fmt.Fprintf(w, " [%s by %s]", r, strings.Join(c.Reactions[r], ", "))
		}
		fmt.Fprintf(w, "\n%s", indent(c.Body))
	}
}

// prefixLines copies the action's output r to w as a runner's log shows
// it, each line after prefix and the secrets it masks left out, and drains
// r.
func prefixLines(w io.Writer, r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "::add-mask::") {
			fmt.Fprintln(w, prefix+sc.Text())
		}
	}
	io.Copy(io.Discard, r) // past a line too long to scan, so that the writer never blocks
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// prefixWriter writes each write after prefix; a log handler writes one
// whole record, a line, at a time.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
