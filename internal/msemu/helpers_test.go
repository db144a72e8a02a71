package msemu

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

const (
	botID     = "b07a9f1e-0000-4000-8000-00000000b071"
	botSecret = "bot-secret~value"
)

// testKeys are RSA keys made once for the whole test binary: generating
// them is slow.
var testKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, 8)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
})

// keySource hands out the test keys in turn, so that one emulator's keys
// differ.
func keySource(t *testing.T) func() (*rsa.PrivateKey, error) {
	keys, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	return func() (*rsa.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		k := keys[next%len(keys)]
		next++
		return k, nil
	}
}

func start(t *testing.T, opts Options) *Emulator {
	t.Helper()
	if opts.GenerateKey == nil {
		opts.GenerateKey = keySource(t)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	emu, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := emu.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return emu
}

// world is the cast most tests use: the bot's app registered and installed
// in team Release (General and Deploys), whose members are alice and bob;
// carol is in the tenant but not in the team.
type world struct {
	emu               *Emulator
	clock             *testclock.Clock
	alice, bob, carol Member
	team              Team
	deploys           string // the Deploys channel id
	chat              Chat   // a group chat of alice and carol, with the bot
}

func newWorld(t *testing.T) *world {
	t.Helper()
	c := testclock.New(time.Now().Truncate(time.Second))
	w := &world{emu: start(t, Options{Now: c.Now}), clock: c}
	check(t, w.emu.AddApp(w.emu.TenantID(), botID, botSecret))
	w.alice = must[Member](t)(w.emu.AddUser(Member{Name: "Alice Example", Email: "alice@corp.example", UserPrincipalName: "alice@corp.example", GivenName: "Alice", Surname: "Example"}))
	w.bob = must[Member](t)(w.emu.AddUser(Member{Name: "Bob Example", UserPrincipalName: "bob@corp.example"}))
	w.carol = must[Member](t)(w.emu.AddUser(Member{Name: "Carol Example"}))
	w.team = must[Team](t)(w.emu.AddTeam(Team{Name: "Release", Channels: []Channel{{Name: "Deploys"}}, Members: []string{w.alice.ID, w.bob.AADObjectID}}))
	w.deploys = w.team.Channels[0].ID
	check(t, w.emu.AddBot(w.team.ID, botID))
	w.chat = must[Chat](t)(w.emu.AddChat(Chat{Type: "groupChat", Topic: "Ops", Members: []string{w.alice.ID, w.carol.ID}}))
	check(t, w.emu.AddBot(w.chat.ID, botID))
	return w
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// answer is an HTTP answer read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d %q is not a JSON object: %v", a.status, a.body, err)
	}
	return m
}

// errorCode reads {"error":{"code"}}.
func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := a.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func do(t *testing.T, method, u string, header http.Header, body string) answer {
	t.Helper()
	return doWith(t, http.DefaultClient, method, u, header, body)
}

// doWith sends a request with client and reads the answer whole.
func doWith(t *testing.T, client *http.Client, method, u string, header http.Header, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func postForm(t *testing.T, u string, form url.Values) answer {
	t.Helper()
	return do(t, http.MethodPost, u, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
}

// botToken gets the bot's Bot Connector token from the token endpoint.
func botToken(t *testing.T, emu *Emulator) string {
	t.Helper()
	a := postForm(t, emu.TokenURL(emu.TenantID()), url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {botID},
		"client_secret": {botSecret},
		"scope":         {"https://api.botframework.com/.default"},
	})
	if a.status != http.StatusOK {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	tok, _ := a.json(t)["access_token"].(string)
	return tok
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
}

// connectorURL is a Bot Connector URL for path segments, each escaped as
// the Bot Framework SDKs escape conversation ids.
func connectorURL(emu *Emulator, segments ...string) string {
	u := emu.ServiceURL() + "v3"
	for _, s := range segments {
		u += "/" + url.PathEscape(s)
	}
	return u
}

// bot is a messaging endpoint that records what it receives and answers
// with status and body.
type bot struct {
	srv *httptest.Server

	mu       sync.Mutex
	status   int
	body     string
	received []received
}

type received struct {
	header   http.Header
	activity map[string]any
}

func newBot(t *testing.T) *bot {
	b := &bot{status: http.StatusOK}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a map[string]any
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Errorf("bot got a body that is not JSON: %v", err)
		}
		b.mu.Lock()
		b.received = append(b.received, received{header: r.Header.Clone(), activity: a})
		status, body := b.status, b.body
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bot) answer(status int, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status, b.body = status, body
}

func (b *bot) got() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.received...)
}

// path reads a nested member of decoded JSON, such as "channelData.team.id".
func path(v any, p string) any {
	for _, k := range strings.Split(p, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
