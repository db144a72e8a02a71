package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

const (
	// firstLatencyRun is the run id of the first gate of the latency part.
	firstLatencyRun = 100_000
	// pollSettle is how long after "Waiting for approval" alice answers,
	// so that the action's long poll (its next request) is in place.
	pollSettle = 50 * time.Millisecond
	// gateLimit bounds one gate, from starting the action to its exit.
	gateLimit = 60 * time.Second
)

// latencyResult is the decision latency part's outcome.
type latencyResult struct {
	Gates    int `json:"gates"`
	Parallel int `json:"parallel"`
	// FromAccepted: from the return of the emulator's POST of the
	// approving delivery to the action's exit. FromSent: from the start
	// of that POST.
	FromAccepted percentiles `json:"from_accepted"`
	FromSent     percentiles `json:"from_sent"`
	Usage        usage       `json:"usage"`
}

// decision is one gate's timeline.
type decision struct {
	comment int64     // alice's approving comment
	exited  time.Time // when the action's process was seen to exit
}

func (w *world) latency(ctx context.Context, gates, parallel int) (*latencyResult, error) {
	a, err := w.startApp(ctx, "latency")
	if err != nil {
		return nil, err
	}
	defer a.stop()
	finish, err := a.meter()
	if err != nil {
		return nil, err
	}
	decisions := make([]decision, gates)
	err = forEach(ctx, gates, parallel, func(ctx context.Context, i int) (err error) {
		decisions[i], err = w.runGate(ctx, a, i)
		return err
	})
	if err != nil {
		return nil, err
	}
	u, err := finish()
	if err != nil {
		return nil, err
	}
	fromAccepted, fromSent, err := w.decisionLatencies(decisions)
	if err != nil {
		return nil, err
	}
	return &latencyResult{
		Gates: gates, Parallel: parallel, Usage: u,
		FromAccepted: percentilesOf(fromAccepted), FromSent: percentilesOf(fromSent),
	}, nil
}

// runGate runs the action for gate i, approves it as alice once the action
// waits, and returns when the action has exited.
func (w *world) runGate(ctx context.Context, a *app, i int) (decision, error) {
	ctx, cancel := context.WithTimeout(ctx, gateLimit)
	defer cancel()
	dir := filepath.Join(w.dir, "latency", strconv.Itoa(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return decision{}, err
	}
	outPath, summaryPath := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, p := range []string{outPath, summaryPath} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return decision{}, err
		}
	}
	run := sandbox.Run{ID: firstLatencyRun + i, Attempt: 1, Number: i + 1, Workflow: "release", Job: "ship", Step: "gate", Actor: "octocat"}
	env := w.sb.ActionEnv(run, map[string]string{"app-url": a.url, "approvers": "alice"}, outPath, summaryPath)
	out := newWatcher("Waiting for approval on ")
	cmd := exec.CommandContext(ctx, w.actionBin)
	cmd.Env = sandbox.Environ([]string{"PATH=" + os.Getenv("PATH")}, env)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return decision{}, fmt.Errorf("start the action: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	fail := func(err error) (decision, error) {
		cancel()
		<-exited
		return decision{}, fmt.Errorf("gate %d: %w; the action's output:\n%s", i, err, out.String())
	}
	var line string
	select {
	case line = <-out.found:
	case err := <-exited:
		return decision{}, fmt.Errorf("gate %d: the action exited before waiting (%v); its output:\n%s", i, err, out.String())
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	number, err := issueNumber(line)
	if err != nil {
		return fail(err)
	}
	if err := sleep(ctx, pollSettle); err != nil {
		return fail(err)
	}
	id, err := w.sb.GitHub.Comment("alice", owner, repo, number, "approve")
	if err != nil {
		return fail(fmt.Errorf("alice approves: %w", err))
	}
	select {
	case err = <-exited:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	at := time.Now()
	if err != nil {
		return decision{}, fmt.Errorf("gate %d: the action failed (%v); its output:\n%s", i, err, out.String())
	}
	return decision{comment: id, exited: at}, nil
}

// issueNumber reads the issue number from "Waiting for approval on <url>
// (times out at …)".
func issueNumber(line string) (int, error) {
	_, rest, _ := strings.Cut(line, "Waiting for approval on ")
	raw, _, _ := strings.Cut(rest, " ")
	u, err := url.Parse(raw)
	if err != nil {
		return 0, fmt.Errorf("read the issue from %q: %w", line, err)
	}
	n, err := strconv.Atoi(path.Base(u.Path))
	if err != nil {
		return 0, fmt.Errorf("read the issue from %q: %w", line, err)
	}
	return n, nil
}

// decisionLatencies matches each approving comment with its delivery and
// measures from the delivery to the action's exit.
func (w *world) decisionLatencies(ds []decision) (fromAccepted, fromSent []time.Duration, err error) {
	type sent struct {
		id     string
		at     time.Time
		status int
	}
	byComment := map[int64]sent{}
	for _, d := range w.sb.GitHub.Deliveries() {
		if d.Event != "issue_comment" || d.Action != "created" {
			continue
		}
		var p struct {
			Comment struct {
				ID int64 `json:"id"`
			} `json:"comment"`
		}
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return nil, nil, fmt.Errorf("read delivery %s: %w", d.ID, err)
		}
		byComment[p.Comment.ID] = sent{id: d.ID, at: d.At, status: d.StatusCode}
	}
	for _, d := range ds {
		s, ok := byComment[d.comment]
		if !ok {
			return nil, nil, fmt.Errorf("no delivery of comment %d", d.comment)
		}
		if s.status/100 != 2 {
			return nil, nil, fmt.Errorf("the app answered delivery %s of comment %d with %d", s.id, d.comment, s.status)
		}
		acc, ok := w.acceptedAt(s.id)
		if !ok {
			return nil, nil, errors.New("the emulator did not log its deliveries; the bench reads their timing from that log")
		}
		fromAccepted = append(fromAccepted, d.exited.Sub(acc))
		fromSent = append(fromSent, d.exited.Sub(s.at))
	}
	return fromAccepted, fromSent, nil
}

// watcher keeps a process's output and hands on the first line that
// contains a given text.
type watcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	text  string
	seen  int // bytes of buf already looked at for whole lines
	found chan string
}

func newWatcher(text string) *watcher {
	return &watcher{text: text, found: make(chan string, 1)}
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for w.seen >= 0 {
		rest := w.buf.Bytes()[w.seen:]
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			break
		}
		line := string(rest[:end])
		w.seen += end + 1
		if strings.Contains(line, w.text) {
			w.found <- line
			w.seen = -1 // found; stop looking
		}
	}
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
