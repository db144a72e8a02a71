package ghemu

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	oauthCodeTTL         = 10 * time.Minute
	userTokenTTL         = 8 * time.Hour
	refreshTokenTTL      = 184 * 24 * time.Hour
	webSessionCookie     = "user_session"
	troubleshootingRoot  = "https://docs.github.com/apps/managing-oauth-apps/"
	authorizationErrors  = troubleshootingRoot + "troubleshooting-authorization-request-errors"
	accessTokenErrors    = troubleshootingRoot + "troubleshooting-oauth-app-access-token-request-errors"
	msgRedirectMismatch  = "The redirect_uri MUST match the registered callback URL for this application."
	msgAccessDenied      = "The user has denied your application access."
	msgBadCode           = "The code passed is incorrect or expired."
	msgIncorrectClient   = "The client_id and/or client_secret passed are incorrect."
	msgUnsupportedGrant  = "The grant type is not supported."
	msgIncorrectLoginWeb = "Incorrect username or password."
)

// oauthState is the App's OAuth web flow: its client secret and callback
// URL, the browsers signed in on the web host, and the codes handed out.
// Guarded by Emulator.mu.
type oauthState struct {
	secret   string
	callback *url.URL
	sessions map[string]*account // session cookie value -> person
	codes    map[string]*oauthCode
	deny     bool
}

type oauthCode struct {
	acct        *account
	redirectURI string
	expires     time.Time
}

// oauthFlow returns the OAuth state, set up on first use. Callers hold e.mu.
func (e *Emulator) oauthFlow() *oauthState {
	o := &e.oauth
	if o.secret == "" {
		o.secret = randomHex(20)
		o.sessions = map[string]*account{}
		o.codes = map[string]*oauthCode{}
	}
	return o
}

// randomHex returns n random bytes in hex, the form of GitHub's client
// secrets and authorization codes.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// AppClientID is the App's OAuth client id ("Iv1.…").
func (e *Emulator) AppClientID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.app.clientID
}

// AppClientSecret is the App's OAuth client secret, generated on first use.
func (e *Emulator) AppClientSecret() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.oauthFlow().secret
}

// SetAppCallbackURL registers the App's user authorization callback URL:
// the redirect_uri of an authorization must then be it or below it (same
// scheme, host and port; a path under its path), and an authorization
// without one goes to it.
func (e *Emulator) SetAppCallbackURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("ghemu: callback URL %q is not an absolute http(s) URL", u)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.oauthFlow().callback = p
	return nil
}

// DenyNextAuthorization makes the next authorization of a signed-in person
// end as if they had pressed Cancel: a redirect with error=access_denied.
func (e *Emulator) DenyNextAuthorization() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.oauthFlow().deny = true
}

var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in to GitHub · GitHub</title></head>
<body>
<h1>Sign in to GitHub</h1>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="get" action="/login">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<label for="login_field">Username</label>
<input type="text" id="login_field" name="login" autofocus>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`))

// serveLogin serves GET /login, which stands for github.com's sign-in form:
// with ?login=<person> it signs the browser in as that person (no password)
// and redirects to return_to, a path on this host; without, it shows a form
// asking for the login.
func (e *Emulator) serveLogin(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	q := r.URL.Query()
	returnTo := q.Get("return_to")
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") || strings.Contains(returnTo, `\`) {
		returnTo = "/"
	}
	login := q.Get("login")
	page := struct{ ReturnTo, Error string }{ReturnTo: returnTo}
	if login == "" {
		e.writeLoginPage(w, http.StatusOK, page)
		return
	}
	e.mu.Lock()
	acct := e.accounts[lower(login)]
	var session string
	if acct != nil && acct.kind == kindUser {
		session = randomHex(24)
		e.oauthFlow().sessions[session] = acct
	}
	e.mu.Unlock()
	if session == "" {
		page.Error = msgIncorrectLoginWeb
		e.writeLoginPage(w, http.StatusUnauthorized, page)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: webSessionCookie, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, returnTo, http.StatusFound)
}

func (e *Emulator) writeLoginPage(w http.ResponseWriter, status int, page any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, page); err != nil {
		e.logf("ghemu: render login page: %v", err)
	}
}

// serveAuthorize serves GET /login/oauth/authorize for the App's user
// authorization: an unknown client_id is 404; a browser not signed in goes
// to /login first; a signed-in person is sent back to redirect_uri with a
// code and the state, as if they had authorized the App.
func (e *Emulator) serveAuthorize(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.oauthFlow()
	if q.Get("client_id") != e.app.clientID {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	redirect, mismatch := o.redirectTarget(q.Get("redirect_uri"))
	if redirect == nil {
		http.Error(w, "The redirect_uri is missing or is not an absolute http(s) URL.", http.StatusBadRequest)
		return
	}
	back := url.Values{}
	if s := q.Get("state"); s != "" {
		back.Set("state", s)
	}
	if mismatch {
		back.Set("error", "redirect_uri_mismatch")
		back.Set("error_description", msgRedirectMismatch)
		back.Set("error_uri", authorizationErrors+"#redirect-uri-mismatch")
		http.Redirect(w, r, withQuery(redirect, back), http.StatusFound)
		return
	}
	var acct *account
	if c, err := r.Cookie(webSessionCookie); err == nil {
		acct = o.sessions[c.Value]
	}
	if acct == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		return
	}
	if o.deny {
		o.deny = false
		back.Set("error", "access_denied")
		back.Set("error_description", msgAccessDenied)
		back.Set("error_uri", authorizationErrors+"#access-denied")
		http.Redirect(w, r, withQuery(redirect, back), http.StatusFound)
		return
	}
	code := randomHex(10)
	o.codes[code] = &oauthCode{acct: acct, redirectURI: q.Get("redirect_uri"), expires: e.clock().Add(oauthCodeTTL)}
	back.Set("code", code)
	http.Redirect(w, r, withQuery(redirect, back), http.StatusFound)
}

// redirectTarget is where an authorization goes back to: redirect_uri when
// it is allowed, else the registered callback URL with mismatch set. Nil
// when there is neither a usable redirect_uri nor a callback URL.
func (o *oauthState) redirectTarget(raw string) (target *url.URL, mismatch bool) {
	if raw == "" {
		return o.callback, false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o.callback, o.callback != nil
	}
	if cb := o.callback; cb != nil && (u.Scheme != cb.Scheme || u.Host != cb.Host || !underPath(u.Path, cb.Path)) {
		return cb, true
	}
	return u, false
}

// underPath reports whether p is base or a path below it.
func underPath(p, base string) bool {
	base = strings.TrimSuffix(base, "/")
	return p == base || strings.HasPrefix(p, base+"/")
}

func withQuery(u *url.URL, add url.Values) string {
	v := *u
	q := v.Query()
	for k, vs := range add {
		q[k] = vs
	}
	v.RawQuery = q.Encode()
	return v.String()
}

type userTokenJSON struct {
	AccessToken           string `json:"access_token"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshToken          string `json:"refresh_token"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`
	Scope                 string `json:"scope"`
	TokenType             string `json:"token_type"`
}

func (t userTokenJSON) form() url.Values {
	return url.Values{
		"access_token":             {t.AccessToken},
		"expires_in":               {strconv.FormatInt(t.ExpiresIn, 10)},
		"refresh_token":            {t.RefreshToken},
		"refresh_token_expires_in": {strconv.FormatInt(t.RefreshTokenExpiresIn, 10)},
		"scope":                    {t.Scope},
		"token_type":               {t.TokenType},
	}
}

type oauthErrorJSON struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorURI         string `json:"error_uri"`
}

func (e oauthErrorJSON) form() url.Values {
	return url.Values{"error": {e.Error}, "error_description": {e.ErrorDescription}, "error_uri": {e.ErrorURI}}
}

// oauthAnswer is an answer of the access token endpoint.
type oauthAnswer interface{ form() url.Values }

// serveAccessToken serves POST /login/oauth/access_token: it exchanges a
// code for a user access token of the App (ghu_…, 8 hours, with a ghr_…
// refresh token). Client credentials come as form fields or HTTP Basic.
// Errors are 200 with an error body, as GitHub answers them. The answer is
// JSON when Accept asks for it, else form-encoded.
func (e *Emulator) serveAccessToken(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	answer := func(v oauthAnswer) { writeOAuth(w, r, v) }
	fail := func(code, desc, anchor string) {
		answer(oauthErrorJSON{Error: code, ErrorDescription: desc, ErrorURI: accessTokenErrors + anchor})
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.oauthFlow()
	if clientID != e.app.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(o.secret)) != 1 {
		fail("incorrect_client_credentials", msgIncorrectClient, "#incorrect-client-credentials")
		return
	}
	if g := r.Form.Get("grant_type"); g != "" && g != "authorization_code" {
		fail("unsupported_grant_type", msgUnsupportedGrant, "#unsupported-grant-type")
		return
	}
	code := o.codes[r.Form.Get("code")]
	if code == nil || !e.clock().Before(code.expires) {
		fail("bad_verification_code", msgBadCode, "#bad-verification-code")
		return
	}
	if ru := r.Form.Get("redirect_uri"); ru != "" && ru != code.redirectURI {
		fail("redirect_uri_mismatch", msgRedirectMismatch, "#redirect-uri-mismatch")
		return
	}
	delete(o.codes, r.Form.Get("code"))
	access, err := randomToken("ghu_")
	if err != nil {
		http.Error(w, "Server Error", http.StatusInternalServerError)
		return
	}
	refresh, err := randomToken("ghr_")
	if err != nil {
		http.Error(w, "Server Error", http.StatusInternalServerError)
		return
	}
	e.tokens[access] = &token{value: access, acct: code.acct, scopes: map[string]bool{}, expires: e.now().Add(userTokenTTL)}
	answer(userTokenJSON{
		AccessToken:           access,
		ExpiresIn:             int64(userTokenTTL / time.Second),
		RefreshToken:          refresh,
		RefreshTokenExpiresIn: int64(refreshTokenTTL / time.Second),
		TokenType:             "bearer",
	})
}

// writeOAuth writes an access token answer, always with status 200: as
// JSON when Accept asks for it, else form-encoded, GitHub's default.
func writeOAuth(w http.ResponseWriter, r *http.Request, v oauthAnswer) {
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = io.WriteString(w, v.form().Encode())
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}
