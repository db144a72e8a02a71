package respond

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	sessionCookie = "gatehouse_session"
	stateCookie   = "gatehouse_oauth"
	sessionTTL    = time.Hour
	stateTTL      = 10 * time.Minute
	authPath      = "/auth/github"
)

// githubLogin is the shape of a GitHub login.
var githubLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// respondPath is a local response page path: the only place sign-in
// returns to.
var respondPath = regexp.MustCompile(`^/respond/[A-Za-z0-9_-]+$`)

// cookies signs and reads the page's cookies and CSRF values.
type cookies struct {
	sessionKey []byte
	csrfKey    []byte
	secure     bool
}

func newCookies(secret []byte, secure bool) cookies {
	return cookies{
		sessionKey: derive(secret, "gatehouse respond session"),
		csrfKey:    derive(secret, "gatehouse respond csrf"),
		secure:     secure,
	}
}

// mac signs parts with key.
func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "\n")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setSession signs the person in: "v1.<login>.<expiry>.<mac>".
func (c cookies) setSession(w http.ResponseWriter, login string, now time.Time) {
	exp := strconv.FormatInt(now.Add(sessionTTL).Unix(), 10)
	value := strings.Join([]string{"v1", login, exp, mac(c.sessionKey, "v1", login, exp)}, ".")
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// session returns the signed-in login, if any.
func (c cookies) session(r *http.Request, now time.Time) (string, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", false
	}
	login, exp := parts[1], parts[2]
	if !hmac.Equal([]byte(parts[3]), []byte(mac(c.sessionKey, "v1", login, exp))) {
		return "", false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) || !githubLogin.MatchString(login) {
		return "", false
	}
	return login, true
}

func (c cookies) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

// csrf is the form's CSRF value: bound to the signed-in person and to the
// link, so that it is good for that person on that page only.
func (c cookies) csrf(login, token string) string {
	return mac(c.csrfKey, login, token)
}

func (c cookies) checkCSRF(login, token, got string) bool {
	return hmac.Equal([]byte(got), []byte(c.csrf(login, token)))
}

// newState returns a fresh OAuth state value.
func newState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// setState remembers a sign-in in progress: its state and where it returns
// to. The cookie goes only to the sign-in paths.
func (c cookies) setState(w http.ResponseWriter, state, next string) {
	http.SetCookie(w, &http.Cookie{
		Name: stateCookie, Value: state + "." + base64.RawURLEncoding.EncodeToString([]byte(next)), Path: authPath,
		MaxAge: int(stateTTL / time.Second), HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// state reads the sign-in in progress.
func (c cookies) state(r *http.Request) (state, next string, ok bool) {
	ck, err := r.Cookie(stateCookie)
	if err != nil {
		return "", "", false
	}
	state, enc, found := strings.Cut(ck.Value, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if !found || state == "" || err != nil {
		return "", "", false
	}
	return state, string(raw), true
}

func (c cookies) clearState(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: authPath, MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}
