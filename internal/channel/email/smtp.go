package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/gatehouse-ci/gatehouse/internal/config"
)

// defaultSMTPTimeout bounds each phase of an SMTP session.
const defaultSMTPTimeout = 30 * time.Second

// smtpPhases is how many phases, each bounded by the timeout, a message
// sent on a new connection can take: go-mail bounds connecting, then
// setting the session up (EHLO, STARTTLS, login), then the message (MAIL
// FROM to the reply to its final ".", and RSET), each on its own.
const smtpPhases = 3

// loginMechanisms are the SASL mechanisms used to log in, best first.
// PLAIN and LOGIN reveal the password: go-mail uses them only over TLS or
// to a loopback host.
var loginMechanisms = []mail.SMTPAuthType{
	mail.SMTPAuthSCRAMSHA256PLUS, mail.SMTPAuthSCRAMSHA256,
	mail.SMTPAuthSCRAMSHA1PLUS, mail.SMTPAuthSCRAMSHA1,
	mail.SMTPAuthCramMD5, mail.SMTPAuthPlain, mail.SMTPAuthLogin,
}

// SMTPOptions configures an SMTP transport.
type SMTPOptions struct {
	Server config.SMTP
	// TLSConfig is used for STARTTLS and implicit TLS; nil trusts the
	// system's roots. An empty ServerName is the server's host.
	TLSConfig *tls.Config
	// Timeout bounds each phase of a session: connecting, setting the
	// session up (EHLO, STARTTLS, login), and each message; default 30s.
	Timeout time.Duration
}

// SMTP sends messages to an SMTP server, the messages of a session on one
// connection.
type SMTP struct {
	o SMTPOptions
}

// NewSMTP returns an SMTP transport configured by o.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	switch {
	case o.Server.Host == "":
		return nil, errors.New("smtp: no host")
	case o.Server.Port < 1 || o.Server.Port > 65535:
		return nil, fmt.Errorf("smtp: port %d is out of range", o.Server.Port)
	}
	switch o.Server.Security {
	case config.SMTPStartTLS, config.SMTPStartTLSRequired, config.SMTPImplicitTLS:
	default:
		return nil, fmt.Errorf("smtp: unknown security %q", o.Server.Security)
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultSMTPTimeout
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		o.TLSConfig = o.TLSConfig.Clone()
	}
	if o.TLSConfig.ServerName == "" {
		o.TLSConfig.ServerName = o.Server.Host
	}
	return &SMTP{o: o}, nil
}

// Name is "smtp".
func (s *SMTP) Name() string { return "smtp" }

// Timeout is the longest a message sent on a new connection can take:
// each of its phases is bounded by SMTPOptions.Timeout.
func (s *SMTP) Timeout() time.Duration { return smtpPhases * s.o.Timeout }

// Open starts a session. Its first Send connects; the messages after it go
// on the same connection, and a send that fails closes it, so that the
// next connects again.
func (s *SMTP) Open() Session { return &smtpSession{t: s} }

// smtpSession sends messages on one connection, opened by its first Send.
type smtpSession struct {
	t      *SMTP
	client *mail.Client
	conn   *smtp.Client // nil while not connected
}

// Timeout is SMTPOptions.Timeout on an open connection, and SMTP.Timeout
// when the next Send must connect first.
func (ss *smtpSession) Timeout() time.Duration {
	if ss.conn == nil {
		return ss.t.Timeout()
	}
	return ss.t.o.Timeout
}

// Send delivers m. A message the server accepted is sent, whatever happens
// to the connection afterwards. When a connection that served earlier
// messages fails before m was offered (the server may close a connection
// after some messages), m goes once more on a new connection, if ctx
// leaves the time for it.
func (ss *smtpSession) Send(ctx context.Context, m Message) error {
	msg, err := m.msg()
	if err != nil {
		return &Error{Failure: Refused, Reason: "the message could not be built", Err: err}
	}
	reused := ss.conn != nil
	if !reused {
		if err := ss.connect(ctx, m); err != nil {
			return err
		}
	}
	err = ss.client.SendWithSMTPClient(ss.conn, msg)
	if err == nil {
		return nil
	}
	ss.Close() // the connection may be unusable
	if msg.IsDelivered() {
		return nil
	}
	if reused && notOffered(err) && timeLeft(ctx, ss.t.Timeout()) {
		return ss.Send(ctx, m)
	}
	return sendError(err)
}

// connect opens the session's connection, logged in when a user name is set.
func (ss *smtpSession) connect(ctx context.Context, m Message) error {
	c, err := mail.NewClient(ss.t.o.Server.Host, ss.t.options(m)...)
	if err != nil {
		return &Error{Failure: Blocked, Reason: "the mail settings are not usable", Err: fmt.Errorf("smtp client: %w", err)}
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return dialError(err)
	}
	ss.client, ss.conn = c, conn
	return nil
}

// Close says QUIT, whose answer changes nothing: the messages are sent or
// not.
func (ss *smtpSession) Close() {
	if ss.conn == nil {
		return
	}
	if err := ss.client.CloseWithSMTPClient(ss.conn); err != nil {
		_ = ss.conn.Close()
	}
	ss.client, ss.conn = nil, nil
}

// notOffered reports whether a send failed before the server saw any of
// the message: MAIL FROM got no answer, or a temporary refusal.
func notOffered(err error) bool {
	var se *mail.SendError
	return errors.As(err, &se) && se.Reason == mail.ErrSMTPMailFrom && se.ErrorCode() < 500
}

func (s *SMTP) options(m Message) []mail.Option {
	o := []mail.Option{
		mail.WithPort(s.o.Server.Port),
		mail.WithTimeout(s.o.Timeout),
		mail.WithTLSConfig(s.o.TLSConfig),
		// No NOOP before each message: a connection that failed is
		// replaced (see smtpSession.Send).
		mail.WithoutNoop(),
	}
	switch s.o.Server.Security {
	case config.SMTPStartTLS:
		o = append(o, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case config.SMTPStartTLSRequired:
		o = append(o, mail.WithTLSPolicy(mail.TLSMandatory))
	case config.SMTPImplicitTLS:
		o = append(o, mail.WithSSL())
	}
	if s.o.Server.Username != "" {
		o = append(o,
			mail.WithUsername(s.o.Server.Username),
			mail.WithPassword(string(s.o.Server.Password)),
			mail.WithOpportunisticSMTPAuth(loginMechanisms...),
		)
	}
	if domain := domainOf(m.From); domain != "" {
		o = append(o, mail.WithHELO(domain))
	}
	return o
}

// enhancedCode finds an RFC 3463 enhanced status code at the start of a
// reply's text.
var enhancedCode = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}\b`)

// replyCode is "550 5.1.1" or "550": a reply's codes, without its text,
// which may name addresses.
func replyCode(code int, text string) string {
	s := strconv.Itoa(code)
	if e := enhancedCode.FindString(strings.TrimSpace(text)); e != "" {
		s += " " + e
	}
	return s
}

// dialError judges an error met before the message was offered:
// connecting, TLS, EHLO, logging in. None of it depends on the message: a
// refusal here blocks every message.
func dialError(err error) error {
	var (
		reply  *textproto.Error
		record tls.RecordHeaderError
		netErr net.Error
	)
	fail := func(f Failure, reason string) error {
		return &Error{Failure: f, Reason: reason, Err: fmt.Errorf("smtp: %w", err)}
	}
	switch {
	case errors.As(err, &reply):
		code := replyCode(reply.Code, reply.Msg)
		verb, failure := "refused", Blocked
		if reply.Code < 500 {
			verb, failure = "deferred", Retry
		}
		if isLoginCode(reply.Code) {
			return fail(failure, fmt.Sprintf("the mail server %s the login (%s)", verb, code))
		}
		return fail(failure, fmt.Sprintf("the mail server %s the connection (%s)", verb, code))
	case errors.Is(err, smtp.ErrUnencrypted):
		return fail(Blocked, "the app sends its mail credentials only over TLS or to a loopback host")
	case isCertError(err):
		return fail(Blocked, "the mail server's TLS certificate was not accepted")
	case errors.As(err, &record):
		return fail(Blocked, "the mail server does not speak TLS on this port")
	case isTimeout(err):
		return fail(Retry, "the mail server did not answer in time")
	case isDial(err):
		return fail(Retry, "the mail server could not be reached")
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		return fail(Retry, "the connection to the mail server broke")
	case strings.Contains(err.Error(), "STARTTLS"):
		// go-mail has no error value for a server without STARTTLS.
		return fail(Blocked, "the mail server does not offer STARTTLS")
	case isLoginUnsupported(err):
		return fail(Blocked, "the mail server offers no login method the app can use")
	}
	return fail(Blocked, "the mail server does not work with the app's mail settings")
}

// isLoginCode tells the replies to AUTH.
func isLoginCode(code int) bool {
	switch code {
	case 530, 534, 535, 538:
		return true
	}
	return false
}

func isLoginUnsupported(err error) bool {
	for _, e := range []error{
		mail.ErrNoSupportedAuthDiscovered, mail.ErrPlainAuthNotSupported, mail.ErrLoginAuthNotSupported,
		mail.ErrCramMD5AuthNotSupported, mail.ErrSCRAMSHA1AuthNotSupported, mail.ErrSCRAMSHA256AuthNotSupported,
		mail.ErrSCRAMSHA1PLUSAuthNotSupported, mail.ErrSCRAMSHA256PLUSAuthNotSupported,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return strings.Contains(err.Error(), "does not support SMTP AUTH")
}

func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// sendError judges an error met while offering the message. Only the
// end of DATA can leave the outcome open: after the final "." the server
// may have taken the message, and no reply means no answer. A sender
// refused for good blocks every message; a recipient or a message refused
// for good is this message's failure.
func sendError(err error) error {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return &Error{Failure: Retry, Reason: "the mail server could not take the message", Err: fmt.Errorf("smtp: %w", err)}
	}
	fail := func(f Failure, reason string) error {
		return &Error{Failure: f, Reason: reason, Err: fmt.Errorf("smtp: %w", err)}
	}
	code := se.ErrorCode()
	if code >= 400 && code < 600 {
		text := strconv.Itoa(code)
		if e := se.EnhancedStatusCode(); e != "" {
			text += " " + e
		}
		switch {
		case code >= 500 && se.Reason == mail.ErrSMTPMailFrom:
			// The sender is the app's, the same for every message.
			return fail(Blocked, fmt.Sprintf("the mail server refused the sender (%s)", text))
		case code >= 500:
			return fail(Refused, fmt.Sprintf("the mail server refused it (%s)", text))
		}
		return fail(Retry, fmt.Sprintf("the mail server deferred it (%s)", text))
	}
	switch se.Reason {
	case mail.ErrSMTPDataClose:
		return fail(Unsure, "the mail server did not confirm it after taking it")
	case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
		return fail(Refused, "the mail server cannot take this message")
	}
	return fail(Retry, "the connection to the mail server broke before the message was handed over")
}

// domainOf returns the domain of an address ("Name <a@b>" or "a@b"); ""
// when it is not one.
func domainOf(addr string) string {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return ""
	}
	return a.Address[strings.LastIndexByte(a.Address, '@')+1:]
}
