package email

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

const (
	testFrom  = "gatehouse@corp.example"
	testTo    = "carol@corp.example"
	testToken = "c2lnbmVkLXRva2VuLWZvci1jYXJvbA"
	testLink  = "https://gatehouse.example/respond/" + testToken
	testMsgID = "0123456789abcdef0123456789abcdef@corp.example"
)

var testDate = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func testInfo() gates.Info {
	return gates.Info{
		ID: "g1", Repository: "acme/app", Title: "Deploy to production",
		Instructions: "Check the **dashboards** first.\n\n    indented line\n- item",
		IssueNumber:  7, IssueURL: "https://github.com/acme/app/issues/7",
		Run: api.Run{Workflow: "Release", Number: 42, URL: "https://github.com/acme/app/actions/runs/99", Actor: "octocat"},
		Fields: fields.Schema{
			{ID: "reason", Type: fields.String, Required: true, Description: "Why?"},
			{ID: "rollout", Type: fields.Number},
		},
		MinimumApprovals: 2,
		Deadline:         time.Date(2025, 3, 4, 8, 0, 0, 0, time.FixedZone("CET", 3600)),
		View:             api.Gate{ID: "g1", Status: "pending"},
	}
}

func testContent(info gates.Info) Content {
	return Content{Gate: info, From: testFrom, To: testTo, Label: testTo, Link: testLink, MessageID: testMsgID, Date: testDate}
}

// parsed is a message read back as a mail client reads it.
type parsed struct {
	header netmail.Header
	raw    string // the header section as sent
	text   string
	html   string
	types  []string // the parts' content types
}

func parseMIME(t *testing.T, b []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	p := parsed{header: msg.Header, raw: string(b[:bytes.Index(b, []byte("\r\n\r\n"))])}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
		ct := part.Header.Get("Content-Type")
		p.types = append(p.types, ct)
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			p.text = string(body)
		case strings.HasPrefix(ct, "text/html"):
			p.html = string(body)
		}
	}
	return p
}

func composeParsed(t *testing.T, c Content) (Message, parsed) {
	t.Helper()
	m, err := Compose(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	return m, parseMIME(t, b)
}

func TestComposeMIME(t *testing.T) {
	m, p := composeParsed(t, testContent(testInfo()))
	if d := cmp.Diff([]string{"text/plain; charset=UTF-8", "text/html; charset=UTF-8"}, p.types); d != "" {
		t.Errorf("parts (-want +got):\n%s", d)
	}
	headers := map[string]string{
		"Message-Id":   "<" + testMsgID + ">",
		"Subject":      "[acme/app] Deploy to production",
		"From":         "<" + testFrom + ">",
		"To":           "<" + testTo + ">",
		"Mime-Version": "1.0",
	}
	for k, want := range headers {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if date, err := p.header.Date(); err != nil || !date.Equal(testDate) {
		t.Errorf("Date %v (%v), want %v", date, err, testDate)
	}
	if m.Subject != "[acme/app] Deploy to production" {
		t.Errorf("Subject %q", m.Subject)
	}
	for name, body := range map[string]string{"text": p.text, "html": p.html} {
		for _, link := range []string{testLink + "?decision=approve", testLink + "?decision=reject"} {
			if n := strings.Count(body, link); n != 1 {
				t.Errorf("%s part has %q %d times, want once", name, link, n)
			}
		}
		// The token is in the two links and nowhere else.
		if n := strings.Count(body, testToken); n != 2 {
			t.Errorf("%s part has the token %d times, want 2", name, n)
		}
		for _, want := range []string{
			"@octocat", "acme/app", "Deploy to production", "Release #42", "https://github.com/acme/app/actions/runs/99",
			"#7", "https://github.com/acme/app/issues/7", "2025-03-04 07:00 UTC", "2 approvals",
			"reason", "string, required", "Why?", "rollout", "number, optional",
			"changes nothing", "for you alone and work once", "answer on the issue",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part does not say %q", name, want)
			}
		}
	}
	if strings.Contains(p.raw, testToken) {
		t.Error("the token is in the headers")
	}
	if !strings.Contains(p.text, "Check the **dashboards** first.\n\n    indented line\n- item") {
		t.Errorf("text part does not show the instructions as written:\n%s", p.text)
	}
	for _, want := range []string{`<html lang="en">`, "white-space:pre-wrap", `role="presentation"`, `name="viewport"`} {
		if !strings.Contains(p.html, want) {
			t.Errorf("html part has no %q", want)
		}
	}
	for _, banned := range []string{"<script", "<style", "<img", "<link", "class="} {
		if strings.Contains(p.html, banned) {
			t.Errorf("html part has %q", banned)
		}
	}
}

func TestComposeRequireAll(t *testing.T) {
	info := testInfo()
	info.RequireAll, info.Fields, info.Instructions, info.Deadline = true, nil, "", time.Time{}
	_, p := composeParsed(t, testContent(info))
	for name, body := range map[string]string{"text": p.text, "html": p.html} {
		for _, want := range []string{"every listed approver", "none"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part does not say %q", name, want)
			}
		}
		for _, unwanted := range []string{"will also ask", "Instructions"} {
			if strings.Contains(body, unwanted) {
				t.Errorf("%s part says %q", name, unwanted)
			}
		}
	}
}

func TestComposeHostile(t *testing.T) {
	info := testInfo()
	info.Title = "Déployer <script>alert(1)</script>\r\nBcc: evil@attacker.example\r\n\r\nbody"
	info.Instructions = "<script>steal()</script>\n<a href=\"javascript:x\">click</a> & more"
	info.Fields[0].Description = "<b>bold</b>"
	m, p := composeParsed(t, testContent(info))
	wantSubject := "[acme/app] Déployer <script>alert(1)</script> Bcc: evil@attacker.example body"
	if dec, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject")); err != nil || dec != wantSubject {
		t.Errorf("Subject decodes to %q (%v), want %q", dec, err, wantSubject)
	}
	if m.Subject != wantSubject {
		t.Errorf("Subject %q, want %q", m.Subject, wantSubject)
	}
	if _, ok := p.header["Bcc"]; ok {
		t.Error("the title injected a Bcc header")
	}
	for i, r := range p.raw {
		if r > 127 {
			t.Fatalf("header byte %d is not ASCII: the subject is not encoded", i)
		}
	}
	if !strings.Contains(p.raw, "=?UTF-8?") {
		t.Errorf("the subject is not an encoded word:\n%s", p.raw)
	}
	for _, banned := range []string{"<script", "<b>", "javascript:x\">"} {
		if strings.Contains(p.html, banned) {
			t.Errorf("html part has %q unescaped", banned)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;steal()&lt;/script&gt;", "&amp; more", "&lt;b&gt;bold&lt;/b&gt;"} {
		if !strings.Contains(p.html, want) {
			t.Errorf("html part has no %q", want)
		}
	}
	if !strings.Contains(p.text, "<script>steal()</script>") {
		t.Error("text part does not show the instructions as written")
	}
}

func TestComposeLongTitle(t *testing.T) {
	info := testInfo()
	info.Title = strings.Repeat("é", 500)
	m, err := Compose(testContent(info))
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(m.Subject)); n != maxSubject {
		t.Errorf("subject of %d characters, want %d", n, maxSubject)
	}
	if !strings.HasSuffix(m.Subject, "…") {
		t.Errorf("a cut subject does not end with an ellipsis: %q", m.Subject)
	}
}

func TestComposeErrors(t *testing.T) {
	for name, change := range map[string]func(*Content){
		"link with a query":  func(c *Content) { c.Link = testLink + "?x=1" },
		"relative link":      func(c *Content) { c.Link = "/respond/" + testToken },
		"javascript link":    func(c *Content) { c.Link = "javascript:alert(1)" },
		"bad recipient":      func(c *Content) { c.To = "carol" },
		"recipient list":     func(c *Content) { c.To = "a@x.example, b@x.example" },
		"bad sender":         func(c *Content) { c.From = "" },
		"bracketed id":       func(c *Content) { c.MessageID = "<" + testMsgID + ">" },
		"id without domain":  func(c *Content) { c.MessageID = "0123" },
		"id with a new line": func(c *Content) { c.MessageID = "a@b\r\nBcc: x@y" },
	} {
		t.Run(name, func(t *testing.T) {
			c := testContent(testInfo())
			change(&c)
			if _, err := Compose(c); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestMIMEStable(t *testing.T) {
	m, err := Compose(testContent(testInfo()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the same message gave different bytes")
	}
	m.From = "Gatehouse <" + testFrom + ">"
	b, err = m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	if from, err := parseMIME(t, b).header.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Gatehouse" || from[0].Address != testFrom {
		t.Errorf("From %v (%v), want Gatehouse <%s>", from, err, testFrom)
	}
	m.Date = time.Time{}
	if _, err := m.MIME(); err == nil {
		t.Error("a message without a date: no error")
	}
}
