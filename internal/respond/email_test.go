package respond

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

const alice = "alice@corp.example"

// settledInfo is gate "done", approved by carol.
func settledInfo(at time.Time) gates.Info {
	info := testInfo("done", nil, time.Time{})
	info.View = api.Gate{ID: "done", Status: "approved", Approvals: 2, DecidedBy: "carol", SettledAt: &at,
		Responses: []api.Response{{Actor: "carol", Via: "comment", Decision: "approve", At: at}}}
	return info
}

// buttons is the decision buttons of a page, in order.
func buttons(body string) string {
	return strings.Join(regexp.MustCompile(`<button type="submit" name="decision"[^>]*>[^<]*</button>`).FindAllString(body, -1), "\n")
}

const (
	approveFirst = `<button type="submit" name="decision" value="approve" class="approve">Approve</button>` + "\n" +
		`<button type="submit" name="decision" value="reject" class="reject">Reject</button>`
	approveChosen = `<button type="submit" name="decision" value="approve" class="approve primary">Approve</button>` + "\n" +
		`<button type="submit" name="decision" value="reject" class="reject secondary">Reject</button>`
	rejectChosen = `<button type="submit" name="decision" value="reject" class="reject primary">Reject</button>` + "\n" +
		`<button type="submit" name="decision" value="approve" class="approve secondary">Approve</button>`
)

func TestEmailShow(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.gates.infos["done"] = settledInfo(e.clock.Now())
	link := e.emailLink("g1", "Alice@Corp.Example")
	used := e.emailLink("g2", alice)
	answeredAt := e.clock.Now().Add(-time.Hour)
	e.gates.recorded = map[[2]string]approval.Response{
		{"g2", "email:g2:" + alice}: {ID: "email:g2:" + alice, Actor: approval.Actor{Login: "alice", Email: alice}, Via: approval.ViaEmail, Decision: approval.Reject, At: answeredAt},
		// Another link's answer does not use this one.
		{"g1", "email:g1:bob@corp.example"}: {ID: "email:g1:bob@corp.example", Actor: approval.Actor{Email: "bob@corp.example"}, Via: approval.ViaEmail, Decision: approval.Approve, At: answeredAt},
	}
	form := `<form class="answer" method="post" action="/respond/` + tokenOf(link) + `">`
	answering := `<p class="who">Answering as <strong>alice@corp.example</strong></p>`

	tests := []struct {
		name        string
		link        string
		wantStatus  int
		want        []string
		wantNot     []string
		wantButtons string
	}{
		{"form", link, http.StatusOK,
			[]string{answering, "<h1>Deploy g1</h1>", "Waiting for a decision — 0 of 2 approvals", form, `<input type="hidden" name="_csrf" value="`,
				`<input type="text" id="f-reason" name="reason"`, `<textarea id="comment" name="_comment"`},
			[]string{"You chose", "Sign in", "Sign out", "/auth/", "<script"}, approveFirst},
		{"approve chosen", link + "?decision=approve", http.StatusOK,
			[]string{answering, `<p class="intent">You chose to approve — confirm below.</p>`, form}, nil, approveChosen},
		{"reject chosen", link + "?decision=reject", http.StatusOK,
			[]string{answering, `<p class="intent">You chose to reject — confirm below.</p>`, form}, nil, rejectChosen},
		{"reject chosen among other parameters", link + "?utm_source=mail&decision=reject&x=%3Cb%3E", http.StatusOK,
			[]string{`You chose to reject — confirm below.`, form}, []string{"utm_source", "&lt;b&gt;"}, rejectChosen},
		{"unknown decision", link + "?decision=maybe", http.StatusOK, []string{form}, []string{"You chose", "maybe"}, approveFirst},
		{"decision in another case", link + "?decision=REJECT", http.StatusOK, []string{form}, []string{"You chose"}, approveFirst},
		{"used", used + "?decision=approve", http.StatusOK,
			[]string{answering, "<h1>This link has been used</h1>", "Through this link, alice rejected on Sat 1 Mar 2025 11:00 UTC. A link answers once: that answer stands.", "<h2>Deploy g2</h2>"},
			[]string{"<form", "_csrf", "You chose"}, ""},
		{"settled", e.emailLink("done", alice), http.StatusOK,
			[]string{answering, "<h1>This request is settled</h1>", "Approved — 2 of 2 approvals", "Decided by</dt><dd>carol", "<strong>carol</strong> approved via comment"},
			[]string{"<form", "_csrf"}, ""},
		{"unknown gate", e.emailLink("nope", alice), http.StatusNotFound, []string{"No such approval request"}, []string{"<form"}, ""},
		{"tampered", strings.TrimSuffix(link, tokenOf(link)) + flip(tokenOf(link)), http.StatusNotFound, []string{"This link is not valid"}, []string{"<form", alice}, ""},
		{"expired", e.links.Email("g1", alice, e.clock.Now()), http.StatusGone, []string{"This link has expired"}, []string{"<form", alice}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.browser.get(tt.link)
			if p.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", p.status, tt.wantStatus)
			}
			for _, s := range tt.want {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks\n%s", s)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(p.body, s) {
					t.Errorf("page shows %q", s)
				}
			}
			if diff := cmp.Diff(tt.wantButtons, buttons(p.body)); diff != "" {
				t.Errorf("buttons (-want +got):\n%s", diff)
			}
			checkHeaders(t, p)
			head := e.browser.request(http.MethodHead, tt.link, nil)
			if head.status != p.status || head.body != "" || head.header.Get("Content-Type") != p.header.Get("Content-Type") {
				t.Errorf("HEAD = %d %q, want GET's status and headers without a body", head.status, head.body)
			}
			checkHeaders(t, head)
			if t.Failed() {
				t.Logf("page:\n%s", p.body)
			}
		})
	}
	if got := e.gates.got(); len(got) != 0 {
		t.Errorf("GET and HEAD answered: %+v", got)
	}
	if got := e.browser.setCookies(sessionCookie); len(got) != 0 {
		t.Errorf("email links set a session: %+v", got)
	}
}

func TestEmailShowFails(t *testing.T) {
	e := newEnv(t, envOptions{noSignIn: true})
	e.gates.responseErr = errors.New("database is locked")
	p := e.browser.get(e.emailLink("g1", alice))
	if p.status != http.StatusInternalServerError || !strings.Contains(p.body, "Something went wrong") || strings.Contains(p.body, "<form") {
		t.Errorf("GET: %d, want 500 without a form:\n%s", p.status, p.body)
	}
	checkHeaders(t, p)
	if logs := e.logs.String(); !strings.Contains(logs, "database is locked") {
		t.Errorf("logs lack the failure:\n%s", logs)
	}
}

// emailAnswer is the Answer that answerForm(…, decision) on alice's link to
// g1 makes.
func emailAnswer(decision approval.Decision, at time.Time) gates.Answer {
	return gates.Answer{
		ID:       "email:g1:" + alice,
		Actor:    approval.Actor{Email: alice},
		Via:      approval.ViaEmail,
		Decision: decision,
		Fields:   map[string]string{"reason": "all good", "rollout": "25", "notify": "false", "teams": "HR,IT"},
		Comment:  "ship it",
		At:       at,
	}
}

func TestEmailPostOnce(t *testing.T) {
	e := newEnv(t, envOptions{noSignIn: true})
	link := e.emailLink("g1", "Alice@Corp.Example")
	csrf := csrfOf(t, e.browser.get(link+"?decision=reject"))

	p := e.browser.post(link+"?decision=approve", answerForm(csrf, "reject"))
	for _, want := range []string{"<h1>Recorded</h1>", "You rejected “Deploy g1” as alice@corp.example.", "Answering as <strong>alice@corp.example</strong>"} {
		if p.status != http.StatusOK || !strings.Contains(p.body, want) {
			t.Errorf("first POST: %d, want 200 with %q", p.status, want)
		}
	}
	if strings.Contains(p.body, "It counts as") {
		t.Errorf("first POST names another identity:\n%s", p.body)
	}
	checkHeaders(t, p)

	// The same form again, and the other button: the link is used.
	for _, decision := range []string{"reject", "approve"} {
		p = e.browser.post(link, answerForm(csrf, decision))
		if p.status != http.StatusConflict || !strings.Contains(p.body, "<h1>This link has been used</h1>") || !strings.Contains(p.body, "nothing changed") {
			t.Errorf("POST again (%s): %d, want 409 This link has been used:\n%s", decision, p.status, p.body)
		}
		checkHeaders(t, p)
	}
	p = e.browser.get(link)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Through this link, alice@corp.example rejected on Sat 1 Mar 2025 12:00 UTC.") || strings.Contains(p.body, "<form") {
		t.Errorf("GET after the answer: %d, want the used page:\n%s", p.status, p.body)
	}

	now := e.clock.Now()
	want := []gates.Answer{emailAnswer(approval.Reject, now), emailAnswer(approval.Reject, now), emailAnswer(approval.Approve, now)}
	if diff := cmp.Diff(want, e.gates.got()); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"g1", "g1", "g1"}, e.gates.gotGates()); diff != "" {
		t.Errorf("gates answered (-want +got):\n%s", diff)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "gate=g1 recipient=alice@corp.example decision=reject result=recorded") ||
		!strings.Contains(logs, "gate=g1 recipient=alice@corp.example decision=approve result=duplicate") {
		t.Errorf("logs lack the answers:\n%s", logs)
	}
	if strings.Contains(logs, tokenOf(link)) || strings.Contains(logs, csrf) {
		t.Errorf("logs hold the link token or the CSRF value:\n%s", logs)
	}
}

func TestEmailPostResults(t *testing.T) {
	tests := []struct {
		name       string
		result     func(info gates.Info, a gates.Answer) gates.Answered
		answerErr  error
		decision   approval.Decision
		wantStatus int
		want       []string
		wantNot    []string
	}{
		{"recorded as the person's login", func(info gates.Info, a gates.Answer) gates.Answered {
			info.View.Approvals = 1
			return gates.Answered{Result: gates.Recorded, Identity: "alice", Gate: info}
		}, nil, approval.Approve, http.StatusOK,
			[]string{"<h1>Recorded</h1>", "You approved “Deploy g1” as alice@corp.example. It counts as alice.", "Waiting for a decision — 1 of 2 approvals"}, nil},
		{"invalid", func(info gates.Info, a gates.Answer) gates.Answered {
			return gates.Answered{Result: gates.Invalid, Problems: []string{"rollout: must be a whole number between 1 and 100"}, Gate: info}
		}, nil, approval.Reject, http.StatusUnprocessableEntity, []string{
			"<li>rollout: must be a whole number between 1 and 100</li>",
			`<input type="number" id="f-rollout" name="rollout" value="25" min="1" max="100" step="1" aria-describedby="f-rollout.problem" aria-invalid="true">` + "\n" +
				`<p class="problem" id="f-rollout.problem">must be a whole number between 1 and 100</p>`,
			`<input type="text" id="f-reason" name="reason" value="all good" required maxlength="100" aria-describedby="f-reason.desc">`,
			`<input type="checkbox" id="f-teams.0" name="teams" value="HR" checked>`,
			`<input type="checkbox" id="f-teams.1" name="teams" value="Finance">`,
			`<input type="checkbox" id="f-teams.2" name="teams" value="IT" checked>`,
			`<textarea id="comment" name="_comment" rows="3" maxlength="2000">ship it</textarea>`,
			`You chose to reject — confirm below.`,
			rejectChosen,
			"Answering as <strong>alice@corp.example</strong>",
		}, nil},
		{"not eligible", func(info gates.Info, a gates.Answer) gates.Answered {
			return gates.Answered{Result: gates.NotEligible, Reason: "alice@corp.example is not an approver of this gate", Gate: info}
		}, nil, approval.Approve, http.StatusForbidden,
			[]string{"<h1>Your answer does not count</h1>", "alice@corp.example is not an approver of this gate"}, []string{"<form"}},
		{"closed", func(info gates.Info, a gates.Answer) gates.Answered {
			info.View.Status, info.View.DecidedBy = "rejected", "bob"
			return gates.Answered{Result: gates.Closed, Gate: info}
		}, nil, approval.Approve, http.StatusConflict,
			[]string{"<h1>This request is settled</h1>", "settled before your answer arrived", "not recorded", "Rejected — 0 of 2 approvals", "Decided by</dt><dd>bob"}, []string{"<form"}},
		{"failure", nil, errors.New("disk full"), approval.Approve, http.StatusInternalServerError,
			[]string{"<h1>Something went wrong</h1>", "Your answer was not recorded. Try again in a moment."}, []string{"disk full", "<form"}},
		{"gate gone", nil, gates.ErrNotFound, approval.Approve, http.StatusNotFound,
			[]string{"No such approval request"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{noSignIn: true})
			e.gates.result, e.gates.answerErr = tt.result, tt.answerErr
			link := e.emailLink("g1", alice)
			csrf := csrfOf(t, e.browser.get(link))
			p := e.browser.post(link, answerForm(csrf, string(tt.decision)))
			if p.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", p.status, tt.wantStatus)
			}
			for _, s := range tt.want {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks\n%s", s)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(p.body, s) {
					t.Errorf("page shows %q", s)
				}
			}
			checkHeaders(t, p)
			if t.Failed() {
				t.Logf("page:\n%s", p.body)
			}
			if diff := cmp.Diff([]gates.Answer{emailAnswer(tt.decision, e.clock.Now())}, e.gates.got()); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmailPostRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	link := e.emailLink("g1", alice)
	csrf := csrfOf(t, e.browser.get(link))
	otherGate := csrfOf(t, e.browser.get(e.emailLink("g2", alice)))
	otherLink := csrfOf(t, e.browser.get(e.emailLink("g1", alice)))
	bob := csrfOf(t, e.browser.get(e.emailLink("g1", "bob@corp.example")))
	signedIn := e.newBrowser(t)
	channel := csrfOf(t, signedIn.signIn(e.link("g1"), "alice"))
	// What a CSRF value for a login spelled like the address would be.
	asLogin := newCookies(testSecret, false).csrf(alice, tokenOf(link))
	tampered := strings.TrimSuffix(link, tokenOf(link)) + flip(tokenOf(link))

	tests := []struct {
		name       string
		b          *browser
		link       string
		form       url.Values
		wantStatus int
		wantText   string
	}{
		{"no CSRF value", e.browser, link, answerForm("", "approve"), http.StatusForbidden, "This form has expired"},
		{"wrong CSRF value", e.browser, link, answerForm(flip(csrf), "approve"), http.StatusForbidden, "This form has expired"},
		{"CSRF value of the link to another gate", e.browser, link, answerForm(otherGate, "approve"), http.StatusForbidden, "This form has expired"},
		{"CSRF value of another link to the gate", e.browser, link, answerForm(otherLink, "approve"), http.StatusForbidden, "This form has expired"},
		{"CSRF value of another recipient's link", e.browser, link, answerForm(bob, "approve"), http.StatusForbidden, "This form has expired"},
		{"CSRF value of the channel link, signed in", signedIn, link, answerForm(channel, "approve"), http.StatusForbidden, "This form has expired"},
		{"CSRF value for a login, not an address", e.browser, link, answerForm(asLogin, "approve"), http.StatusForbidden, "This form has expired"},
		{"email CSRF value on the channel link", signedIn, e.link("g1"), answerForm(csrf, "approve"), http.StatusForbidden, "This form has expired"},
		{"no decision", e.browser, link, answerForm(csrf, ""), http.StatusBadRequest, "Choose approve or reject"},
		{"unknown decision", e.browser, link, answerForm(csrf, "maybe"), http.StatusBadRequest, "Choose approve or reject"},
		{"tampered link", e.browser, tampered, answerForm(csrf, "approve"), http.StatusNotFound, "This link is not valid"},
		{"expired link", e.browser, e.links.Email("g1", alice, e.clock.Now()), answerForm(csrf, "approve"), http.StatusGone, "This link has expired"},
		{"too large", e.browser, link, func() url.Values {
			f := answerForm(csrf, "approve")
			f.Set("_comment", strings.Repeat("x", maxBody))
			return f
		}(), http.StatusRequestEntityTooLarge, "larger than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.post(tt.link, tt.form)
			if p.status != tt.wantStatus || !strings.Contains(p.body, tt.wantText) {
				t.Errorf("POST: %d, want %d with %q:\n%s", p.status, tt.wantStatus, tt.wantText, p.body)
			}
			checkHeaders(t, p)
		})
	}
	if got := e.gates.got(); len(got) != 0 {
		t.Errorf("refused posts answered: %+v", got)
	}
	// The genuine form still counts after all that.
	if p := e.browser.post(link, answerForm(csrf, "approve")); p.status != http.StatusOK {
		t.Errorf("genuine POST: %d:\n%s", p.status, p.body)
	}
	if diff := cmp.Diff([]string{"g1"}, e.gates.gotGates()); diff != "" {
		t.Errorf("gates answered (-want +got):\n%s", diff)
	}
}

func TestWithoutGitHubSignIn(t *testing.T) {
	e := newEnv(t, envOptions{noSignIn: true})
	channel := e.link("g1")
	email := e.emailLink("g1", alice)
	const noSignIn = "no GitHub sign-in set up"

	tests := []struct {
		name       string
		method     string
		url        string
		form       url.Values
		wantStatus int
		wantText   string
	}{
		{"channel link", http.MethodGet, channel, nil, http.StatusServiceUnavailable, noSignIn},
		{"channel link, POST", http.MethodPost, channel, answerForm("x", "approve"), http.StatusServiceUnavailable, noSignIn},
		{"sign-in", http.MethodGet, e.srv.URL + "/auth/github/login?next=/respond/" + tokenOf(channel), nil, http.StatusNotFound, "404 page not found"},
		{"callback", http.MethodGet, e.srv.URL + "/auth/github/callback?code=a&state=b", nil, http.StatusNotFound, "404 page not found"},
		{"sign-out", http.MethodPost, e.srv.URL + "/auth/signout", url.Values{}, http.StatusNotFound, "404 page not found"},
		{"email link", http.MethodGet, email, nil, http.StatusOK, `<form class="answer" method="post"`},
		{"tampered channel link", http.MethodGet, strings.TrimSuffix(channel, tokenOf(channel)) + flip(tokenOf(channel)), nil, http.StatusNotFound, "This link is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.browser.request(tt.method, tt.url, tt.form)
			if p.status != tt.wantStatus || !strings.Contains(p.body, tt.wantText) {
				t.Errorf("%s: %d, want %d with %q:\n%s", tt.method, p.status, tt.wantStatus, tt.wantText, p.body)
			}
			if strings.Contains(p.body, "Sign in with GitHub") {
				t.Errorf("page offers GitHub sign-in:\n%s", p.body)
			}
		})
	}
	if got := e.gates.got(); len(got) != 0 {
		t.Errorf("answered: %+v", got)
	}

	p := e.browser.post(email, answerForm(csrfOf(t, e.browser.get(email)), "approve"))
	if p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Recorded</h1>") {
		t.Errorf("email POST: %d, want 200 Recorded:\n%s", p.status, p.body)
	}
	if diff := cmp.Diff([]gates.Answer{emailAnswer(approval.Approve, e.clock.Now())}, e.gates.got()); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestFormAction(t *testing.T) {
	withSignIn := newEnv(t, envOptions{})
	without := newEnv(t, envOptions{noSignIn: true})
	tests := []struct {
		name string
		env  *env
		want string
	}{
		{"with GitHub sign-in", withSignIn, "form-action 'self' " + withSignIn.emu.WebURL() + ";"},
		{"without", without, "form-action 'self';"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.env.browser.get(tt.env.emailLink("g1", alice))
			if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, tt.want) {
				t.Errorf("Content-Security-Policy = %q, want %q", csp, tt.want)
			}
		})
	}
}
