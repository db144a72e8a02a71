package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/actionrun"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
)

const (
	demoOwner  = "demo-org"
	demoRepo   = "shop"
	demoFields = `- id: reason
  type: string
  required: true
  description: Why is this safe to ship?
- id: rollout
  type: number
  integer: true
  min: 1
  max: 100
  default: 10
`
)

// runDemo runs one gate: an emulated GitHub on loopback, the action waiting
// in standalone mode, and a reviewer who answers (on their own with --auto,
// else with the command the demo prints). It ends by printing the issue
// thread, the audit trail, and the action's outputs.
func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	stdout = &syncWriter{w: stdout} // the action's lines and the demo's interleave
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	auto := fs.Bool("auto", false, "approve as alice after a moment instead of waiting for you")
	if err := fs.Parse(args); err != nil {
		return err
	}
	emu, tokens, err := demoGitHub()
	if err != nil {
		return err
	}
	defer emu.Close()

	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	outputPath := filepath.Join(dir, "output")
	env := map[string]string{
		"GITHUB_REPOSITORY":   demoOwner + "/" + demoRepo,
		"GITHUB_RUN_ID":       "1001",
		"GITHUB_RUN_ATTEMPT":  "1",
		"GITHUB_RUN_NUMBER":   "7",
		"GITHUB_WORKFLOW":     "release",
		"GITHUB_JOB":          "deploy",
		"GITHUB_ACTION":       "gate",
		"GITHUB_ACTOR":        "octocat",
		"GITHUB_SHA":          "3f786850e387550fdab836ed7e6dc881de23001b",
		"GITHUB_REF":          "refs/heads/main",
		"GITHUB_SERVER_URL":   emu.WebURL(),
		"GITHUB_API_URL":      emu.APIURL(),
		"GITHUB_OUTPUT":       outputPath,
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"INPUT_APPROVERS":     "alice, bob",
		"INPUT_FIELDS":        demoFields,
		"INPUT_INSTRUCTIONS":  "Release `shop` to production.",
		"INPUT_TIMEOUT":       "15m",
		"INPUT_POLL-INTERVAL": "1s",
		"INPUT_GITHUB-TOKEN":  tokens["github-actions[bot]"],
	}
	fmt.Fprintf(stdout, "GitHub (emulated) is at %s\nThe action starts, as a workflow step would:\n\n", emu.APIURL())

	pr, pw := io.Pipe()
	printed := make(chan struct{})
	go func() {
		prefixLines(stdout, pr, "  action │ ")
		close(printed)
	}()
	done := make(chan int, 1)
	go func() {
		code := actionrun.Main(ctx, actionrun.Options{Getenv: func(k string) string { return env[k] }, Stdout: pw})
		pw.Close()
		<-printed
		done <- code
	}()

	issue, err := waitForIssue(ctx, emu, done)
	if err != nil {
		return err
	}
	commentsURL := fmt.Sprintf("%s/repos/%s/%s/issues/%d/comments", emu.APIURL(), demoOwner, demoRepo, issue)
	if *auto {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		fmt.Fprintln(stdout, "\nalice approves with a comment on the issue.")
		if _, err := emu.Comment("alice", demoOwner, demoRepo, issue, "approve\nreason: canary clean for an hour\nrollout: 25\nWatching the dashboards."); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, `
The approval issue is open: %s/%s/%s/issues/%d
Answer it as a reviewer from another terminal. Approve as alice:

  curl -sS -H 'Authorization: Bearer %s' %s \
    -d '{"body":"approve\nreason: canary clean for an hour\nrollout: 25"}'

or reject as bob:

  curl -sS -H 'Authorization: Bearer %s' %s \
    -d '{"body":"reject\nNot during the freeze."}'

Waiting (Ctrl-C cancels the gate)…
`, emu.WebURL(), demoOwner, demoRepo, issue, tokens["alice"], commentsURL, tokens["bob"], commentsURL)
	}

	code := <-done
	printThread(stdout, emu, issue)
	data, err := os.ReadFile(outputPath)
	if err != nil {
		return err
	}
	outs, err := actionrun.ReadOutputs(string(data))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nThe action exited %d with these outputs:\n\n", code)
	for _, kv := range outs {
		fmt.Fprintf(stdout, "  %-13s %s\n", kv[0], kv[1])
	}
	return nil
}

// demoGitHub is an emulated GitHub with the demo's people and repository.
func demoGitHub() (*ghemu.Emulator, map[string]string, error) {
	emu, err := ghemu.New(ghemu.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := emu.Start(); err != nil {
		return nil, nil, err
	}
	tokens := map[string]string{}
	collaborators := map[string]string{}
	for _, login := range []string{"alice", "bob", "octocat"} {
		if tokens[login], err = emu.AddUser(login); err != nil {
			emu.Close()
			return nil, nil, err
		}
		collaborators[login] = "write"
	}
	if tokens["github-actions[bot]"], err = emu.AddBot("github-actions"); err != nil {
		emu.Close()
		return nil, nil, err
	}
	collaborators["github-actions[bot]"] = "write"
	if err := errors.Join(emu.AddOrg(demoOwner, "alice", "bob", "octocat"), emu.AddRepo(demoOwner, demoRepo, collaborators)); err != nil {
		emu.Close()
		return nil, nil, err
	}
	return emu, tokens, nil
}

// waitForIssue waits for the action to open the approval issue.
func waitForIssue(ctx context.Context, emu *ghemu.Emulator, done <-chan int) (int, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok := emu.Issue(demoOwner, demoRepo, 1); ok {
			return 1, nil
		}
		select {
		case code := <-done:
			return 0, fmt.Errorf("the action exited (%d) before opening the issue", code)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func printThread(w io.Writer, emu *ghemu.Emulator, number int) {
	is, _ := emu.Issue(demoOwner, demoRepo, number)
	fmt.Fprintf(w, "\nThe approval issue, the audit trail (%s):\n\n  #%d %s — %s", is.HTMLURL, is.Number, is.Title, is.State)
	if is.StateReason != "" {
		fmt.Fprintf(w, " (%s)", is.StateReason)
	}
	fmt.Fprintf(w, "\n\n%s", indent(is.Body))
	for _, c := range is.Comments {
		fmt.Fprintf(w, "\n  ── %s at %s", c.Author, c.CreatedAt.UTC().Format(time.RFC3339))
		for r, who := range c.Reactions {
			fmt.Fprintf(w, " [%s by %s]", r, strings.Join(who, ", "))
		}
		fmt.Fprintf(w, "\n%s", indent(c.Body))
	}
}

func prefixLines(w io.Writer, r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(w, prefix+sc.Text())
	}
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
