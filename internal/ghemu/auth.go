package ghemu

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiError is an error answer in GitHub's shape:
// {"message","errors","documentation_url","status"}.
type apiError struct {
	status  int
	message string
	errors  []fieldError
	doc     string // overrides the route's documentation_url
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.message) }

type fieldError struct {
	Value    *string `json:"value,omitempty"`
	Resource string  `json:"resource"`
	Field    string  `json:"field"`
	Code     string  `json:"code"`
	Message  string  `json:"message,omitempty"`
}

type errorJSON struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

func errNotFound() *apiError {
	return &apiError{status: http.StatusNotFound, message: "Not Found"}
}

func errUnauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, message: msg}
}

func errForbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, message: msg}
}

func errUnprocessable(msg string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, message: msg}
}

func errValidation(errs ...fieldError) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, message: "Validation Failed", errors: errs}
}

// errNotSupplied is GitHub's answer to a missing required property.
func errNotSupplied(field string) *apiError {
	return errUnprocessable(fmt.Sprintf("Invalid request.\n\n%q wasn't supplied.", field))
}

const (
	msgIntegration = "Resource not accessible by integration"
	msgAdminRights = "Must have admin rights to Repository."
)

func (e *Emulator) errorResponse(err error, doc string) response {
	ae, ok := err.(*apiError)
	if !ok {
		e.logf("ghemu: internal error: %v", err)
		ae = &apiError{status: http.StatusInternalServerError, message: "Server Error"}
	}
	if ae.doc != "" {
		doc = ae.doc
	}
	body, encErr := encodeJSON(errorJSON{Message: ae.message, Errors: ae.errors, DocumentationURL: doc, Status: strconv.Itoa(ae.status)})
	if encErr != nil {
		body = []byte(`{"message":"Server Error"}`)
	}
	h := http.Header{}
	setJSONHeaders(h)
	return response{status: ae.status, header: h, body: body}
}

// bearer is the credential of an Authorization header: "Bearer X" or
// "token X"; ok is false when there is none.
func bearer(r *http.Request) (string, bool) {
	scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return cred, cred != ""
	}
	return "", false
}

// authenticate identifies the caller of an API route. The zero actor is
// anonymous (unknown routes only). Callers hold e.mu.
func (e *Emulator) authenticate(rt *route, r *http.Request) (actor, error) {
	cred, present := bearer(r)
	switch {
	case rt.auth == authAppJWT:
		if !present {
			return actor{}, errUnauthorized("A JSON web token could not be decoded")
		}
		if err := e.verifyAppJWT(cred); err != nil {
			return actor{}, err
		}
		return actor{app: true}, nil
	case !present && rt.auth == authOptional:
		return actor{}, nil
	case !present:
		return actor{}, errUnauthorized("Requires authentication")
	}
	t := e.tokens[cred]
	if t == nil || (!t.expires.IsZero() && !e.clock().Before(t.expires)) {
		return actor{}, errUnauthorized("Bad credentials")
	}
	return actor{acct: t.acct, tok: t}, nil
}

func budgetKey(a actor) string {
	if a.app {
		return appBudgetKey
	}
	return a.tok.value
}

// budgetOf is the primary rate limit budget of an authenticated actor, or
// nil for an anonymous one.
func (e *Emulator) budgetOf(a actor) *budget {
	switch {
	case a.app:
		return e.budget(appBudgetKey, defaultLimit)
	case a.tok == nil:
		return nil
	}
	return e.budget(a.tok.value, limitOf(a.tok))
}

// limitOf is a token's hourly limit: GITHUB_TOKEN-style bot tokens get 1000,
// others 5000.
func limitOf(t *token) int {
	if t.inst == nil && t.acct.kind == kindBot {
		return botLimit
	}
	return defaultLimit
}

// budget returns the budget under key, full again once its reset passed.
func (e *Emulator) budget(key string, limit int) *budget {
	now := e.now()
	b := e.budgets[key]
	if b == nil || !now.Before(b.reset) {
		b = &budget{limit: limit, remaining: limit, reset: now.Add(rateWindow)}
		e.budgets[key] = b
	}
	return b
}

// rateHeaders sets the x-ratelimit-* headers; anonymous callers see the
// 60-an-hour limit GitHub gives an IP address.
func (e *Emulator) rateHeaders(h http.Header, b *budget) {
	if b == nil {
		b = &budget{limit: 60, remaining: 60, reset: e.now().Add(rateWindow)}
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(b.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(b.limit-b.remaining))
	h.Set("X-RateLimit-Resource", "core")
}

func (e *Emulator) primaryLimitError(a actor, reqID string) *apiError {
	who := "user ID " + strconv.FormatInt(a.acct.idOrZero(), 10)
	if in := a.installation(); in != nil {
		who = "installation ID " + strconv.FormatInt(in.id, 10)
	}
	if a.app {
		who = "app ID " + strconv.FormatInt(e.app.id, 10)
	}
	return &apiError{
		status:  http.StatusForbidden,
		message: fmt.Sprintf("API rate limit exceeded for %s. If you reach out to GitHub Support for help, please include the request ID %s.", who, reqID),
		doc:     "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
	}
}

func (a *account) idOrZero() int64 {
	if a == nil {
		return 0
	}
	return a.id
}

// need is what a request needs on a repository.
type need int

const (
	needMetadata need = iota // see the repository: read access for people, metadata for apps
	needRead                 // read issues and comments: read access for people, issues:read for apps
	needComment              // open issues, comment, react: read access for people, issues:write for apps
	needTriage               // label, assign, close others' issues: triage access for people, issues:write for apps
)

// repoFor finds the {owner}/{repo} of a call and checks the caller may do
// what n says: a repository the caller cannot see is 404, as on GitHub; one
// it can see but not change is 403.
func (e *Emulator) repoFor(c *call, n need) (*repo, error) {
	rp := e.findRepo(c.param("owner"), c.param("repo"))
	if rp == nil {
		return nil, errNotFound()
	}
	return rp, e.allowed(c.actor, rp, n)
}

func (e *Emulator) allowed(a actor, rp *repo, n need) error {
	if in := a.installation(); in != nil {
		if !inInstallation(a.tok, rp) {
			return errNotFound()
		}
		want := "write"
		switch n {
		case needMetadata:
			return nil
		case needRead:
			want = "read"
		}
		if !permAtLeast(a.tok.perms["issues"], want) {
			return errForbidden(msgIntegration)
		}
		return nil
	}
	l := e.level(rp, a.acct)
	switch {
	case l == levelNone:
		return errNotFound()
	case n == needTriage && l < levelTriage:
		return errForbidden(msgAdminRights)
	}
	return nil
}

// canTriage reports whether a may set labels and assignees on rp; GitHub
// silently drops them for callers without push access.
func (e *Emulator) canTriage(a actor, rp *repo) bool {
	return e.allowed(a, rp, needTriage) == nil
}
