package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gatehouse-ci/gatehouse/internal/identities"
)

// Defaults of the contract (CONTRACT §5).
const (
	DefaultAddr        = ":8080"
	DefaultDatabaseURL = "sqlite:gatehouse.db"
	DefaultAPIURL      = "https://api.github.com"
	DefaultOIDCIssuer  = "https://token.actions.githubusercontent.com"
	DefaultServerURL   = "https://github.com"
	// DefaultAuthorityURL is the Microsoft identity platform.
	DefaultAuthorityURL = "https://login.microsoftonline.com"
	// DefaultTeamsOpenIDURL is the Bot Framework's OpenID metadata.
	DefaultTeamsOpenIDURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
)

// DefaultGraphURL is Microsoft Graph's v1.0 root.
const DefaultGraphURL = "https://graph.microsoft.com/v1.0"

// minSecretKey is the shortest GATEHOUSE_SECRET_KEY accepted, in bytes.
const minSecretKey = 32

// Config is the app's configuration, read and validated once.
type Config struct {
	Addr      string // listen address
	PublicURL string // external base URL, without a trailing slash
	Database  Database
	// SecretKey signs links and poll tokens (32 bytes or more).
	SecretKey     Secret
	AppID         int64
	PrivateKey    *rsa.PrivateKey // the GitHub App's key
	WebhookSecret Secret          // as set, spaces included: GitHub signs with it verbatim
	APIURL        string          // GitHub's REST API root, without a trailing slash
	OIDCIssuer    string          // the Actions OIDC issuer, compared exactly
	ServerURL     string          // GitHub's web URL, without a trailing slash
	LogLevel      slog.Level

	// The GitHub App's OAuth credentials, for "sign in with GitHub" on
	// response pages: both or neither.
	GitHubClientID     string
	GitHubClientSecret Secret

	// AuthorityURL is the Microsoft identity platform, without a trailing
	// slash: the bot's token endpoint is {AuthorityURL}/{TeamsTenantID}/oauth2/v2.0/token.
	AuthorityURL string
	// The Teams bot (a single-tenant Azure Bot registration): all three or
	// none. TeamsAppID is a GUID; TeamsTenantID a GUID or a domain name.
	TeamsAppID       string
	TeamsAppPassword Secret
	TeamsTenantID    string
	// TeamsOpenIDURL is the Bot Framework OpenID metadata that gives the
	// keys of inbound activities' JWTs.
	TeamsOpenIDURL string
	// TeamsWebhooks are the named Workflows webhooks, in the order given;
	// names are unique ignoring case.
	TeamsWebhooks []TeamsWebhook

	// Email goes through SMTP or Microsoft Graph, not both; nil when unset.
	SMTP  *SMTP
	Graph *Graph
	// MailFrom is the sender address (GATEHOUSE_MAIL_FROM), as given; set
	// exactly when a transport is.
	MailFrom string
	// MailDomains, when set (GATEHOUSE_MAIL_DOMAINS), are the only domains
	// email goes to, lower-cased.
	MailDomains []string

	// Identities ties people's GitHub logins, emails and Teams ids
	// together; nil (an empty directory) when no file is set.
	Identities *identities.Directory
}

// TeamsWebhook is a Workflows webhook that posts cards to a Teams channel.
type TeamsWebhook struct {
	Name string // as configured
	URL  Secret // the webhook's URL, which carries its signature
}

// SMTP is the SMTP server email goes through (GATEHOUSE_SMTP_URL).
type SMTP struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password Secret
	Security SMTPSecurity
}

// SMTPSecurity is how the SMTP connection is protected.
type SMTPSecurity string

const (
	// SMTPStartTLS upgrades with STARTTLS when the server offers it.
	SMTPStartTLS SMTPSecurity = "starttls"
	// SMTPStartTLSRequired insists on STARTTLS: ?tls=required, or
	// credentials for a server not on loopback.
	SMTPStartTLSRequired SMTPSecurity = "starttls-required"
	// SMTPImplicitTLS speaks TLS from the start (smtps://).
	SMTPImplicitTLS SMTPSecurity = "tls"
)

// Format formats the settings as the verb says, the password redacted.
// Without it, a verb that does not apply to a pointer (%s) would print a
// Config's *SMTP without calling the password's own Format.
func (m SMTP) Format(f fmt.State, verb rune) {
	type smtpSettings SMTP // without methods
	fmt.Fprintf(f, fmt.FormatString(f, verb), smtpSettings(m))
}

// Graph is the Microsoft Graph mailbox email is sent from.
type Graph struct {
	TenantID     string
	ClientID     string
	ClientSecret Secret
	Sender       string // the mailbox of POST /users/{sender}/sendMail
	URL          string // Graph's root, without a trailing slash
}

// Format formats the settings as the verb says, the client secret
// redacted (see SMTP.Format).
func (g Graph) Format(f fmt.State, verb rune) {
	type graphSettings Graph // without methods
	fmt.Fprintf(f, fmt.FormatString(f, verb), graphSettings(g))
}

// Database says where the app keeps its state.
type Database struct {
	Driver string // "sqlite"
	Path   string // the SQLite database file
}

// Secret is a secret value: it formats, logs and marshals to JSON as
// "[redacted]", whatever the verb. Use the bytes themselves where the
// secret is needed.
type Secret []byte

const redacted = "[redacted]"

// Format writes "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue is "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON is "[redacted]", for a secret inside a value that is logged
// as JSON.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// TeamsBot reports whether the Teams bot is configured.
func (c Config) TeamsBot() bool { return c.TeamsAppID != "" }

// MicrosoftEmulated reports whether the Bot Framework metadata is served
// over http on a loopback host: an emulator, whose Bot Connector service
// URLs are plain http on loopback too.
func (c Config) MicrosoftEmulated() bool {
	u, err := url.Parse(c.TeamsOpenIDURL)
	return err == nil && u.Scheme == "http" && isLoopback(u.Hostname())
}

// Email reports whether an email transport is set.
func (c Config) Email() bool { return c.SMTP != nil || c.Graph != nil }

// GitHubSignIn reports whether people can sign in with GitHub on response
// pages.
func (c Config) GitHubSignIn() bool { return c.GitHubClientID != "" }

// Audience is the audience the app expects in Actions OIDC tokens: its
// public URL.
func (c Config) Audience() string { return c.PublicURL }

// LogValue shows the settings that are not secret; the smtp and graph
// groups only when that transport is set.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("addr", c.Addr),
		slog.String("public_url", c.PublicURL),
		slog.String("database_driver", c.Database.Driver),
		slog.String("database_path", c.Database.Path),
		slog.Int64("app_id", c.AppID),
		slog.String("api_url", c.APIURL),
		slog.String("oidc_issuer", c.OIDCIssuer),
		slog.String("server_url", c.ServerURL),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("github_client_id", c.GitHubClientID),
		slog.String("authority_url", c.AuthorityURL),
		slog.String("teams_app_id", c.TeamsAppID),
		slog.String("teams_tenant_id", c.TeamsTenantID),
		slog.String("teams_openid_url", c.TeamsOpenIDURL),
		slog.String("teams_webhooks", strings.Join(webhookNames(c.TeamsWebhooks), ",")),
		slog.Int("identities", c.Identities.Len()),
		slog.String("mail_from", c.MailFrom),
		slog.String("mail_domains", strings.Join(c.MailDomains, ",")),
	}
	if m := c.SMTP; m != nil {
		attrs = append(attrs, slog.Group("smtp", "host", m.Host, "port", m.Port, "security", string(m.Security), "username", m.Username))
	}
	if g := c.Graph; g != nil {
		attrs = append(attrs, slog.Group("graph", "tenant_id", g.TenantID, "client_id", g.ClientID, "sender", g.Sender, "url", g.URL))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON is what LogValue shows, as a JSON object, so that a Config
// marshalled whole shows no secret (the app's private key included).
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(jsonValue(c.LogValue())) }

// jsonValue is v as encoding/json takes it; a group is an object.
func jsonValue(v slog.Value) any {
	if v.Kind() != slog.KindGroup {
		return v.Any()
	}
	m := make(map[string]any, len(v.Group()))
	for _, a := range v.Group() {
		m[a.Key] = jsonValue(a.Value)
	}
	return m
}

func webhookNames(hooks []TeamsWebhook) []string {
	names := make([]string, len(hooks))
	for i, h := range hooks {
		names[i] = h.Name
	}
	return names
}

// Load reads the configuration through getenv (and readFile, for
// GITHUB_APP_PRIVATE_KEY_FILE; GATEHOUSE_IDENTITIES_FILE is read with
// identities.Load, which caps its size) and reports every problem at once,
// joined, one per line. Empty variables take their defaults.
func Load(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	c := Config{Addr: env("GATEHOUSE_ADDR", DefaultAddr)}
	var err error

	if v := env("GATEHOUSE_PUBLIC_URL", ""); v == "" {
		fail("GATEHOUSE_PUBLIC_URL", "required: the app's external base URL, e.g. https://gatehouse.example.com")
	} else if c.PublicURL, err = baseURL(v); err != nil {
		fail("GATEHOUSE_PUBLIC_URL", "%v", err)
	}
	if c.Database, err = parseDatabase(env("GATEHOUSE_DATABASE_URL", DefaultDatabaseURL)); err != nil {
		fail("GATEHOUSE_DATABASE_URL", "%v", err)
	}
	if v := env("GATEHOUSE_SECRET_KEY", ""); v == "" {
		fail("GATEHOUSE_SECRET_KEY", "required: %d or more random bytes, base64 or hex, e.g. the output of `openssl rand -hex 32`", minSecretKey)
	} else if c.SecretKey, err = parseSecretKey(v); err != nil {
		fail("GATEHOUSE_SECRET_KEY", "%v", err)
	}

	if v := env("GITHUB_APP_ID", ""); v == "" {
		fail("GITHUB_APP_ID", "required: the GitHub App's numeric id")
	} else if c.AppID, err = strconv.ParseInt(v, 10, 64); err != nil || c.AppID < 1 {
		fail("GITHUB_APP_ID", "must be a positive whole number, got %q", v)
	}
	if c.PrivateKey, err = loadPrivateKey(getenv, readFile); err != nil {
		errs = append(errs, err)
	}
	if v := getenv("GITHUB_WEBHOOK_SECRET"); v == "" {
		fail("GITHUB_WEBHOOK_SECRET", "required: the secret set on the GitHub App's webhook")
	} else {
		c.WebhookSecret = Secret(v)
	}

	if c.APIURL, err = baseURL(env("GITHUB_API_URL", DefaultAPIURL)); err != nil {
		fail("GITHUB_API_URL", "%v", err)
	}
	c.OIDCIssuer = env("GATEHOUSE_OIDC_ISSUER", DefaultOIDCIssuer)
	if err := checkURL(c.OIDCIssuer); err != nil {
		fail("GATEHOUSE_OIDC_ISSUER", "%v", err)
	}
	if c.ServerURL, err = baseURL(env("GITHUB_SERVER_URL", DefaultServerURL)); err != nil {
		fail("GITHUB_SERVER_URL", "%v", err)
	}
	if c.LogLevel, err = parseLogLevel(env("GATEHOUSE_LOG_LEVEL", "info")); err != nil {
		fail("GATEHOUSE_LOG_LEVEL", "%v", err)
	}

	c.GitHubClientID = env("GITHUB_CLIENT_ID", "")
	if v := env("GITHUB_CLIENT_SECRET", ""); v != "" {
		c.GitHubClientSecret = Secret(v)
	}
	switch {
	case c.GitHubClientID != "" && c.GitHubClientSecret == nil:
		fail("GITHUB_CLIENT_SECRET", "required when GITHUB_CLIENT_ID is set: the GitHub App's client secret, for sign-in on response pages")
	case c.GitHubClientID == "" && c.GitHubClientSecret != nil:
		fail("GITHUB_CLIENT_ID", "required when GITHUB_CLIENT_SECRET is set: the GitHub App's client id, for sign-in on response pages")
	}

	if c.AuthorityURL, err = microsoftURL(strings.TrimRight(env("GATEHOUSE_AUTHORITY_URL", DefaultAuthorityURL), "/")); err != nil {
		fail("GATEHOUSE_AUTHORITY_URL", "%v", err)
	}
	if c.TeamsOpenIDURL, err = microsoftURL(env("GATEHOUSE_TEAMS_OPENID_URL", DefaultTeamsOpenIDURL)); err != nil {
		fail("GATEHOUSE_TEAMS_OPENID_URL", "%v", err)
	}
	c.TeamsAppID = env("GATEHOUSE_TEAMS_APP_ID", "")
	if v := env("GATEHOUSE_TEAMS_APP_PASSWORD", ""); v != "" {
		c.TeamsAppPassword = Secret(v)
	}
	c.TeamsTenantID = env("GATEHOUSE_TEAMS_TENANT_ID", "")
	if missing := missingSettings(
		setting{"GATEHOUSE_TEAMS_APP_ID", c.TeamsAppID != ""},
		setting{"GATEHOUSE_TEAMS_APP_PASSWORD", c.TeamsAppPassword != nil},
		setting{"GATEHOUSE_TEAMS_TENANT_ID", c.TeamsTenantID != ""},
	); missing != "" {
		fail(missing, "missing: the Teams bot needs GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_APP_PASSWORD and GATEHOUSE_TEAMS_TENANT_ID together (the Azure Bot's app id, client secret and tenant), or none of them")
	}
	if c.TeamsAppID != "" && !isGUID(c.TeamsAppID) {
		fail("GATEHOUSE_TEAMS_APP_ID", "must be the Azure Bot's Microsoft App ID, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got %q", c.TeamsAppID)
	}
	if c.TeamsTenantID != "" && !isGUID(c.TeamsTenantID) && !isDomainName(c.TeamsTenantID) {
		fail("GATEHOUSE_TEAMS_TENANT_ID", "must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got %q", c.TeamsTenantID)
	}

	if v := env("GATEHOUSE_TEAMS_WEBHOOKS", ""); v != "" {
		var problems []string
		c.TeamsWebhooks, problems = parseWebhooks(v)
		for _, p := range problems {
			fail("GATEHOUSE_TEAMS_WEBHOOKS", "%s", p)
		}
		if c.GitHubClientID == "" && c.GitHubClientSecret == nil {
			fail("GATEHOUSE_TEAMS_WEBHOOKS", "needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: a person who opens a link from a Workflows card signs in with GitHub")
		}
	}

	c.SMTP, c.Graph, c.MailFrom = loadEmail(env, fail)
	for _, d := range strings.FieldsFunc(env("GATEHOUSE_MAIL_DOMAINS", ""), func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if !isDomainName(d) {
			fail("GATEHOUSE_MAIL_DOMAINS", "must be domain names, comma-separated, like corp.example, got %q", d)
			continue
		}
		c.MailDomains = append(c.MailDomains, strings.ToLower(d))
	}

	if path := env("GATEHOUSE_IDENTITIES_FILE", ""); path != "" {
		if c.Identities, err = identities.Load(path); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fail("GATEHOUSE_IDENTITIES_FILE", "%s", line)
			}
		}
	}

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// loadEmail reads the email settings: one transport, SMTP or Microsoft
// Graph, and the sender address, which goes with either.
func loadEmail(env func(name, def string) string, fail func(name, format string, args ...any)) (*SMTP, *Graph, string) {
	var smtp *SMTP
	smtpURL := env("GATEHOUSE_SMTP_URL", "")
	if smtpURL != "" {
		var problems []string
		smtp, problems = parseSMTP(smtpURL)
		for _, p := range problems {
			fail("GATEHOUSE_SMTP_URL", "%s", p)
		}
	}

	g := &Graph{
		TenantID: env("GATEHOUSE_GRAPH_TENANT_ID", ""),
		ClientID: env("GATEHOUSE_GRAPH_CLIENT_ID", ""),
		Sender:   env("GATEHOUSE_GRAPH_SENDER", ""),
	}
	if v := env("GATEHOUSE_GRAPH_CLIENT_SECRET", ""); v != "" {
		g.ClientSecret = Secret(v)
	}
	var err error
	if g.URL, err = microsoftURL(strings.TrimRight(env("GATEHOUSE_GRAPH_URL", DefaultGraphURL), "/")); err != nil {
		fail("GATEHOUSE_GRAPH_URL", "%v", err)
	}
	graphSettings := []setting{
		{"GATEHOUSE_GRAPH_TENANT_ID", g.TenantID != ""},
		{"GATEHOUSE_GRAPH_CLIENT_ID", g.ClientID != ""},
		{"GATEHOUSE_GRAPH_CLIENT_SECRET", g.ClientSecret != nil},
		{"GATEHOUSE_GRAPH_SENDER", g.Sender != ""},
	}
	if missing := missingSettings(graphSettings...); missing != "" {
		fail(missing, "missing: email through Microsoft Graph needs GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET and GATEHOUSE_GRAPH_SENDER together (the app registration's tenant, client id and client secret, and the mailbox to send from), or none of them")
	}
	if g.TenantID != "" && !isGUID(g.TenantID) && !isDomainName(g.TenantID) {
		fail("GATEHOUSE_GRAPH_TENANT_ID", "must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got %q", g.TenantID)
	}
	if g.ClientID != "" && !isGUID(g.ClientID) {
		fail("GATEHOUSE_GRAPH_CLIENT_ID", "must be the app registration's application (client) id, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got %q", g.ClientID)
	}
	if strings.ContainsFunc(g.Sender, unicode.IsSpace) || strings.ContainsAny(g.Sender, "/?#") {
		fail("GATEHOUSE_GRAPH_SENDER", "must be the mailbox to send from, its address or object id, like gatehouse@contoso.com, without spaces or any of / ? #, got %q", g.Sender)
	}
	graphSet := slices.ContainsFunc(graphSettings, func(s setting) bool { return s.set })
	if !graphSet {
		g = nil
	}
	if smtpURL != "" && graphSet {
		fail("GATEHOUSE_SMTP_URL, GATEHOUSE_GRAPH_*", "email goes through one transport: set GATEHOUSE_SMTP_URL or the GATEHOUSE_GRAPH_* settings, not both")
	}

	from := env("GATEHOUSE_MAIL_FROM", "")
	switch {
	case from == "" && (smtpURL != "" || graphSet):
		fail("GATEHOUSE_MAIL_FROM", "required when email is set up: the sender address, like Gatehouse <gatehouse@example.com>")
	case from != "" && smtpURL == "" && !graphSet:
		fail("GATEHOUSE_MAIL_FROM", "set, but no email transport is: set GATEHOUSE_SMTP_URL, or GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET and GATEHOUSE_GRAPH_SENDER")
	}
	if from != "" {
		if _, err := mail.ParseAddress(from); err != nil {
			fail("GATEHOUSE_MAIL_FROM", "must be one email address, with a name or without, like Gatehouse <gatehouse@example.com>, got %q", from)
		}
	}
	return smtp, g, from
}

// parseSMTP reads GATEHOUSE_SMTP_URL:
// smtp[s]://[user:password@]host[:port][/][?tls=required]. The URL may
// carry a password, so a problem names the part that is wrong and never
// quotes any of it: a password with an unencoded / ? # or @ would be
// split into the other parts.
func parseSMTP(v string) (*SMTP, []string) {
	scheme, rest, ok := strings.Cut(v, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "smtp" && scheme != "smtps") {
		return nil, []string{"must be smtp://[user:password@]host[:port] or smtps://…; the scheme is neither smtp nor smtps (the value is not shown)"}
	}
	var problems []string
	problem := func(p string) { problems = append(problems, p) }

	rest, _, hasFragment := strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if hasFragment {
		problem("must not have a #fragment (a # in the user or password is written %23)")
	}
	if path != "" {
		problem("must not have a path (a / in the user or password is written %2F)")
	}
	m := &SMTP{Security: SMTPStartTLS, Port: 587}
	if scheme == "smtps" {
		m.Security, m.Port = SMTPImplicitTLS, 465
	}
	if query != "" {
		if q, err := url.ParseQuery(query); err != nil || len(q) != 1 || len(q["tls"]) != 1 || q.Get("tls") != "required" {
			problem("the only query it takes is ?tls=required (a ? in the user or password is written %3F)")
		} else if scheme == "smtps" {
			problem("?tls=required is for smtp://; smtps:// always speaks TLS")
		} else {
			m.Security = SMTPStartTLSRequired
		}
	}

	hostport := authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		var userinfo string
		userinfo, hostport = authority[:at], authority[at+1:]
		rawUser, rawPassword, _ := strings.Cut(userinfo, ":")
		user, userErr := url.PathUnescape(rawUser)
		password, passwordErr := url.PathUnescape(rawPassword)
		switch {
		case userErr != nil:
			problem("the user is not percent-encoded correctly (the value is not shown)")
		case passwordErr != nil:
			problem("the password is not percent-encoded correctly (the value is not shown)")
		case user == "":
			problem("the user before the @ is empty: give user:password@, percent-encoded, or neither")
		case password == "":
			problem("a user without a password: give user:password@, percent-encoded, or neither (the value is not shown)")
		default:
			m.Username, m.Password = user, Secret(password)
		}
	}

	host, port, p := splitHostPort(hostport)
	if p != "" {
		problem(p)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.ContainsAny(port, "+-") {
			problem("the port must be a number from 1 to 65535")
		} else {
			m.Port = n
		}
	}
	m.Host = host
	if m.Security == SMTPStartTLS && m.Username != "" && !isLoopback(host) {
		m.Security = SMTPStartTLSRequired
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return m, nil
}

// splitHostPort splits host[:port] or [ipv6][:port]; host is a name or an
// IP address, without brackets. problem says what is wrong, without
// quoting it.
func splitHostPort(hostport string) (host, port, problem string) {
	if rest, ok := strings.CutPrefix(hostport, "["); ok {
		addr, after, ok := strings.Cut(rest, "]")
		switch {
		case !ok:
			return "", "", "the host's [ has no ]"
		case !strings.Contains(addr, ":") || net.ParseIP(addr) == nil:
			return "", "", "the host in brackets is not an IPv6 address"
		case after == "":
			return addr, "", ""
		}
		if port, ok = strings.CutPrefix(after, ":"); !ok {
			return "", "", "only :port may follow the host's ]"
		}
		return addr, port, ""
	}
	host, port, hasPort := strings.Cut(hostport, ":")
	switch {
	case strings.Contains(port, ":"):
		return "", "", "an IPv6 host is written in brackets, like [::1]:2525"
	case host == "":
		return "", "", "the host is missing"
	case !validHost(host):
		return "", "", "the host is not a host name or an IP address"
	case hasPort && port == "":
		return "", "", "the port after the : is empty"
	}
	return host, port, ""
}

// validHost accepts an IPv4 address or a host name: dot-separated labels
// of letters, digits, - and _.
func validHost(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// baseURL checks an absolute http(s) URL and trims its trailing slashes.
func baseURL(v string) (string, error) {
	v = strings.TrimRight(v, "/")
	if err := checkURL(v); err != nil {
		return "", err
	}
	return v, nil
}

// checkURL accepts an absolute http or https URL with a host, without
// credentials, a query or a fragment.
func checkURL(v string) error {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return fmt.Errorf("must be an absolute http or https URL, got %q", v)
	case u.User != nil:
		return errors.New("must not carry credentials, got a URL with a user part")
	case u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return fmt.Errorf("must be an absolute http or https URL, got %q", v)
	case strings.ContainsAny(v, "?#"):
		return fmt.Errorf("must be a base URL without a query or fragment, got %q", v)
	}
	return nil
}

// microsoftURL checks a URL of the Microsoft identity platform or the Bot
// Framework: https, or http to a loopback host (an emulator).
func microsoftURL(v string) (string, error) {
	if err := checkURL(v); err != nil {
		return "", err
	}
	if u, _ := url.Parse(v); u.Scheme != "https" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("must be https (http only to a loopback host, for an emulator), got %q", v)
	}
	return v, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setting is a variable of a group that is set together.
type setting struct {
	name string
	set  bool
}

// missingSettings names the settings of a group that are missing when
// some, but not all, are set; empty otherwise.
func missingSettings(settings ...setting) string {
	var missing []string
	for _, s := range settings {
		if !s.set {
			missing = append(missing, s.name)
		}
	}
	if len(missing) == len(settings) {
		return ""
	}
	return strings.Join(missing, ", ")
}

// isGUID reports whether s is a GUID in its usual form,
// 6f1c2d3e-0000-4000-8000-00000000a11c, in either case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// isDomainName reports whether s is a DNS name of two labels or more, like
// contoso.onmicrosoft.com, whose last label is not all digits.
func isDomainName(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	_, err := strconv.Atoi(labels[len(labels)-1])
	return err != nil
}

// parseWebhooks reads GATEHOUSE_TEAMS_WEBHOOKS: name=URL entries separated
// by commas or newlines (blank entries are skipped and not counted). The URLs
// carry their signatures, so a problem names its entry by name, or by
// position when the name is unusable, and never quotes a URL.
func parseWebhooks(v string) ([]TeamsWebhook, []string) {
	var (
		hooks    []TeamsWebhook
		problems []string
		seen     = map[string]string{} // lower-case name → the name as first given
	)
	entries := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	n := 0
	for _, entry := range entries {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		n++
		name, rawURL, ok := strings.Cut(entry, "=")
		name, rawURL = strings.TrimSpace(name), strings.TrimSpace(rawURL)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("entry %d must be name=https://…; the value is not shown", n))
			continue
		case name == "":
			problems = append(problems, fmt.Sprintf("entry %d has no name before the =", n))
			continue
		case !validWebhookName(name):
			problems = append(problems, fmt.Sprintf("entry %d: a name holds only letters, digits, -, _, . and /; the value is not shown", n))
			continue
		}
		key := strings.ToLower(name)
		if other, dup := seen[key]; dup {
			if other == name {
				problems = append(problems, fmt.Sprintf("webhook %q is given twice", name))
			} else {
				problems = append(problems, fmt.Sprintf("webhooks %q and %q differ only in case, and names are matched ignoring case", other, name))
			}
			continue
		}
		seen[key] = name
		if err := checkWebhookURL(rawURL); err != nil {
			problems = append(problems, fmt.Sprintf("webhook %q: %v", name, err))
			continue
		}
		hooks = append(hooks, TeamsWebhook{Name: name, URL: Secret(rawURL)})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return hooks, nil
}

// validWebhookName accepts ASCII letters, digits, -, _, . and /.
func validWebhookName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r)) {
			return false
		}
	}
	return true
}

// checkWebhookURL accepts an absolute https URL, or http to a loopback host
// (an emulator). Its errors never quote the URL.
func checkWebhookURL(v string) error {
	if v == "" {
		return errors.New("the URL after the = is empty")
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return errors.New("must be an absolute https URL; the value is not shown")
	case u.User != nil:
		return errors.New("the URL must not carry credentials; the value is not shown")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return errors.New("must be https (http only to a loopback host, for an emulator); the value is not shown")
	}
	return nil
}

// parseDatabase reads GATEHOUSE_DATABASE_URL. This release stores on SQLite
// only.
func parseDatabase(v string) (Database, error) {
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return Database{}, errors.New("this release stores its state in SQLite only; use sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db")
	case strings.HasPrefix(lower, "sqlite:"):
		path := v[len("sqlite:"):]
		if path == "" || strings.HasPrefix(path, "//") {
			return Database{}, fmt.Errorf("must be sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db, got %q", v)
		}
		return Database{Driver: "sqlite", Path: path}, nil
	}
	return Database{}, fmt.Errorf("must be sqlite:<path>, got %q", v)
}

// parseSecretKey decodes GATEHOUSE_SECRET_KEY. A value of hex digits only,
// of even length, is hex; anything else is base64, standard or URL
// alphabet, padded or not. The value is never quoted in an error.
func parseSecretKey(v string) (Secret, error) {
	key, err := hex.DecodeString(v)
	if err != nil {
		key, err = decodeBase64(v)
	}
	switch {
	case err != nil:
		return nil, errors.New("must be base64 or hex; the value is neither")
	case len(key) < minSecretKey:
		return nil, fmt.Errorf("must be at least %d bytes once decoded, got %d; generate one with `openssl rand -hex 32`", minSecretKey, len(key))
	}
	return Secret(key), nil
}

func decodeBase64(v string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// loadPrivateKey reads the app's key from GITHUB_APP_PRIVATE_KEY or the file
// GITHUB_APP_PRIVATE_KEY_FILE names: exactly one must be set.
func loadPrivateKey(getenv func(string) string, readFile func(string) ([]byte, error)) (*rsa.PrivateKey, error) {
	const (
		inline = "GITHUB_APP_PRIVATE_KEY"
		file   = "GITHUB_APP_PRIVATE_KEY_FILE"
	)
	value := strings.TrimSpace(getenv(inline))
	path := strings.TrimSpace(getenv(file))
	switch {
	case value != "" && path != "":
		return nil, fmt.Errorf("%s, %s: set one of them, not both", inline, file)
	case value != "":
		// Many platforms store a PEM on one line, with literal \n.
		key, err := parsePrivateKey([]byte(strings.ReplaceAll(value, `\n`, "\n")))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", inline, err)
		}
		return key, nil
	case path != "":
		pemBytes, err := readFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		key, err := parsePrivateKey(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, path, err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("%s or %s: one is required: the GitHub App's private key (PEM), or the path of the file that holds it", inline, file)
}

// parsePrivateKey reads an RSA private key PEM, PKCS#1 or PKCS#8. Parse
// errors are not passed on: they could quote parts of the key.
func parsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM private key: expected a -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY----- block, as GitHub gives it")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("the RSA PRIVATE KEY block is not a valid PKCS#1 RSA key")
		}
		return key, nil
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("the PRIVATE KEY block is not a valid PKCS#8 key")
		}
		rsaKey, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the key is %T; a GitHub App key is RSA", key)
		}
		return rsaKey, nil
	}
	return nil, fmt.Errorf("a PEM block of type %q is not a private key; expected RSA PRIVATE KEY or PRIVATE KEY", block.Type)
}

// parseLogLevel reads debug, info, warn or error, in any case.
func parseLogLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be debug, info, warn or error, got %q", v)
}
