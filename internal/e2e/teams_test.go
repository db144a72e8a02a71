package e2e

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/conformance"
	"github.com/gatehouse-ci/gatehouse/internal/msemu"
)

// teamsGate is a gate of one approval with the release fields whose card
// goes to the releases channel.
func teamsGate(approvers, minimum string) map[string]string {
	return map[string]string{
		"approvers": approvers, "minimum-approvals": minimum, "fields": releaseFields,
		"notify": "teams", "teams-channel": "releases", "instructions": "Check the canary dashboard first.",
	}
}

func TestTeamsCardApproves(t *testing.T) {
	t.Parallel()
	tw := newTeamsWorld(t)
	run := tw.startGate(teamsGate("alice, bob", "1"))
	tw.waitRegistered(run)
	posted := tw.waitCard()
	card, err := msemu.AdaptiveCard(posted.Activity)
	must(t, err)
	if got := actions(card); !cmp.Equal(got, []string{"Action.Execute", "Action.Execute"}) {
		t.Errorf("card actions %q, want Approve and Reject", got)
	}
	if s := text(card); !strings.Contains(s, "Check the canary dashboard first.") || !strings.Contains(s, "Input.Number") || !strings.Contains(s, "Input.ChoiceSet") {
		t.Errorf("card text lacks the instructions or the fields:\n%s", s)
	}

	answer := tw.click(tw.alice, posted, "approve", map[string]any{"reason": "canary clean", "rollout": "25", "regions": "eu,us", "_comment": "Ship it."})
	if answer.HTTPStatus != http.StatusOK || answer.StatusCode != 200 || answer.Type != "application/vnd.microsoft.card.adaptive" || !strings.Contains(text(answer.Value), "Recorded") {
		t.Fatalf("invoke answer %+v:\n%s", answer, answer.Value)
	}
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{
		"decision": "approved", "approvers": "alice", "decided-by": "alice", "comment": "Ship it.",
		"field-reason": "canary clean", "field-rollout": "25", "field-regions": "eu,us",
	})
	rs := responsesOutput(t, out)
	if len(rs) != 1 || rs[0].Via != "teams" {
		t.Errorf("responses %+v, want alice via teams", rs)
	}

	is := tw.waitSummary(audit.KindSummary)
	notes := appComments(is, audit.KindResponse)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "**Approved** by **alice** via Microsoft Teams") || !strings.Contains(notes[0].Body, "rollout: 25") {
		t.Errorf("response comments %+v, want one recording alice's Teams approval", notes)
	}
	var updated []byte
	tw.waitFor("the card updated for everyone", func() bool {
		p := tw.ms.Activities(tw.releases.ID)
		if len(p) == 1 && len(p[0].Updates) > 0 {
			updated, err = msemu.AdaptiveCard(p[0].Latest())
			return err == nil
		}
		return false
	})
	if got := actions(updated); len(got) != 0 || !strings.Contains(text(updated), "Approved by alice") {
		t.Errorf("updated card: actions %q, text:\n%s", got, text(updated))
	}

	t.Run("the cards conform to Adaptive Cards 1.5", func(t *testing.T) {
		schema := conformance.AdaptiveCard15(t)
		for name, c := range map[string][]byte{"posted": card, "answer": answer.Value, "updated": updated} {
			if err := conformance.Validate(schema, c); err != nil {
				t.Errorf("the %s card: %v", name, err)
			}
		}
		for _, p := range tw.ms.Activities(tw.releases.ID) {
			for _, a := range append([]json.RawMessage{p.Activity}, p.Updates...) {
				if len(a) >= 28*1024 {
					t.Errorf("a message of %d bytes, over Teams' 28 KB", len(a))
				}
			}
		}
	})
}

func TestTeamsRefusesForgedActivities(t *testing.T) {
	t.Parallel()
	tw := newTeamsWorld(t)
	run := tw.startGate(teamsGate("alice", "1"))
	tw.waitRegistered(run)
	posted := tw.waitCard()
	activity, err := tw.ms.InvokeActivity(botAppID, msemu.InvokeOptions{
		User: tw.alice.ID, ConversationID: tw.releases.ID, ReplyToID: posted.ID, Verb: "approve",
		Data: map[string]any{"_gate": tw.gateID(), "reason": "forged"},
	})
	must(t, err)
	for _, tt := range []struct {
		name   string
		opts   msemu.TokenOptions
		status int
	}{
		{"unknown signing key", msemu.TokenOptions{Signing: msemu.SignUnknownKey}, 401},
		{"expired", msemu.TokenOptions{IssuedAt: time.Now().Add(-2 * time.Hour)}, 401},
		{"wrong audience", msemu.TokenOptions{Audience: "00000000-0000-4000-8000-000000000bad"}, 401},
		{"wrong issuer", msemu.TokenOptions{Issuer: "https://sts.windows.net/evil/"}, 401},
		{"alg none", msemu.TokenOptions{Signing: msemu.SignNone}, 401},
		{"serviceUrl of another host", msemu.TokenOptions{ServiceURL: "https://smba.trafficmanager.net/amer/"}, 403},
		{"key not endorsed for msteams", msemu.TokenOptions{Signing: msemu.SignUnendorsedKey}, 403},
	} {
		if tt.opts.Audience == "" {
			tt.opts.Audience = botAppID
		}
		token, err := tw.ms.Token(tt.opts)
		must(t, err)
		resp, err := tw.ms.Send(context.Background(), tw.botURL(), activity, token)
		must(t, err)
		if resp.Status != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.Status, tt.status, resp.Body)
		}
	}
	resp, err := tw.ms.Send(context.Background(), tw.botURL(), activity, "")
	must(t, err)
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", resp.Status)
	}
	// Had a forged invoke counted, it would have settled the gate with
	// the reason "forged".
	if a := tw.click(tw.alice, posted, "approve", map[string]any{"reason": "real"}); a.StatusCode != 200 {
		t.Fatalf("alice's click: %+v", a)
	}
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "field-reason": "real"})
	if n := len(responsesOutput(t, out)); n != 1 {
		t.Errorf("%d responses, want alice's one", n)
	}
}

func TestTeamsRefusedAndRepeatedClicks(t *testing.T) {
	t.Parallel()
	tw := newTeamsWorld(t)
	run := tw.startGate(teamsGate("alice, bob, carol@corp.example", "2"))
	tw.waitRegistered(run)
	posted := tw.waitCard()

	if a := tw.click(tw.mallory, posted, "approve", map[string]any{"reason": "me too"}); a.StatusCode != 200 || !strings.Contains(text(a.Value), "Not counted: not an approver") {
		t.Errorf("mallory's click: %+v\n%s", a, a.Value)
	}
	if a := tw.click(tw.alice, posted, "approve", map[string]any{"reason": "ok", "rollout": "500"}); a.StatusCode != 200 ||
		!strings.Contains(text(a.Value), "Not recorded. Fix these") || !strings.Contains(text(a.Value), "rollout: must be") || strings.Contains(text(a.Value), "✓ Recorded") {
		t.Errorf("an invalid rollout: %+v\n%s", a, a.Value)
	}

	// alice answers in Teams and by comment: one person, one approval.
	tw.click(tw.alice, posted, "approve", map[string]any{"reason": "from Teams"})
	id := tw.say("alice", "approve\nreason: from the issue")
	tw.waitFor("alice's comment to be recorded", func() bool { return len(reactions(tw.issue(), id, "+1")) > 0 })
	// The same invoke delivered twice counts once.
	activity, err := tw.ms.InvokeActivity(botAppID, msemu.InvokeOptions{
		User: tw.carol.ID, ConversationID: tw.releases.ID, ReplyToID: posted.ID, Verb: "approve",
		Data: map[string]any{"_gate": tw.gateID(), "reason": "looks fine"},
	})
	must(t, err)
	token, err := tw.ms.Token(msemu.TokenOptions{Audience: botAppID})
	must(t, err)
	for range 2 {
		resp, err := tw.ms.Send(context.Background(), tw.botURL(), activity, token)
		must(t, err)
		if a := decodeInvoke(t, resp); a.StatusCode != 200 || !strings.Contains(text(a.Value), "✓ Recorded") {
			t.Errorf("carol's invoke: status %d/%d\n%s", a.HTTPStatus, a.StatusCode, a.Value)
		}
	}
	// Counted once: the gate's outcome below has carol once, and one
	// response comment of hers.
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	if d := cmp.Diff([]string{"alice:approve", "carol@corp.example:approve"}, who(responsesOutput(t, out))); d != "" {
		t.Errorf("responses (-want +got):\n%s", d)
	}
	if n := len(appComments(tw.waitSummary(audit.KindSummary), audit.KindResponse)); n != 2 {
		t.Errorf("%d response comments, want alice's Teams answer and carol's", n)
	}
}

func TestTeamsUnknownChannel(t *testing.T) {
	t.Parallel()
	tw := newTeamsWorld(t)
	in := teamsGate("alice", "1")
	in["teams-channel"] = "launches"
	run := tw.startGate(in)
	tw.waitRegistered(run)
	tw.waitFor("the notice on the issue", func() bool { return len(appComments(tw.issue(), audit.KindNotice)) == 1 })
	notice := appComments(tw.issue(), audit.KindNotice)[0].Body
	if !strings.Contains(notice, `"launches"`) || strings.Contains(notice, "releases") {
		t.Errorf("notice:\n%s", notice)
	}
	if !strings.Contains(run.stdout.String(), "::warning::") {
		t.Errorf("the action printed no warning:\n%s", run.stdout.String())
	}
	tw.say("alice", "approve\nreason: fine")
	if code, out := run.wait(t); code != 0 || out["decision"] != "approved" {
		t.Errorf("exit %d, decision %q; want approved by comment", code, out["decision"])
	}
}

func TestTeamsWorkflowsWebhookWithGitHubSignIn(t *testing.T) {
	t.Parallel()
	tw := newTeamsWorld(t)
	in := teamsGate("alice, bob", "1")
	in["teams-channel"] = "ops"
	run := tw.startGate(in)
	tw.waitRegistered(run)
	var posts []msemu.WebhookPost
	tw.waitFor("the card posted to the ops webhook", func() bool {
		posts = tw.ms.WebhookPosts("ops")
		return len(posts) > 0
	})
	card, err := msemu.AdaptiveCard(posts[0].Body)
	must(t, err)
	link := ""
	for _, u := range openURLs(card) {
		if strings.HasPrefix(u, tw.url+"/respond/") {
			link = u
		}
	}
	if link == "" || len(posts) != 1 {
		t.Fatalf("%d posts; the card has no response link: %q", len(posts), openURLs(card))
	}
	t.Run("the card conforms to Adaptive Cards 1.5", func(t *testing.T) {
		if err := conformance.Validate(conformance.AdaptiveCard15(t), card); err != nil {
			t.Error(err)
		}
	})

	// frank, who may not approve, signs in and is refused.
	frank := newBrowser(t)
	frank.signIn(tw.emu.WebURL(), "frank")
	if status, page := frank.respond(link, url.Values{"reason": {"me"}, "decision": {"approve"}}); status != http.StatusForbidden || !strings.Contains(page, "not an approver") {
		t.Errorf("frank: %d\n%s", status, page)
	}
	// A scanner, or anyone without the form's CSRF value, changes nothing.
	if status, _ := frank.post(link, url.Values{"reason": {"me"}, "decision": {"approve"}}); status != http.StatusForbidden {
		t.Errorf("a post without the CSRF value: %d, want 403", status)
	}

	bob := newBrowser(t)
	bob.signIn(tw.emu.WebURL(), "bob")
	status, page := bob.respond(link, url.Values{"reason": {"canary clean"}, "rollout": {"40"}, "_comment": {"Go."}, "decision": {"approve"}})
	if status != http.StatusOK || !strings.Contains(page, "Recorded") {
		t.Fatalf("bob: %d\n%s", status, page)
	}
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{"decision": "approved", "decided-by": "bob", "field-rollout": "40", "comment": "Go."})
	if rs := responsesOutput(t, out); len(rs) != 1 || rs[0].Via != "teams" {
		t.Errorf("responses %+v, want bob's via teams", rs)
	}
	notes := appComments(tw.waitSummary(audit.KindSummary), audit.KindResponse)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "**Approved** by **bob** via Microsoft Teams") {
		t.Errorf("response comments %+v", notes)
	}
	if status, page := bob.get(link); status != http.StatusOK || !strings.Contains(page, "Approved") || strings.Contains(page, `name="_csrf"`) {
		t.Errorf("the link after settling: %d, want the outcome and no form:\n%s", status, page)
	}
}

// openURLs lists the targets of a card's Action.OpenUrl buttons.
func openURLs(card json.RawMessage) []string {
	var c struct {
		Actions []struct {
			Type, URL string
		} `json:"actions"`
	}
	json.Unmarshal(card, &c)
	var out []string
	for _, a := range c.Actions {
		if a.Type == "Action.OpenUrl" {
			out = append(out, a.URL)
		}
	}
	return out
}

// browser is a person's web browser: cookies, redirects followed.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	must(t, err)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) get(u string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	must(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(b.t, err)
	return resp.StatusCode, string(body)
}

func (b *browser) post(u string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(u, form)
	must(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(b.t, err)
	return resp.StatusCode, string(body)
}

// signIn signs the browser in to GitHub as login, landing on the approval
// issue.
func (b *browser) signIn(githubURL, login string) {
	b.t.Helper()
	if status, page := b.get(githubURL + "/login?login=" + login + "&return_to=/" + owner + "/" + repo + "/issues/1"); status != http.StatusOK {
		b.t.Fatalf("signing in to GitHub as %s: %d\n%s", login, status, page)
	}
}

var (
	signInLink = regexp.MustCompile(`href="(/auth/github/login\?[^"]+)"`)
	csrfInput  = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
)

// respond opens a response link, signs in to the app with GitHub when the
// page asks, and submits the form with values and the form's CSRF value.
func (b *browser) respond(link string, values url.Values) (int, string) {
	b.t.Helper()
	status, page := b.get(link)
	if m := signInLink.FindStringSubmatch(page); m != nil {
		u, err := url.Parse(link)
		must(b.t, err)
		status, page = b.get(u.Scheme + "://" + u.Host + html.UnescapeString(m[1]))
	}
	m := csrfInput.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		b.t.Fatalf("the response page: %d, no form:\n%s", status, page)
	}
	values.Set("_csrf", html.UnescapeString(m[1]))
	return b.post(link, values)
}
