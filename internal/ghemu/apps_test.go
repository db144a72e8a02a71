package ghemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

const testAppID = 4242

// appClients are go-github clients for the App (JWT) and for its
// installation on acme, both through ghinstallation's transports.
func appClients(t *testing.T, w *world) (appGH, instGH *github.Client, instID int64) {
	t.Helper()
	instID = must[int64](t)(w.emu.InstallApp("acme", "app"))
	key := must[[]byte](t)(w.emu.AppPrivateKeyPEM())
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, testAppID, key)
	check(t, err)
	atr.BaseURL = w.emu.APIURL()
	itr := ghinstallation.NewFromAppsTransport(atr, instID)
	itr.BaseURL = w.emu.APIURL()
	base, err := url.Parse(w.emu.URL())
	check(t, err)
	appGH = github.NewClient(&http.Client{Transport: atr})
	appGH.BaseURL = base
	instGH = github.NewClient(&http.Client{Transport: itr})
	instGH.BaseURL = base
	return appGH, instGH, instID
}

func TestAppEndpointsWithGhinstallation(t *testing.T) {
	w := newWorld(t, Options{AppID: testAppID, AppSlug: "gatehouse-test", AppName: "Gatehouse Test"})
	appGH, _, instID := appClients(t, w)

	app, _, err := appGH.Apps.Get(t.Context(), "")
	check(t, err)
	if app.GetID() != testAppID || app.GetSlug() != "gatehouse-test" || app.GetName() != "Gatehouse Test" || app.GetOwner().GetLogin() == "" ||
		app.GetPermissions().GetIssues() != "write" || app.GetNodeID() == "" {
		t.Errorf("app = %+v", app)
	}

	found, _, err := appGH.Apps.FindRepositoryInstallation(t.Context(), "acme", "app")
	check(t, err)
	inst, _, err := appGH.Apps.GetInstallation(t.Context(), instID)
	check(t, err)
	for _, in := range []*github.Installation{found, inst} {
		got := []any{in.GetID(), in.GetAppID(), in.GetAppSlug(), in.GetAccount().GetLogin(), in.GetTargetType(), in.GetRepositorySelection(), in.GetPermissions().GetMembers()}
		want := []any{instID, int64(testAppID), "gatehouse-test", "acme", "Organization", "selected", "read"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("installation (-want +got):\n%s", d)
		}
	}
	_, _, err = appGH.Apps.FindRepositoryInstallation(t.Context(), "alice", "tools")
	errorResponse(t, err, 404)
	_, _, err = appGH.Apps.GetInstallation(t.Context(), 999999)
	errorResponse(t, err, 404)
}

func TestInstallationTokenActsAsTheBot(t *testing.T) {
	w := newWorld(t, Options{AppID: testAppID})
	_, instGH, _ := appClients(t, w)

	is, _, err := instGH.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{Title: github.String("gate"), Labels: &[]string{"approval"}})
	check(t, err)
	cm, _, err := instGH.Issues.CreateComment(t.Context(), "acme", "app", is.GetNumber(), &github.IssueComment{Body: github.String("<!-- gatehouse:response gate=1 -->")})
	check(t, err)
	if is.GetUser().GetLogin() != "gatehouse[bot]" || is.GetUser().GetType() != "Bot" || cm.GetUser().GetLogin() != "gatehouse[bot]" || len(is.Labels) != 1 {
		t.Errorf("issue by %+v, comment by %+v, labels %v", is.GetUser(), cm.GetUser(), is.Labels)
	}
	// go-github's types have no performed_via_github_app; read it raw.
	req, err := instGH.NewRequest("GET", "repos/acme/app/issues/comments/"+strconv.FormatInt(cm.GetID(), 10), nil)
	check(t, err)
	var raw struct {
		Via *github.App `json:"performed_via_github_app"`
	}
	_, err = instGH.Do(t.Context(), req, &raw)
	check(t, err)
	if raw.Via.GetSlug() != "gatehouse" || raw.Via.GetID() != testAppID {
		t.Errorf("performed_via_github_app = %+v", raw.Via)
	}
	if _, _, err := instGH.Issues.Edit(t.Context(), "acme", "app", is.GetNumber(), &github.IssueRequest{State: github.String("closed"), StateReason: github.String("completed")}); err != nil {
		t.Errorf("close: %v", err)
	}

	// Repositories outside the installation do not exist for it.
	_, _, err = instGH.Issues.Create(t.Context(), "alice", "tools", &github.IssueRequest{Title: github.String("t")})
	errorResponse(t, err, 404)
	// Bot tokens cannot read /user.
	_, _, err = instGH.Users.Get(t.Context(), "")
	if er := errorResponse(t, err, 403); er.Message != "Resource not accessible by integration" {
		t.Errorf("GET /user: %q", er.Message)
	}
	// Team memberships of the installation's org are readable (members:read).
	m, _, err := instGH.Teams.GetTeamMembershipBySlug(t.Context(), "acme", "release", "bob")
	check(t, err)
	if m.GetState() != "active" || m.GetRole() != "member" {
		t.Errorf("membership = %+v", m)
	}
}

func TestNarrowedInstallationToken(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	w := newWorld(t, Options{AppID: testAppID, Now: clock.Now})
	check(t, w.emu.AddRepo("acme", "site", nil))
	appGH, _, _ := appClients(t, w)
	instID := must[int64](t)(w.emu.InstallApp("acme")) // now every acme repository
	mustIssue(t, w.aliceGH, "acme", "app", "t")

	tok, resp, err := appGH.Apps.CreateInstallationToken(t.Context(), instID, &github.InstallationTokenOptions{
		Repositories: []string{"app"},
		Permissions:  &github.InstallationPermissions{Issues: github.String("read")},
	})
	check(t, err)
	if resp.StatusCode != 201 || len(tok.Repositories) != 1 || tok.GetPermissions().GetIssues() != "read" ||
		!tok.GetExpiresAt().Time.Equal(clock.Now().UTC().Truncate(time.Second).Add(time.Hour)) {
		t.Errorf("token: %d %+v", resp.StatusCode, tok)
	}
	gh := client(t, w.emu, tok.GetToken())
	if _, _, err := gh.Issues.Get(t.Context(), "acme", "app", 1); err != nil {
		t.Errorf("read: %v", err)
	}
	_, _, err = gh.Issues.CreateComment(t.Context(), "acme", "app", 1, &github.IssueComment{Body: github.String("x")})
	if er := errorResponse(t, err, 403); er.Message != "Resource not accessible by integration" {
		t.Errorf("write with issues:read: %q", er.Message)
	}
	_, _, err = gh.Issues.ListComments(t.Context(), "acme", "site", 1, nil)
	errorResponse(t, err, 404)
	// Without members permission the org's teams are invisible.
	_, _, err = gh.Teams.GetTeamMembershipBySlug(t.Context(), "acme", "release", "bob")
	errorResponse(t, err, 404)

	for _, opts := range []*github.InstallationTokenOptions{
		{Repositories: []string{"tools"}},
		{Permissions: &github.InstallationPermissions{Administration: github.String("write")}},
	} {
		_, _, err := appGH.Apps.CreateInstallationToken(t.Context(), instID, opts)
		errorResponse(t, err, 422)
	}

	clock.Advance(time.Hour)
	_, _, err = gh.Issues.Get(t.Context(), "acme", "app", 1)
	if er := errorResponse(t, err, 401); er.Message != "Bad credentials" {
		t.Errorf("expired token: %q", er.Message)
	}
}

func TestAppJWTChecks(t *testing.T) {
	w := newWorld(t, Options{AppID: testAppID})
	key, err := parseRSAPrivateKey(must[[]byte](t)(w.emu.AppPrivateKeyPEM()))
	check(t, err)
	otherKey, err := rsa.GenerateKey(rand.Reader, 1024)
	check(t, err)
	now := time.Now().Unix()
	rs256 := map[string]any{"alg": "RS256", "typ": "JWT"}
	tests := []struct {
		name    string
		token   string
		wantMsg string
	}{
		{"valid", signJWT(t, key, rs256, map[string]any{"iss": "4242", "iat": now - 30, "exp": now + 540}), ""},
		{"numeric iss", signJWT(t, key, rs256, map[string]any{"iss": 4242, "iat": now - 30, "exp": now + 540}), ""},
		{"expired", signJWT(t, key, rs256, map[string]any{"iss": "4242", "iat": now - 700, "exp": now - 100}),
			"'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"},
		{"too long", signJWT(t, key, rs256, map[string]any{"iss": "4242", "iat": now, "exp": now + 3600}),
			"'Expiration time' claim ('exp') is too far in the future"},
		{"issued in the future", signJWT(t, key, rs256, map[string]any{"iss": "4242", "iat": now + 300, "exp": now + 500}),
			"'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"},
		{"other app", signJWT(t, key, rs256, map[string]any{"iss": "1", "iat": now, "exp": now + 60}), "Integration not found"},
		{"other key", signJWT(t, otherKey, rs256, map[string]any{"iss": "4242", "iat": now, "exp": now + 60}), "A JSON web token could not be decoded"},
		{"alg none", signJWT(t, key, map[string]any{"alg": "none"}, map[string]any{"iss": "4242", "iat": now, "exp": now + 60}), "A JSON web token could not be decoded"},
		{"a personal token", w.alice, "A JSON web token could not be decoded"},
		{"nothing", "", "A JSON web token could not be decoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := rawDo(t, w.emu, "GET", "/app", tt.token, "")
			var er github.ErrorResponse
			decodeJSON(t, body, &er)
			wantStatus := 401
			if tt.wantMsg == "" {
				wantStatus = 200
			}
			if status != wantStatus || er.Message != tt.wantMsg {
				t.Errorf("got %d %q, want %d %q", status, er.Message, wantStatus, tt.wantMsg)
			}
		})
	}
	// A JWT is not a token for the rest of the API.
	status, _, _ := rawDo(t, w.emu, "GET", "/repos/acme/app", tests[0].token, "")
	if status != 401 {
		t.Errorf("JWT on a repository route: %d, want 401", status)
	}
}

func signJWT(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		check(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	check(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []Options{
		{PerPageMax: -1},
		{WebhookURL: "not a url"},
		{WebhookURL: "ftp://example.test/"},
		{AppID: -5},
		{AppSlug: "no spaces"},
		{AppPrivateKeyPEM: []byte("not pem")},
		{AppPermissions: map[string]string{"issues": "all"}},
		{Addr: "0.0.0.0:0"},
		{Addr: "no port"},
	}
	for _, opts := range tests {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

func TestSetupErrors(t *testing.T) {
	w := newWorld(t, Options{})
	tests := []struct {
		name string
		err  error
	}{
		{"bad login", func() error { _, err := w.emu.AddUser("no/slash"); return err }()},
		{"user named like an org", func() error { _, err := w.emu.AddUser("acme"); return err }()},
		{"bad role", w.emu.AddRepo("acme", "x", map[string]string{"bob": "owner"})},
		{"duplicate repo", w.emu.AddRepo("acme", "app", nil)},
		{"bad membership state", w.emu.SetMembership("acme", "release", "bob", "invited")},
		{"scopes on unknown token", w.emu.GrantScopes("ghp_nope", "read:org")},
		{"install on unknown account", func() error { _, err := w.emu.InstallApp("nobody"); return err }()},
		{"install on unknown repo", func() error { _, err := w.emu.InstallApp("acme", "nope"); return err }()},
		{"bad webhook URL", w.emu.SetWebhookURL("::")},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}
