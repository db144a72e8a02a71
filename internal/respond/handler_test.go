package respond

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// checkHeaders asserts the headers every answer carries.
func checkHeaders(t *testing.T, p page) {
	t.Helper()
	got := map[string]string{}
	for _, k := range []string{"Cache-Control", "Referrer-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		got[k] = p.header.Get(k)
	}
	want := map[string]string{
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, part)
		}
	}
}

func TestShow(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.gates.infos["done"] = func() gates.Info {
		info := testInfo("done", nil, time.Time{})
		settled := e.clock.Now()
		info.View = api.Gate{ID: "done", Status: "approved", Approvals: 2, DecidedBy: "carol", SettledAt: &settled,
			Responses: []api.Response{{Actor: "carol", Via: "comment", Decision: "approve", At: settled}}}
		return info
	}()
	link := e.link("g1")
	signedOut := e.newBrowser(t)
	e.browser.signIn(link, "alice")
	tampered := strings.TrimSuffix(link, tokenOf(link)) + flip(tokenOf(link))
	expired := e.links.Channel("g1", e.clock.Now().Add(-time.Second))

	tests := []struct {
		name       string
		b          *browser
		link       string
		wantStatus int
		want       []string
		wantNot    []string
	}{
		{"signed out", signedOut, link, http.StatusOK,
			[]string{"Sign in with GitHub to respond", `href="/auth/github/login?next=%2Frespond%2F` + tokenOf(link) + `"`},
			[]string{"Deploy g1", "<form class=\"answer\"", "acme/app"}},
		{"form", e.browser, link, http.StatusOK,
			[]string{"<h1>Deploy g1</h1>", "Check the dashboards first.", "acme/app#7", "release #42 · deploy", "Waiting for a decision — 0 of 2 approvals",
				`<time datetime="2025-03-02T12:00:00Z">Sun 2 Mar 2025 12:00 UTC</time>`, `<form class="answer" method="post" action="/respond/` + tokenOf(link) + `"`,
				`name="decision" value="approve"`, `name="decision" value="reject"`, `<textarea id="comment" name="_comment"`},
			nil},
		{"settled", e.browser, e.link("done"), http.StatusOK,
			[]string{"This request is settled", "Approved — 2 of 2 approvals", "Decided by</dt><dd>carol", "<strong>carol</strong> approved via comment"},
			[]string{"<form class=\"answer\"", "_csrf"}},
		{"settled, signed out", signedOut, e.link("done"), http.StatusOK,
			[]string{"Sign in with GitHub to respond"}, []string{"carol"}},
		{"unknown gate", e.browser, e.link("nope"), http.StatusNotFound, []string{"No such approval request"}, nil},
		{"tampered", e.browser, tampered, http.StatusNotFound, []string{"This link is not valid"}, nil},
		{"garbage", e.browser, e.srv.URL + "/respond/hello", http.StatusNotFound, []string{"This link is not valid"}, nil},
		{"expired", e.browser, expired, http.StatusGone, []string{"This link has expired"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.link)
			if p.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", p.status, tt.wantStatus)
			}
			for _, s := range tt.want {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks %q", s)
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
		})
	}
}

func TestGetAndHeadChangeNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	link := e.link("g1")
	e.browser.signIn(link, "alice")
	signedOut := e.newBrowser(t)
	for _, b := range []*browser{e.browser, signedOut} {
		get := b.get(link)
		head := b.request(http.MethodHead, link, nil)
		if head.status != get.status || head.body != "" || head.header.Get("Content-Type") != get.header.Get("Content-Type") ||
			head.header.Get("Content-Security-Policy") != get.header.Get("Content-Security-Policy") {
			t.Errorf("HEAD = %d %v %q, want GET's status and headers without a body", head.status, head.header, head.body)
		}
		checkHeaders(t, head)
	}
	if got := e.gates.got(); len(got) != 0 {
		t.Errorf("GET and HEAD answered: %+v", got)
	}
	if got := e.browser.setCookies(sessionCookie); len(got) != 1 {
		t.Errorf("GET and HEAD set session cookies: %d, want only sign-in's", len(got))
	}
}

func TestStylesheet(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.browser.get(e.srv.URL + "/respond/static/respond.css")
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") || !strings.Contains(p.body, ".approve") {
		t.Errorf("stylesheet: %d %s", p.status, p.header.Get("Content-Type"))
	}
	checkHeaders(t, p)
}

func TestFormInputs(t *testing.T) {
	schema, err := fields.Parse(`
- id: ok
  type: boolean
  default: true
  description: Tick to confirm
- id: reason
  type: string
  required: true
  max-length: 100
  pattern: '[a-z ]+'
  description: Why?
- id: rollout
  type: number
  min: 1
  max: 100
  integer: true
  default: 10
- id: ratio
  type: number
- id: env
  type: select
  values: [staging, prod]
  required: true
- id: tier
  type: select
  values: [gold, silver]
  default: silver
- id: teams
  type: multiselect
  values: [HR, Finance, IT]
  default: [HR, IT]
- id: day
  type: date
- id: at
  type: datetime
- id: wait
  type: duration
- id: contact
  type: email
- id: docs
  type: url
- id: code
  type: string
  pattern: '[[:alpha:]]+'
`)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{})
	e.gates.infos["all"] = testInfo("all", schema, time.Time{})
	p := e.browser.signIn(e.link("all"), "alice")
	want := []string{
		`<input type="checkbox" id="f-ok" name="ok" value="true" checked aria-describedby="f-ok.desc">` + "\n" + `<label for="f-ok">ok</label>`,
		`<p class="desc" id="f-ok.desc">Tick to confirm</p>`,
		`<label for="f-reason">reason <span class="req">required</span></label>`,
		`<input type="text" id="f-reason" name="reason" value="" required maxlength="100" pattern="[a-z ]&#43;" title="Must match [a-z ]&#43;" aria-describedby="f-reason.desc">`,
		`<input type="number" id="f-rollout" name="rollout" value="10" min="1" max="100" step="1">`,
		`<input type="number" id="f-ratio" name="ratio" value="" step="any">`,
		`<select id="f-env" name="env" required>` + "\n" + `<option value="">Choose one</option>` + "\n" + `<option value="staging">staging</option>` + "\n" + `<option value="prod">prod</option>`,
		`<select id="f-tier" name="tier">` + "\n" + `<option value="">—</option>` + "\n" + `<option value="gold">gold</option>` + "\n" + `<option value="silver" selected>silver</option>`,
		`<legend>teams</legend>`,
		`<input type="checkbox" id="f-teams.0" name="teams" value="HR" checked>` + "\n" + `<label for="f-teams.0">HR</label>`,
		`<input type="checkbox" id="f-teams.1" name="teams" value="Finance">`,
		`<input type="checkbox" id="f-teams.2" name="teams" value="IT" checked>`,
		`<input type="date" id="f-day" name="day" value="">`,
		`<input type="text" id="f-at" name="at" value="" placeholder="2024-05-01T14:30:00Z">`,
		`<input type="text" id="f-wait" name="wait" value="" placeholder="90m, 36h or 7d">`,
		`<input type="email" id="f-contact" name="contact" value="">`,
		`<input type="url" id="f-docs" name="docs" value="">`,
		`<input type="text" id="f-code" name="code" value="">`,
		`<input type="hidden" name="_csrf" value="`,
	}
	for _, s := range want {
		if !strings.Contains(p.body, s) {
			t.Errorf("form lacks\n%s", s)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", p.body)
	}
}

// answerForm is a filled-in form of the test schema.
func answerForm(csrf, decision string) url.Values {
	return url.Values{
		"_csrf":    {csrf},
		"reason":   {"all good"},
		"rollout":  {"25"},
		"teams":    {"HR", "IT"},
		"_comment": {"  ship it  "},
		"bogus":    {"ignored"},
		"decision": {decision},
	}
}

func TestPostRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	link, other := e.link("g1"), e.link("g2")
	csrf := csrfOf(t, e.browser.signIn(link, "alice"))
	otherCSRF := csrfOf(t, e.browser.get(other))
	bob := e.newBrowser(t)
	bobCSRF := csrfOf(t, bob.signIn(link, "bob"))
	signedOut := e.newBrowser(t)
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
		{"CSRF value of another link", e.browser, link, answerForm(otherCSRF, "approve"), http.StatusForbidden, "This form has expired"},
		{"CSRF value of another person", e.browser, link, answerForm(bobCSRF, "approve"), http.StatusForbidden, "This form has expired"},
		{"signed out", signedOut, link, answerForm(csrf, "approve"), http.StatusForbidden, "Sign in with GitHub to respond"},
		{"no decision", e.browser, link, answerForm(csrf, ""), http.StatusBadRequest, "Choose approve or reject"},
		{"unknown decision", e.browser, link, answerForm(csrf, "maybe"), http.StatusBadRequest, "Choose approve or reject"},
		{"tampered link", e.browser, tampered, answerForm(csrf, "approve"), http.StatusNotFound, "This link is not valid"},
		{"expired link", e.browser, e.links.Channel("g1", e.clock.Now()), answerForm(csrf, "approve"), http.StatusGone, "This link has expired"},
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
}

func TestPostResults(t *testing.T) {
	tests := []struct {
		name       string
		result     func(info gates.Info, a gates.Answer) gates.Answered
		decision   string
		wantStatus int
		want       []string
	}{
		{"recorded", func(info gates.Info, a gates.Answer) gates.Answered {
			info.View.Approvals = 1
			return gates.Answered{Result: gates.Recorded, Identity: "alice", Gate: info}
		}, "approve", http.StatusOK, []string{"<h1>Recorded</h1>", "You approved “Deploy g1” as @alice.", "Waiting for a decision — 1 of 2 approvals"}},
		{"recorded as another identity", func(info gates.Info, a gates.Answer) gates.Answered {
			return gates.Answered{Result: gates.Recorded, Identity: "alice@corp.example", Gate: info}
		}, "reject", http.StatusOK, []string{"You rejected “Deploy g1” as @alice. It counts as alice@corp.example."}},
		{"duplicate", func(info gates.Info, a gates.Answer) gates.Answered {
			return gates.Answered{Result: gates.Duplicate, Gate: info}
		}, "approve", http.StatusConflict, []string{"You have already responded", "Your earlier answer stands."}},
		{"not eligible", func(info gates.Info, a gates.Answer) gates.Answered {
			return gates.Answered{Result: gates.NotEligible, Reason: "alice is not an approver of this gate", Gate: info}
		}, "approve", http.StatusForbidden, []string{"Your answer does not count", "alice is not an approver of this gate"}},
		{"closed", func(info gates.Info, a gates.Answer) gates.Answered {
			info.View.Status, info.View.DecidedBy = "rejected", "bob"
			return gates.Answered{Result: gates.Closed, Gate: info}
		}, "approve", http.StatusConflict, []string{"This request is settled", "Rejected — 0 of 2 approvals", "Decided by</dt><dd>bob"}},
		{"invalid", func(info gates.Info, a gates.Answer) gates.Answered {
			return gates.Answered{Result: gates.Invalid, Problems: []string{"rollout: must be a whole number between 1 and 100", "reason: required"}, Gate: info}
		}, "reject", http.StatusUnprocessableEntity, []string{
			`<div class="alert" role="alert">`,
			"<li>rollout: must be a whole number between 1 and 100</li>",
			`<p class="problem" id="f-rollout.problem">must be a whole number between 1 and 100</p>`,
			`<input type="number" id="f-rollout" name="rollout" value="25" min="1" max="100" step="1" aria-describedby="f-rollout.problem" aria-invalid="true">`,
			`<input type="text" id="f-reason" name="reason" value="all good" required maxlength="100" aria-describedby="f-reason.desc f-reason.problem" aria-invalid="true">`,
			`<input type="checkbox" id="f-teams.0" name="teams" value="HR" checked>`,
			`<input type="checkbox" id="f-teams.1" name="teams" value="Finance">`,
			`<input type="checkbox" id="f-teams.2" name="teams" value="IT" checked>`,
			`<textarea id="comment" name="_comment" rows="3" maxlength="2000">ship it</textarea>`,
			`<input type="hidden" name="_csrf" value="`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.gates.result = tt.result
			link := e.link("g1")
			csrf := csrfOf(t, e.browser.signIn(link, "alice"))
			p := e.browser.post(link, answerForm(csrf, tt.decision))
			if p.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", p.status, tt.wantStatus)
			}
			for _, s := range tt.want {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks\n%s", s)
				}
			}
			checkHeaders(t, p)
			if t.Failed() {
				t.Logf("page:\n%s", p.body)
			}

			want := []gates.Answer{{
				ID:       "link:g1:alice",
				Actor:    approval.Actor{Login: "alice"},
				Via:      approval.ViaTeams,
				Decision: approval.Decision(tt.decision),
				Fields:   map[string]string{"reason": "all good", "rollout": "25", "notify": "false", "teams": "HR,IT"},
				Comment:  "ship it",
				At:       e.clock.Now(),
			}}
			if diff := cmp.Diff(want, e.gates.got()); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			logs := e.logs.String()
			if strings.Count(logs, "msg=\"response page answer\"") != 1 || !strings.Contains(logs, "gate=g1 login=alice decision="+tt.decision) {
				t.Errorf("logs lack one line for the answer:\n%s", logs)
			}
			if strings.Contains(logs, tokenOf(link)) || strings.Contains(logs, csrf) {
				t.Errorf("logs hold the link token or the CSRF value:\n%s", logs)
			}
		})
	}
}

func TestHostileContentIsEscaped(t *testing.T) {
	schema, err := fields.Parse(`
- id: pick
  type: select
  values: ['"><script>alert(3)</script>']
  description: <img src=x onerror=alert(2)>
`)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{})
	info := testInfo("evil", schema, time.Time{})
	info.Title = "<script>alert(1)</script>"
	info.Instructions = "</div><a href=\"javascript:alert(4)\">click</a>\n**bold**"
	info.IssueURL = "javascript:alert(5)"
	info.View.Responses = []api.Response{{Actor: "<b>mallory</b>", Decision: "approve", Via: "teams", Comment: "<iframe src=//evil>"}}
	e.gates.infos["evil"] = info
	p := e.browser.signIn(e.link("evil"), "alice")
	if p.status != http.StatusOK {
		t.Fatalf("status = %d", p.status)
	}
	for _, bad := range []string{"<script", "<img", "<iframe", "<b>mallory", `href="javascript:`, "<a href=\"javascript"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;", `<div class="instructions">&lt;/div&gt;&lt;a href=&#34;javascript:alert(4)&#34;&gt;click&lt;/a&gt;` + "\n**bold**</div>"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", p.body)
	}
}

func TestAnswerIDIgnoresCase(t *testing.T) {
	e := newEnv(t, envOptions{})
	link := e.link("g1")
	csrf := csrfOf(t, e.browser.signIn(link, "carol"))
	if p := e.browser.post(link, answerForm(csrf, "approve")); p.status != http.StatusOK {
		t.Fatalf("POST: %d:\n%s", p.status, p.body)
	}
	got := e.gates.got()
	if len(got) != 1 || got[0].ID != "link:g1:carol" || got[0].Actor.Login != "Carol" {
		t.Errorf("answers = %+v, want ID link:g1:carol by Carol", got)
	}
}

// flip changes the middle character of a token to another one.
func flip(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
