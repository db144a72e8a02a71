package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The demo runs the action as `gatehouse action` by re-executing its own
// binary, which under test is this test binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "action" {
		main() // exits with the action's status
	}
	os.Exit(m.Run())
}

// The newcomer's first command runs a whole gate through the app and shows
// the audit trail and the outputs.
func TestDemoAuto(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := runDemo(context.Background(), []string{"--auto", "--verbose"}, &buf); err != nil {
		t.Fatalf("demo: %v\n%s", err, buf.String())
	}
	out := buf.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  action │ Registered gate \w+ with the Gatehouse app at http://127\.0\.0\.1:\d+$`),
		regexp.MustCompile(`#1 Approval needed: release #42 — closed \(completed\)`),
		regexp.MustCompile(`── alice at \S+ \[\+1 by gatehouse\[bot\]\]\n    approve\n`),
		regexp.MustCompile(`── gatehouse\[bot\] at \S+\n    <!-- gatehouse:summary gate=\w+ -->\n    ### ✅ Approved\n`),
		regexp.MustCompile(`The action exited 0 with these outputs`),
		regexp.MustCompile(`(?m)^  app    │ \{.*"msg":"gate registered"`),
	} {
		if !want.MatchString(out) {
			t.Errorf("demo output does not match %s:\n%s", want, out)
		}
	}
	want := map[string]string{
		"decision": "approved", "approved": "true", "approvers": "alice", "decided-by": "alice",
		"comment": "Watching the dashboards.", "issue-number": "1",
		"field-reason": "canary clean for an hour", "field-rollout": "25",
	}
	if diff := cmp.Diff(want, outputsOf(out, want)); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("the app logged errors:\n%s", out)
	}
	if strings.Contains(out, "::add-mask::") {
		t.Errorf("the demo shows the secrets the action masks:\n%s", out)
	}
}

// Ctrl-C cancels the gate: the action is asked to stop, tells the app, and
// the app writes the cancelled note.
func TestDemoCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancelled once the demo waits for the person and the action for the
	// app.
	w := &cancelAt{marks: []string{"Waiting (Ctrl-C cancels the gate)", "action │ Waiting for approval on"}, cancel: cancel}
	if err := runDemo(ctx, nil, w); err != nil {
		t.Fatalf("demo: %v\n%s", err, w.String())
	}
	out := w.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`curl -sS -H 'Authorization: Bearer \w+' -d '\{"body":"approve\\n.*\}' http://\S+/repos/demo-org/shop/issues/1/comments`),
		regexp.MustCompile(`action │ ::error::The approval gate was cancelled\. The workflow run was cancelled\.`),
		regexp.MustCompile(`#1 Approval needed: release #42 — closed \(not_planned\)`),
		regexp.MustCompile(`── gatehouse\[bot\] at \S+\n    <!-- gatehouse:cancelled gate=\w+ -->\n`),
		regexp.MustCompile(`The action exited 1 with these outputs`),
	} {
		if !want.MatchString(out) {
			t.Errorf("demo output does not match %s:\n%s", want, out)
		}
	}
	want := map[string]string{"decision": "cancelled", "approved": "false", "field-rollout": "10"}
	if diff := cmp.Diff(want, outputsOf(out, want)); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestDemoRejectsUnknownFlags(t *testing.T) {
	if err := runDemo(context.Background(), []string{"--nope"}, &bytes.Buffer{}); err == nil {
		t.Error("no error for an unknown flag")
	}
}

// outputsOf reads the outputs named in want from the demo's output.
func outputsOf(out string, want map[string]string) map[string]string {
	got := map[string]string{}
	_, list, _ := strings.Cut(out, "with these outputs:\n\n")
	for _, line := range strings.Split(list, "\n") {
		name, value, _ := strings.Cut(strings.TrimPrefix(line, "  "), " ")
		if _, ok := want[name]; ok {
			got[name] = strings.TrimLeft(value, " ")
		}
	}
	return got
}

// cancelAt records what is written and cancels once it contains all the
// marks.
type cancelAt struct {
	bytes.Buffer
	marks  []string
	cancel context.CancelFunc
}

func (c *cancelAt) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if !slices.ContainsFunc(c.marks, func(m string) bool { return !strings.Contains(c.String(), m) }) {
		c.cancel()
	}
	return n, err
}
