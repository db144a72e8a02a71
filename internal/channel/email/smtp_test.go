package email

import (
	"bytes"
	"context"
	"crypto/x509"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/config"
)

func testMessage(t *testing.T) Message {
	t.Helper()
	m, err := Compose(testContent(testInfo()))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestSMTP(t *testing.T, s *smtpServer, security config.SMTPSecurity, user, password string) *SMTP {
	t.Helper()
	tr, err := NewSMTP(SMTPOptions{
		Server:    config.SMTP{Host: s.host, Port: s.port, Username: user, Password: config.Secret(password), Security: security},
		TLSConfig: clientTLS(t),
		Timeout:   10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// sendAlone sends m on a session of its own.
func sendAlone(ctx context.Context, tr Transport, m Message) error {
	s := tr.Open()
	defer s.Close()
	return s.Send(ctx, m)
}

func TestSMTPSend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		mode     serverMode
		security config.SMTPSecurity
		user     string
		wantTLS  bool
	}{
		{name: "plain", mode: plainServer, security: config.SMTPStartTLS},
		{name: "starttls offered", mode: startTLSServer, security: config.SMTPStartTLS, wantTLS: true},
		{name: "starttls required", mode: startTLSServer, security: config.SMTPStartTLSRequired, wantTLS: true},
		{name: "implicit tls", mode: implicitServer, security: config.SMTPImplicitTLS, wantTLS: true},
		{name: "login on loopback", mode: plainServer, security: config.SMTPStartTLS, user: "mailer"},
		{name: "login over starttls", mode: startTLSServer, security: config.SMTPStartTLSRequired, user: "mailer", wantTLS: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSMTPServer(t, tc.mode, "", func(s *smtpServer) {
				if tc.user != "" {
					s.user, s.password = tc.user, "s3cret"
				}
			})
			tr := newTestSMTP(t, s, tc.security, tc.user, "s3cret")
			m := testMessage(t)
			if err := sendAlone(t.Context(), tr, m); err != nil {
				t.Fatal(err)
			}
			want, err := m.MIME()
			if err != nil {
				t.Fatal(err)
			}
			got := s.Messages()
			if len(got) != 1 {
				t.Fatalf("%d messages, want 1", len(got))
			}
			if !bytes.Equal(got[0].Data, want) {
				t.Errorf("the server got other bytes than MIME():\n%s", cmp.Diff(string(want), string(got[0].Data)))
			}
			wantMsg := received{Helo: "corp.example", From: testFrom, To: testTo, TLS: tc.wantTLS, User: tc.user}
			got[0].Data = nil
			if d := cmp.Diff(wantMsg, got[0]); d != "" {
				t.Errorf("message (-want +got):\n%s", d)
			}
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		mode      serverMode
		ip        string
		security  config.SMTPSecurity
		user      string
		password  string // what the client sends
		configure func(*smtpServer)
		down      bool
		want      Failure
		reason    string
		noMail    bool // refused before MAIL FROM
		noAuth    bool // no credentials sent
		untrusted bool // the client does not trust the server's certificate
	}{
		{
			name: "starttls required, not offered", mode: plainServer, security: config.SMTPStartTLSRequired,
			want: Blocked, reason: "the mail server does not offer STARTTLS", noMail: true,
		},
		{
			name: "wrong password", mode: plainServer, security: config.SMTPStartTLS, user: "mailer", password: "wrong",
			configure: func(s *smtpServer) { s.user, s.password = "mailer", "s3cret" },
			want:      Blocked, reason: "the mail server refused the login (535 5.7.8)", noMail: true,
		},
		{
			name: "credentials in the clear to a host not named loopback", mode: plainServer, ip: "127.0.0.2",
			security: config.SMTPStartTLS, user: "mailer", password: "s3cret",
			configure: func(s *smtpServer) { s.user, s.password = "mailer", "s3cret" },
			want:      Blocked, reason: "the app sends its mail credentials only over TLS or to a loopback host", noMail: true, noAuth: true,
		},
		{
			name: "sender refused", mode: plainServer, security: config.SMTPStartTLS,
			configure: func(s *smtpServer) {
				s.mailErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 60}, Message: "Client does not have permissions to send as this sender"}
			},
			want: Blocked, reason: "the mail server refused the sender (550 5.7.60)",
		},
		{
			name: "sender deferred", mode: plainServer, security: config.SMTPStartTLS,
			configure: func(s *smtpServer) {
				s.mailErr = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			},
			want: Retry, reason: "the mail server deferred it (451 4.3.0)",
		},
		{
			name: "recipient refused", mode: plainServer, security: config.SMTPStartTLS,
			configure: func(s *smtpServer) {
				s.rcptErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user " + testTo}
			},
			want: Refused, reason: "the mail server refused it (550 5.1.1)",
		},
		{
			name: "recipient deferred", mode: plainServer, security: config.SMTPStartTLS,
			configure: func(s *smtpServer) {
				s.rcptErr = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			},
			want: Retry, reason: "the mail server deferred it (451 4.3.0)",
		},
		{
			name: "not listening", down: true, security: config.SMTPStartTLS,
			want: Retry, reason: "the mail server could not be reached", noMail: true,
		},
		{
			name: "no reply after the message", mode: plainServer, security: config.SMTPStartTLS,
			configure: func(s *smtpServer) { s.dropAfterData = true },
			want:      Unsure, reason: "the mail server did not confirm it after taking it",
		},
		{
			name: "untrusted certificate", mode: implicitServer, security: config.SMTPImplicitTLS, untrusted: true,
			want: Blocked, reason: "the mail server's TLS certificate was not accepted", noMail: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s *smtpServer
			if tc.down {
				s = &smtpServer{host: "127.0.0.1", port: freePort(t)}
			} else {
				s = newSMTPServer(t, tc.mode, tc.ip, tc.configure)
			}
			tr := newTestSMTP(t, s, tc.security, tc.user, tc.password)
			if tc.untrusted {
				tr.o.TLSConfig.RootCAs = x509.NewCertPool()
			}
			err := sendAlone(t.Context(), tr, testMessage(t))
			if err == nil {
				t.Fatal("no error")
			}
			if got := FailureOf(err); got != tc.want {
				t.Errorf("failure %v, want %v (%v)", got, tc.want, err)
			}
			reason := Reason(err)
			if reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
			for _, secret := range []string{s.host, testTo, testFrom, "s3cret", "wrong", "mailer"} {
				if strings.Contains(reason, secret) {
					t.Errorf("reason %q names %q", reason, secret)
				}
			}
			mails, auths := s.counts()
			if tc.noMail && mails != 0 {
				t.Errorf("%d MAIL FROM, want none", mails)
			}
			if tc.noAuth && auths != 0 {
				t.Errorf("%d AUTH, want none", auths)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("%d messages taken, want none", n)
			}
		})
	}
}

func TestNewSMTPErrors(t *testing.T) {
	for name, c := range map[string]config.SMTP{
		"no host":          {Port: 25, Security: config.SMTPStartTLS},
		"port 0":           {Host: "mail.example", Security: config.SMTPStartTLS},
		"port too large":   {Host: "mail.example", Port: 70000, Security: config.SMTPStartTLS},
		"unknown security": {Host: "mail.example", Port: 25, Security: "ssl"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewSMTP(SMTPOptions{Server: c}); err == nil {
				t.Error("no error")
			}
		})
	}
}

// A session sends its messages on one connection, logged in once.
func TestSMTPSession(t *testing.T) {
	t.Parallel()
	s := newSMTPServer(t, startTLSServer, "", func(s *smtpServer) { s.user, s.password = "mailer", "s3cret" })
	tr := newTestSMTP(t, s, config.SMTPStartTLSRequired, "mailer", "s3cret")
	if got := tr.Timeout(); got != 30*time.Second {
		t.Errorf("Timeout %v, want 30s: connecting, setting up and the message, 10s each", got)
	}
	ss := tr.Open()
	if got := ss.Timeout(); got != 30*time.Second {
		t.Errorf("session Timeout before connecting: %v, want 30s", got)
	}
	for i := range 3 {
		if err := ss.Send(t.Context(), testMessage(t)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got := ss.Timeout(); got != 10*time.Second {
			t.Errorf("session Timeout after message %d: %v, want 10s", i, got)
		}
	}
	ss.Close()
	if got := ss.Timeout(); got != 30*time.Second {
		t.Errorf("session Timeout after Close: %v, want 30s", got)
	}
	_, auths := s.counts()
	if n, conns := len(s.Messages()), s.connections(); n != 3 || conns != 1 || auths != 1 {
		t.Errorf("%d messages on %d connections with %d logins; want 3 on 1 with 1", n, conns, auths)
	}
}

// A connection the server stops serving, or that failed, is replaced: a
// message the server never saw goes on a new one.
func TestSMTPSessionNewConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		configure func(*smtpServer)
		errs      []Failure // of each send, -1 for none
		messages  int
		conns     int
	}{
		{"421 after a message", func(s *smtpServer) { s.perConnection = 1 }, []Failure{-1, -1, -1}, 3, 3},
		{"closed after two messages", func(s *smtpServer) { s.perConnection, s.closeOver = 2, true }, []Failure{-1, -1, -1}, 3, 2},
		{
			"after a refused recipient",
			func(s *smtpServer) {
				s.rcptErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
				s.refuseTo = testTo
			},
			[]Failure{-1, Refused, -1}, 2, 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSMTPServer(t, plainServer, "", tc.configure)
			tr := newTestSMTP(t, s, config.SMTPStartTLS, "", "")
			ss := tr.Open()
			defer ss.Close()
			for i, want := range tc.errs {
				m := testMessage(t)
				if want != Refused {
					m.To = "other" + strconv.Itoa(i) + "@corp.example"
				}
				err := ss.Send(t.Context(), m)
				switch {
				case want < 0 && err != nil:
					t.Errorf("message %d: %v", i, err)
				case want >= 0 && FailureOf(err) != want:
					t.Errorf("message %d: %v, want a %v failure", i, err, want)
				}
			}
			if n, conns := len(s.Messages()), s.connections(); n != tc.messages || conns != tc.conns {
				t.Errorf("%d messages on %d connections; want %d on %d", n, conns, tc.messages, tc.conns)
			}
		})
	}
}
