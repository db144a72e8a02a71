package ghapp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

const (
	testAppID   = 4242
	membersPath = "GET /orgs/{org}/teams/{team_slug}/memberships/{username}"
	tokensPath  = "POST /app/installations/{installation_id}/access_tokens"
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

// world is GitHub with the App installed on acme/app (not on acme/site);
// team acme/release has bob active and carol pending; dave is in no team.
type world struct {
	emu   *ghemu.Emulator
	clock *testclock.Clock
	inst  int64
	key   []byte
}

func newWorld(t *testing.T, emuOpts ghemu.Options) *world {
	t.Helper()
	key, err := testKeyPEM()
	check(t, err)
	w := &world{clock: testclock.New(time.Now()), key: key}
	emuOpts.AppID, emuOpts.AppSlug, emuOpts.AppPrivateKeyPEM, emuOpts.Now = testAppID, "gatehouse-test", key, w.clock.Now
	w.emu, err = ghemu.New(emuOpts)
	check(t, err)
	check(t, w.emu.Start())
	t.Cleanup(func() { check(t, w.emu.Close()) })
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		_, err := w.emu.AddUser(u)
		check(t, err)
	}
	check(t, w.emu.AddOrg("acme", "alice"))
	check(t, w.emu.AddTeam("acme", "release", "bob"))
	check(t, w.emu.SetMembership("acme", "release", "carol", "pending"))
	check(t, w.emu.AddRepo("acme", "app", map[string]string{"alice": "write"}))
	check(t, w.emu.AddRepo("acme", "site", nil))
	w.inst, err = w.emu.InstallApp("acme", "app")
	check(t, err)
	return w
}

// options are Options for the world's App, with retries that wait
// milliseconds.
func (w *world) options() Options {
	return Options{
		APIURL:        w.emu.APIURL(),
		AppID:         testAppID,
		PrivateKeyPEM: w.key,
		Retry:         ghclient.RetryOptions{BaseDelay: time.Millisecond},
		Now:           w.clock.Now,
	}
}

func (w *world) apps(t *testing.T, o Options) *Apps {
	t.Helper()
	a, err := New(o)
	check(t, err)
	return a
}

// issue opens an issue on acme/app as the App and returns its number.
func (w *world) issue(t *testing.T, a *Apps) int {
	t.Helper()
	c, err := a.Installation(w.inst)
	check(t, err)
	is, _, err := c.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{Title: github.String("gate")})
	check(t, err)
	return is.GetNumber()
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// transportFunc adapts a function to http.RoundTripper.
type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
