package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

// The repository every gate is on.
const (
	owner = "octo-org"
	repo  = "deploy"
)

const (
	// readyLimit bounds the wait for a fresh app to answer /readyz.
	readyLimit = 15 * time.Second
	// stopLimit bounds the wait for the app to exit after SIGTERM.
	stopLimit = 30 * time.Second
	// sourceAddrs is how many loopback addresses registrations come from.
	sourceAddrs = 100
)

// world is what the parts share: the binaries, the sandbox and the
// temporary directory.
type world struct {
	dir               string
	appBin, actionBin string
	logLevel          string
	sb                *sandbox.Sandbox
	stopRefill        context.CancelFunc

	mu sync.Mutex
	// accepted holds when the emulator's POST of each delivery returned,
	// by delivery id.
	accepted map[string]time.Time
}

func newWorld(ctx context.Context, logLevel string) (_ *world, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, fmt.Errorf("make a temporary directory: %w", err)
	}
	w := &world{
		dir: dir, logLevel: logLevel, accepted: map[string]time.Time{},
		appBin: filepath.Join(dir, "gatehouse"), actionBin: filepath.Join(dir, "gatehouse-action"),
	}
	defer func() {
		if err != nil {
			w.close(false)
		}
	}()
	for bin, pkg := range map[string]string{w.appBin: "app", w.actionBin: "action"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/gatehouse-ci/gatehouse/"+pkg)
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./%s (run the bench from inside the module): %w\n%s", pkg, err, out)
		}
	}
	w.sb, err = sandbox.Start(sandbox.Options{
		Owner: owner, Repo: repo,
		Writers: []string{"alice", "bob", "octocat"},
		GitHub:  ghemu.Options{Logf: w.emulatorLog},
	})
	if err != nil {
		return nil, fmt.Errorf("start the sandbox: %w", err)
	}
	refill, stop := context.WithCancel(ctx)
	w.stopRefill = stop
	go w.refillRateLimits(refill)
	return w, nil
}

// close stops the sandbox and removes the temporary directory unless keep.
func (w *world) close(keep bool) {
	if w.stopRefill != nil {
		w.stopRefill()
	}
	if w.sb != nil {
		w.sb.Close()
	}
	if keep {
		fmt.Fprintf(os.Stderr, "bench: kept %s\n", w.dir)
		return
	}
	os.RemoveAll(w.dir)
}

// emulatorLog sees every line the emulator logs. It keeps the moment of
// each "ghemu: delivery <id> …" line, which the emulator writes as soon as
// it has read the receiver's answer to a delivery.
func (w *world) emulatorLog(format string, args ...any) {
	if !strings.HasPrefix(format, "ghemu: delivery ") || len(args) == 0 {
		return
	}
	id, ok := args[0].(string)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	w.accepted[id] = now
	w.mu.Unlock()
}

// acceptedAt says when the POST of delivery id returned.
func (w *world) acceptedAt(id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.accepted[id]
	return t, ok
}

// refillRateLimits gives every token that has made requests its full
// budget again, every second until ctx ends.
func (w *world) refillRateLimits(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		reset := time.Now().Add(time.Hour)
		for tok := range w.sb.GitHub.Stats().RateLimitUsed {
			// Budgets are 5000, or 1000 for the job token; the App's JWT
			// ("app") is no token and is left alone.
			if w.sb.GitHub.SetRateLimit(tok, 5000, reset) != nil {
				_ = w.sb.GitHub.SetRateLimit(tok, 1000, reset)
			}
		}
	}
}

// app is a running gatehouse process.
type app struct {
	name    string
	url     string
	db      string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
}

// startApp runs the app on a fresh SQLite database, points the emulator's
// webhooks at it and waits until it is ready.
func (w *world) startApp(ctx context.Context, name string) (*app, error) {
	addr, err := sandbox.FreeAddr()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	a := &app{
		name: name, url: "http://" + addr, db: filepath.Join(w.dir, name+".db"),
		logPath: filepath.Join(w.dir, name+".log"), done: make(chan struct{}),
	}
	env, err := w.sb.AppEnv(addr, a.db)
	if err != nil {
		return nil, fmt.Errorf("configure the app: %w", err)
	}
	env["GATEHOUSE_LOG_LEVEL"] = w.logLevel
	logFile, err := os.Create(a.logPath)
	if err != nil {
		return nil, fmt.Errorf("create the app's log: %w", err)
	}
	a.cmd = exec.Command(w.appBin)
	a.cmd.Env = sandbox.Environ([]string{"PATH=" + os.Getenv("PATH")}, env)
	a.cmd.Stdout, a.cmd.Stderr = logFile, logFile
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start the app: %w", err)
	}
	go func() {
		a.cmd.Wait()
		logFile.Close()
		close(a.done)
	}()
	if err := a.waitReady(ctx); err != nil {
		a.stop()
		return nil, err
	}
	return a, nil
}

func (a *app) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyLimit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-a.done:
			return fmt.Errorf("the app exited at start (%v):\n%s", a.cmd.ProcessState, a.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the app was not ready after %v:\n%s", readyLimit, a.logTail())
		}
	}
}

// stop ends the app with SIGTERM, or SIGKILL if it does not exit in time.
func (a *app) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(stopLimit):
		fmt.Fprintf(os.Stderr, "bench: the %s app did not stop after SIGTERM; killing it\n", a.name)
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// logTail is the end of the app's log, for errors.
func (a *app) logTail() string {
	b, err := os.ReadFile(a.logPath)
	if err != nil {
		return err.Error()
	}
	const limit = 4 << 10
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b)
}

// cpu is the CPU time, user and system, the app has used.
func (a *app) cpu() (time.Duration, error) {
	return procCPU(a.cmd.Process.Pid)
}

// procCPU reads utime and stime, fields 14 and 15 of /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the app's CPU time: %w", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("read the app's CPU time: short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read the app's CPU time: %w", err)
		}
		ticks += n
	}
	// The kernel counts in USER_HZ, 100 a second on Linux.
	return time.Duration(ticks) * (time.Second / 100), nil
}

// rss is a process's resident set now and at its peak, from
// /proc/<pid>/status.
type rss struct {
	RSS, HWM int64 // bytes
}

func (a *app) rss() (rss, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		return rss{}, fmt.Errorf("read the app's memory: %w", err)
	}
	var m rss
	for line := range strings.Lines(string(b)) {
		name, value, _ := strings.Cut(line, ":")
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return rss{}, fmt.Errorf("read the app's memory: %s: %w", name, err)
		}
		*dst = kb << 10
	}
	return m, nil
}

// metric reads one sample of the app's metrics: a name with its labels as
// the exposition writes them, e.g. gatehouse_waiting_polls.
func (a *app) metric(ctx context.Context, series string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read the app's metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read the app's metrics: %w", err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, nil
}

// usage is the CPU time the app and this process used over a stretch of
// wall time.
type usage struct {
	Wall     time.Duration `json:"wall_ns"`
	AppCPU   time.Duration `json:"app_cpu_ns"`
	BenchCPU time.Duration `json:"bench_cpu_ns"`
}

// meter starts measuring usage; call the function it returns at the end.
func (a *app) meter() (func() (usage, error), error) {
	start := time.Now()
	app0, err := a.cpu()
	if err != nil {
		return nil, err
	}
	self0, err := selfCPU()
	if err != nil {
		return nil, err
	}
	return func() (usage, error) {
		app1, err := a.cpu()
		if err != nil {
			return usage{}, err
		}
		self1, err := selfCPU()
		if err != nil {
			return usage{}, err
		}
		return usage{Wall: time.Since(start), AppCPU: app1 - app0, BenchCPU: self1 - self0}, nil
	}, nil
}

// selfCPU is the CPU time this process has used.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read the bench's CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// newClient is an HTTP client of its own for up to conns connections to
// one host. With from set, it connects from that local address.
func newClient(conns int, from net.IP) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns, conns
	if from != nil {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: from}}
		tr.DialContext = d.DialContext
	}
	return &http.Client{Transport: tr}
}

// doJSON sends in (when not nil) as JSON with a bearer token and decodes a
// 2xx answer into out. Other answers are *statusError.
func doJSON(ctx context.Context, hc *http.Client, method, url, bearer string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(data))}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

// issue is an issue of the repository.
type issue struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
}

// openIssue opens an issue as the job token (github-actions[bot]), as the
// action does.
func (w *world) openIssue(ctx context.Context, hc *http.Client, title string) (issue, error) {
	var is issue
	body := map[string]any{"title": title, "body": "Opened by the bench.", "labels": []string{"approval"}}
	url := fmt.Sprintf("%s/repos/%s/%s/issues", w.sb.GitHub.APIURL(), owner, repo)
	if err := doJSON(ctx, hc, http.MethodPost, url, w.sb.JobToken, body, &is); err != nil {
		return is, fmt.Errorf("open issue %q: %w", title, err)
	}
	return is, nil
}

// gate is a gate registered through the API.
type gate struct {
	id    string
	token string // the poll token
	issue int
}

// registerGates opens n issues and registers a gate on each, for runs
// firstRun, firstRun+1, …, with approvers and minimum as the action's
// inputs. Registrations come from sourceAddrs loopback addresses.
func (w *world) registerGates(ctx context.Context, a *app, n int, firstRun int64, approvers, minimum string) ([]gate, error) {
	clients := make([]*http.Client, sourceAddrs)
	for i := range clients {
		clients[i] = newClient(4, net.IPv4(127, 0, byte(1+i/250), byte(2+i%250)))
	}
	gh := newClient(16, nil)
	gates := make([]gate, n)
	err := forEach(ctx, n, 16, func(ctx context.Context, i int) error {
		runID := firstRun + int64(i)
		is, err := w.openIssue(ctx, gh, fmt.Sprintf("Approval needed: release #%d", runID))
		if err != nil {
			return err
		}
		reg := api.Register{
			Repository: w.sb.Repository(), RunID: runID, RunAttempt: 1, Key: "ship/gate",
			IssueNumber: is.Number, IssueURL: is.HTMLURL, Title: "Approval needed: release",
			Approvers: approvers, MinimumApprovals: minimum, TimeoutSeconds: 3600, OnTimeout: "reject",
			Run: api.Run{Workflow: "release", Job: "ship", Number: i + 1, Actor: "octocat", Ref: "refs/heads/main"},
		}
		var out api.Registered
		for attempt := 1; ; attempt++ {
			token := w.sb.OIDC.Mint(oidcissuer.JobClaims{
				Repository: w.sb.Repository(), RunID: runID, RunAttempt: 1, RunNumber: i + 1,
				Workflow: "release", Actor: "octocat", Ref: "refs/heads/main", EventName: "push",
			}, a.url)
			err = doJSON(ctx, clients[i%len(clients)], http.MethodPost, a.url+api.GatesPath, token, reg, &out)
			if se, ok := errors.AsType[*statusError](err); !ok || se.code != http.StatusTooManyRequests || attempt == 10 {
				break
			}
			if err := sleep(ctx, time.Second); err != nil {
				return err
			}
		}
		if err != nil {
			return fmt.Errorf("register the gate of run %d: %w", runID, err)
		}
		gates[i] = gate{id: out.Gate.ID, token: out.PollToken, issue: is.Number}
		return nil
	})
	return gates, err
}

// forEach calls fn for 0..n-1, from at most parallel goroutines, and
// returns the first error; that error cancels the context of the others.
func forEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
