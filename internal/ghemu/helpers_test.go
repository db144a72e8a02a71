package ghemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

// testKeyPEM is one App key for the whole test binary: generating RSA keys
// is slow.
var testKeyPEM = sync.OnceValues(func() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), nil
})

func start(t *testing.T, opts Options) *Emulator {
	t.Helper()
	if opts.AppPrivateKeyPEM == nil {
		key, err := testKeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		opts.AppPrivateKeyPEM = key
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

// world is the cast most tests use: org acme with repository acme/app, on
// which alice writes, bob reads and mallory has no role; the personal
// repository alice/tools; team acme/release with bob active and carol
// pending.
type world struct {
	emu                  *Emulator
	alice, bob, mallory  string
	carol, actions       string
	aliceGH, bobGH       *github.Client
	malloryGH, actionsGH *github.Client
}

func newWorld(t *testing.T, opts Options) *world {
	t.Helper()
	emu := start(t, opts)
	w := &world{emu: emu}
	w.alice = must[string](t)(emu.AddUser("alice"))
	w.bob = must[string](t)(emu.AddUser("bob"))
	w.carol = must[string](t)(emu.AddUser("carol"))
	w.mallory = must[string](t)(emu.AddUser("mallory"))
	w.actions = must[string](t)(emu.AddBot("github-actions"))
	check(t, emu.AddOrg("acme", "alice"))
	check(t, emu.AddTeam("acme", "release", "bob"))
	check(t, emu.SetMembership("acme", "release", "carol", "pending"))
	check(t, emu.AddRepo("acme", "app", map[string]string{"alice": "write", "bob": "read", "carol": "read", "github-actions[bot]": "write"}))
	check(t, emu.AddRepo("alice", "tools", nil))
	w.aliceGH = client(t, emu, w.alice)
	w.bobGH = client(t, emu, w.bob)
	w.malloryGH = client(t, emu, w.mallory)
	w.actionsGH = client(t, emu, w.actions)
	return w
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

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// client is go-github against the emulator, authenticated with token
// unless it is empty.
func client(t *testing.T, emu *Emulator, token string) *github.Client {
	t.Helper()
	base, err := url.Parse(emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := github.NewClient(nil)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	c.BaseURL = base
	return c
}

// rawDo sends a request with the given token and returns status, headers
// and body.
func rawDo(t *testing.T, emu *Emulator, method, path, token, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, emu.APIURL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// errorResponse asserts err is a *github.ErrorResponse with the status.
func errorResponse(t *testing.T, err error, status int) *github.ErrorResponse {
	t.Helper()
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("error = %v (%T), want *github.ErrorResponse", err, err)
	}
	if er.Response.StatusCode != status {
		t.Fatalf("status = %d, want %d (%v)", er.Response.StatusCode, status, err)
	}
	return er
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
