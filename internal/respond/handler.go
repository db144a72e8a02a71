package respond

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

const (
	maxBody       = 64 << 10
	maxComment    = 2000
	cssPath       = "/respond/static/respond.css"
	signOutPath   = "/auth/signout"
	callbackPath  = authPath + "/callback"
	loginPath     = authPath + "/login"
	githubTimeout = 10 * time.Second
)

//go:embed static/respond.css
var css []byte

// Gates is what the page needs of the gates service.
type Gates interface {
	// Info describes a gate; gates.ErrNotFound for an unknown one.
	Info(ctx context.Context, gateID string) (gates.Info, error)
	// Answer records a decision on a gate.
	Answer(ctx context.Context, gateID string, a gates.Answer) (gates.Answered, error)
}

// OAuthOptions are the GitHub App's OAuth credentials and GitHub's URLs.
type OAuthOptions struct {
	ClientID     string
	ClientSecret string
	// ServerURL is GitHub's web URL (GITHUB_SERVER_URL), where people
	// sign in; APIURL is its API root (GITHUB_API_URL).
	ServerURL string
	APIURL    string
	// HTTPClient calls GitHub; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Options wire the response pages to the app.
type Options struct {
	Links *Links
	Gates Gates
	OAuth OAuthOptions
	// PublicURL is the app's external base URL; https makes the cookies
	// Secure.
	PublicURL string
	// Secret is the app's secret key; sessions and CSRF values are signed
	// with keys derived from it.
	Secret []byte
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the response pages and the GitHub sign-in they use.
type Handler struct {
	links   *Links
	gates   Gates
	oauth   *oauth2.Config
	apiURL  string
	client  *http.Client
	cookies cookies
	csp     string
	now     func() time.Time
	log     *slog.Logger
}

// New returns the handler of the response pages.
func New(o Options) *Handler {
	public := strings.TrimRight(o.PublicURL, "/")
	server := strings.TrimRight(o.OAuth.ServerURL, "/")
	h := &Handler{
		links: o.Links,
		gates: o.Gates,
		oauth: &oauth2.Config{
			ClientID:     o.OAuth.ClientID,
			ClientSecret: o.OAuth.ClientSecret,
			RedirectURL:  public + callbackPath,
			Endpoint: oauth2.Endpoint{
				AuthURL:   server + "/login/oauth/authorize",
				TokenURL:  server + "/login/oauth/access_token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		apiURL:  strings.TrimRight(o.OAuth.APIURL, "/") + "/",
		client:  o.OAuth.HTTPClient,
		cookies: newCookies(o.Secret, strings.HasPrefix(public, "https://")),
		csp:     contentSecurityPolicy(server),
		now:     o.Now,
		log:     o.Logger,
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: githubTimeout}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// contentSecurityPolicy allows the page's own stylesheet and forms posting
// to itself or (through the sign-in redirect) to GitHub, and nothing else.
func contentSecurityPolicy(server string) string {
	formAction := "'self'"
	if u, err := url.Parse(server); err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// Register adds the pages' routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /respond/{token}", h.show)
	mux.HandleFunc("POST /respond/{token}", h.answer)
	mux.HandleFunc("GET "+cssPath, h.stylesheet)
	mux.HandleFunc("GET "+loginPath, h.login)
	mux.HandleFunc("GET "+callbackPath, h.callback)
	mux.HandleFunc("POST "+signOutPath, h.signOut)
}

// secure sets the headers every answer carries.
func (h *Handler) secure(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
}

func (h *Handler) stylesheet(w http.ResponseWriter, _ *http.Request) {
	h.secure(w)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(css)
}

// link checks the request's token and answers for a bad one.
func (h *Handler) link(w http.ResponseWriter, r *http.Request) (claims, bool) {
	c, err := h.links.verify(r.PathValue("token"), h.now())
	switch {
	case errors.Is(err, errExpiredLink):
		h.message(w, r, http.StatusGone, view{Title: "This link has expired", Notice: "Ask for a new link, or answer on the approval issue."})
		return claims{}, false
	case err != nil:
		h.message(w, r, http.StatusNotFound, view{Title: "This link is not valid", Notice: "Check that the whole link was copied."})
		return claims{}, false
	}
	return c, true
}

// info loads the link's gate and answers when it cannot.
func (h *Handler) info(w http.ResponseWriter, r *http.Request, gateID string) (gates.Info, bool) {
	info, err := h.gates.Info(r.Context(), gateID)
	switch {
	case errors.Is(err, gates.ErrNotFound):
		h.message(w, r, http.StatusNotFound, view{Title: "No such approval request", Notice: "The gate this link was made for no longer exists."})
		return gates.Info{}, false
	case err != nil:
		h.log.ErrorContext(r.Context(), "load gate for response page", "gate", gateID, "error", err)
		h.message(w, r, http.StatusInternalServerError, view{Title: "Something went wrong", Notice: "The approval request could not be loaded. Try again in a moment."})
		return gates.Info{}, false
	}
	return info, true
}

// show serves GET (and HEAD) /respond/{token}: the sign-in page, the form,
// or the outcome of a settled gate. It changes nothing.
func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	c, ok := h.link(w, r)
	if !ok {
		return
	}
	info, ok := h.info(w, r, c.gate)
	if !ok {
		return
	}
	token := r.PathValue("token")
	login, signedIn := h.cookies.session(r, h.now())
	switch {
	case !signedIn:
		h.signInPage(w, r, http.StatusOK, token)
	case isSettled(info):
		h.message(w, r, http.StatusOK, view{Title: "This request is settled", Login: login, Next: r.URL.Path, Gate: newGateView(info)})
	default:
		h.render(w, r, formPage, http.StatusOK, view{
			Title: info.Title, Login: login, Next: r.URL.Path, Gate: newGateView(info),
			Form: newForm(info.Fields, r.URL.Path, h.cookies.csrf(login, token), nil, "", nil),
		})
	}
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request, status int, token string) {
	h.render(w, r, signInPage, status, view{
		Title:     "Sign in with GitHub to respond",
		SignInURL: loginPath + "?" + url.Values{"next": {"/respond/" + token}}.Encode(),
	})
}

// answer serves POST /respond/{token}: it records the signed-in person's
// decision once.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	c, ok := h.link(w, r)
	if !ok {
		return
	}
	token := r.PathValue("token")
	login, signedIn := h.cookies.session(r, h.now())
	if !signedIn {
		h.signInPage(w, r, http.StatusForbidden, token)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.message(w, r, http.StatusRequestEntityTooLarge, view{Title: "Too much to send", Notice: "The form was larger than 64 KiB."})
			return
		}
		h.message(w, r, http.StatusBadRequest, view{Title: "The form could not be read", Notice: "Go back and send it again."})
		return
	}
	if !h.cookies.checkCSRF(login, token, r.PostForm.Get("_csrf")) {
		h.message(w, r, http.StatusForbidden, view{Title: "This form has expired", Notice: "Open the link again and answer from the page it shows.", Login: login, Next: r.URL.Path})
		return
	}
	info, ok := h.info(w, r, c.gate)
	if !ok {
		return
	}
	decision, form := splitDecision(r.PostForm)
	if decision != approval.Approve && decision != approval.Reject {
		h.message(w, r, http.StatusBadRequest, view{Title: "Choose approve or reject", Notice: "Go back and press one of the two buttons.", Login: login, Next: r.URL.Path})
		return
	}
	comment := capRunes(strings.TrimSpace(form.Get("_comment")), maxComment)
	res, err := h.gates.Answer(r.Context(), c.gate, gates.Answer{
		ID:       "link:" + c.gate + ":" + strings.ToLower(login),
		Actor:    approval.Actor{Login: login},
		Via:      approval.ViaTeams,
		Decision: decision,
		Fields:   formValues(info.Fields, form),
		Comment:  comment,
		At:       h.now(),
	})
	switch {
	case errors.Is(err, gates.ErrNotFound):
		h.message(w, r, http.StatusNotFound, view{Title: "No such approval request", Notice: "The gate this link was made for no longer exists."})
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "record response page answer", "gate", c.gate, "login", login, "error", err)
		h.message(w, r, http.StatusInternalServerError, view{Title: "Something went wrong", Notice: "Your answer was not recorded. Try again in a moment.", Login: login, Next: r.URL.Path})
		return
	}
	h.log.InfoContext(r.Context(), "response page answer", "gate", c.gate, "login", login, "decision", string(decision), "result", string(res.Result))
	v := view{Login: login, Next: r.URL.Path, Gate: newGateView(res.Gate)}
	switch res.Result {
	case gates.Recorded:
		v.Title = "Recorded"
		v.Notice = "You " + pastTense(decision) + " “" + res.Gate.Title + "” as @" + login + "."
		if res.Identity != "" && !strings.EqualFold(res.Identity, login) {
			v.Notice += " It counts as " + res.Identity + "."
		}
		h.message(w, r, http.StatusOK, v)
	case gates.Duplicate:
		v.Title = "You have already responded"
		v.Notice = "Your earlier answer stands."
		h.message(w, r, http.StatusConflict, v)
	case gates.Invalid:
		v.Title = res.Gate.Title
		v.Form = newForm(info.Fields, r.URL.Path, h.cookies.csrf(login, token), form, comment, res.Problems)
		h.render(w, r, formPage, http.StatusUnprocessableEntity, v)
	case gates.NotEligible:
		v.Title = "Your answer does not count"
		v.Notice = res.Reason
		h.message(w, r, http.StatusForbidden, v)
	case gates.Closed:
		v.Title = "This request is settled"
		v.Notice = "The request was settled, or its deadline had passed, before your answer arrived: it was not recorded."
		h.message(w, r, http.StatusConflict, v)
	default:
		h.log.ErrorContext(r.Context(), "unknown answer result", "gate", c.gate, "result", string(res.Result))
		h.message(w, r, http.StatusInternalServerError, view{Title: "Something went wrong", Login: login, Next: r.URL.Path})
	}
}

// splitDecision takes the pressed button's value out of the form. The
// buttons come after every input, so a field that is itself named
// "decision" keeps the values before it.
func splitDecision(form url.Values) (approval.Decision, url.Values) {
	vals := form["decision"]
	if len(vals) == 0 {
		return "", form
	}
	rest := maps.Clone(form)
	rest["decision"] = vals[:len(vals)-1]
	return approval.Decision(vals[len(vals)-1]), rest
}

func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func pastTense(d approval.Decision) string {
	if d == approval.Approve {
		return "approved"
	}
	return "rejected"
}

func isSettled(info gates.Info) bool {
	return approval.Status(info.View.Status).Settled()
}

// message renders a page of text, with the gate when v has one.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, v view) {
	h.render(w, r, messagePage, status, v)
}
