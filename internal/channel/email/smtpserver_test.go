package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCert is a self-signed certificate for 127.0.0.1, made once.
var testCert = sync.OnceValues(func() (tls.Certificate, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
})

// clientTLS trusts the test certificate.
func clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := testCert()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// received is a message the test server took.
type received struct {
	Helo     string // the client's EHLO name
	From, To string
	Data     []byte
	TLS      bool
	User     string // who logged in, if anyone
}

// smtpServer is an SMTP server on loopback backed by go-smtp.
type smtpServer struct {
	host string
	port int

	// What the server does, set before use.
	user, password string          // non-empty: offer AUTH PLAIN and check it
	mailErr        *smtp.SMTPError // refuse MAIL FROM with this
	rcptErr        *smtp.SMTPError // refuse RCPT TO with this
	refuseTo       string          // non-empty: rcptErr is for this recipient only
	dropAfterData  bool            // close the connection after the final "." without a reply
	// perConnection, when positive, is how many messages a connection
	// takes: MAIL FROM after them is refused with 421, or with closeOver,
	// the connection is closed without a reply.
	perConnection int
	closeOver     bool

	mu       sync.Mutex
	messages []received
	conns    int // connections
	mails    int // MAIL FROM commands
	auths    int // AUTH attempts
}

type serverMode int

const (
	plainServer    serverMode = iota // no TLS at all
	startTLSServer                   // offers STARTTLS
	implicitServer                   // TLS from the start
)

// newSMTPServer starts a server on ip (127.0.0.1 unless given) that
// configure may set up before it serves.
func newSMTPServer(t *testing.T, mode serverMode, ip string, configure func(*smtpServer)) *smtpServer {
	t.Helper()
	if ip == "" {
		ip = "127.0.0.1"
	}
	s := &smtpServer{}
	if configure != nil {
		configure(s)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "mail.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0) // connections the tests break on purpose
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	if mode != plainServer {
		cert, err := testCert()
		if err != nil {
			t.Fatal(err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if mode == startTLSServer {
			srv.TLSConfig = cfg
		} else {
			ln = tls.NewListener(ln, cfg)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(countingListener{ln, s}) // ends when the server is closed
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	addr := ln.Addr().(*net.TCPAddr)
	s.host, s.port = ip, addr.Port
	return s
}

func (s *smtpServer) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...)
}

func (s *smtpServer) counts() (mails, auths int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails, s.auths
}

func (s *smtpServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *smtpServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &serverSession{s: s, conn: c, tls: isTLS}, nil
}

type serverSession struct {
	s     *smtpServer
	conn  *smtp.Conn
	tls   bool
	msg   received
	taken int // messages taken on this connection
}

func (ss *serverSession) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *serverSession) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.auths++
	ss.s.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != ss.s.user || password != ss.s.password {
			return smtp.ErrAuthFailed
		}
		ss.msg.User = user
		return nil
	}), nil
}

func (ss *serverSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	ss.s.mails++
	ss.s.mu.Unlock()
	if ss.s.user != "" && ss.msg.User == "" {
		return smtp.ErrAuthRequired
	}
	if ss.s.mailErr != nil {
		return ss.s.mailErr
	}
	if ss.s.perConnection > 0 && ss.taken >= ss.s.perConnection {
		if ss.s.closeOver {
			ss.conn.Conn().Close()
			return errors.New("closed")
		}
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many messages on this connection"}
	}
	ss.msg.Helo, ss.msg.From = ss.conn.Hostname(), from
	return nil
}

func (ss *serverSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.rcptErr != nil && (ss.s.refuseTo == "" || ss.s.refuseTo == to) {
		return ss.s.rcptErr
	}
	ss.msg.To = to
	return nil
}

func (ss *serverSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.dropAfterData {
		ss.conn.Conn().Close()
		return errors.New("dropped")
	}
	_, ss.msg.TLS = ss.conn.TLSConnectionState()
	ss.msg.Data = b
	ss.taken++
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, ss.msg)
	ss.s.mu.Unlock()
	return nil
}

func (ss *serverSession) Reset() {
	user := ss.msg.User
	ss.msg = received{User: user}
}

func (ss *serverSession) Logout() error { return nil }

// countingListener counts the connections it accepts in s.conns.
type countingListener struct {
	net.Listener
	s *smtpServer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
	}
	return c, err
}

// freePort is a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
