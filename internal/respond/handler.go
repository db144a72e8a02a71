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
	// Response is the response the gate recorded under an answer ID, if
	// any.
	Response(ctx context.Context, gateID, answerID string) (approval.Response, bool, error)
}

// OAuthOptions are the GitHub App's OAuth credentials and GitHub's URLs.
// Without a ClientID there is no GitHub sign-in: channel links answer 503
// and the /auth/ routes are not registered; email links need none.
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
	signIn  bool
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
	signIn := o.OAuth.ClientID != ""
	h := &Handler{
		links:  o.Links,
		gates:  o.Gates,
		signIn: signIn,
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
		csp:     contentSecurityPolicy(signIn, server),
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
// to itself or, with GitHub sign-in, (through the sign-in redirect) to
// GitHub, and nothing else.
func contentSecurityPolicy(signIn bool, server string) string {
	formAction := "'self'"
	if u, err := url.Parse(server); signIn && err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// Register adds the pages' routes to mux: the sign-in routes only when
// GitHub sign-in is set up.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /respond/{token}", h.show)
	mux.HandleFunc("POST /respond/{token}", h.answer)
	mux.HandleFunc("GET "+cssPath, h.stylesheet)
	if h.signIn {
		mux.HandleFunc("GET "+loginPath, h.login)
		mux.HandleFunc("GET "+callbackPath, h.callback)
		mux.HandleFunc("POST "+signOutPath, h.signOut)
	}
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

// responder is who answers through a link.
type responder struct {
	// id is the login signed in with GitHub, or the address an email link
	// was sent to.
	id    string
	email bool
	// subject binds the form's CSRF value to the person: the login, or
	// "email:<address>", which no login can be.
	subject  string
	answerID string
	actor    approval.Actor
	via      approval.Via
}

// name is how a notice names the person.
func (p responder) name() string {
	if p.email {
		return p.id
	}
	return "@" + p.id
}

func (p responder) logAttr() slog.Attr {
	if p.email {
		return slog.String("recipient", p.id)
	}
	return slog.String("login", p.id)
}

// view is a page for the responder: its header names them.
func (p responder) view(r *http.Request) view {
	if p.email {
		return view{Recipient: p.id}
	}
	return view{Login: p.id, Next: r.URL.Path}
}

// responder establishes who answers through link c: an email link's
// recipient, who holds the link, or the person signed in with GitHub. When
// nobody is signed in it answers the request with the sign-in page and
// status, and with 503 when the app has no GitHub sign-in.
func (h *Handler) responder(w http.ResponseWriter, r *http.Request, c claims, status int) (responder, bool) {
	if c.kind == kindEmail {
		return responder{
			id:       c.recipient,
			email:    true,
			subject:  "email:" + c.recipient,
			answerID: "email:" + c.gate + ":" + c.recipient,
			actor:    approval.Actor{Email: c.recipient},
			via:      approval.ViaEmail,
		}, true
	}
	if !h.signIn {
		h.message(w, r, http.StatusServiceUnavailable, view{
			Title:  "GitHub sign-in is not set up",
			Notice: "This link asks you to sign in with GitHub, but this Gatehouse app has no GitHub sign-in set up. Answer on the approval issue instead.",
		})
		return responder{}, false
	}
	login, ok := h.cookies.session(r, h.now())
	if !ok {
		h.signInPage(w, r, status, r.PathValue("token"))
		return responder{}, false
	}
	return responder{
		id:       login,
		subject:  login,
		answerID: "link:" + c.gate + ":" + strings.ToLower(login),
		actor:    approval.Actor{Login: login},
		via:      approval.ViaTeams,
	}, true
}

// show serves GET (and HEAD) /respond/{token}: the sign-in page, the form,
// the answer an email link gave, or the outcome of a settled gate. It
// changes nothing.
func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	c, ok := h.link(w, r)
	if !ok {
		return
	}
	info, ok := h.info(w, r, c.gate)
	if !ok {
		return
	}
	who, ok := h.responder(w, r, c, http.StatusOK)
	if !ok {
		return
	}
	v := who.view(r)
	v.Gate = newGateView(info)
	var intent approval.Decision
	if who.email {
		res, used, err := h.gates.Response(r.Context(), c.gate, who.answerID)
		if err != nil {
			h.log.ErrorContext(r.Context(), "load the answer of an email link", "gate", c.gate, "error", err)
			v.Title, v.Notice = "Something went wrong", "The approval request could not be loaded. Try again in a moment."
			h.message(w, r, http.StatusInternalServerError, v)
			return
		}
		if used {
			v.Title = "This link has been used"
			v.Notice = "Through this link, " + res.Actor.Identity() + " " + pastTense(res.Decision) + " on " + formatTime(res.At) + ". A link answers once: that answer stands."
			h.message(w, r, http.StatusOK, v)
			return
		}
		// The email's two links only preselect a button.
		if d := approval.Decision(r.URL.Query().Get("decision")); d == approval.Approve || d == approval.Reject {
			intent = d
		}
	}
	if isSettled(info) {
		v.Title = "This request is settled"
		h.message(w, r, http.StatusOK, v)
		return
	}
	v.Title = info.Title
	v.Form = newForm(info.Fields, r.URL.Path, h.cookies.csrf(who.subject, r.PathValue("token")), nil, "", nil)
	v.Form.Intent = intent
	h.render(w, r, formPage, http.StatusOK, v)
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request, status int, token string) {
	h.render(w, r, signInPage, status, view{
		Title:     "Sign in with GitHub to respond",
		SignInURL: loginPath + "?" + url.Values{"next": {"/respond/" + token}}.Encode(),
	})
}

// answer serves POST /respond/{token}: it records the decision of the
// signed-in person, or of an email link's recipient, once.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	c, ok := h.link(w, r)
	if !ok {
		return
	}
	token := r.PathValue("token")
	who, ok := h.responder(w, r, c, http.StatusForbidden)
	if !ok {
		return
	}
	page := func(status int, title, notice string) {
		v := who.view(r)
		v.Title, v.Notice = title, notice
		h.message(w, r, status, v)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			page(http.StatusRequestEntityTooLarge, "Too much to send", "The form was larger than 64 KiB.")
			return
		}
		page(http.StatusBadRequest, "The form could not be read", "Go back and send it again.")
		return
	}
	if !h.cookies.checkCSRF(who.subject, token, r.PostForm.Get("_csrf")) {
		page(http.StatusForbidden, "This form has expired", "Open the link again and answer from the page it shows.")
		return
	}
	info, ok := h.info(w, r, c.gate)
	if !ok {
		return
	}
	decision, form := splitDecision(r.PostForm)
	if decision != approval.Approve && decision != approval.Reject {
		page(http.StatusBadRequest, "Choose approve or reject", "Go back and press one of the two buttons.")
		return
	}
	comment := capRunes(strings.TrimSpace(form.Get("_comment")), maxComment)
	res, err := h.gates.Answer(r.Context(), c.gate, gates.Answer{
		ID:       who.answerID,
		Actor:    who.actor,
		Via:      who.via,
		Decision: decision,
		Fields:   formValues(info.Fields, form),
		Comment:  comment,
		At:       h.now(),
	})
	switch {
	case errors.Is(err, gates.ErrNotFound):
		page(http.StatusNotFound, "No such approval request", "The gate this link was made for no longer exists.")
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "record response page answer", "gate", c.gate, who.logAttr(), "error", err)
		page(http.StatusInternalServerError, "Something went wrong", "Your answer was not recorded. Try again in a moment.")
		return
	}
	h.log.InfoContext(r.Context(), "response page answer", "gate", c.gate, who.logAttr(), "decision", string(decision), "result", string(res.Result))
	v := who.view(r)
	v.Gate = newGateView(res.Gate)
	switch res.Result {
	case gates.Recorded:
		v.Title = "Recorded"
		v.Notice = "You " + pastTense(decision) + " “" + res.Gate.Title + "” as " + who.name() + "."
		if res.Identity != "" && !strings.EqualFold(res.Identity, who.id) {
			v.Notice += " It counts as " + res.Identity + "."
		}
		h.message(w, r, http.StatusOK, v)
	case gates.Duplicate:
		v.Title, v.Notice = "You have already responded", "Your earlier answer stands."
		if who.email {
			v.Title, v.Notice = "This link has been used", "It was answered before: that answer stands, and nothing changed."
		}
		h.message(w, r, http.StatusConflict, v)
	case gates.Invalid:
		v.Title = res.Gate.Title
		v.Form = newForm(info.Fields, r.URL.Path, h.cookies.csrf(who.subject, token), form, comment, res.Problems)
		if who.email {
			v.Form.Intent = decision
		}
		h.render(w, r, formPage, http.StatusUnprocessableEntity, v)
	case gates.NotEligible:
		v.Title = "Your answer does not count"
		v.Notice = res.Reason
		h.message(w, r, http.StatusForbidden, v)
	case gates.Closed:
		v.Title = "This request is settled"
		v.Notice = "The request was settled before your answer arrived, or its deadline had passed: your answer was not recorded."
		h.message(w, r, http.StatusConflict, v)
	default:
		h.log.ErrorContext(r.Context(), "unknown answer result", "gate", c.gate, "result", string(res.Result))
		page(http.StatusInternalServerError, "Something went wrong", "Your answer may not have been recorded. Open the link again to see.")
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
