package ghemu

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	docsRoot      = "https://docs.github.com/rest"
	maxBodyBytes  = 10 << 20
	defaultLimit  = 5000
	botLimit      = 1000
	rateWindow    = time.Hour
	apiVersion    = "2022-11-28"
	appBudgetKey  = "app"
	unknownRoute  = "(unknown route)"
	rateLimitPath = "/rate_limit"
)

// authKind says how a route authenticates.
type authKind int

const (
	authToken    authKind = iota // a personal, bot or installation token
	authAppJWT                   // the App's JWT
	authOptional                 // a token if one is sent (unknown routes)
)

type route struct {
	method  string
	pattern string // GitHub's path template, e.g. /repos/{owner}/{repo}/issues
	segs    []string
	auth    authKind
	doc     string
	handle  func(*call) (reply, error)
	web     func(http.ResponseWriter, *http.Request, map[string]string) // an unauthenticated page instead of an API route
	counted bool                                                        // consumes rate limit
}

// call is one API request being served.
type call struct {
	r      *http.Request
	rt     *route
	params map[string]string
	sub    string // path below /repos/{owner}/{repo}, for Link headers
	actor  actor
	body   []byte
}

func (c *call) param(name string) string { return c.params[name] }

// reply is what a handler answers; the server adds GitHub's headers.
type reply struct {
	status int
	body   any // nil: no body
	header http.Header
}

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

func (e *Emulator) routeTable() []route {
	d := "https://docs.github.com/rest/"
	rs := []route{
		{method: "GET", pattern: rateLimitPath, doc: d + "rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user", handle: e.getRateLimit},
		{method: "GET", pattern: "/user", doc: d + "users/users#get-the-authenticated-user", handle: e.getAuthenticatedUser},
		{method: "GET", pattern: "/app", auth: authAppJWT, doc: d + "apps/apps#get-the-authenticated-app", handle: e.getApp},
		{method: "GET", pattern: "/app/installations/{installation_id}", auth: authAppJWT, doc: d + "apps/apps#get-an-installation-for-the-authenticated-app", handle: e.getInstallation},
		{method: "POST", pattern: "/app/installations/{installation_id}/access_tokens", auth: authAppJWT, doc: d + "apps/apps#create-an-installation-access-token-for-an-app", handle: e.createAccessToken},
		{method: "GET", pattern: "/repos/{owner}/{repo}/installation", auth: authAppJWT, doc: d + "apps/apps#get-a-repository-installation-for-the-authenticated-app", handle: e.getRepoInstallation},
		{method: "GET", pattern: "/repos/{owner}/{repo}", doc: d + "repos/repos#get-a-repository", handle: e.getRepo},
		{method: "POST", pattern: "/repos/{owner}/{repo}/issues", doc: d + "issues/issues#create-an-issue", handle: e.createIssue},
		{method: "GET", pattern: "/repos/{owner}/{repo}/issues/comments/{comment_id}", doc: d + "issues/comments#get-an-issue-comment", handle: e.getComment},
		{method: "PATCH", pattern: "/repos/{owner}/{repo}/issues/comments/{comment_id}", doc: d + "issues/comments#update-an-issue-comment", handle: e.updateComment},
		{method: "DELETE", pattern: "/repos/{owner}/{repo}/issues/comments/{comment_id}", doc: d + "issues/comments#delete-an-issue-comment", handle: e.deleteComment},
		{method: "GET", pattern: "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", doc: d + "reactions/reactions#list-reactions-for-an-issue-comment", handle: e.listReactions},
		{method: "POST", pattern: "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", doc: d + "reactions/reactions#create-reaction-for-an-issue-comment", handle: e.createReaction},
		{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{issue_number}", doc: d + "issues/issues#get-an-issue", handle: e.getIssue},
		{method: "PATCH", pattern: "/repos/{owner}/{repo}/issues/{issue_number}", doc: d + "issues/issues#update-an-issue", handle: e.updateIssue},
		{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{issue_number}/comments", doc: d + "issues/comments#list-issue-comments", handle: e.listComments},
		{method: "POST", pattern: "/repos/{owner}/{repo}/issues/{issue_number}/comments", doc: d + "issues/comments#create-an-issue-comment", handle: e.createComment},
		{method: "POST", pattern: "/repos/{owner}/{repo}/issues/{issue_number}/labels", doc: d + "issues/labels#add-labels-to-an-issue", handle: e.addLabels},
		{method: "POST", pattern: "/repos/{owner}/{repo}/issues/{issue_number}/assignees", doc: d + "issues/assignees#add-assignees-to-an-issue", handle: e.addAssignees},
		{method: "GET", pattern: "/repos/{owner}/{repo}/collaborators/{username}/permission", doc: d + "collaborators/collaborators#get-repository-permissions-for-a-user", handle: e.getCollaboratorPermission},
		{method: "GET", pattern: "/orgs/{org}/teams/{team_slug}", doc: d + "teams/teams#get-a-team-by-name", handle: e.getTeam},
		{method: "GET", pattern: "/orgs/{org}/teams/{team_slug}/members", doc: d + "teams/members#list-team-members", handle: e.listTeamMembers},
		{method: "GET", pattern: "/orgs/{org}/teams/{team_slug}/memberships/{username}", doc: d + "teams/members#get-team-membership-for-a-user", handle: e.getTeamMembership},
		{method: "GET", pattern: "/{owner}/{repo}/issues/{issue_number}", web: e.serveIssuePage},
		{method: "GET", pattern: "/login", web: e.serveLogin},
		{method: "GET", pattern: "/login/oauth/authorize", web: e.serveAuthorize},
		{method: "POST", pattern: "/login/oauth/access_token", web: e.serveAccessToken},
	}
	for i := range rs {
		rs[i].segs = strings.Split(strings.TrimPrefix(rs[i].pattern, "/"), "/")
		rs[i].counted = rs[i].pattern != rateLimitPath
	}
	return rs
}

// match finds the route for an escaped request path and unescapes its
// parameters. /repositories/{id}/… paths, which GitHub's Link headers use,
// are served as /repos/{owner}/{repo}/…. Callers hold e.mu.
func (e *Emulator) match(method, path string) (*route, map[string]string, string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) >= 2 && segs[0] == "repositories" {
		id, err := strconv.ParseInt(segs[1], 10, 64)
		rp := e.repoByID(id)
		if err != nil || rp == nil {
			return nil, nil, ""
		}
		segs = append([]string{"repos", rp.owner.login, rp.name}, segs[2:]...)
	}
	for i := range e.routes {
		rt := &e.routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		matched := true
		for j, s := range rt.segs {
			if strings.HasPrefix(s, "{") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || v == "" {
					matched = false
					break
				}
				params[strings.Trim(s, "{}")] = v
			} else if s != segs[j] {
				matched = false
				break
			}
		}
		if matched {
			sub := ""
			if segs[0] == "repos" && len(segs) > 3 {
				sub = "/" + strings.Join(segs[3:], "/")
			}
			return rt, params, sub
		}
	}
	return nil, nil, ""
}

// ServeHTTP serves the API and the issue pages.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.requestSeq++
	reqID := fmt.Sprintf("%04X:%04X:%06X:%07X:%08X", e.app.id&0xFFFF, e.requestSeq&0xFFFF, e.requestSeq, e.requestSeq*7919, e.clock().Unix())
	rt, params, sub := e.match(r.Method, r.URL.EscapedPath())
	name := r.Method + " " + unknownRoute
	if rt != nil {
		name = r.Method + " " + rt.pattern
	}
	e.stats.Requests[name]++
	e.mu.Unlock()

	w.Header().Set("X-GitHub-Request-Id", reqID)
	w.Header().Set("Server", "github.com")
	if rt != nil && rt.web != nil {
		rt.web(w, r, params)
		return
	}
	res := e.serveAPI(r, rt, params, sub, reqID)
	res.write(w)
	e.logf("ghemu: %s %s -> %d", r.Method, r.URL.RequestURI(), res.status)
}

// response is a rendered answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (res response) write(w http.ResponseWriter) {
	for k, vs := range res.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.status)
	if res.body != nil {
		_, _ = w.Write(res.body)
	}
}

func (e *Emulator) serveAPI(r *http.Request, rt *route, params map[string]string, sub, reqID string) response {
	if rt == nil {
		rt = &route{pattern: unknownRoute, auth: authOptional, doc: docsRoot, counted: true,
			handle: func(*call) (reply, error) { return reply{}, errNotFound() }}
	}
	c := &call{r: r, rt: rt, params: params, sub: sub}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		res := e.errorResponse(&apiError{status: http.StatusRequestEntityTooLarge, message: "Request body too large"}, rt.doc)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.rateHeaders(res.header, nil)
		return res
	}
	c.body = body

	e.mu.Lock()
	c.actor, err = e.authenticate(rt, r)
	if err != nil {
		res := e.errorResponse(err, rt.doc)
		e.rateHeaders(res.header, nil)
		e.mu.Unlock()
		return res
	}
	f := e.takeFault(r)
	e.mu.Unlock()

	if f != nil && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.closed:
		}
		t.Stop()
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.budgetOf(c.actor)
	var res response
	switch {
	case f != nil && f.Status != 0:
		res = e.faultResponse(f, rt.doc, reqID)
	case b != nil && rt.counted && b.remaining == 0:
		res = e.errorResponse(e.primaryLimitError(c.actor, reqID), rt.doc)
	default:
		res = e.serveCall(c)
		if b != nil && rt.counted && res.status != http.StatusNotModified {
			b.remaining--
			e.stats.RateLimitUsed[budgetKey(c.actor)]++
		}
	}
	if res.status == http.StatusNotModified {
		e.stats.NotModified++
	}
	e.rateHeaders(res.header, b)
	if t := c.actor.tok; t != nil && t.inst == nil && t.acct.kind == kindUser {
		res.header.Set("X-OAuth-Scopes", strings.Join(sortedKeys(t.scopes), ", "))
	}
	return res
}

// serveCall runs the handler and renders its reply. Callers hold e.mu.
func (e *Emulator) serveCall(c *call) response {
	rep, err := c.rt.handle(c)
	if err != nil {
		return e.errorResponse(err, c.rt.doc)
	}
	res, err := e.render(c, rep)
	if err != nil {
		return e.errorResponse(err, c.rt.doc)
	}
	return res
}

// render encodes a reply and answers conditional GETs: the ETag covers the
// body and the Link header, so a list page whose neighbours change gets a
// new ETag; a matching If-None-Match answers 304 Not Modified.
func (e *Emulator) render(c *call, rep reply) (response, error) {
	h := rep.header
	if h == nil {
		h = http.Header{}
	}
	res := response{status: rep.status, header: h}
	if rep.body == nil {
		return res, nil
	}
	body, err := encodeJSON(rep.body)
	if err != nil {
		return response{}, fmt.Errorf("encode %s: %w", c.rt.pattern, err)
	}
	setJSONHeaders(h)
	res.body = body
	if c.r.Method != http.MethodGet || rep.status != http.StatusOK {
		return res, nil
	}
	sum := sha256.Sum256(append(append(body, '\n'), h.Get("Link")...))
	etag := fmt.Sprintf(`W/"%x"`, sum)
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
	h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	if etagMatches(c.r.Header.Get("If-None-Match"), etag) || notModifiedSince(c.r, h) {
		h.Del("Content-Type")
		h.Del("Link")
		return response{status: http.StatusNotModified, header: h}, nil
	}
	return res, nil
}

func setJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", apiVersion)
}

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// notModifiedSince answers If-Modified-Since for resources with a
// Last-Modified date, when no If-None-Match was sent.
func notModifiedSince(r *http.Request, h http.Header) bool {
	if r.Header.Get("If-None-Match") != "" || h.Get("Last-Modified") == "" {
		return false
	}
	since, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	if err != nil {
		return false
	}
	modified, err := http.ParseTime(h.Get("Last-Modified"))
	return err == nil && !modified.After(since)
}

// decode reads a JSON request body into v, answering like GitHub: 400 for
// malformed JSON, 422 for a value of the wrong type. An empty body is {}.
func (c *call) decode(v any) error {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return nil
	}
	err := json.Unmarshal(c.body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return errUnprocessable(fmt.Sprintf("Invalid request.\n\nFor 'properties/%s', a %s is not %s.", typeErr.Field, typeErr.Value, jsonTypeName(typeErr.Type.String())))
	default:
		return &apiError{status: http.StatusBadRequest, message: "Problems parsing JSON"}
	}
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	}
	return "an object"
}

// pageOf slices n items for the request's page and per_page and builds the
// Link header GitHub sends: absolute URLs of linkPath (GitHub's id-based
// form, such as /repositories/{id}/…) that keep the other query
// parameters, with rel prev, next, last and first as they apply.
// repoLinkPath is the id-based path of a repository request, for pageOf.
func repoLinkPath(c *call, rp *repo) string {
	return fmt.Sprintf("/repositories/%d%s", rp.id, c.sub)
}

func (e *Emulator) pageOf(c *call, linkPath string, n int) (from, to int, h http.Header) {
	q := c.r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = 30
	}
	perPage = min(perPage, e.opts.PerPageMax)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max(1, (n+perPage-1)/perPage)
	from = min((page-1)*perPage, n)
	to = min(from+perPage, n)
	h = http.Header{}
	if last == 1 && page == 1 {
		return from, to, h
	}
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, e.base, linkPath, q.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	h.Set("Link", strings.Join(links, ", "))
	return from, to, h
}
