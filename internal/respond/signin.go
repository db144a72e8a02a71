package respond

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v62/github"
	"golang.org/x/oauth2"
)

// login serves GET /auth/github/login?next=/respond/…: it starts the
// GitHub sign-in, remembering its state and where to return in a cookie.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !respondPath.MatchString(next) {
		h.message(w, r, http.StatusBadRequest, view{Title: "Nothing to sign in for", Notice: "Sign-in starts from the link to an approval request."})
		return
	}
	state := newState()
	h.secure(w)
	h.cookies.setState(w, state, next)
	http.Redirect(w, r, h.oauth.AuthCodeURL(state), http.StatusFound)
}

// callback serves GET /auth/github/callback: GitHub sends the person back
// with a code, which is exchanged for a user token to learn their login.
// The token is used once and not kept.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, next, ok := h.cookies.state(r)
	h.cookies.clearState(w)
	switch {
	case !ok:
		h.message(w, r, http.StatusBadRequest, view{Title: "Sign-in not recognised", Notice: "This sign-in was not started here, or took more than 10 minutes. Open the link again."})
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
		h.message(w, r, http.StatusForbidden, view{Title: "Sign-in not recognised", Notice: "GitHub sent back a sign-in that was not started here. Open the link again."})
		return
	case !respondPath.MatchString(next):
		h.message(w, r, http.StatusBadRequest, view{Title: "Nothing to sign in for", Notice: "Sign-in starts from the link to an approval request."})
		return
	case q.Get("error") == "access_denied":
		h.message(w, r, http.StatusForbidden, view{Title: "Sign-in cancelled", Notice: "GitHub says you declined to sign in, so you cannot respond. Open the link again to retry."})
		return
	case q.Get("error") != "":
		h.message(w, r, http.StatusBadRequest, view{Title: "GitHub did not sign you in", Notice: "GitHub answered: " + q.Get("error") + ". Open the link again to retry."})
		return
	case q.Get("code") == "":
		h.message(w, r, http.StatusBadRequest, view{Title: "GitHub did not sign you in", Notice: "GitHub sent back no code. Open the link again to retry."})
		return
	}
	login, err := h.githubLogin(r.Context(), q.Get("code"))
	if err != nil {
		h.log.WarnContext(r.Context(), "GitHub sign-in failed", "error", err)
		h.message(w, r, http.StatusBadGateway, view{Title: "GitHub did not sign you in", Notice: "GitHub did not confirm who you are. Open the link again to retry."})
		return
	}
	h.log.InfoContext(r.Context(), "signed in with GitHub", "login", login)
	h.secure(w)
	h.cookies.setSession(w, login, h.now())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// githubLogin exchanges an authorization code and returns whose it is.
func (h *Handler) githubLogin(ctx context.Context, code string) (string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, h.client)
	tok, err := h.oauth.Exchange(ctx, code)
	if err != nil {
		return "", fmt.Errorf("exchange code: %w", err)
	}
	base, err := url.Parse(h.apiURL)
	if err != nil {
		return "", fmt.Errorf("API URL %q: %w", h.apiURL, err)
	}
	gh := github.NewClient(h.client).WithAuthToken(tok.AccessToken)
	gh.BaseURL = base
	user, _, err := gh.Users.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("get the signed-in user: %w", err)
	}
	if !githubLogin.MatchString(user.GetLogin()) {
		return "", fmt.Errorf("GitHub answered an unusable login %q", user.GetLogin())
	}
	return user.GetLogin(), nil
}

// signOut serves POST /auth/signout: it forgets the session and returns to
// the page it came from.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	next := r.PostFormValue("next")
	h.secure(w)
	h.cookies.clearSession(w)
	if !respondPath.MatchString(next) {
		h.message(w, r, http.StatusOK, view{Title: "Signed out"})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
