package email

import (
	"bytes"
	"crypto/x509"
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
			if err := tr.Send(t.Context(), m); err != nil {
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
			want: Refused, reason: "the mail server does not offer STARTTLS", noMail: true,
		},
		{
			name: "wrong password", mode: plainServer, security: config.SMTPStartTLS, user: "mailer", password: "wrong",
			configure: func(s *smtpServer) { s.user, s.password = "mailer", "s3cret" },
			want:      Refused, reason: "the mail server refused the login (535 5.7.8)", noMail: true,
		},
		{
			name: "credentials in the clear to a host not named loopback", mode: plainServer, ip: "127.0.0.2",
			security: config.SMTPStartTLS, user: "mailer", password: "s3cret",
			configure: func(s *smtpServer) { s.user, s.password = "mailer", "s3cret" },
			want:      Refused, reason: "the app sends its mail credentials only over TLS or to a loopback host", noMail: true, noAuth: true,
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
			want: Refused, reason: "the mail server's TLS certificate was not accepted", noMail: true,
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
			err := tr.Send(t.Context(), testMessage(t))
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
