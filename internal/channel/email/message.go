package email

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wneessen/go-mail"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// maxSubject bounds the subject line, in characters.
const maxSubject = 160

//go:embed templates/*
var templateFS embed.FS

var (
	textBody = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/body.txt"))
	htmlBody = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/body.html"))
)

// Message is one email, ready to send.
type Message struct {
	From, To  string
	Subject   string
	Text      string // the text/plain part
	HTML      string // the text/html alternative
	MessageID string // without angle brackets
	Date      time.Time
}

// MIME returns the message as RFC 5322 bytes: multipart/alternative with
// the text part first, UTF-8, quoted-printable. The same Message always
// gives the same bytes, so every transport sends the very same message.
func (m Message) MIME() ([]byte, error) {
	msg, err := m.msg()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("write message %s: %w", m.MessageID, err)
	}
	return b.Bytes(), nil
}

// msg builds the go-mail message. The multipart boundary is derived from
// the Message-ID, which keeps the output stable.
func (m Message) msg() (*mail.Msg, error) {
	if err := checkMessageID(m.MessageID); err != nil {
		return nil, err
	}
	if m.Date.IsZero() {
		return nil, fmt.Errorf("message %s has no date", m.MessageID)
	}
	sum := sha256.Sum256([]byte(m.MessageID))
	msg := mail.NewMsg(
		mail.WithCharset(mail.CharsetUTF8),
		mail.WithEncoding(mail.EncodingQP),
		mail.WithBoundary("gatehouse-"+hex.EncodeToString(sum[:12])),
		mail.WithNoDefaultUserAgent(),
	)
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("message %s: sender %q: %w", m.MessageID, m.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("message %s: recipient %q: %w", m.MessageID, m.To, err)
	}
	msg.Subject(oneLine(m.Subject, maxSubject))
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	return msg, nil
}

// checkMessageID accepts id-left "@" id-right without brackets, spaces or
// control characters.
func checkMessageID(id string) error {
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || strings.ContainsAny(id, "<>()[]\\\",;: ") || strings.ContainsFunc(id, unicode.IsControl) {
		return fmt.Errorf("message id %q is not of the form left@right", id)
	}
	return nil
}

// Content is what one gate's email to one recipient says.
type Content struct {
	Gate gates.Info
	From string
	To   string
	// Label names the recipient as the issue does: an address or "@login".
	Label string
	// Link is the recipient's response page, without a query.
	Link      string
	MessageID string
	Date      time.Time
}

// Compose writes the approval email: who asks and why, the instructions,
// where the gate comes from, what the page will ask for, and the Approve
// and Reject links to the recipient's response page.
func Compose(c Content) (Message, error) {
	u, err := url.Parse(c.Link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return Message{}, errors.New("compose the email: the response link is not an absolute http(s) URL without a query")
	}
	if _, err := netmail.ParseAddress(c.To); err != nil {
		return Message{}, fmt.Errorf("compose the email: recipient: %w", err)
	}
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return Message{}, fmt.Errorf("compose the email: sender: %w", err)
	}
	if err := checkMessageID(c.MessageID); err != nil {
		return Message{}, fmt.Errorf("compose the email: %w", err)
	}
	v := newView(c)
	var text, html strings.Builder
	if err := textBody.Execute(&text, v); err != nil {
		return Message{}, fmt.Errorf("compose the text of gate %s: %w", c.Gate.ID, err)
	}
	if err := htmlBody.Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("compose the HTML of gate %s: %w", c.Gate.ID, err)
	}
	return Message{
		From: c.From, To: c.To, Subject: v.Subject,
		Text: text.String(), HTML: html.String(),
		MessageID: c.MessageID, Date: c.Date,
	}, nil
}

// view is what the templates show.
type view struct {
	Subject      string
	Title        string
	Asker        string // who started the run: "@login", or a description
	Repository   string
	Instructions string
	Label        string
	Run          string // "Deploy #42"
	RunURL       string
	Issue        string // "#7"
	IssueURL     string
	Deadline     string
	Needs        string
	Fields       []fieldView
	ApproveURL   string
	RejectURL    string
}

type fieldView struct {
	ID, Type, Description string
	Required              bool
}

func newView(c Content) view {
	g := c.Gate
	title := oneLine(g.Title, maxSubject)
	if title == "" {
		title = "Approval needed"
	}
	v := view{
		Subject:      oneLine("["+g.Repository+"] "+title, maxSubject),
		Title:        title,
		Asker:        "A workflow run",
		Repository:   g.Repository,
		Instructions: strings.TrimSpace(strings.ToValidUTF8(g.Instructions, "\uFFFD")),
		Label:        c.Label,
		Run:          "run",
		RunURL:       g.Run.URL,
		Issue:        "#" + strconv.Itoa(g.IssueNumber),
		IssueURL:     g.IssueURL,
		Deadline:     "none",
		Needs:        plural(g.MinimumApprovals, "approval", "approvals"),
		ApproveURL:   c.Link + "?decision=approve",
		RejectURL:    c.Link + "?decision=reject",
	}
	if g.Run.Actor != "" {
		v.Asker = "@" + g.Run.Actor
	}
	if g.Run.Workflow != "" {
		v.Run = oneLine(g.Run.Workflow, maxSubject)
	}
	if g.Run.Number > 0 {
		v.Run += " #" + strconv.Itoa(g.Run.Number)
	}
	if !g.Deadline.IsZero() {
		v.Deadline = g.Deadline.UTC().Format("2006-01-02 15:04 UTC")
	}
	if g.RequireAll {
		v.Needs = "every listed approver"
	}
	for _, f := range g.Fields {
		v.Fields = append(v.Fields, fieldView{ID: f.ID, Type: string(f.Type), Description: oneLine(f.Description, 200), Required: f.Required})
	}
	return v
}

// oneLine folds s onto one line (control characters and runs of spaces
// become one space) of at most max characters.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
