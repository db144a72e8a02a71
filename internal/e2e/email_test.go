package e2e

import (
	"html"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/msemu"
	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

// emailGate is a gate of one approval with the release fields, notified by
// email.
func emailGate(approvers string) map[string]string {
	return map[string]string{
		"approvers": approvers, "minimum-approvals": "1", "fields": releaseFields,
		"notify": "email", "instructions": "Check the canary dashboard first.",
	}
}

// releaseAnswer is a valid answer to the release fields.
func releaseAnswer(decision string) url.Values {
	return url.Values{
		"reason": {"canary clean"}, "rollout": {"25"}, "regions": {"eu", "us"},
		"_comment": {"Ship it."}, "decision": {decision},
	}
}

// noResponses checks that nothing was recorded: no response comment on the
// issue, and the action still waiting.
func noResponses(t *testing.T, w *appWorld, run *actionRun, after string) {
	t.Helper()
	if notes := appComments(w.issue(), audit.KindResponse); len(notes) != 0 || !run.running() {
		t.Fatalf("after %s: %d response comments, action running %v; want nothing recorded", after, len(notes), run.running())
	}
}

func TestEmailApprovesFromLink(t *testing.T) {
	t.Parallel()
	ew := newEmailWorld(t, true)
	run := ew.startGate(emailGate("alice, dave, carol@corp.example, " + owner + "/sre"))
	ew.waitRegistered(run)

	// alice through the identities file, carol as listed, erin as a member
	// of sre; dave has no address, which the job and the issue say.
	ms := ew.waitMail(3)
	if len(ms) != 3 {
		t.Fatalf("%d messages, want 3", len(ms))
	}
	if !strings.Contains(run.stdout.String(), "Email: no address is known for @dave") {
		t.Errorf("no warning about dave in the job log:\n%s", run.stdout.String())
	}
	ids := map[string]bool{}
	for _, addr := range []string{"alice@corp.example", "carol@corp.example", "erin@corp.example"} {
		m := readMail(t, mailTo(t, ms, addr))
		if subject := decodedSubject(t, m.Header); !strings.Contains(subject, owner+"/"+repo) || !strings.Contains(subject, "Approval needed: release #42") {
			t.Errorf("subject %q, want the repository and the gate title", subject)
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("Date: %v", err)
		}
		id := m.Header.Get("Message-Id")
		if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@corp.example>") || ids[id] {
			t.Errorf("Message-ID %q: want a unique <…@corp.example>", id)
		}
		ids[id] = true
		if from, err := mail.ParseAddress(m.Header.Get("From")); err != nil || from.Address != "gatehouse@corp.example" {
			t.Errorf("From %q: %v", m.Header.Get("From"), err)
		}
		for _, want := range []string{"Check the canary dashboard first.", ew.issue().HTMLURL} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("the text part lacks %q:\n%s", want, m.Text)
			}
		}
	}
	carol := readMail(t, mailTo(t, ms, "carol@corp.example"))

	// A mail scanner fetches every link, with GET and HEAD: nothing counts.
	b := newBrowser(t)
	var csrf string
	for _, link := range []string{carol.Approve, carol.Reject, carol.Approve} {
		status, page := b.get(link)
		m := csrfInput.FindStringSubmatch(page)
		if status != http.StatusOK || !strings.Contains(page, "carol@corp.example") || m == nil {
			t.Fatalf("GET %s: %d\n%s", link, status, page)
		}
		csrf = html.UnescapeString(m[1])
		resp, err := b.c.Head(link)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("HEAD %s: %d %v", link, resp.StatusCode, resp.Header)
		}
	}
	noResponses(t, ew.appWorld, run, "GET and HEAD of the links")

	// No CSRF value: refused.
	if status, _ := b.post(carol.Approve, releaseAnswer("approve")); status != http.StatusForbidden {
		t.Errorf("POST without the CSRF value: %d, want 403", status)
	}
	noResponses(t, ew.appWorld, run, "a POST without the CSRF value")

	// A value out of range: the form again, naming the problem.
	bad := releaseAnswer("approve")
	bad.Set("rollout", "500")
	if status, page := b.respond(carol.Approve, bad); status != http.StatusUnprocessableEntity || !strings.Contains(page, "rollout") || !strings.Contains(page, `name="_csrf"`) {
		t.Fatalf("POST with rollout 500: %d\n%s", status, page)
	}
	noResponses(t, ew.appWorld, run, "an invalid field")

	if status, page := b.respond(carol.Approve, releaseAnswer("approve")); status != http.StatusOK || !strings.Contains(page, "Recorded") {
		t.Fatalf("POST: %d\n%s", status, page)
	}
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{
		"decision": "approved", "approvers": "carol@corp.example", "decided-by": "carol@corp.example", "comment": "Ship it.",
		"field-reason": "canary clean", "field-rollout": "25", "field-regions": "eu,us",
	})
	if rs := responsesOutput(t, out); len(rs) != 1 || rs[0].Via != "email" {
		t.Errorf("responses %+v, want carol via email", rs)
	}
	is := ew.waitSummary(audit.KindSummary)
	notes := appComments(is, audit.KindResponse)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "**Approved** by **carol@corp.example** via email") || !strings.Contains(notes[0].Body, "rollout: 25") {
		t.Errorf("response comments %+v, want one recording carol's email approval", notes)
	}
	if !hasNotice(is, "no address is known for @dave") {
		t.Errorf("no notice about dave on the issue")
	}

	// The link is used up: a second POST is refused and changes nothing.
	again := releaseAnswer("reject")
	again.Set("_csrf", csrf)
	if status, _ := b.post(carol.Approve, again); status != http.StatusConflict {
		t.Errorf("second POST: %d, want 409", status)
	}
	if status, page := b.get(carol.Reject); status != http.StatusOK || !strings.Contains(page, "used") {
		t.Errorf("GET after use: %d\n%s", status, page)
	}
	if notes := appComments(ew.issue(), audit.KindResponse); len(notes) != 1 {
		t.Errorf("%d response comments after the second POST, want 1", len(notes))
	}
	if n := len(ew.mail.messages()); n != 3 {
		t.Errorf("%d messages in the end, want 3", n)
	}
}

// hasNotice reports whether the issue has a notice comment containing s.
func hasNotice(is ghemu.IssueSnapshot, s string) bool {
	for _, c := range appComments(is, audit.KindNotice) {
		if strings.Contains(c.Body, s) {
			return true
		}
	}
	return false
}

func TestEmailLinksRefused(t *testing.T) {
	t.Parallel()
	ew := newEmailWorld(t, true)
	first := ew.startGate(map[string]string{"approvers": "carol@corp.example", "notify": "email", "title": "First gate"})
	ew.waitRegistered(first)
	secondRun := sandbox.DefaultRun
	secondRun.ID, secondRun.Number = 9002, 43
	second := ew.startRun(secondRun, map[string]string{"approvers": "carol@corp.example", "notify": "email", "title": "Second gate", "fail-on-reject": "false"})
	ew.waitRegistered(second)
	ms := ew.waitMail(2)
	mails := map[string]approvalMail{}
	for _, m := range ms {
		am := readMail(t, m.Data)
		mails[strings.TrimPrefix(decodedSubject(t, am.Header), "["+owner+"/"+repo+"] ")] = am
	}
	a, b2 := mails["First gate"], mails["Second gate"]
	if a.Approve == "" || b2.Approve == "" {
		t.Fatalf("messages by subject: %v", mails)
	}

	b := newBrowser(t)
	// Tampered: one character of the token changed.
	i := strings.Index(a.Approve, "/respond/") + len("/respond/") + 20
	flip := map[byte]byte{'A': 'B'}[a.Approve[i]]
	if flip == 0 {
		flip = 'A'
	}
	tampered := a.Approve[:i] + string(flip) + a.Approve[i+1:]
	if status, _ := b.get(tampered); status != http.StatusNotFound {
		t.Errorf("GET of a tampered link: %d, want 404", status)
	}
	if status, _ := b.post(tampered, releaseAnswer("approve")); status != http.StatusNotFound {
		t.Errorf("POST to a tampered link: %d, want 404", status)
	}

	// A token acts on its own gate only.
	if status, _ := b.respond(a.Approve, url.Values{"decision": {"approve"}}); status != http.StatusOK {
		t.Fatalf("approving the first gate: %d", status)
	}
	if code, out := first.wait(t); code != 0 || out["decision"] != "approved" {
		t.Fatalf("first gate: exit %d, %v", code, out)
	}
	if !second.running() {
		t.Fatal("the second gate settled with the first gate's link")
	}
	// The first gate's link, now settled, shows its outcome and takes
	// nothing.
	if status, page := b.get(a.Reject); status != http.StatusOK || !strings.Contains(page, "Approved") {
		t.Errorf("GET of a settled gate's link: %d\n%s", status, page)
	}
	if status, _ := b.respond(b2.Reject, url.Values{"decision": {"reject"}}); status != http.StatusOK {
		t.Fatalf("rejecting the second gate: %d", status)
	}
	if code, out := second.wait(t); code != 0 || out["decision"] != "rejected" {
		t.Fatalf("second gate: exit %d, %v", code, out)
	}

	// A link expires with its gate.
	thirdRun := sandbox.DefaultRun
	thirdRun.ID, thirdRun.Number = 9003, 44
	third := ew.startRun(thirdRun, map[string]string{"approvers": "carol@corp.example", "notify": "email", "title": "Third gate", "timeout": "8s", "fail-on-reject": "false"})
	ew.waitRegistered(third)
	c := readMail(t, ew.waitMail(3)[2].Data)
	if code, out := third.wait(t); code != 0 || out["decision"] != "timed_out" {
		t.Fatalf("third gate: exit %d, %v", code, out)
	}
	if status, _ := b.get(c.Approve); status != http.StatusGone {
		t.Errorf("GET of an expired link: %d, want 410", status)
	}
	if status, _ := b.post(c.Approve, releaseAnswer("approve")); status != http.StatusGone {
		t.Errorf("POST to an expired link: %d, want 410", status)
	}
}

func TestEmailServerDownThenUp(t *testing.T) {
	t.Parallel()
	ew := newEmailWorld(t, false)
	run := ew.startGate(map[string]string{"approvers": "carol@corp.example", "notify": "email"})
	ew.waitRegistered(run)
	ew.waitFor("the delay noted on the issue", func() bool { return hasNotice(ew.issue(), "delayed") })
	if got := ew.metric(`gatehouse_emails_total{result="retry",transport="smtp"}`); got == "" || got == "0" {
		t.Errorf("retries counted: %q", got)
	}

	ew.mail.start()
	m := readMail(t, ew.waitMail(1)[0].Data)
	ew.waitFor("the email counted as sent", func() bool {
		return ew.metric(`gatehouse_emails_total{result="sent",transport="smtp"}`) == "1"
	})
	// A restart sends nothing again.
	ew.stopApp(syscall.SIGTERM)
	ew.startApp()
	ew.approveWithOnlyMessage(run, m)
}

func TestEmailNotSentTwiceAfterCrash(t *testing.T) {
	t.Parallel()
	ew := newEmailWorld(t, true)
	handed, release := ew.mail.holdReplies()
	defer release()
	run := ew.startGate(map[string]string{"approvers": "carol@corp.example", "notify": "email"})
	ew.waitRegistered(run)
	select {
	case <-handed:
	case <-time.After(waitLimit):
		t.Fatal("the message never reached the mail server")
	}
	// The app dies after handing the message over, before the server's
	// reply; the server then delivers it.
	ew.stopApp(syscall.SIGKILL)
	release()
	ew.waitMail(1)
	ew.startApp()
	// The restarted app cannot know whether it arrived: it says so, and
	// does not send it again.
	ew.waitFor("the unknown delivery noted on the issue", func() bool { return hasNotice(ew.issue(), "may not have arrived") })
	if got := ew.metric(`gatehouse_emails_total{result="unknown",transport="smtp"}`); got != "1" {
		t.Errorf("unknown deliveries counted: %q, want 1", got)
	}
	ew.approveWithOnlyMessage(run, readMail(t, ew.mail.messages()[0].Data))
}

func TestEmailThroughMicrosoftGraph(t *testing.T) {
	t.Parallel()
	const (
		clientID = "7d4e2a10-3b5c-4f6e-8a9b-0c1d2e3f4a5b"
		secret   = "graph-client-secret"
		sender   = "gatehouse@corp.example"
	)
	ms, err := msemu.New(msemu.Options{TLS: true})
	must(t, err)
	must(t, ms.Start())
	t.Cleanup(func() { ms.Close() })
	must(t, ms.AddApp(ms.TenantID(), clientID, secret))
	must(t, ms.AddMailbox(ms.TenantID(), sender))
	must(t, ms.GrantMailSend(ms.TenantID(), clientID, sender))
	certFile := filepath.Join(t.TempDir(), "msemu.pem")
	must(t, os.WriteFile(certFile, ms.CertPEM(), 0o600))

	w := newAppWorldWith(t, func(w *appWorld) {
		for k, v := range map[string]string{
			"GATEHOUSE_GRAPH_TENANT_ID":     ms.TenantID(),
			"GATEHOUSE_GRAPH_CLIENT_ID":     clientID,
			"GATEHOUSE_GRAPH_CLIENT_SECRET": secret,
			"GATEHOUSE_GRAPH_SENDER":        sender,
			"GATEHOUSE_GRAPH_URL":           ms.GraphURL(),
			"GATEHOUSE_AUTHORITY_URL":       ms.AuthorityURL(),
			"GATEHOUSE_MAIL_FROM":           mailFrom,
			// The emulator's certificate is the only one the app trusts.
			"SSL_CERT_FILE": certFile,
		} {
			w.env[k] = v
		}
	})
	run := w.startGate(emailGate("carol@corp.example"))
	w.waitRegistered(run)
	var sent []msemu.SentMail
	w.waitFor("the sendMail call", func() bool {
		sent = ms.SentMail()
		return len(sent) > 0
	})
	s := sent[0]
	if len(sent) != 1 || !strings.EqualFold(s.Mailbox, sender) || s.ClientID != clientID || s.ContentType != "text/plain" || !s.Gzipped {
		t.Fatalf("sendMail %+v (of %d): want one gzipped MIME message from the sender mailbox by the app", s, len(sent))
	}
	m := readMail(t, s.MIME)
	if to := m.Header.Get("To"); !strings.Contains(to, "carol@corp.example") || m.Header.Get("Message-Id") == "" {
		t.Errorf("To %q, Message-ID %q", to, m.Header.Get("Message-Id"))
	}
	if status, page := newBrowser(t).respond(m.Approve, releaseAnswer("approve")); status != http.StatusOK {
		t.Fatalf("approving: %d\n%s", status, page)
	}
	code, out := run.wait(t)
	if code != 0 || out["decided-by"] != "carol@corp.example" {
		t.Fatalf("exit %d, outputs %v", code, out)
	}
	if got := w.metric(`gatehouse_emails_total{result="sent",transport="graph"}`); got != "1" {
		t.Errorf("emails sent through Graph: %q, want 1", got)
	}
}

// approveWithOnlyMessage approves through the link of m, waits for the gate
// to settle, and checks that m was the only message sent.
func (ew *emailWorld) approveWithOnlyMessage(run *actionRun, m approvalMail) {
	t := ew.t
	t.Helper()
	if status, _ := newBrowser(t).respond(m.Approve, url.Values{"decision": {"approve"}}); status != http.StatusOK {
		t.Fatalf("approving: %d", status)
	}
	if code, _ := run.wait(t); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	ew.waitSummary(audit.KindSummary)
	if n := len(ew.mail.messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
