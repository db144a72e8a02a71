package ghemu

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"
)

// Options configures an Emulator. The zero value is usable.
type Options struct {
	// Addr is the loopback address to listen on; default "127.0.0.1:0".
	Addr string
	// PerPageMax caps per_page on list endpoints; default 100.
	PerPageMax int
	// WebhookURL receives webhook deliveries; empty sends none.
	WebhookURL string
	// WebhookSecret signs deliveries; empty sends them unsigned, as GitHub does.
	WebhookSecret string
	// AppID is the GitHub App's id; default 1.
	AppID int64
	// AppSlug is the App's slug; its bot is "<slug>[bot]". Default "gatehouse".
	AppSlug string
	// AppName is the App's display name; default "Gatehouse".
	AppName string
	// AppPrivateKeyPEM is the App's RSA private key (PKCS#1 or PKCS#8).
	// Without one, a key is generated on the first AppPrivateKeyPEM call.
	AppPrivateKeyPEM []byte
	// AppPermissions are the App's permissions; default issues:write,
	// members:read, metadata:read.
	AppPermissions map[string]string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logf, when set, gets one line per request and per delivery.
	Logf func(format string, args ...any)
}

// Emulator is an in-memory GitHub on loopback. All methods are safe for
// concurrent use.
type Emulator struct {
	opts    Options
	clock   func() time.Time
	routes  []route
	hookCli *http.Client

	closed chan struct{} // closed by Close, under mu

	mu         sync.Mutex // guards everything below
	srv        *http.Server
	base       string // http://127.0.0.1:port
	webhookURL string
	lastID     int64
	requestSeq int64
	accounts   map[string]*account // lower-case login
	orgs       map[string]*org
	repos      map[string]*repo // lower-case "owner/name"
	comments   map[int64]*comment
	tokens     map[string]*token
	installs   map[int64]*installation
	budgets    map[string]*budget
	faults     []*Fault
	stats      Stats
	app        app
	oauth      oauthState

	hooks hookQueue
}

var loginPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
var repoPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// New returns an Emulator configured by opts; call Start to serve it.
func New(opts Options) (*Emulator, error) {
	if opts.PerPageMax < 0 {
		return nil, fmt.Errorf("ghemu: PerPageMax %d is negative", opts.PerPageMax)
	}
	if opts.PerPageMax == 0 {
		opts.PerPageMax = 100
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(opts.Addr); err != nil {
		return nil, err
	}
	if opts.WebhookURL != "" {
		if err := checkWebhookURL(opts.WebhookURL); err != nil {
			return nil, err
		}
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	e := &Emulator{
		opts:       opts,
		clock:      clock,
		closed:     make(chan struct{}),
		webhookURL: opts.WebhookURL,
		lastID:     1000,
		accounts:   map[string]*account{},
		orgs:       map[string]*org{},
		repos:      map[string]*repo{},
		comments:   map[int64]*comment{},
		tokens:     map[string]*token{},
		installs:   map[int64]*installation{},
		budgets:    map[string]*budget{},
		stats:      newStats(),
		hookCli: &http.Client{
			Timeout:       hookTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	e.hooks.lanes = map[string][]*outgoing{}
	if err := e.initApp(); err != nil {
		return nil, err
	}
	e.routes = e.routeTable()
	return e, nil
}

// Start listens on the loopback address and serves in the background.
func (e *Emulator) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil || e.isClosed() {
		return errors.New("ghemu: Start called twice or after Close")
	}
	ln, err := net.Listen("tcp", e.opts.Addr)
	if err != nil {
		return fmt.Errorf("ghemu: listen on %s: %w", e.opts.Addr, err)
	}
	e.base = "http://" + ln.Addr().String()
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logf("ghemu: serve: %v", err)
		}
	}(e.srv)
	return nil
}

// Close stops serving, cancels webhook deliveries in flight, drops queued
// ones and waits for in-flight requests to finish.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.isClosed() {
		e.mu.Unlock()
		return nil
	}
	close(e.closed) // under e.mu: no delivery is queued after this
	srv := e.srv
	e.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(context.Background())
	}
	e.hooks.wg.Wait()
	return err
}

// URL is the API root with a trailing slash, for go-github's BaseURL.
func (e *Emulator) URL() string { return e.APIURL() + "/" }

// APIURL is the API root without a trailing slash, as GITHUB_API_URL has it.
func (e *Emulator) APIURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.base
}

// WebURL is the root of html_url links, as GITHUB_SERVER_URL has it. Issue
// pages under it are served as small HTML pages.
func (e *Emulator) WebURL() string { return e.APIURL() }

// SetWebhookURL points deliveries at url (empty stops them), for a receiver
// that starts after the emulator.
func (e *Emulator) SetWebhookURL(u string) error {
	if u != "" {
		if err := checkWebhookURL(u); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.webhookURL = u
	return nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ghemu: Addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("ghemu: Addr %q is not a loopback address", addr)
	}
	return nil
}

func checkWebhookURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("ghemu: webhook URL %q is not an absolute http(s) URL", u)
	}
	return nil
}

func (e *Emulator) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// AddUser adds a person (or returns the existing one) and mints a new
// personal access token for them, with the "repo" scope.
func (e *Emulator) AddUser(login string) (string, error) {
	if !loginPattern.MatchString(login) {
		return "", fmt.Errorf("ghemu: %q is not a valid login", login)
	}
	return e.addAccountToken(login, kindUser)
}

// AddBot adds a Bot account such as "github-actions[bot]" (the "[bot]"
// suffix is added when missing) and mints a token that acts as it, the way
// GITHUB_TOKEN acts as github-actions[bot]: 1000 requests an hour, 403 on
// GET /user. Give it repository access through AddRepo's collaborators.
func (e *Emulator) AddBot(login string) (string, error) {
	name := login
	if len(name) > len(botSuffix) && name[len(name)-len(botSuffix):] == botSuffix {
		name = name[:len(name)-len(botSuffix)]
	}
	if !loginPattern.MatchString(name) {
		return "", fmt.Errorf("ghemu: %q is not a valid bot login", login)
	}
	return e.addAccountToken(name+botSuffix, kindBot)
}

func (e *Emulator) addAccountToken(login, kind string) (string, error) {
	prefix := "ghp_"
	if kind == kindBot {
		prefix = "ghs_"
	}
	value, err := randomToken(prefix)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.ensureAccount(login, kind)
	if err != nil {
		return "", err
	}
	e.tokens[value] = &token{value: value, acct: a, scopes: map[string]bool{"repo": true}}
	return value, nil
}

// ensureAccount returns the account named login, creating it with kind.
func (e *Emulator) ensureAccount(login, kind string) (*account, error) {
	if a := e.accounts[lower(login)]; a != nil {
		if a.kind != kind {
			return nil, fmt.Errorf("ghemu: %s already exists as a %s", a.login, a.kind)
		}
		return a, nil
	}
	a := &account{id: e.newID(), login: login, kind: kind, created: e.now()}
	e.accounts[lower(login)] = a
	return a, nil
}

// AddOrg adds an organization (or returns the existing one) with the given
// members. Members of its teams with an active membership are members too.
func (e *Emulator) AddOrg(name string, members ...string) error {
	if !loginPattern.MatchString(name) {
		return fmt.Errorf("ghemu: %q is not a valid organization name", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o, err := e.ensureOrg(name)
	if err != nil {
		return err
	}
	for _, m := range members {
		if _, err := e.ensureAccount(m, kindUser); err != nil {
			return err
		}
		o.members[lower(m)] = true
	}
	return nil
}

func (e *Emulator) ensureOrg(name string) (*org, error) {
	a, err := e.ensureAccount(name, kindOrg)
	if err != nil {
		return nil, err
	}
	o := e.orgs[lower(name)]
	if o == nil {
		o = &org{acct: a, members: map[string]bool{}, teams: map[string]*team{}}
		e.orgs[lower(name)] = o
	}
	return o, nil
}

// AddTeam adds a team to org (creating the org when missing) with the
// given active members.
func (e *Emulator) AddTeam(orgName, slug string, members ...string) error {
	for _, m := range members {
		if err := e.SetMembership(orgName, slug, m, "active"); err != nil {
			return err
		}
	}
	if len(members) > 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.ensureTeam(orgName, slug)
	return err
}

func (e *Emulator) ensureTeam(orgName, slug string) (*team, error) {
	if !loginPattern.MatchString(orgName) {
		return nil, fmt.Errorf("ghemu: %q is not a valid organization name", orgName)
	}
	if !repoPattern.MatchString(slug) {
		return nil, fmt.Errorf("ghemu: %q is not a valid team slug", slug)
	}
	o, err := e.ensureOrg(orgName)
	if err != nil {
		return nil, err
	}
	t := o.teams[lower(slug)]
	if t == nil {
		t = &team{id: e.newID(), slug: lower(slug), members: map[string]string{}, created: e.now()}
		o.teams[lower(slug)] = t
	}
	return t, nil
}

// SetMembership sets login's membership of org/slug: "active", "pending",
// or "" to remove it. The org, team and user are created when missing.
func (e *Emulator) SetMembership(orgName, slug, login, state string) error {
	if state != "active" && state != "pending" && state != "" {
		return fmt.Errorf("ghemu: membership state %q is not active, pending or empty", state)
	}
	if !loginPattern.MatchString(login) {
		return fmt.Errorf("ghemu: %q is not a valid login", login)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.ensureTeam(orgName, slug)
	if err != nil {
		return err
	}
	if _, err := e.ensureAccount(login, kindUser); err != nil {
		return err
	}
	if state == "" {
		delete(t.members, lower(login))
		return nil
	}
	t.members[lower(login)] = state
	return nil
}

// AddRepo adds the private repository owner/name. The owner is created as a
// user unless it already exists (call AddOrg first for an organization);
// collaborators maps logins (created when missing; bots included) to a role:
// read, triage, write, maintain or admin.
func (e *Emulator) AddRepo(owner, name string, collaborators map[string]string) error {
	if !repoPattern.MatchString(name) {
		return fmt.Errorf("ghemu: %q is not a valid repository name", name)
	}
	if !loginPattern.MatchString(owner) {
		return fmt.Errorf("ghemu: %q is not a valid owner", owner)
	}
	roles := map[string]level{}
	for login, role := range collaborators {
		l, ok := roleLevels[role]
		if !ok {
			return fmt.Errorf("ghemu: role %q for %s is not read, triage, write, maintain or admin", role, login)
		}
		roles[lower(login)] = l
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.findRepo(owner, name) != nil {
		return fmt.Errorf("ghemu: repository %s/%s already exists", owner, name)
	}
	o := e.accounts[lower(owner)]
	if o == nil {
		var err error
		if o, err = e.ensureAccount(owner, kindUser); err != nil {
			return err
		}
	}
	if o.kind == kindBot {
		return fmt.Errorf("ghemu: bot %s cannot own repositories", o.login)
	}
	for login := range collaborators {
		kind := kindUser
		if len(login) > len(botSuffix) && login[len(login)-len(botSuffix):] == botSuffix {
			kind = kindBot
		}
		if _, err := e.ensureAccount(login, kind); err != nil {
			return err
		}
	}
	rp := &repo{
		id:      e.newID(),
		owner:   o,
		name:    name,
		roles:   roles,
		labels:  map[string]*label{},
		hookID:  e.newID(),
		created: e.now(),
	}
	e.repos[lower(owner)+"/"+lower(name)] = rp
	return nil
}

// GrantScopes adds OAuth scopes to a personal or bot token, e.g. "read:org",
// which reading team memberships needs.
func (e *Emulator) GrantScopes(tok string, scopes ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tokens[tok]
	if t == nil || t.inst != nil {
		return errors.New("ghemu: GrantScopes: not a personal or bot token of this emulator")
	}
	for _, s := range scopes {
		t.scopes[s] = true
	}
	return nil
}

// SetRateLimit sets the primary rate limit budget of a token: remaining
// requests until reset. At zero, requests answer 403 with
// x-ratelimit-remaining: 0 until reset passes.
func (e *Emulator) SetRateLimit(tok string, remaining int, reset time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tokens[tok]
	if t == nil {
		return errors.New("ghemu: SetRateLimit: unknown token")
	}
	b := e.budget(tok, limitOf(t))
	if remaining < 0 || remaining > b.limit {
		return fmt.Errorf("ghemu: SetRateLimit: remaining %d is outside 0..%d", remaining, b.limit)
	}
	b.remaining = remaining
	b.reset = reset.UTC().Truncate(time.Second)
	return nil
}

func randomToken(prefix string) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 36)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ghemu: random token: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b), nil
}

func randomGUID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ghemu: random delivery id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// app is the one GitHub App the emulator hosts.
type app struct {
	id       int64
	slug     string
	name     string
	clientID string
	owner    *account
	bot      *account
	hookID   int64
	perms    map[string]string
	created  time.Time
	keyPEM   []byte
	key      *rsa.PublicKey
}

// appEvents are the events the App subscribes to.
var appEvents = []string{"issue_comment", "issues"}
