package respond

import (
	"bytes"
	"cmp"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// fakeGates is the gates service: gates by id, the answers it got, and
// the responses it recorded by gate and answer id. Like the service, it
// answers a recorded answer id as a duplicate.
type fakeGates struct {
	mu       sync.Mutex
	infos    map[string]gates.Info
	answers  []gates.Answer
	answered []string // the gate of each answer
	recorded map[[2]string]approval.Response
	// result answers every new Answer; nil records it.
	result func(info gates.Info, a gates.Answer) gates.Answered
	// answerErr fails Answer, responseErr fails Response.
	answerErr, responseErr error
}

func (f *fakeGates) Info(_ context.Context, id string) (gates.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.infos[id]
	if !ok {
		return gates.Info{}, gates.ErrNotFound
	}
	return info, nil
}

func (f *fakeGates) Answer(_ context.Context, id string, a gates.Answer) (gates.Answered, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.infos[id]
	if !ok {
		return gates.Answered{}, gates.ErrNotFound
	}
	f.answers = append(f.answers, a)
	f.answered = append(f.answered, id)
	if f.answerErr != nil {
		return gates.Answered{}, f.answerErr
	}
	key := [2]string{id, a.ID}
	if _, ok := f.recorded[key]; ok {
		return gates.Answered{Result: gates.Duplicate, Identity: a.Actor.Identity(), Gate: info}, nil
	}
	res := gates.Answered{Result: gates.Recorded, Identity: a.Actor.Identity()}
	if f.result != nil {
		res = f.result(info, a)
	} else {
		info.View.Approvals++
		res.Gate = info
	}
	if res.Result == gates.Recorded {
		if f.recorded == nil {
			f.recorded = map[[2]string]approval.Response{}
		}
		f.recorded[key] = approval.Response{ID: a.ID, Actor: a.Actor, Via: a.Via, Decision: a.Decision, Comment: a.Comment, At: a.At}
	}
	return res, nil
}

func (f *fakeGates) Response(_ context.Context, gateID, answerID string) (approval.Response, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.responseErr != nil {
		return approval.Response{}, false, f.responseErr
	}
	r, ok := f.recorded[[2]string{gateID, answerID}]
	return r, ok, nil
}

func (f *fakeGates) got() []gates.Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gates.Answer(nil), f.answers...)
}

// gotGates are the gates answered, in order.
func (f *fakeGates) gotGates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.answered...)
}

// env is the app's response pages on loopback, with the GitHub emulator
// for sign-in and a fake gates service holding gate "g1" (and "g2").
type env struct {
	emu     *ghemu.Emulator
	srv     *httptest.Server
	gates   *fakeGates
	links   *Links
	clock   *testclock.Clock
	logs    *syncBuffer
	browser *browser
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testSchema(t *testing.T) fields.Schema {
	t.Helper()
	s, err := fields.Parse(`
- id: reason
  type: string
  required: true
  max-length: 100
  description: Why?
- id: rollout
  type: number
  min: 1
  max: 100
  integer: true
  default: 10
- id: notify
  type: boolean
- id: teams
  type: multiselect
  values: [HR, Finance, IT]
`)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testInfo(id string, schema fields.Schema, deadline time.Time) gates.Info {
	return gates.Info{
		ID:               id,
		Repository:       "acme/app",
		Title:            "Deploy " + id,
		Instructions:     "Check the dashboards first.",
		IssueNumber:      7,
		IssueURL:         "https://github.example/acme/app/issues/7",
		Run:              api.Run{Workflow: "release", Job: "deploy", Number: 42, URL: "https://github.example/acme/app/actions/runs/1"},
		Fields:           schema,
		MinimumApprovals: 2,
		Deadline:         deadline,
		View:             api.Gate{ID: id, Status: "pending", MinimumApprovals: 2},
	}
}

type envOptions struct {
	clientSecret string // default: the emulator's
	// noSignIn leaves GitHub sign-in unconfigured (and no emulator).
	noSignIn bool
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{clock: testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)), logs: &syncBuffer{}}
	deadline := e.clock.Now().Add(24 * time.Hour)
	e.gates = &fakeGates{infos: map[string]gates.Info{
		"g1": testInfo("g1", testSchema(t), deadline),
		"g2": testInfo("g2", testSchema(t), deadline),
	}}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	var oauth OAuthOptions
	if !o.noSignIn {
		e.emu = startGitHub(t, e.srv.URL+"/auth/github/callback")
		oauth = OAuthOptions{
			ClientID:     e.emu.AppClientID(),
			ClientSecret: cmp.Or(o.clientSecret, e.emu.AppClientSecret()),
			ServerURL:    e.emu.WebURL(),
			APIURL:       e.emu.APIURL(),
		}
	}
	e.links = NewLinks(testSecret, e.srv.URL)
	New(Options{
		Links:     e.links,
		Gates:     e.gates,
		OAuth:     oauth,
		PublicURL: e.srv.URL,
		Secret:    testSecret,
		Now:       e.clock.Now,
		Logger:    slog.New(slog.NewTextHandler(e.logs, nil)),
	}).Register(mux)
	e.browser = e.newBrowser(t)
	return e
}

// startGitHub starts the GitHub emulator with users alice, bob and Carol
// and the App's OAuth callback.
func startGitHub(t *testing.T, callback string) *ghemu.Emulator {
	t.Helper()
	emu, err := ghemu.New(ghemu.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	for _, login := range []string{"alice", "bob", "Carol"} {
		if _, err := emu.AddUser(login); err != nil {
			t.Fatal(err)
		}
	}
	if err := emu.SetAppCallbackURL(callback); err != nil {
		t.Fatal(err)
	}
	return emu
}

// link is a channel link to gate id, good for a day.
func (e *env) link(id string) string {
	return e.links.Channel(id, e.clock.Now().Add(24*time.Hour))
}

// emailLink is the link to gate id mailed to recipient, good for a day.
func (e *env) emailLink(id, recipient string) string {
	return e.links.Email(id, recipient, e.clock.Now().Add(24*time.Hour))
}

// browser is a person's browser: a cookie jar, redirects followed, every
// answer's Set-Cookie headers kept.
type browser struct {
	t      *testing.T
	env    *env
	client *http.Client
	jar    *cookiejar.Jar

	mu      sync.Mutex
	cookies []*http.Cookie
}

func (e *env) newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, env: e, jar: jar}
	b.client = &http.Client{Jar: jar, Transport: recorder{b}}
	return b
}

type recorder struct{ b *browser }

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.b.mu.Lock()
		r.b.cookies = append(r.b.cookies, resp.Cookies()...)
		r.b.mu.Unlock()
	}
	return resp, err
}

// setCookies are the cookies named name that answers set, in order.
func (b *browser) setCookies(name string) []*http.Cookie {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*http.Cookie
	for _, c := range b.cookies {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// page is an answer as the browser ends up with it.
type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body), url: resp.Request.URL}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	return b.request(http.MethodGet, u, nil)
}

func (b *browser) request(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	return b.request(http.MethodPost, u, form)
}

var (
	signInLink = regexp.MustCompile(`href="(/auth/github/login\?[^"]+)"`)
	csrfInput  = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
)

// signIn opens link and signs in on GitHub as login, ending on the page.
func (b *browser) signIn(link, login string) page {
	b.t.Helper()
	p := b.get(link)
	m := signInLink.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, want the sign-in page:\n%s", link, p.status, p.body)
	}
	// The link goes to GitHub, which asks who you are.
	p = b.get(b.env.srv.URL + html.UnescapeString(m[1]))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign in to GitHub") {
		b.t.Fatalf("sign-in link: %d at %s, want GitHub's sign-in form:\n%s", p.status, p.url, p.body)
	}
	signIn := b.env.emu.WebURL() + "/login?" + url.Values{"login": {login}, "return_to": {p.url.Query().Get("return_to")}}.Encode()
	return b.get(signIn)
}

// csrf is the CSRF value of a form page.
func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF input on the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}
