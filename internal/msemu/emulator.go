package msemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultTenantID is the Teams tenant when Options.TenantID is empty.
const DefaultTenantID = "0c0ffee0-0000-4000-8000-00000000beef"

const (
	defaultTokenLifetime = 3599 * time.Second
	defaultBotName       = "Gatehouse"
	maxBodyBytes         = 1 << 20
	deliveryTimeout      = 15 * time.Second
)

// Options configures an Emulator. The zero value is usable.
type Options struct {
	// Addr is the loopback address to listen on; default "127.0.0.1:0".
	Addr string
	// TenantID is the Teams tenant that teams, chats and people belong to;
	// default DefaultTenantID.
	TenantID string
	// BotName is the recipient name of activities sent to a bot; default
	// "Gatehouse".
	BotName string
	// TokenLifetime is how long access tokens from the identity platform
	// last (expires_in); default 3599s, as the real one answers. At least a
	// second.
	TokenLifetime time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// GenerateKey makes the RSA signing keys (New needs four, RotateKey one
	// more); default a new 2048-bit key each call. Tests may hand out keys
	// made once, since generating them is slow.
	GenerateKey func() (*rsa.PrivateKey, error)
	// Logf, when set, gets one line per request served and per activity sent.
	Logf func(format string, args ...any)
	// TLS serves HTTPS with a self-signed certificate made by New (CertPEM),
	// as the identity platform's clients insist on an https authority.
	TLS bool
}

// Emulator is the Microsoft side of Gatehouse on loopback: the identity
// platform's token endpoint and tenant discovery, the Bot Framework's
// OpenID metadata, the Bot Connector API of Teams, Teams itself sending
// activities to a bot, Workflows webhooks, and Microsoft Graph's sendMail.
// All methods are safe for concurrent use.
type Emulator struct {
	opts     Options
	clock    func() time.Time
	client   *http.Client     // sends activities to bots
	identity *signingKey      // signs access tokens
	cert     *tls.Certificate // serves HTTPS; nil without Options.TLS
	certPEM  []byte

	mu                sync.Mutex // guards everything below
	srv               *http.Server
	base              string // http://127.0.0.1:port
	closed            bool
	apps              map[string]map[string]*app // tenant -> client id -> app
	tokenRequests     map[string]int             // by client id
	inbound           []*signingKey              // published and endorsed for msteams; the last signs
	unendorsed        *signingKey                // published, endorsed for other channels only
	unknown           *signingKey                // never published
	users             map[string]*Member         // by 29: id
	teams             map[string]*team           // by team id
	chats             map[string]*chat           // by chat id
	posts             []*post                    // in the order posted
	lastActivityID    int64
	connectorRequests int
	faults            []*fault                       // connector
	hookFaults        []*fault                       // workflows
	webhooks          map[string]*webhook            // by name
	mailboxes         map[string]map[string]*mailbox // tenant -> lower-case address -> mailbox
	sent              []SentMail
	graphRequests     int
	graphFaults       []*fault
}

// New returns an Emulator configured by opts; call Start to serve it.
func New(opts Options) (*Emulator, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(opts.Addr); err != nil {
		return nil, err
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.BotName == "" {
		opts.BotName = defaultBotName
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = defaultTokenLifetime
	}
	if opts.TokenLifetime < time.Second {
		return nil, fmt.Errorf("msemu: TokenLifetime %v is under a second", opts.TokenLifetime)
	}
	if opts.GenerateKey == nil {
		opts.GenerateKey = func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	e := &Emulator{
		opts:  opts,
		clock: clock,
		client: &http.Client{
			Timeout:       deliveryTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		apps:          map[string]map[string]*app{},
		tokenRequests: map[string]int{},
		users:         map[string]*Member{},
		teams:         map[string]*team{},
		chats:         map[string]*chat{},
		webhooks:      map[string]*webhook{},
		mailboxes:     map[string]map[string]*mailbox{},
	}
	var err error
	if opts.TLS {
		if e.cert, e.certPEM, err = selfSigned(); err != nil {
			return nil, err
		}
	}
	if e.identity, err = e.newKey("login.microsoftonline.com", nil); err != nil {
		return nil, err
	}
	current, err := e.newKey("api.botframework.com", teamsEndorsements)
	if err != nil {
		return nil, err
	}
	e.inbound = []*signingKey{current}
	if e.unendorsed, err = e.newKey("api.botframework.com", otherEndorsements); err != nil {
		return nil, err
	}
	if e.unknown, err = e.newKey("unpublished.invalid", teamsEndorsements); err != nil {
		return nil, err
	}
	return e, nil
}

// Start listens on the loopback address and serves in the background, over
// TLS with Options.TLS.
func (e *Emulator) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil || e.closed {
		return errors.New("msemu: Start called twice or after Close")
	}
	ln, err := net.Listen("tcp", e.opts.Addr)
	if err != nil {
		return fmt.Errorf("msemu: listen on %s: %w", e.opts.Addr, err)
	}
	srv := &http.Server{Handler: e.handler(), ReadHeaderTimeout: 10 * time.Second}
	serve := srv.Serve
	e.base = "http://" + ln.Addr().String()
	if e.cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*e.cert}, MinVersion: tls.VersionTLS12}
		serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		e.base = "https://" + ln.Addr().String()
	}
	e.srv = srv
	go func() {
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logf("msemu: serve: %v", err)
		}
	}()
	return nil
}

// Close stops serving and waits for requests in flight to finish.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	srv := e.srv
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		return fmt.Errorf("msemu: shut down: %w", err)
	}
	return nil
}

// URL is the root of every service, without a trailing slash; empty
// before Start.
func (e *Emulator) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.base
}

// CertPEM is the server's self-signed certificate in PEM form, for a
// client's root pool or SSL_CERT_FILE; nil without Options.TLS.
func (e *Emulator) CertPEM() []byte { return bytes.Clone(e.certPEM) }

// AuthorityURL stands for https://login.microsoftonline.com, as
// GATEHOUSE_AUTHORITY_URL has it.
func (e *Emulator) AuthorityURL() string { return e.URL() }

// TokenURL is the identity platform's token endpoint for tenant.
func (e *Emulator) TokenURL(tenant string) string {
	return e.URL() + "/" + tenant + "/oauth2/v2.0/token"
}

// OpenIDURL stands for
// https://login.botframework.com/v1/.well-known/openidconfiguration, as
// GATEHOUSE_TEAMS_OPENID_URL has it.
func (e *Emulator) OpenIDURL() string { return e.URL() + openIDPath }

// ServiceURL is the Bot Connector service URL that activities from Teams
// carry, with a trailing slash like https://smba.trafficmanager.net/amer/.
func (e *Emulator) ServiceURL() string { return e.URL() + serviceURLPath }

// TenantID is the Teams tenant.
func (e *Emulator) TenantID() string { return e.opts.TenantID }

// handler routes each service to its handlers; each service registers its
// own routes on the one mux.
func (e *Emulator) handler() http.Handler {
	mux := http.NewServeMux()
	e.identityRoutes(mux)
	e.openIDRoutes(mux)
	e.connectorRoutes(mux)
	e.workflowRoutes(mux)
	e.graphRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("NotFound", "No route matches "+r.Method+" "+r.URL.Path+"."))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		e.logf("msemu: %s %s -> %d", r.Method, r.URL.Path, rec.status)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

func (e *Emulator) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("msemu: Addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("msemu: Addr %q is not a loopback address", addr)
	}
	return nil
}

// errorBody is the {"error":{"code","message"}} shape that the Bot
// Connector and Logic Apps answer errors with.
func errorBody(code, message string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message}}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "msemu: encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}
