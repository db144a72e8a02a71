package e2e

import (
	"bytes"
	"errors"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

const mailFrom = "Gatehouse <gatehouse@corp.example>"

// mailServer is a real SMTP server on loopback that keeps every message it
// accepts. It can be stopped and started again on the same address, and
// told to hold the reply to a message's data.
type mailServer struct {
	t    *testing.T
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	received []receivedMail
	hold     chan struct{} // while set, Data waits for it to close before replying
	handed   chan struct{} // closed when held data has been read in full
}

// receivedMail is one message as the server took it.
type receivedMail struct {
	From string
	To   []string
	Data []byte
}

// newMailServer reserves a loopback address; start serves on it.
func newMailServer(t *testing.T) *mailServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	m := &mailServer{t: t, addr: l.Addr().String()}
	must(t, l.Close())
	t.Cleanup(m.stop)
	return m
}

// url is the app's GATEHOUSE_SMTP_URL for the server.
func (m *mailServer) url() string { return "smtp://" + m.addr }

func (m *mailServer) start() {
	m.t.Helper()
	l, err := net.Listen("tcp", m.addr)
	must(m.t, err)
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	srv.Domain = "mail.corp.example"
	m.mu.Lock()
	m.srv = srv
	m.mu.Unlock()
	go srv.Serve(l)
}

func (m *mailServer) stop() {
	m.mu.Lock()
	srv := m.srv
	m.srv = nil
	m.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// holdReplies makes the server read the next message's data and wait with
// its reply until the returned release is called; handed is closed once
// the data has been read.
func (m *mailServer) holdReplies() (handed <-chan struct{}, release func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hold, m.handed = make(chan struct{}), make(chan struct{})
	hold := m.hold
	var once sync.Once
	return m.handed, func() { once.Do(func() { close(hold) }) }
}

func (m *mailServer) messages() []receivedMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]receivedMail(nil), m.received...)
}

type mailSession struct {
	m    *mailServer
	from string
	to   []string
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	hold, handed := s.m.hold, s.m.handed
	s.m.hold, s.m.handed = nil, nil
	s.m.mu.Unlock()
	if hold != nil {
		close(handed)
		<-hold
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.received = append(s.m.received, receivedMail{From: s.from, To: s.to, Data: data})
	return nil
}

// approvalMail is a received message read as a person's mail client would.
type approvalMail struct {
	Header  mail.Header
	Text    string
	HTML    string
	Approve string // the approve link
	Reject  string
}

var respondLink = regexp.MustCompile(`https?://[^\s"<>]+/respond/[A-Za-z0-9_-]+\?decision=(approve|reject)`)

// readMail parses a message: multipart/alternative with a text and an HTML
// part, each with the same two links.
func readMail(t *testing.T, data []byte) approvalMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	must(t, err)
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	must(t, err)
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", mediaType)
	}
	out := approvalMail{Header: msg.Header}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		must(t, err)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	if out.Text == "" || out.HTML == "" {
		t.Fatalf("want a text and an HTML part; text %q, HTML %q", out.Text, out.HTML)
	}
	links := func(s string) map[string]string {
		got := map[string]string{}
		for _, m := range respondLink.FindAllStringSubmatch(s, -1) {
			got[m[1]] = m[0]
		}
		return got
	}
	text, page := links(out.Text), links(html.UnescapeString(out.HTML))
	if text["approve"] == "" || text["reject"] == "" || text["approve"] != page["approve"] || text["reject"] != page["reject"] {
		t.Fatalf("links in the text %v and in the HTML %v, want the same approve and reject links", text, page)
	}
	out.Approve, out.Reject = text["approve"], text["reject"]
	return out
}

// decodedSubject is a header decoded as a mail client shows it.
func decodedSubject(t *testing.T, h mail.Header) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	must(t, err)
	return s
}

// mailTo finds the message to an address among messages.
func mailTo(t *testing.T, ms []receivedMail, addr string) []byte {
	t.Helper()
	var found [][]byte
	for _, m := range ms {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				found = append(found, m.Data)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d messages to %s, want 1", len(found), addr)
	}
	return found[0]
}

// emailWorld is an app world that sends email through a mailServer, with
// an identities file that gives alice and erin addresses.
type emailWorld struct {
	*appWorld
	mail *mailServer
}

func newEmailWorld(t *testing.T, serverUp bool) *emailWorld {
	t.Helper()
	ms := newMailServer(t)
	if serverUp {
		ms.start()
	}
	people := filepath.Join(t.TempDir(), "identities.yaml")
	must(t, os.WriteFile(people, []byte("people:\n  - github: alice\n    emails: [alice@corp.example]\n  - github: erin\n    emails: [erin@corp.example]\n"), 0o600))
	ew := &emailWorld{mail: ms}
	ew.appWorld = newAppWorldWith(t, func(w *appWorld) {
		w.env["GATEHOUSE_SMTP_URL"] = ms.url()
		w.env["GATEHOUSE_MAIL_FROM"] = mailFrom
		w.env["GATEHOUSE_IDENTITIES_FILE"] = people
	})
	return ew
}

// waitMail waits until the server has n messages and returns them.
func (ew *emailWorld) waitMail(n int) []receivedMail {
	ew.t.Helper()
	var ms []receivedMail
	ew.waitFor("the approval emails", func() bool {
		ms = ew.mail.messages()
		return len(ms) >= n
	})
	return ms
}
