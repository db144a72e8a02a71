package actionrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
)

// fakeApp is the app's gate API as the action uses it: registration
// authenticated with a verified OIDC token, long-polls and cancellation
// authenticated with the poll token, and faults on demand. Its gates
// outlive a stop and restart, as the app's store does.
type fakeApp struct {
	t        *testing.T
	verifier *oidc.Verifier
	url      string // http://127.0.0.1:port, the same across restarts
	addr     string

	mu       sync.Mutex
	srv      *httptest.Server // nil while stopped
	stopping chan struct{}    // closed when the server stops
	faults   map[string][]fault
	refuse   *fault // every registration answers this once authenticated
	failAll  bool   // every poll and cancel answers 503
	onCancel func(*api.Gate)
	gate     *fakeGate
	idTokens []string // bearer tokens of every registration request
	polls    int      // polls that got past the faults
	regs     []api.Register
	cancels  []api.Cancel
}

type fakeGate struct {
	reg       api.Register
	pollToken string
	view      api.Gate
	changed   chan struct{} // closed and replaced on every change
}

// fault is an injected failure: an error status, or a dropped connection.
type fault struct {
	status     int
	message    string
	retryAfter string
	drop       bool
}

// The routes faults are injected into.
const (
	routeRegister = "register"
	routePoll     = "poll"
	routeCancel   = "cancel"
)

func startFakeApp(t *testing.T, issuer string) *fakeApp {
	t.Helper()
	f := &fakeApp{t: t, addr: "127.0.0.1:0", faults: map[string][]fault{}}
	f.start()
	t.Cleanup(f.stop)
	v, err := oidc.NewVerifier(context.Background(), issuer, f.url)
	if err != nil {
		t.Fatal(err)
	}
	f.verifier = v
	return f
}

// start serves on the fake's address (a new one the first time).
func (f *fakeApp) start() {
	f.t.Helper()
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.GatesPath, f.register)
	mux.HandleFunc("GET "+api.GatesPath+"/{id}", f.poll)
	mux.HandleFunc("POST "+api.GatesPath+"/{id}/cancel", f.cancel)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	f.mu.Lock()
	f.addr, f.url = l.Addr().String(), "http://"+l.Addr().String()
	f.srv, f.stopping = srv, make(chan struct{})
	f.mu.Unlock()
}

// stop stops serving, cutting off the polls it holds.
func (f *fakeApp) stop() {
	f.mu.Lock()
	srv := f.srv
	if srv != nil {
		close(f.stopping)
		f.srv = nil
	}
	f.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// inject queues faults for the next requests of route.
func (f *fakeApp) inject(route string, fs ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[route] = append(f.faults[route], fs...)
}

// fail answers with the next fault queued for route, if any.
func (f *fakeApp) fail(w http.ResponseWriter, route string) bool {
	f.mu.Lock()
	queue := f.faults[route]
	if len(queue) == 0 {
		f.mu.Unlock()
		return false
	}
	ft := queue[0]
	f.faults[route] = queue[1:]
	f.mu.Unlock()
	if ft.drop {
		panic(http.ErrAbortHandler)
	}
	if ft.retryAfter != "" {
		w.Header().Set("Retry-After", ft.retryAfter)
	}
	writeError(w, ft.status, "injected failure")
	return true
}

// update changes the gate and wakes its pollers.
func (f *fakeApp) update(change func(*api.Gate)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.gate.view)
	close(f.gate.changed)
	f.gate.changed = make(chan struct{})
}

// settle settles the gate as the app does when its rules are met.
func (f *fakeApp) settle(change func(*api.Gate)) {
	f.update(func(v *api.Gate) {
		now := time.Now().UTC()
		v.SettledAt = &now
		change(v)
	})
}

// seen returns the bearer tokens of the registration requests, the cancel
// requests and the poll token handed out.
func (f *fakeApp) seen() (idTokens []string, cancels []api.Cancel, pollToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		pollToken = f.gate.pollToken
	}
	return append([]string(nil), f.idTokens...), append([]api.Cancel(nil), f.cancels...), pollToken
}

// waitPolls waits until n polls have got past the faults.
func (f *fakeApp) waitPolls(n int) {
	f.t.Helper()
	waitFor(f.t, fmt.Sprintf("%d polls", n), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.polls >= n
	})
}

// registered returns the registrations accepted so far.
func (f *fakeApp) registered() []api.Register {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Register(nil), f.regs...)
}

func (f *fakeApp) register(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	f.idTokens = append(f.idTokens, token)
	refuse := f.refuse
	f.mu.Unlock()
	if f.fail(w, routeRegister) {
		return
	}
	claims, err := f.verifier.Verify(r.Context(), token)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "the OIDC token is not valid: "+err.Error())
		return
	}
	var reg api.Register
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reg); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if refuse != nil {
		writeError(w, refuse.status, refuse.message)
		return
	}
	if claims.Repository != reg.Repository || claims.RunID != reg.RunID || claims.RunAttempt != reg.RunAttempt {
		writeError(w, http.StatusForbidden, "the OIDC token is for another run")
		return
	}
	id := api.GateID(reg.Repository, reg.RunID, reg.RunAttempt, reg.Key)
	f.mu.Lock()
	defer f.mu.Unlock()
	status := http.StatusOK
	switch {
	case f.gate == nil:
		buf := make([]byte, 16)
		rand.Read(buf)
		f.gate = &fakeGate{
			reg:       reg,
			pollToken: "gpt_" + hex.EncodeToString(buf),
			changed:   make(chan struct{}),
			view: api.Gate{
				ID: id, Status: "pending", IssueNumber: reg.IssueNumber, IssueURL: reg.IssueURL,
				Deadline:  time.Now().Add(time.Duration(reg.TimeoutSeconds) * time.Second).UTC(),
				Responses: []api.Response{},
			},
		}
		status = http.StatusCreated
	case f.gate.view.ID != id || f.gate.reg.IssueNumber != reg.IssueNumber:
		writeError(w, http.StatusConflict, fmt.Sprintf("gate key %s is registered to issue #%d", reg.Key, f.gate.reg.IssueNumber))
		return
	}
	f.regs = append(f.regs, reg)
	writeJSON(w, status, api.Registered{Gate: f.gate.view, PollToken: f.gate.pollToken})
}

// gateFor returns the gate a request names, answering the request itself
// when the gate or the poll token is wrong.
func (f *fakeApp) gateFor(w http.ResponseWriter, r *http.Request) (*fakeGate, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate == nil || f.gate.view.ID != r.PathValue("id") {
		writeError(w, http.StatusNotFound, "no such gate")
		return nil, false
	}
	if r.Header.Get("Authorization") != "Bearer "+f.gate.pollToken {
		writeError(w, http.StatusUnauthorized, "bad poll token")
		return nil, false
	}
	return f.gate, true
}

func (f *fakeApp) poll(w http.ResponseWriter, r *http.Request) {
	if f.fail(w, routePoll) {
		return
	}
	g, ok := f.gateFor(w, r)
	if !ok {
		return
	}
	wait, err := strconv.Atoi(r.URL.Query().Get("wait"))
	if err != nil || wait < 0 || wait > api.MaxWait {
		writeError(w, http.StatusBadRequest, "wait must be 0 to 60 seconds")
		return
	}
	f.mu.Lock()
	view, changed, stopping, failAll := g.view, g.changed, f.stopping, f.failAll
	f.polls++
	f.mu.Unlock()
	if failAll {
		writeError(w, http.StatusServiceUnavailable, "down for maintenance")
		return
	}
	if view.Status == "pending" {
		timer := time.NewTimer(time.Duration(wait) * time.Second)
		defer timer.Stop()
		select {
		case <-changed:
		case <-timer.C:
		case <-stopping:
			panic(http.ErrAbortHandler)
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		view = g.view
		f.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, view)
}

func (f *fakeApp) cancel(w http.ResponseWriter, r *http.Request) {
	if f.fail(w, routeCancel) {
		return
	}
	f.mu.Lock()
	failAll := f.failAll
	f.mu.Unlock()
	if failAll {
		writeError(w, http.StatusServiceUnavailable, "down for maintenance")
		return
	}
	g, ok := f.gateFor(w, r)
	if !ok {
		return
	}
	var c api.Cancel
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.cancels = append(f.cancels, c)
	onCancel := f.onCancel
	f.mu.Unlock()
	f.settle(func(v *api.Gate) {
		if v.Status != "pending" {
			return
		}
		if onCancel != nil {
			onCancel(v)
			return
		}
		v.Status, v.Reason = "cancelled", c.Reason
	})
	f.mu.Lock()
	view := g.view
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, view)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Error: msg})
}
