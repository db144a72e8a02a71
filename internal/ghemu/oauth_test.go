package ghemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// oauthClient is an application using the App's OAuth web flow: its
// callback records what the emulator sends back, and browser is a person's
// browser with a cookie jar that follows redirects.
type oauthClient struct {
	emu      *Emulator
	conf     *oauth2.Config
	callback string
	browser  *http.Client
	got      chan url.Values
}

func newOAuthClient(t *testing.T, emu *Emulator) *oauthClient {
	t.Helper()
	c := &oauthClient{emu: emu, got: make(chan url.Values, 1)}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.got <- r.URL.Query()
		_, _ = io.WriteString(w, "signed in")
	}))
	t.Cleanup(app.Close)
	c.callback = app.URL + "/auth/github/callback"
	check(t, emu.SetAppCallbackURL(c.callback))
	c.conf = &oauth2.Config{
		ClientID:     emu.AppClientID(),
		ClientSecret: emu.AppClientSecret(),
		RedirectURL:  c.callback,
		Endpoint: oauth2.Endpoint{
			AuthURL:   emu.WebURL() + "/login/oauth/authorize",
			TokenURL:  emu.WebURL() + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	jar, err := cookiejar.New(nil)
	check(t, err)
	c.browser = &http.Client{Jar: jar}
	return c
}

// visit has the browser GET u and returns the final status and body.
func (c *oauthClient) visit(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := c.browser.Get(u)
	check(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(t, err)
	return resp.StatusCode, string(b)
}

// authorize signs the browser in as login and authorizes the App, returning
// what the callback received.
func (c *oauthClient) authorize(t *testing.T, login, state string) url.Values {
	t.Helper()
	status, body := c.visit(t, c.conf.AuthCodeURL(state))
	if status != http.StatusOK || !strings.Contains(body, "Sign in to GitHub") {
		t.Fatalf("authorize without a session: %d %s, want the sign-in page", status, body)
	}
	signIn := c.emu.WebURL() + "/login?" + url.Values{"login": {login}, "return_to": {strings.TrimPrefix(c.conf.AuthCodeURL(state), c.emu.WebURL())}}.Encode()
	if status, body := c.visit(t, signIn); status != http.StatusOK {
		t.Fatalf("sign in: %d %s", status, body)
	}
	return c.received(t)
}

// received returns what the callback got during the last visit.
func (c *oauthClient) received(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-c.got:
		return q
	default:
		t.Fatal("the callback was not reached")
		return nil
	}
}

func TestOAuthWebFlow(t *testing.T) {
	emu := start(t, Options{})
	must[string](t)(emu.AddUser("alice"))
	c := newOAuthClient(t, emu)

	q := c.authorize(t, "alice", "st4te")
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("callback query = %v, want code and state", q)
	}
	tok, err := c.conf.Exchange(t.Context(), q.Get("code"))
	check(t, err)
	if !strings.HasPrefix(tok.AccessToken, "ghu_") || tok.TokenType != "bearer" ||
		!strings.HasPrefix(tok.RefreshToken, "ghr_") || tok.Extra("expires_in") != int64(28800) {
		t.Errorf("token = %+v, want a ghu_ bearer token for 8 hours with a ghr_ refresh token", tok)
	}
	user, _, err := client(t, emu, tok.AccessToken).Users.Get(t.Context(), "")
	check(t, err)
	if user.GetLogin() != "alice" {
		t.Errorf("GET /user as the user token = %q, want alice", user.GetLogin())
	}

	// Signed in already: the browser goes straight back with a new code.
	status, _ := c.visit(t, c.conf.AuthCodeURL("again"))
	q2 := c.received(t)
	if status != http.StatusOK || q2.Get("state") != "again" || q2.Get("code") == "" || q2.Get("code") == q.Get("code") {
		t.Errorf("second authorization: %d %v, want a new code", status, q2)
	}

	// Codes are single-use.
	_, err = c.conf.Exchange(t.Context(), q.Get("code"))
	if code := retrieveErrorCode(t, err); code != "bad_verification_code" {
		t.Errorf("reused code: error %q, want bad_verification_code", code)
	}
}

func retrieveErrorCode(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v (%T), want *oauth2.RetrieveError", err, err)
	}
	if re.Response.StatusCode != http.StatusOK {
		t.Errorf("error status = %d, want 200 as GitHub answers", re.Response.StatusCode)
	}
	return re.ErrorCode
}

func TestOAuthTokenErrors(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	emu := start(t, Options{Now: clock.Now})
	must[string](t)(emu.AddUser("alice"))

	tests := []struct {
		name   string
		change func(conf *oauth2.Config, code string) (*oauth2.Config, string)
		want   string
	}{
		{"unknown code", func(conf *oauth2.Config, _ string) (*oauth2.Config, string) {
			return conf, "0123456789abcdef0123"
		}, "bad_verification_code"},
		{"wrong secret", func(conf *oauth2.Config, code string) (*oauth2.Config, string) {
			bad := *conf
			bad.ClientSecret = "nope"
			return &bad, code
		}, "incorrect_client_credentials"},
		{"other client", func(conf *oauth2.Config, code string) (*oauth2.Config, string) {
			bad := *conf
			bad.ClientID = "Iv1.other"
			return &bad, code
		}, "incorrect_client_credentials"},
		{"other redirect_uri", func(conf *oauth2.Config, code string) (*oauth2.Config, string) {
			bad := *conf
			bad.RedirectURL = conf.RedirectURL + "/elsewhere"
			return &bad, code
		}, "redirect_uri_mismatch"},
		{"expired code", func(conf *oauth2.Config, code string) (*oauth2.Config, string) {
			clock.Advance(oauthCodeTTL)
			return conf, code
		}, "bad_verification_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newOAuthClient(t, emu)
			q := c.authorize(t, "alice", "s")
			conf, code := tt.change(c.conf, q.Get("code"))
			_, err := conf.Exchange(t.Context(), code)
			if got := retrieveErrorCode(t, err); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
			// The code still works for its own client, unless it expired.
			_, err = c.conf.Exchange(t.Context(), q.Get("code"))
			if tt.name == "expired code" {
				if got := retrieveErrorCode(t, err); got != "bad_verification_code" {
					t.Errorf("expired code for its own client: error %q", got)
				}
			} else if err != nil {
				t.Errorf("exchange by its own client after a failed one: %v", err)
			}
		})
	}
}

func TestOAuthUserTokenExpires(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	emu := start(t, Options{Now: clock.Now})
	must[string](t)(emu.AddUser("alice"))
	c := newOAuthClient(t, emu)
	tok, err := c.conf.Exchange(t.Context(), c.authorize(t, "alice", "s").Get("code"))
	check(t, err)

	clock.Advance(userTokenTTL - time.Second)
	_, _, err = client(t, emu, tok.AccessToken).Users.Get(t.Context(), "")
	check(t, err)
	clock.Advance(time.Second)
	_, _, err = client(t, emu, tok.AccessToken).Users.Get(t.Context(), "")
	if er := errorResponse(t, err, http.StatusUnauthorized); er.Message != "Bad credentials" {
		t.Errorf("expired user token: %q, want Bad credentials", er.Message)
	}
}

func TestOAuthAccessTokenEncodings(t *testing.T) {
	emu := start(t, Options{})
	must[string](t)(emu.AddUser("alice"))

	// post sends a token request and reads the answer as a form, or as
	// JSON when asJSON is set.
	post := func(t *testing.T, c *oauthClient, code string, asJSON bool) map[string]string {
		t.Helper()
		form := url.Values{"client_id": {c.conf.ClientID}, "client_secret": {c.conf.ClientSecret}, "code": {code}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, emu.WebURL()+"/login/oauth/access_token", strings.NewReader(form.Encode()))
		check(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantType := "application/x-www-form-urlencoded"
		if asJSON {
			req.Header.Set("Accept", "application/json")
			wantType = "application/json"
		}
		resp, err := http.DefaultClient.Do(req)
		check(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		check(t, err)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
			t.Fatalf("answer %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		out := map[string]string{}
		if asJSON {
			var v map[string]json.RawMessage
			decodeJSON(t, b, &v)
			for k, x := range v {
				out[k] = strings.Trim(string(x), `"`)
			}
			return out
		}
		v, err := url.ParseQuery(string(b))
		check(t, err)
		for k := range v {
			out[k] = v.Get(k)
		}
		return out
	}
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			c := newOAuthClient(t, emu)
			want := map[string]string{
				"error":             "bad_verification_code",
				"error_description": "The code passed is incorrect or expired.",
				"error_uri":         "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors#bad-verification-code",
			}
			if diff := cmp.Diff(want, post(t, c, "nope", asJSON)); diff != "" {
				t.Errorf("bad code (-want +got):\n%s", diff)
			}
			good := post(t, c, c.authorize(t, "alice", "s").Get("code"), asJSON)
			if !strings.HasPrefix(good["access_token"], "ghu_") || !strings.HasPrefix(good["refresh_token"], "ghr_") {
				t.Errorf("tokens = %v", good)
			}
			delete(good, "access_token")
			delete(good, "refresh_token")
			want = map[string]string{"expires_in": "28800", "refresh_token_expires_in": "15897600", "scope": "", "token_type": "bearer"}
			if diff := cmp.Diff(want, good); diff != "" {
				t.Errorf("token answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOAuthAuthorizeAnswers(t *testing.T) {
	emu := start(t, Options{})
	must[string](t)(emu.AddUser("alice"))

	t.Run("denied", func(t *testing.T) {
		c := newOAuthClient(t, emu)
		emu.DenyNextAuthorization()
		q := c.authorize(t, "alice", "xyz")
		want := url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user has denied your application access."},
			"error_uri":         {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors#access-denied"},
			"state":             {"xyz"},
		}
		if diff := cmp.Diff(want, q); diff != "" {
			t.Errorf("callback query (-want +got):\n%s", diff)
		}
		// Only the next one.
		c.visit(t, c.conf.AuthCodeURL("later"))
		if q := c.received(t); q.Get("code") == "" {
			t.Errorf("authorization after the denied one: %v, want a code", q)
		}
	})
	t.Run("redirect_uri outside the callback URL", func(t *testing.T) {
		c := newOAuthClient(t, emu)
		for _, ru := range []string{"https://evil.example/auth/github/callback", c.callback + "-x", strings.Replace(c.callback, "/auth/github/callback", "/other", 1)} {
			conf := *c.conf
			conf.RedirectURL = ru
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.Get(conf.AuthCodeURL("s"))
			check(t, err)
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			check(t, err)
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), c.callback+"?") || loc.Query().Get("error") != "redirect_uri_mismatch" {
				t.Errorf("redirect_uri %s: %d to %s, want the callback URL with redirect_uri_mismatch", ru, resp.StatusCode, loc)
			}
		}
		// Below the callback URL is allowed.
		conf := *c.conf
		conf.RedirectURL = c.callback + "/below"
		resp, err := c.browser.Get(conf.AuthCodeURL("s"))
		check(t, err)
		resp.Body.Close()
		c.visit(t, emu.WebURL()+"/login?"+url.Values{"login": {"alice"}, "return_to": {strings.TrimPrefix(conf.AuthCodeURL("s"), emu.WebURL())}}.Encode())
		if q := c.received(t); q.Get("code") == "" {
			t.Errorf("redirect_uri below the callback URL: %v, want a code", q)
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		c := newOAuthClient(t, emu)
		conf := *c.conf
		conf.ClientID = "Iv1.unknown"
		if status, _ := c.visit(t, conf.AuthCodeURL("s")); status != http.StatusNotFound {
			t.Errorf("unknown client_id: %d, want 404", status)
		}
	})
}

func TestWebLogin(t *testing.T) {
	emu := start(t, Options{})
	must[string](t)(emu.AddUser("alice"))
	must[string](t)(emu.AddBot("github-actions"))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		query      url.Values
		wantStatus int
		wantTo     string
	}{
		{url.Values{"login": {"alice"}, "return_to": {"/login/oauth/authorize?client_id=x"}}, http.StatusFound, "/login/oauth/authorize?client_id=x"},
		{url.Values{"login": {"ALICE"}}, http.StatusFound, "/"},
		{url.Values{"login": {"alice"}, "return_to": {"https://evil.example/"}}, http.StatusFound, "/"},
		{url.Values{"login": {"alice"}, "return_to": {"//evil.example/"}}, http.StatusFound, "/"},
		{url.Values{"login": {"alice"}, "return_to": {`/\evil.example/`}}, http.StatusFound, "/"},
		{url.Values{"login": {"nobody"}}, http.StatusUnauthorized, ""},
		{url.Values{"login": {"github-actions[bot]"}}, http.StatusUnauthorized, ""},
		{url.Values{}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.query.Encode(), func(t *testing.T) {
			resp, err := noFollow.Get(emu.WebURL() + "/login?" + tt.query.Encode())
			check(t, err)
			resp.Body.Close()
			var session bool
			for _, c := range resp.Cookies() {
				session = session || (c.Name == "user_session" && c.HttpOnly && c.Value != "")
			}
			got := []any{resp.StatusCode, resp.Header.Get("Location"), session}
			want := []any{tt.wantStatus, tt.wantTo, tt.wantStatus == http.StatusFound}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, Location, session cookie (-want +got):\n%s", diff)
			}
		})
	}
}
