package respond

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSignInRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	link := e.link("g1")

	p := e.browser.signIn(link, "alice")
	if p.status != http.StatusOK || p.url.String() != link {
		t.Fatalf("after sign-in: %d at %s, want 200 at the link", p.status, p.url)
	}
	for _, want := range []string{"Signed in as <strong>@alice</strong>", `<form class="answer" method="post"`, "Deploy g1"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %q:\n%s", want, p.body)
		}
	}

	type attrs struct {
		Path     string
		MaxAge   int
		HttpOnly bool
		Secure   bool
		SameSite http.SameSite
	}
	of := func(c *http.Cookie) attrs { return attrs{c.Path, c.MaxAge, c.HttpOnly, c.Secure, c.SameSite} }
	states := e.browser.setCookies(stateCookie)
	if len(states) != 2 {
		t.Fatalf("state cookies set: %d, want set then cleared", len(states))
	}
	if diff := cmp.Diff(attrs{"/auth/github", 600, true, false, http.SameSiteLaxMode}, of(states[0])); diff != "" {
		t.Errorf("state cookie (-want +got):\n%s", diff)
	}
	if states[1].MaxAge >= 0 {
		t.Errorf("state cookie not cleared at the callback: %+v", states[1])
	}
	sessions := e.browser.setCookies(sessionCookie)
	if len(sessions) != 1 {
		t.Fatalf("session cookies set: %d, want 1", len(sessions))
	}
	if diff := cmp.Diff(attrs{"/", 3600, true, false, http.SameSiteLaxMode}, of(sessions[0])); diff != "" {
		t.Errorf("session cookie (-want +got):\n%s", diff)
	}
	if got := e.gates.got(); len(got) != 0 {
		t.Errorf("signing in answered: %+v", got)
	}
	if logs := e.logs.String(); strings.Contains(logs, sessions[0].Value) || strings.Contains(logs, "ghu_") {
		t.Errorf("logs hold a credential:\n%s", logs)
	}
}

func TestSecureCookiesOnHTTPS(t *testing.T) {
	c := newCookies(testSecret, true)
	rec := httptest.NewRecorder()
	c.setSession(rec, "alice", time.Unix(0, 0))
	c.setState(rec, "s", "/respond/x")
	for _, ck := range (&http.Response{Header: rec.Header()}).Cookies() {
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %s on https: %+v, want Secure, HttpOnly, SameSite=Lax", ck.Name, ck)
		}
	}
}

func TestSession(t *testing.T) {
	c := newCookies(testSecret, false)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := httptest.NewRecorder()
	c.setSession(rec, "alice", now)
	good := (&http.Response{Header: rec.Header()}).Cookies()[0].Value
	other := newCookies([]byte("another secret key of 32 bytes!!"), false)

	tests := []struct {
		name   string
		value  string
		at     time.Time
		with   cookies
		signed bool
	}{
		{"good", good, now, c, true},
		{"just before expiry", good, now.Add(sessionTTL - time.Second), c, true},
		{"expired", good, now.Add(sessionTTL), c, false},
		{"another key", good, now, other, false},
		{"login changed", strings.Replace(good, "alice", "bob00", 1), now, c, false},
		{"expiry changed", strings.Replace(good, ".17", ".27", 1), now, c, false},
		{"truncated", good[:len(good)-2], now, c, false},
		{"empty", "", now, c, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: tt.value})
			login, ok := tt.with.session(r, tt.at)
			if ok != tt.signed || (ok && login != "alice") {
				t.Errorf("session = %q, %v; want signed in %v", login, ok, tt.signed)
			}
		})
	}
}

func TestSignInRefusals(t *testing.T) {
	tests := []struct {
		name string
		// run drives a fresh browser and returns the page it ends on.
		run        func(t *testing.T, e *env) page
		wantStatus int
		wantText   string
	}{
		{"callback without a sign-in started", func(t *testing.T, e *env) page {
			return e.browser.get(e.srv.URL + "/auth/github/callback?code=abc&state=xyz")
		}, http.StatusBadRequest, "not started here"},
		{"callback with another state", func(t *testing.T, e *env) page {
			e.browser.get(e.srv.URL + "/auth/github/login?next=" + url.QueryEscape("/respond/"+tokenOf(e.link("g1"))))
			return e.browser.get(e.srv.URL + "/auth/github/callback?code=abc&state=forged")
		}, http.StatusForbidden, "not started here"},
		{"access denied", func(t *testing.T, e *env) page {
			e.emu.DenyNextAuthorization()
			return e.browser.signIn(e.link("g1"), "alice")
		}, http.StatusForbidden, "declined to sign in"},
		{"failed exchange", func(t *testing.T, e *env) page {
			return e.browser.signIn(e.link("g1"), "alice")
		}, http.StatusBadGateway, "did not confirm who you are"},
		{"login to another site", func(t *testing.T, e *env) page {
			return e.browser.get(e.srv.URL + "/auth/github/login?next=" + url.QueryEscape("https://evil.example/respond/x"))
		}, http.StatusBadRequest, "Nothing to sign in for"},
		{"login to a scheme-relative URL", func(t *testing.T, e *env) page {
			return e.browser.get(e.srv.URL + "/auth/github/login?next=" + url.QueryEscape("//evil.example/respond/x"))
		}, http.StatusBadRequest, "Nothing to sign in for"},
		{"login to another local path", func(t *testing.T, e *env) page {
			return e.browser.get(e.srv.URL + "/auth/github/login?next=" + url.QueryEscape("/respond/../metrics"))
		}, http.StatusBadRequest, "Nothing to sign in for"},
		{"login with a backslash", func(t *testing.T, e *env) page {
			return e.browser.get(e.srv.URL + "/auth/github/login?next=" + url.QueryEscape(`/respond/\evil.example`))
		}, http.StatusBadRequest, "Nothing to sign in for"},
		{"callback returning to another site", func(t *testing.T, e *env) page {
			// A state cookie planted with a foreign return path, and a
			// code GitHub would accept: nothing is exchanged.
			u, _ := url.Parse(e.srv.URL + "/auth/github/callback")
			e.browser.jar.SetCookies(u, []*http.Cookie{{Name: stateCookie, Value: "st." + base64.RawURLEncoding.EncodeToString([]byte("https://evil.example/")), Path: "/auth/github"}})
			return e.browser.get(e.srv.URL + "/auth/github/callback?code=abc&state=st")
		}, http.StatusBadRequest, "Nothing to sign in for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := envOptions{}
			if tt.name == "failed exchange" {
				o.clientSecret = "not-the-secret"
			}
			e := newEnv(t, o)
			p := tt.run(t, e)
			if p.status != tt.wantStatus || !strings.Contains(p.body, tt.wantText) {
				t.Errorf("ended on %s with %d, want %d with %q:\n%s", p.url, p.status, tt.wantStatus, tt.wantText, p.body)
			}
			if p.url.Host != strings.TrimPrefix(e.srv.URL, "http://") {
				t.Errorf("ended on %s, away from the app", p.url)
			}
			if got := e.browser.setCookies(sessionCookie); len(got) != 0 {
				t.Errorf("a session was set: %+v", got)
			}
			checkHeaders(t, p)
		})
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	link := e.link("g1")
	e.browser.signIn(link, "alice")

	p := e.browser.post(e.srv.URL+"/auth/signout", url.Values{"next": {"/respond/" + tokenOf(link)}})
	if p.status != http.StatusOK || p.url.String() != link || !strings.Contains(p.body, "Sign in with GitHub to respond") {
		t.Errorf("after signing out: %d at %s, want the link's sign-in page:\n%s", p.status, p.url, p.body)
	}
	p = e.browser.post(e.srv.URL+"/auth/signout", url.Values{"next": {"https://evil.example/"}})
	if p.status != http.StatusOK || p.url.Path != "/auth/signout" || !strings.Contains(p.body, "Signed out") {
		t.Errorf("signing out with a foreign next: %d at %s, want the signed-out page", p.status, p.url)
	}
}

// tokenOf is the token of a link.
func tokenOf(link string) string {
	return link[strings.LastIndex(link, "/")+1:]
}
