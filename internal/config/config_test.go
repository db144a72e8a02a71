package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-ci/gatehouse/internal/identities"
	"github.com/google/go-cmp/cmp"
)

// testKey is one RSA key for the whole package's tests: generating one
// takes a noticeable fraction of a second.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs1PEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())}))
}

func pkcs8PEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// secretKey is 32 bytes; its encodings are the forms an operator may set.
var secretKey = bytes.Repeat([]byte{0xfb, 0xef, 0x01, 0x7e}, 8)

const (
	webhookSecret = "whsec-do-not-print-me"
	clientSecret  = "ghcs-client-secret-do-not-print"
	botPassword   = "bot~password-do-not-print"
	hookSig       = "SiGnAtUrE-do-not-print"
	botAppID      = "0c9d8e7f-1111-4000-8000-00000000b07a"
	tenantID      = "7a7a7a7a-2222-4000-8000-0000000c0050"
	// smtpPassword holds every character a URL's user part must encode;
	// smtpPasswordEncoded is it as the user part of GATEHOUSE_SMTP_URL.
	smtpPassword        = "s3cret/p@ss:w?rd#%+do-not-print"
	smtpPasswordEncoded = "s3cret%2Fp%40ss%3Aw%3Frd%23%25+do-not-print"
	graphSecret         = "graph~client.secret-do-not-print"
	graphClientID       = "3b3b3b3b-4444-4000-8000-0000000e0a11"
	mailFrom            = "Gatehouse <gatehouse@example.com>"
)

// smtpEnv sends email through the SMTP server at u.
func smtpEnv(u string) map[string]string {
	return map[string]string{"GATEHOUSE_SMTP_URL": u, "GATEHOUSE_MAIL_FROM": mailFrom}
}

// graphEnv sends email through Microsoft Graph.
func graphEnv() map[string]string {
	return map[string]string{
		"GATEHOUSE_GRAPH_TENANT_ID":     tenantID,
		"GATEHOUSE_GRAPH_CLIENT_ID":     graphClientID,
		"GATEHOUSE_GRAPH_CLIENT_SECRET": graphSecret,
		"GATEHOUSE_GRAPH_SENDER":        "gatehouse@contoso.com",
		"GATEHOUSE_MAIL_FROM":           mailFrom,
	}
}

// graph is the Graph settings of graphEnv.
func graph() *Graph {
	return &Graph{TenantID: tenantID, ClientID: graphClientID, ClientSecret: Secret(graphSecret), Sender: "gatehouse@contoso.com", URL: DefaultGraphURL}
}

// hookURL is a Workflows webhook URL on host, signed with hookSig.
func hookURL(scheme, host string) string {
	return scheme + "://" + host + "/workflows/5f0e1d/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + hookSig
}

// teamsEnv sets up GitHub sign-in, the Teams bot and two webhooks.
func teamsEnv() map[string]string {
	return map[string]string{
		"GITHUB_CLIENT_ID":             "Iv23liGatehouse",
		"GITHUB_CLIENT_SECRET":         clientSecret,
		"GATEHOUSE_TEAMS_APP_ID":       botAppID,
		"GATEHOUSE_TEAMS_APP_PASSWORD": botPassword,
		"GATEHOUSE_TEAMS_TENANT_ID":    tenantID,
		"GATEHOUSE_TEAMS_WEBHOOKS":     "releases=" + hookURL("https", "prod-01.westeurope.logic.azure.com") + ",ops/oncall=" + hookURL("https", "prod-02.westeurope.logic.azure.com"),
	}
}

// identitiesFile writes an identities file into a test's directory.
func identitiesFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "identities.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const people = "people:\n  - github: alice\n    emails: [alice@corp.example]\n    teams: 6f1c2d3e-0000-4000-8000-00000000a11c\n"

// validEnv is a complete, valid environment.
func validEnv() map[string]string {
	return map[string]string{
		"GATEHOUSE_PUBLIC_URL":   "https://gatehouse.example.com/",
		"GATEHOUSE_SECRET_KEY":   hex.EncodeToString(secretKey),
		"GITHUB_APP_ID":          "12345",
		"GITHUB_APP_PRIVATE_KEY": pkcs1PEM(),
		"GITHUB_WEBHOOK_SECRET":  webhookSecret,
	}
}

// files is a fake file system for readFile.
type files map[string]string

func (f files) read(name string) ([]byte, error) {
	if s, ok := f[name]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func load(env map[string]string, f files) (Config, error) {
	return Load(func(k string) string { return env[k] }, f.read)
}

// cmpConfig compares keys by value and directories by their contents.
var cmpConfig = cmp.Options{
	cmp.Comparer(func(a, b *rsa.PrivateKey) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Equal(b)
	}),
	cmp.AllowUnexported(identities.Directory{}),
}

func TestLoad(t *testing.T) {
	t.Parallel()
	defaults := Config{
		Addr:           ":8080",
		PublicURL:      "https://gatehouse.example.com",
		Database:       Database{Driver: "sqlite", Path: "gatehouse.db"},
		SecretKey:      secretKey,
		AppID:          12345,
		PrivateKey:     testKey(),
		WebhookSecret:  Secret(webhookSecret),
		APIURL:         "https://api.github.com",
		OIDCIssuer:     "https://token.actions.githubusercontent.com",
		ServerURL:      "https://github.com",
		LogLevel:       slog.LevelInfo,
		AuthorityURL:   "https://login.microsoftonline.com",
		TeamsOpenIDURL: "https://login.botframework.com/v1/.well-known/openidconfiguration",
	}
	idPath := identitiesFile(t, people)
	dir, err := identities.Load(idPath)
	if err != nil {
		t.Fatal(err)
	}
	emptyPath := identitiesFile(t, "# nobody yet\n")
	empty, err := identities.Load(emptyPath)
	if err != nil {
		t.Fatal(err)
	}
	teams := func(c *Config) {
		c.GitHubClientID = "Iv23liGatehouse"
		c.GitHubClientSecret = Secret(clientSecret)
		c.TeamsAppID = botAppID
		c.TeamsAppPassword = Secret(botPassword)
		c.TeamsTenantID = tenantID
		c.TeamsWebhooks = []TeamsWebhook{
			{Name: "releases", URL: Secret(hookURL("https", "prod-01.westeurope.logic.azure.com"))},
			{Name: "ops/oncall", URL: Secret(hookURL("https", "prod-02.westeurope.logic.azure.com"))},
		}
	}
	with := func(change func(*Config)) Config {
		c := defaults
		change(&c)
		return c
	}
	viaSMTP := func(m *SMTP) Config {
		return with(func(c *Config) { c.SMTP, c.MailFrom = m, mailFrom })
	}
	tests := []struct {
		name  string
		env   map[string]string // merged over validEnv; "" unsets
		files files
		want  Config
	}{
		{name: "defaults", want: defaults},
		{
			name: "every setting given",
			env: map[string]string{
				"GATEHOUSE_ADDR":                "127.0.0.1:9000",
				"GATEHOUSE_PUBLIC_URL":          "http://localhost:9000/gatehouse//",
				"GATEHOUSE_DATABASE_URL":        "sqlite:/var/lib/gatehouse/state.db",
				"GITHUB_API_URL":                "https://ghes.example.com/api/v3/",
				"GATEHOUSE_OIDC_ISSUER":         "https://ghes.example.com/_services/token",
				"GITHUB_SERVER_URL":             "https://ghes.example.com/",
				"GATEHOUSE_LOG_LEVEL":           "DEBUG",
				"GITHUB_CLIENT_ID":              "Iv23liGatehouse",
				"GITHUB_CLIENT_SECRET":          clientSecret,
				"GATEHOUSE_AUTHORITY_URL":       "https://login.microsoftonline.us/",
				"GATEHOUSE_TEAMS_APP_ID":        botAppID,
				"GATEHOUSE_TEAMS_APP_PASSWORD":  botPassword,
				"GATEHOUSE_TEAMS_TENANT_ID":     tenantID,
				"GATEHOUSE_TEAMS_OPENID_URL":    "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
				"GATEHOUSE_TEAMS_WEBHOOKS":      teamsEnv()["GATEHOUSE_TEAMS_WEBHOOKS"],
				"GATEHOUSE_IDENTITIES_FILE":     idPath,
				"GATEHOUSE_GRAPH_TENANT_ID":     "contoso.onmicrosoft.com",
				"GATEHOUSE_GRAPH_CLIENT_ID":     graphClientID,
				"GATEHOUSE_GRAPH_CLIENT_SECRET": graphSecret,
				"GATEHOUSE_GRAPH_SENDER":        "gatehouse@contoso.com",
				"GATEHOUSE_GRAPH_URL":           "https://graph.microsoft.us/v1.0/",
				"GATEHOUSE_MAIL_FROM":           "gatehouse@contoso.com",
			},
			want: with(func(c *Config) {
				teams(c)
				c.Graph = graph()
				c.Graph.TenantID = "contoso.onmicrosoft.com"
				c.Graph.URL = "https://graph.microsoft.us/v1.0"
				c.MailFrom = "gatehouse@contoso.com"
				c.AuthorityURL = "https://login.microsoftonline.us"
				c.TeamsOpenIDURL = "https://login.botframework.azure.us/v1/.well-known/openidconfiguration"
				c.Identities = dir
				c.Addr = "127.0.0.1:9000"
				c.PublicURL = "http://localhost:9000/gatehouse"
				c.Database.Path = "/var/lib/gatehouse/state.db"
				c.APIURL = "https://ghes.example.com/api/v3"
				c.OIDCIssuer = "https://ghes.example.com/_services/token"
				c.ServerURL = "https://ghes.example.com"
				c.LogLevel = slog.LevelDebug
			}),
		},
		{name: "blank values take defaults", env: map[string]string{"GATEHOUSE_ADDR": "  ", "GATEHOUSE_LOG_LEVEL": " "}, want: defaults},
		{name: "secret key base64 padded", env: map[string]string{"GATEHOUSE_SECRET_KEY": base64.StdEncoding.EncodeToString(secretKey)}, want: defaults},
		{name: "secret key base64 unpadded", env: map[string]string{"GATEHOUSE_SECRET_KEY": base64.RawStdEncoding.EncodeToString(secretKey)}, want: defaults},
		{name: "secret key base64url padded", env: map[string]string{"GATEHOUSE_SECRET_KEY": base64.URLEncoding.EncodeToString(secretKey)}, want: defaults},
		{name: "secret key base64url unpadded", env: map[string]string{"GATEHOUSE_SECRET_KEY": base64.RawURLEncoding.EncodeToString(secretKey)}, want: defaults},
		{name: "secret key upper-case hex", env: map[string]string{"GATEHOUSE_SECRET_KEY": strings.ToUpper(hex.EncodeToString(secretKey))}, want: defaults},
		{
			name: "longer secret key",
			env:  map[string]string{"GATEHOUSE_SECRET_KEY": hex.EncodeToString(append(bytes.Clone(secretKey), 1, 2))},
			want: with(func(c *Config) { c.SecretKey = append(bytes.Clone(secretKey), 1, 2) }),
		},
		{name: "private key PKCS#8", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": pkcs8PEM(t, testKey())}, want: defaults},
		{name: "private key with literal \\n", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": strings.ReplaceAll(pkcs1PEM(), "\n", `\n`)}, want: defaults},
		{
			name:  "private key from a file",
			env:   map[string]string{"GITHUB_APP_PRIVATE_KEY": "", "GITHUB_APP_PRIVATE_KEY_FILE": "/run/secrets/app.pem"},
			files: files{"/run/secrets/app.pem": pkcs1PEM()},
			want:  defaults,
		},
		{name: "teams", env: teamsEnv(), want: with(teams)},
		{
			name: "teams tenant as a domain name, GUIDs in upper case",
			env:  merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_APP_ID": strings.ToUpper(botAppID), "GATEHOUSE_TEAMS_TENANT_ID": "contoso.onmicrosoft.com"}),
			want: with(func(c *Config) {
				teams(c)
				c.TeamsAppID = strings.ToUpper(botAppID)
				c.TeamsTenantID = "contoso.onmicrosoft.com"
			}),
		},
		{
			name: "GitHub sign-in without Teams",
			env:  map[string]string{"GITHUB_CLIENT_ID": "Iv23liGatehouse", "GITHUB_CLIENT_SECRET": clientSecret},
			want: with(func(c *Config) {
				c.GitHubClientID = "Iv23liGatehouse"
				c.GitHubClientSecret = Secret(clientSecret)
			}),
		},
		{
			name: "emulators on loopback over http",
			env: merge(teamsEnv(), map[string]string{
				"GATEHOUSE_AUTHORITY_URL":    "http://127.0.0.1:9100",
				"GATEHOUSE_TEAMS_OPENID_URL": "http://localhost:9100/v1/.well-known/openidconfiguration",
				"GATEHOUSE_TEAMS_WEBHOOKS":   "releases=" + hookURL("http", "[::1]:9100") + ",ops/oncall=" + hookURL("http", "LOCALHOST:9100"),
			}),
			want: with(func(c *Config) {
				teams(c)
				c.AuthorityURL = "http://127.0.0.1:9100"
				c.TeamsOpenIDURL = "http://localhost:9100/v1/.well-known/openidconfiguration"
				c.TeamsWebhooks[0].URL = Secret(hookURL("http", "[::1]:9100"))
				c.TeamsWebhooks[1].URL = Secret(hookURL("http", "LOCALHOST:9100"))
			}),
		},
		{
			name: "webhooks one per line, spaces and empty entries ignored",
			env: merge(teamsEnv(), map[string]string{
				"GATEHOUSE_TEAMS_WEBHOOKS": "\n releases = " + hookURL("https", "prod-01.westeurope.logic.azure.com") + " ,\r\n,\n ops/oncall=" + hookURL("https", "prod-02.westeurope.logic.azure.com") + ",\n",
			}),
			want: with(teams),
		},
		{
			name: "webhook names of every allowed character",
			env: merge(teamsEnv(), map[string]string{
				"GATEHOUSE_TEAMS_WEBHOOKS": "Team-A/release_train.2=" + hookURL("https", "example.com"),
			}),
			want: with(func(c *Config) {
				teams(c)
				c.TeamsWebhooks = []TeamsWebhook{{Name: "Team-A/release_train.2", URL: Secret(hookURL("https", "example.com"))}}
			}),
		},
		{name: "identities file", env: map[string]string{"GATEHOUSE_IDENTITIES_FILE": idPath}, want: with(func(c *Config) { c.Identities = dir })},
		{
			name: "empty identities file",
			env:  map[string]string{"GATEHOUSE_IDENTITIES_FILE": emptyPath},
			want: with(func(c *Config) { c.Identities = empty }),
		},
		{
			name: "smtp defaults",
			env:  smtpEnv("smtp://mail.example.com"),
			want: viaSMTP(&SMTP{Host: "mail.example.com", Port: 587, Security: SMTPStartTLS}),
		},
		{
			name: "smtp in upper case, a port and a slash",
			env:  smtpEnv("SMTP://Mail.Example.com:25/"),
			want: viaSMTP(&SMTP{Host: "Mail.Example.com", Port: 25, Security: SMTPStartTLS}),
		},
		{
			name: "smtp credentials to a remote server insist on STARTTLS",
			env:  smtpEnv("smtp://gatehouse:" + smtpPasswordEncoded + "@mail.example.com"),
			want: viaSMTP(&SMTP{Host: "mail.example.com", Port: 587, Username: "gatehouse", Password: Secret(smtpPassword), Security: SMTPStartTLSRequired}),
		},
		{
			name: "smtp user percent-encoded, plus signs kept",
			env:  smtpEnv("smtp://alice%40corp.example:a%2Bb+c@10.0.0.25:2525"),
			want: viaSMTP(&SMTP{Host: "10.0.0.25", Port: 2525, Username: "alice@corp.example", Password: Secret("a+b+c"), Security: SMTPStartTLSRequired}),
		},
		{
			name: "smtp credentials to IPv6 loopback",
			env:  smtpEnv("smtp://u:p@[::1]:2525"),
			want: viaSMTP(&SMTP{Host: "::1", Port: 2525, Username: "u", Password: Secret("p"), Security: SMTPStartTLS}),
		},
		{
			name: "smtp credentials to localhost",
			env:  smtpEnv("smtp://u:p@LocalHost"),
			want: viaSMTP(&SMTP{Host: "LocalHost", Port: 587, Username: "u", Password: Secret("p"), Security: SMTPStartTLS}),
		},
		{
			name: "smtp credentials to 127.0.0.1",
			env:  smtpEnv("smtp://u:p@127.0.0.1:1025"),
			want: viaSMTP(&SMTP{Host: "127.0.0.1", Port: 1025, Username: "u", Password: Secret("p"), Security: SMTPStartTLS}),
		},
		{
			name: "smtp tls=required",
			env:  smtpEnv("smtp://mail.example.com/?tls=required"),
			want: viaSMTP(&SMTP{Host: "mail.example.com", Port: 587, Security: SMTPStartTLSRequired}),
		},
		{
			name: "smtp tls=required on loopback",
			env:  smtpEnv("smtp://u:p@127.0.0.1?tls=required"),
			want: viaSMTP(&SMTP{Host: "127.0.0.1", Port: 587, Username: "u", Password: Secret("p"), Security: SMTPStartTLSRequired}),
		},
		{
			name: "smtp IPv6 host without a port",
			env:  smtpEnv("smtp://[2001:db8::25]"),
			want: viaSMTP(&SMTP{Host: "2001:db8::25", Port: 587, Security: SMTPStartTLS}),
		},
		{
			name: "smtps defaults",
			env:  smtpEnv("smtps://gatehouse:" + smtpPasswordEncoded + "@smtp.example.com"),
			want: viaSMTP(&SMTP{Host: "smtp.example.com", Port: 465, Username: "gatehouse", Password: Secret(smtpPassword), Security: SMTPImplicitTLS}),
		},
		{
			name: "smtps with a port",
			env:  smtpEnv("smtps://smtp.example.com:2465/"),
			want: viaSMTP(&SMTP{Host: "smtp.example.com", Port: 2465, Security: SMTPImplicitTLS}),
		},
		{
			name: "smtp with a plain sender address",
			env:  map[string]string{"GATEHOUSE_SMTP_URL": "smtp://mail.example.com", "GATEHOUSE_MAIL_FROM": "gatehouse@example.com"},
			want: with(func(c *Config) {
				c.SMTP = &SMTP{Host: "mail.example.com", Port: 587, Security: SMTPStartTLS}
				c.MailFrom = "gatehouse@example.com"
			}),
		},
		{name: "graph", env: graphEnv(), want: with(func(c *Config) { c.Graph, c.MailFrom = graph(), mailFrom })},
		{
			name: "graph emulator on loopback",
			env:  merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_URL": "http://127.0.0.1:9200/v1.0//", "GATEHOUSE_GRAPH_CLIENT_ID": strings.ToUpper(graphClientID)}),
			want: with(func(c *Config) {
				c.Graph, c.MailFrom = graph(), mailFrom
				c.Graph.URL = "http://127.0.0.1:9200/v1.0"
				c.Graph.ClientID = strings.ToUpper(graphClientID)
			}),
		},
		{name: "graph URL alone", env: map[string]string{"GATEHOUSE_GRAPH_URL": "https://graph.microsoft.us/v1.0"}, want: defaults},
		{name: "log level warn", env: map[string]string{"GATEHOUSE_LOG_LEVEL": "warn"}, want: with(func(c *Config) { c.LogLevel = slog.LevelWarn })},
		{name: "log level error", env: map[string]string{"GATEHOUSE_LOG_LEVEL": "Error"}, want: with(func(c *Config) { c.LogLevel = slog.LevelError })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := load(env, tt.files)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpConfig); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

// merge returns base with over's values set.
func merge(base, over map[string]string) map[string]string {
	for k, v := range over {
		base[k] = v
	}
	return base
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	badPeople := identitiesFile(t, "people:\n  - email: alice@corp.example\n  - github: al ice\n")
	absent := filepath.Join(t.TempDir(), "absent.yaml")
	// withHooks sets the Workflows webhooks, and the GitHub sign-in they need.
	withHooks := func(v string) map[string]string {
		return map[string]string{"GITHUB_CLIENT_ID": "Iv23liGatehouse", "GITHUB_CLIENT_SECRET": clientSecret, "GATEHOUSE_TEAMS_WEBHOOKS": v}
	}
	good := hookURL("https", "prod-01.westeurope.logic.azure.com")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("not DER at all")}))
	const (
		smtpScheme     = "GATEHOUSE_SMTP_URL: must be smtp://[user:password@]host[:port] or smtps://…; the scheme is neither smtp nor smtps (the value is not shown)"
		smtpPort       = "GATEHOUSE_SMTP_URL: the port must be a number from 1 to 65535"
		smtpNoPassword = "GATEHOUSE_SMTP_URL: a user without a password: give user:password@, percent-encoded, or neither (the value is not shown)"
		smtpQuery      = "GATEHOUSE_SMTP_URL: the only query it takes is ?tls=required (a ? in the user or password is written %3F)"
		fromRequired   = "GATEHOUSE_MAIL_FROM: required when email is set up: the sender address, like Gatehouse <gatehouse@example.com>"
		fromAlone      = "GATEHOUSE_MAIL_FROM: set, but no email transport is: set GATEHOUSE_SMTP_URL, or GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET and GATEHOUSE_GRAPH_SENDER"
		graphMissing   = "missing: email through Microsoft Graph needs GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET and GATEHOUSE_GRAPH_SENDER together (the app registration's tenant, client id and client secret, and the mailbox to send from), or none of them"
	)
	graphSender := func(v string) string {
		return fmt.Sprintf("GATEHOUSE_GRAPH_SENDER: must be the mailbox to send from, its address or object id, like gatehouse@contoso.com, without spaces or any of / ? #, got %q", v)
	}
	tests := []struct {
		name  string
		env   map[string]string // merged over validEnv; "" unsets
		files files
		want  string
	}{
		{name: "public URL missing", env: map[string]string{"GATEHOUSE_PUBLIC_URL": ""},
			want: "GATEHOUSE_PUBLIC_URL: required: the app's external base URL, e.g. https://gatehouse.example.com"},
		{name: "public URL relative", env: map[string]string{"GATEHOUSE_PUBLIC_URL": "gatehouse.example.com"},
			want: `GATEHOUSE_PUBLIC_URL: must be an absolute http or https URL, got "gatehouse.example.com"`},
		{name: "public URL not http", env: map[string]string{"GATEHOUSE_PUBLIC_URL": "ftp://gatehouse.example.com"},
			want: `GATEHOUSE_PUBLIC_URL: must be an absolute http or https URL, got "ftp://gatehouse.example.com"`},
		{name: "public URL unparsable", env: map[string]string{"GATEHOUSE_PUBLIC_URL": "https://gate house.example.com"},
			want: `GATEHOUSE_PUBLIC_URL: must be an absolute http or https URL, got "https://gate house.example.com"`},
		{name: "public URL with query", env: map[string]string{"GATEHOUSE_PUBLIC_URL": "https://gatehouse.example.com/?a=b"},
			want: `GATEHOUSE_PUBLIC_URL: must be a base URL without a query or fragment, got "https://gatehouse.example.com/?a=b"`},
		{name: "public URL with fragment", env: map[string]string{"GATEHOUSE_PUBLIC_URL": "https://gatehouse.example.com#x"},
			want: `GATEHOUSE_PUBLIC_URL: must be a base URL without a query or fragment, got "https://gatehouse.example.com#x"`},
		{name: "API URL with credentials", env: map[string]string{"GITHUB_API_URL": "https://user:hunter2@ghes.example.com/api/v3"},
			want: "GITHUB_API_URL: must not carry credentials, got a URL with a user part"},
		{name: "OIDC issuer relative", env: map[string]string{"GATEHOUSE_OIDC_ISSUER": "/token"},
			want: `GATEHOUSE_OIDC_ISSUER: must be an absolute http or https URL, got "/token"`},
		{name: "server URL not http", env: map[string]string{"GITHUB_SERVER_URL": "github.com"},
			want: `GITHUB_SERVER_URL: must be an absolute http or https URL, got "github.com"`},
		{name: "postgres", env: map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://gatehouse@db/gatehouse"},
			want: "GATEHOUSE_DATABASE_URL: this release stores its state in SQLite only; use sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db"},
		{name: "postgresql", env: map[string]string{"GATEHOUSE_DATABASE_URL": "PostgreSQL://gatehouse@db/gatehouse"},
			want: "GATEHOUSE_DATABASE_URL: this release stores its state in SQLite only; use sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db"},
		{name: "other database", env: map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://db/gatehouse"},
			want: `GATEHOUSE_DATABASE_URL: must be sqlite:<path>, got "mysql://db/gatehouse"`},
		{name: "sqlite without a path", env: map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite:"},
			want: `GATEHOUSE_DATABASE_URL: must be sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db, got "sqlite:"`},
		{name: "sqlite URL form", env: map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite://gatehouse.db"},
			want: `GATEHOUSE_DATABASE_URL: must be sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db, got "sqlite://gatehouse.db"`},
		{name: "secret key missing", env: map[string]string{"GATEHOUSE_SECRET_KEY": ""},
			want: "GATEHOUSE_SECRET_KEY: required: 32 or more random bytes, base64 or hex, e.g. the output of `openssl rand -hex 32`"},
		{name: "secret key short hex", env: map[string]string{"GATEHOUSE_SECRET_KEY": hex.EncodeToString(secretKey[:24])},
			want: "GATEHOUSE_SECRET_KEY: must be at least 32 bytes once decoded, got 24; generate one with `openssl rand -hex 32`"},
		{name: "secret key short base64", env: map[string]string{"GATEHOUSE_SECRET_KEY": base64.StdEncoding.EncodeToString(secretKey[:31])},
			want: "GATEHOUSE_SECRET_KEY: must be at least 32 bytes once decoded, got 31; generate one with `openssl rand -hex 32`"},
		{name: "secret key neither base64 nor hex", env: map[string]string{"GATEHOUSE_SECRET_KEY": "correct horse battery staple, nothing random at all"},
			want: "GATEHOUSE_SECRET_KEY: must be base64 or hex; the value is neither"},
		{name: "app id missing", env: map[string]string{"GITHUB_APP_ID": ""},
			want: "GITHUB_APP_ID: required: the GitHub App's numeric id"},
		{name: "app id zero", env: map[string]string{"GITHUB_APP_ID": "0"},
			want: `GITHUB_APP_ID: must be a positive whole number, got "0"`},
		{name: "app id negative", env: map[string]string{"GITHUB_APP_ID": "-4"},
			want: `GITHUB_APP_ID: must be a positive whole number, got "-4"`},
		{name: "app id not a number", env: map[string]string{"GITHUB_APP_ID": "gatehouse"},
			want: `GITHUB_APP_ID: must be a positive whole number, got "gatehouse"`},
		{name: "webhook secret missing", env: map[string]string{"GITHUB_WEBHOOK_SECRET": ""},
			want: "GITHUB_WEBHOOK_SECRET: required: the secret set on the GitHub App's webhook"},
		{name: "log level unknown", env: map[string]string{"GATEHOUSE_LOG_LEVEL": "trace"},
			want: `GATEHOUSE_LOG_LEVEL: must be debug, info, warn or error, got "trace"`},
		{name: "private key missing", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": ""},
			want: "GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE: one is required: the GitHub App's private key (PEM), or the path of the file that holds it"},
		{name: "private key twice", env: map[string]string{"GITHUB_APP_PRIVATE_KEY_FILE": "/run/secrets/app.pem"}, files: files{"/run/secrets/app.pem": pkcs1PEM()},
			want: "GITHUB_APP_PRIVATE_KEY, GITHUB_APP_PRIVATE_KEY_FILE: set one of them, not both"},
		{name: "private key file absent", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": "", "GITHUB_APP_PRIVATE_KEY_FILE": "/run/secrets/app.pem"},
			want: "GITHUB_APP_PRIVATE_KEY_FILE: open /run/secrets/app.pem: file does not exist"},
		{name: "private key file not PEM", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": "", "GITHUB_APP_PRIVATE_KEY_FILE": "/run/secrets/app.pem"}, files: files{"/run/secrets/app.pem": "12345"},
			want: "GITHUB_APP_PRIVATE_KEY_FILE: /run/secrets/app.pem: not a PEM private key: expected a -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY----- block, as GitHub gives it"},
		{name: "private key not PEM", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(testKey()))},
			want: "GITHUB_APP_PRIVATE_KEY: not a PEM private key: expected a -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY----- block, as GitHub gives it"},
		{name: "private key corrupt PKCS#1", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": corrupt},
			want: "GITHUB_APP_PRIVATE_KEY: the RSA PRIVATE KEY block is not a valid PKCS#1 RSA key"},
		{name: "private key corrupt PKCS#8", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": strings.ReplaceAll(corrupt, "RSA PRIVATE KEY", "PRIVATE KEY")},
			want: "GITHUB_APP_PRIVATE_KEY: the PRIVATE KEY block is not a valid PKCS#8 key"},
		{name: "private key not RSA", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": pkcs8PEM(t, ecKey)},
			want: "GITHUB_APP_PRIVATE_KEY: the key is *ecdsa.PrivateKey; a GitHub App key is RSA"},
		{name: "public key instead", env: map[string]string{"GITHUB_APP_PRIVATE_KEY": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}))},
			want: `GITHUB_APP_PRIVATE_KEY: a PEM block of type "PUBLIC KEY" is not a private key; expected RSA PRIVATE KEY or PRIVATE KEY`},
		{name: "client id without secret", env: map[string]string{"GITHUB_CLIENT_ID": "Iv23liGatehouse"},
			want: "GITHUB_CLIENT_SECRET: required when GITHUB_CLIENT_ID is set: the GitHub App's client secret, for sign-in on response pages"},
		{name: "client secret without id", env: map[string]string{"GITHUB_CLIENT_SECRET": clientSecret},
			want: "GITHUB_CLIENT_ID: required when GITHUB_CLIENT_SECRET is set: the GitHub App's client id, for sign-in on response pages"},
		{name: "authority over http", env: map[string]string{"GATEHOUSE_AUTHORITY_URL": "http://login.microsoftonline.com"},
			want: `GATEHOUSE_AUTHORITY_URL: must be https (http only to a loopback host, for an emulator), got "http://login.microsoftonline.com"`},
		{name: "authority relative", env: map[string]string{"GATEHOUSE_AUTHORITY_URL": "login.microsoftonline.com"},
			want: `GATEHOUSE_AUTHORITY_URL: must be an absolute http or https URL, got "login.microsoftonline.com"`},
		{name: "authority with a tenant query", env: map[string]string{"GATEHOUSE_AUTHORITY_URL": "https://login.microsoftonline.com/?tenant=x"},
			want: `GATEHOUSE_AUTHORITY_URL: must be a base URL without a query or fragment, got "https://login.microsoftonline.com/?tenant=x"`},
		{name: "OpenID URL over http", env: map[string]string{"GATEHOUSE_TEAMS_OPENID_URL": "http://login.botframework.com/v1/.well-known/openidconfiguration"},
			want: `GATEHOUSE_TEAMS_OPENID_URL: must be https (http only to a loopback host, for an emulator), got "http://login.botframework.com/v1/.well-known/openidconfiguration"`},
		{name: "OpenID URL over http to a private address", env: map[string]string{"GATEHOUSE_TEAMS_OPENID_URL": "http://10.0.0.1/openid"},
			want: `GATEHOUSE_TEAMS_OPENID_URL: must be https (http only to a loopback host, for an emulator), got "http://10.0.0.1/openid"`},
		{name: "OpenID URL not a URL", env: map[string]string{"GATEHOUSE_TEAMS_OPENID_URL": "openidconfiguration"},
			want: `GATEHOUSE_TEAMS_OPENID_URL: must be an absolute http or https URL, got "openidconfiguration"`},
		{name: "bot app id alone", env: map[string]string{"GATEHOUSE_TEAMS_APP_ID": botAppID},
			want: "GATEHOUSE_TEAMS_APP_PASSWORD, GATEHOUSE_TEAMS_TENANT_ID: missing: the Teams bot needs GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_APP_PASSWORD and GATEHOUSE_TEAMS_TENANT_ID together (the Azure Bot's app id, client secret and tenant), or none of them"},
		{name: "bot password alone", env: map[string]string{"GATEHOUSE_TEAMS_APP_PASSWORD": botPassword},
			want: "GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_TENANT_ID: missing: the Teams bot needs GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_APP_PASSWORD and GATEHOUSE_TEAMS_TENANT_ID together (the Azure Bot's app id, client secret and tenant), or none of them"},
		{name: "bot tenant missing", env: map[string]string{"GATEHOUSE_TEAMS_APP_ID": botAppID, "GATEHOUSE_TEAMS_APP_PASSWORD": botPassword, "GATEHOUSE_TEAMS_TENANT_ID": " "},
			want: "GATEHOUSE_TEAMS_TENANT_ID: missing: the Teams bot needs GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_APP_PASSWORD and GATEHOUSE_TEAMS_TENANT_ID together (the Azure Bot's app id, client secret and tenant), or none of them"},
		{name: "bot app id not a GUID", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_APP_ID": "gatehouse-bot"}),
			want: `GATEHOUSE_TEAMS_APP_ID: must be the Azure Bot's Microsoft App ID, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got "gatehouse-bot"`},
		{name: "bot app id GUID in braces", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_APP_ID": "{" + botAppID + "}"}),
			want: `GATEHOUSE_TEAMS_APP_ID: must be the Azure Bot's Microsoft App ID, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got "{` + botAppID + `}"`},
		{name: "bot app id with a non-hex digit", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_APP_ID": "0c9d8e7f-1111-4000-8000-00000000b07g"}),
			want: `GATEHOUSE_TEAMS_APP_ID: must be the Azure Bot's Microsoft App ID, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got "0c9d8e7f-1111-4000-8000-00000000b07g"`},
		{name: "tenant a single word", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_TENANT_ID": "common"}),
			want: `GATEHOUSE_TEAMS_TENANT_ID: must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got "common"`},
		{name: "tenant an IP address", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_TENANT_ID": "192.168.0.1"}),
			want: `GATEHOUSE_TEAMS_TENANT_ID: must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got "192.168.0.1"`},
		{name: "tenant a URL", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_TENANT_ID": "https://contoso.onmicrosoft.com"}),
			want: `GATEHOUSE_TEAMS_TENANT_ID: must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got "https://contoso.onmicrosoft.com"`},
		{name: "tenant label with a leading hyphen", env: merge(teamsEnv(), map[string]string{"GATEHOUSE_TEAMS_TENANT_ID": "-contoso.onmicrosoft.com"}),
			want: `GATEHOUSE_TEAMS_TENANT_ID: must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got "-contoso.onmicrosoft.com"`},
		{name: "webhooks without GitHub sign-in", env: map[string]string{"GATEHOUSE_TEAMS_WEBHOOKS": "releases=" + good},
			want: "GATEHOUSE_TEAMS_WEBHOOKS: needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: a person who opens a link from a Workflows card signs in with GitHub"},
		{name: "webhook URL without a name", env: withHooks("releases=" + good + "," + good),
			want: "GATEHOUSE_TEAMS_WEBHOOKS: entry 2: a name holds only letters, digits, -, _, . and /; the value is not shown"},
		{name: "webhook without =", env: withHooks("releases"),
			want: "GATEHOUSE_TEAMS_WEBHOOKS: entry 1 must be name=https://…; the value is not shown"},
		{name: "webhook with an empty name", env: withHooks("=" + good),
			want: "GATEHOUSE_TEAMS_WEBHOOKS: entry 1 has no name before the ="},
		{name: "webhook name with a space", env: withHooks("release train=" + good),
			want: "GATEHOUSE_TEAMS_WEBHOOKS: entry 1: a name holds only letters, digits, -, _, . and /; the value is not shown"},
		{name: "webhook without a URL", env: withHooks("releases= "),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases": the URL after the = is empty`},
		{name: "webhook URL relative", env: withHooks("releases=/workflows/x?sig=" + hookSig),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases": must be an absolute https URL; the value is not shown`},
		{name: "webhook URL unparsable", env: withHooks("releases=https://prod 01.example.com/?sig=" + hookSig),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases": must be an absolute https URL; the value is not shown`},
		{name: "webhook URL not http", env: withHooks("releases=" + hookURL("ftp", "example.com")),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases": must be an absolute https URL; the value is not shown`},
		{name: "webhook URL over http", env: withHooks("releases=" + hookURL("http", "prod-01.westeurope.logic.azure.com")),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases": must be https (http only to a loopback host, for an emulator); the value is not shown`},
		{name: "webhook URL with credentials", env: withHooks("releases=" + hookURL("https", "user:"+hookSig+"@example.com")),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases": the URL must not carry credentials; the value is not shown`},
		{name: "webhook given twice", env: withHooks("releases=" + good + ",releases=" + good),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhook "releases" is given twice`},
		{name: "webhook names differ in case", env: withHooks("Releases=" + good + ",releases=" + good),
			want: `GATEHOUSE_TEAMS_WEBHOOKS: webhooks "Releases" and "releases" differ only in case, and names are matched ignoring case`},
		{name: "smtp URL of another scheme", env: smtpEnv("http://mail.example.com"), want: smtpScheme},
		{name: "smtp URL without a scheme", env: smtpEnv("mail.example.com:587"), want: smtpScheme},
		{name: "smtp URL without a host", env: smtpEnv("smtp://"), want: "GATEHOUSE_SMTP_URL: the host is missing"},
		{name: "smtp URL of credentials only", env: smtpEnv("smtp://u:p@/"), want: "GATEHOUSE_SMTP_URL: the host is missing"},
		{name: "smtp URL with a port only", env: smtpEnv("smtp://:25"), want: "GATEHOUSE_SMTP_URL: the host is missing"},
		{name: "smtp host with a space", env: smtpEnv("smtp://mail server.example.com"), want: "GATEHOUSE_SMTP_URL: the host is not a host name or an IP address"},
		{name: "smtp host with an empty label", env: smtpEnv("smtp://mail..example.com"), want: "GATEHOUSE_SMTP_URL: the host is not a host name or an IP address"},
		{name: "smtp host with a !", env: smtpEnv("smtp://mail!.example.com"), want: "GATEHOUSE_SMTP_URL: the host is not a host name or an IP address"},
		{name: "smtp IPv6 host without brackets", env: smtpEnv("smtp://::1:25"), want: "GATEHOUSE_SMTP_URL: an IPv6 host is written in brackets, like [::1]:2525"},
		{name: "smtp host bracket not closed", env: smtpEnv("smtp://[::1:25"), want: "GATEHOUSE_SMTP_URL: the host's [ has no ]"},
		{name: "smtp IPv4 host in brackets", env: smtpEnv("smtp://[127.0.0.1]:25"), want: "GATEHOUSE_SMTP_URL: the host in brackets is not an IPv6 address"},
		{name: "smtp text after the brackets", env: smtpEnv("smtp://[::1]25"), want: "GATEHOUSE_SMTP_URL: only :port may follow the host's ]"},
		{name: "smtp port 0", env: smtpEnv("smtp://mail.example.com:0"), want: smtpPort},
		{name: "smtp port 65536", env: smtpEnv("smtp://mail.example.com:65536"), want: smtpPort},
		{name: "smtp port a name", env: smtpEnv("smtp://mail.example.com:smtp"), want: smtpPort},
		{name: "smtp port with a sign", env: smtpEnv("smtp://mail.example.com:+25"), want: smtpPort},
		{name: "smtp IPv6 port not a number", env: smtpEnv("smtp://[::1]:x"), want: smtpPort},
		{name: "smtp port empty", env: smtpEnv("smtp://mail.example.com:"), want: "GATEHOUSE_SMTP_URL: the port after the : is empty"},
		{name: "smtp user without a password", env: smtpEnv("smtp://gatehouse@mail.example.com"), want: smtpNoPassword},
		{name: "smtp user with an empty password", env: smtpEnv("smtp://gatehouse:@mail.example.com"), want: smtpNoPassword},
		{name: "smtp password without a user", env: smtpEnv("smtp://:" + smtpPasswordEncoded + "@mail.example.com"),
			want: "GATEHOUSE_SMTP_URL: the user before the @ is empty: give user:password@, percent-encoded, or neither"},
		{name: "smtp empty user part", env: smtpEnv("smtp://@mail.example.com"),
			want: "GATEHOUSE_SMTP_URL: the user before the @ is empty: give user:password@, percent-encoded, or neither"},
		{name: "smtp user badly encoded", env: smtpEnv("smtp://gate%G0house:p@mail.example.com"),
			want: "GATEHOUSE_SMTP_URL: the user is not percent-encoded correctly (the value is not shown)"},
		{name: "smtp password badly encoded", env: smtpEnv("smtp://gatehouse:p%zz@mail.example.com"),
			want: "GATEHOUSE_SMTP_URL: the password is not percent-encoded correctly (the value is not shown)"},
		{name: "smtp password ending in %", env: smtpEnv("smtp://gatehouse:p%@mail.example.com"),
			want: "GATEHOUSE_SMTP_URL: the password is not percent-encoded correctly (the value is not shown)"},
		{name: "smtp URL with a path", env: smtpEnv("smtp://mail.example.com/relay"),
			want: "GATEHOUSE_SMTP_URL: must not have a path (a / in the user or password is written %2F)"},
		{name: "smtp URL with a fragment", env: smtpEnv("smtp://mail.example.com#x"),
			want: "GATEHOUSE_SMTP_URL: must not have a #fragment (a # in the user or password is written %23)"},
		{name: "smtp password not encoded", env: smtpEnv("smtp://gatehouse:pa/ss@mail.example.com"),
			want: "GATEHOUSE_SMTP_URL: must not have a path (a / in the user or password is written %2F)\n" + smtpPort},
		{name: "smtp unknown option", env: smtpEnv("smtp://mail.example.com?auth=plain"), want: smtpQuery},
		{name: "smtp tls optional", env: smtpEnv("smtp://mail.example.com?tls=optional"), want: smtpQuery},
		{name: "smtp tls twice", env: smtpEnv("smtp://mail.example.com?tls=required&tls=required"), want: smtpQuery},
		{name: "smtp tls and another option", env: smtpEnv("smtp://mail.example.com?tls=required&x=1"), want: smtpQuery},
		{name: "smtp query not a query", env: smtpEnv("smtp://mail.example.com?tls=%zz"), want: smtpQuery},
		{name: "smtps tls=required", env: smtpEnv("smtps://mail.example.com?tls=required"),
			want: "GATEHOUSE_SMTP_URL: ?tls=required is for smtp://; smtps:// always speaks TLS"},
		{name: "smtp without a sender", env: map[string]string{"GATEHOUSE_SMTP_URL": "smtp://mail.example.com"}, want: fromRequired},
		{name: "graph without a sender", env: merge(graphEnv(), map[string]string{"GATEHOUSE_MAIL_FROM": ""}), want: fromRequired},
		{name: "sender without a transport", env: map[string]string{"GATEHOUSE_MAIL_FROM": mailFrom}, want: fromAlone},
		{name: "sender not an address", env: merge(smtpEnv("smtp://mail.example.com"), map[string]string{"GATEHOUSE_MAIL_FROM": "gatehouse"}),
			want: `GATEHOUSE_MAIL_FROM: must be one email address, with a name or without, like Gatehouse <gatehouse@example.com>, got "gatehouse"`},
		{name: "sender two addresses", env: merge(smtpEnv("smtp://mail.example.com"), map[string]string{"GATEHOUSE_MAIL_FROM": "a@example.com, b@example.com"}),
			want: `GATEHOUSE_MAIL_FROM: must be one email address, with a name or without, like Gatehouse <gatehouse@example.com>, got "a@example.com, b@example.com"`},
		{name: "sender neither an address nor with a transport", env: map[string]string{"GATEHOUSE_MAIL_FROM": "gatehouse@"},
			want: fromAlone + "\n" + `GATEHOUSE_MAIL_FROM: must be one email address, with a name or without, like Gatehouse <gatehouse@example.com>, got "gatehouse@"`},
		{name: "both transports", env: merge(graphEnv(), map[string]string{"GATEHOUSE_SMTP_URL": "smtp://mail.example.com"}),
			want: "GATEHOUSE_SMTP_URL, GATEHOUSE_GRAPH_*: email goes through one transport: set GATEHOUSE_SMTP_URL or the GATEHOUSE_GRAPH_* settings, not both"},
		{name: "graph tenant alone", env: map[string]string{"GATEHOUSE_GRAPH_TENANT_ID": tenantID, "GATEHOUSE_MAIL_FROM": mailFrom},
			want: "GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET, GATEHOUSE_GRAPH_SENDER: " + graphMissing},
		{name: "graph secret missing", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_CLIENT_SECRET": " "}),
			want: "GATEHOUSE_GRAPH_CLIENT_SECRET: " + graphMissing},
		{name: "graph sender alone, without a sender address", env: map[string]string{"GATEHOUSE_GRAPH_SENDER": "gatehouse@contoso.com"},
			want: "GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET: " + graphMissing + "\n" + fromRequired},
		{name: "graph client id not a GUID", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_CLIENT_ID": "gatehouse"}),
			want: `GATEHOUSE_GRAPH_CLIENT_ID: must be the app registration's application (client) id, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got "gatehouse"`},
		{name: "graph tenant a single word", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_TENANT_ID": "common"}),
			want: `GATEHOUSE_GRAPH_TENANT_ID: must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got "common"`},
		{name: "graph sender with a space", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_SENDER": "gate house@contoso.com"}),
			want: graphSender("gate house@contoso.com")},
		{name: "graph sender a path", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_SENDER": "users/gatehouse@contoso.com"}),
			want: graphSender("users/gatehouse@contoso.com")},
		{name: "graph sender with a query", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_SENDER": "gatehouse@contoso.com?x"}),
			want: graphSender("gatehouse@contoso.com?x")},
		{name: "graph sender with a #", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_SENDER": "gate#house"}),
			want: graphSender("gate#house")},
		{name: "graph URL over http", env: merge(graphEnv(), map[string]string{"GATEHOUSE_GRAPH_URL": "http://graph.microsoft.com/v1.0"}),
			want: `GATEHOUSE_GRAPH_URL: must be https (http only to a loopback host, for an emulator), got "http://graph.microsoft.com/v1.0"`},
		{name: "graph URL with a query", env: map[string]string{"GATEHOUSE_GRAPH_URL": "https://graph.microsoft.com/v1.0?x=1"},
			want: `GATEHOUSE_GRAPH_URL: must be a base URL without a query or fragment, got "https://graph.microsoft.com/v1.0?x=1"`},
		{name: "graph URL with a fragment", env: map[string]string{"GATEHOUSE_GRAPH_URL": "https://graph.microsoft.com/v1.0#x"},
			want: `GATEHOUSE_GRAPH_URL: must be a base URL without a query or fragment, got "https://graph.microsoft.com/v1.0#x"`},
		{name: "graph URL with credentials", env: map[string]string{"GATEHOUSE_GRAPH_URL": "https://me:" + graphSecret + "@graph.microsoft.com/v1.0"},
			want: "GATEHOUSE_GRAPH_URL: must not carry credentials, got a URL with a user part"},
		{name: "graph URL relative", env: map[string]string{"GATEHOUSE_GRAPH_URL": "graph.microsoft.com/v1.0"},
			want: `GATEHOUSE_GRAPH_URL: must be an absolute http or https URL, got "graph.microsoft.com/v1.0"`},
		{name: "identities file absent", env: map[string]string{"GATEHOUSE_IDENTITIES_FILE": absent},
			want: "GATEHOUSE_IDENTITIES_FILE: open " + absent + ": no such file or directory"},
		{name: "identities file with problems", env: map[string]string{"GATEHOUSE_IDENTITIES_FILE": badPeople},
			want: "GATEHOUSE_IDENTITIES_FILE: " + badPeople + `: people[0] (line 2): unknown key "email" (did you mean "emails"?)` + "\n" +
				"GATEHOUSE_IDENTITIES_FILE: " + badPeople + `: people[1] (line 3): github "al ice" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := load(env, tt.files)
			if err == nil {
				t.Fatalf("Load succeeded, want error %q", tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("Load error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Config{}, got, cmpConfig); diff != "" {
				t.Errorf("Load returned a config with its error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL":    "postgres://db/gatehouse",
		"GATEHOUSE_SECRET_KEY":      "abcd",
		"GITHUB_APP_ID":             "x",
		"GITHUB_API_URL":            "api.github.com",
		"GATEHOUSE_LOG_LEVEL":       "loud",
		"GITHUB_CLIENT_ID":          "Iv23liGatehouse",
		"GATEHOUSE_TEAMS_TENANT_ID": "contoso",
		"GATEHOUSE_TEAMS_WEBHOOKS":  "releases",
		"GATEHOUSE_SMTP_URL":        "smtp://[::1",
		"GATEHOUSE_GRAPH_CLIENT_ID": "x",
		"GATEHOUSE_IDENTITIES_FILE": identitiesFile(t, "people:\n  - teams: x\n"),
	}
	_, err := load(env, nil)
	if err == nil {
		t.Fatal("Load succeeded with an empty environment")
	}
	want := []string{
		"GATEHOUSE_PUBLIC_URL: required: the app's external base URL, e.g. https://gatehouse.example.com",
		"GATEHOUSE_DATABASE_URL: this release stores its state in SQLite only; use sqlite:<path>, e.g. sqlite:/var/lib/gatehouse/gatehouse.db",
		"GATEHOUSE_SECRET_KEY: must be at least 32 bytes once decoded, got 2; generate one with `openssl rand -hex 32`",
		`GITHUB_APP_ID: must be a positive whole number, got "x"`,
		"GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE: one is required: the GitHub App's private key (PEM), or the path of the file that holds it",
		"GITHUB_WEBHOOK_SECRET: required: the secret set on the GitHub App's webhook",
		`GITHUB_API_URL: must be an absolute http or https URL, got "api.github.com"`,
		`GATEHOUSE_LOG_LEVEL: must be debug, info, warn or error, got "loud"`,
		"GITHUB_CLIENT_SECRET: required when GITHUB_CLIENT_ID is set: the GitHub App's client secret, for sign-in on response pages",
		"GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_APP_PASSWORD: missing: the Teams bot needs GATEHOUSE_TEAMS_APP_ID, GATEHOUSE_TEAMS_APP_PASSWORD and GATEHOUSE_TEAMS_TENANT_ID together (the Azure Bot's app id, client secret and tenant), or none of them",
		`GATEHOUSE_TEAMS_TENANT_ID: must be the tenant id (a GUID) or its domain name, like contoso.onmicrosoft.com, got "contoso"`,
		"GATEHOUSE_TEAMS_WEBHOOKS: entry 1 must be name=https://…; the value is not shown",
		"GATEHOUSE_SMTP_URL: the host's [ has no ]",
		"GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET, GATEHOUSE_GRAPH_SENDER: missing: email through Microsoft Graph needs GATEHOUSE_GRAPH_TENANT_ID, GATEHOUSE_GRAPH_CLIENT_ID, GATEHOUSE_GRAPH_CLIENT_SECRET and GATEHOUSE_GRAPH_SENDER together (the app registration's tenant, client id and client secret, and the mailbox to send from), or none of them",
		`GATEHOUSE_GRAPH_CLIENT_ID: must be the app registration's application (client) id, a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c, got "x"`,
		"GATEHOUSE_SMTP_URL, GATEHOUSE_GRAPH_*: email goes through one transport: set GATEHOUSE_SMTP_URL or the GATEHOUSE_GRAPH_* settings, not both",
		"GATEHOUSE_MAIL_FROM: required when email is set up: the sender address, like Gatehouse <gatehouse@example.com>",
		"GATEHOUSE_IDENTITIES_FILE: " + env["GATEHOUSE_IDENTITIES_FILE"] + `: people[0] (line 2): teams "x" is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c`,
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("Load error lines (-want +got):\n%s", diff)
	}
}

func TestAudience(t *testing.T) {
	t.Parallel()
	env := validEnv()
	env["GATEHOUSE_PUBLIC_URL"] = "https://gatehouse.example.com/approvals/"
	c, err := load(env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Audience(), "https://gatehouse.example.com/approvals"; got != want {
		t.Errorf("Audience() = %q, want %q", got, want)
	}
}

func TestTeamsBotAndSignIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		env              map[string]string
		teamsBot, signIn bool
	}{
		{name: "neither", env: validEnv()},
		{name: "both", env: merge(validEnv(), teamsEnv()), teamsBot: true, signIn: true},
		{name: "sign-in only", env: merge(validEnv(), map[string]string{"GITHUB_CLIENT_ID": "Iv23li", "GITHUB_CLIENT_SECRET": clientSecret}), signIn: true},
		{name: "bot only", env: merge(validEnv(), map[string]string{
			"GATEHOUSE_TEAMS_APP_ID": botAppID, "GATEHOUSE_TEAMS_APP_PASSWORD": botPassword, "GATEHOUSE_TEAMS_TENANT_ID": tenantID,
		}), teamsBot: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.env, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.TeamsBot(); got != tt.teamsBot {
				t.Errorf("TeamsBot() = %v, want %v", got, tt.teamsBot)
			}
			if got := c.GitHubSignIn(); got != tt.signIn {
				t.Errorf("GitHubSignIn() = %v, want %v", got, tt.signIn)
			}
		})
	}
}

// secretForms are the ways a secret could leak into text.
func secretForms(t *testing.T) []string {
	t.Helper()
	forms := strings.Split(pkcs1PEM(), "\n")[1:4]
	for _, b := range [][]byte{secretKey, []byte(webhookSecret), []byte(clientSecret), []byte(botPassword), []byte(hookSig), []byte(smtpPassword), []byte(graphSecret)} {
		forms = append(forms, string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), fmt.Sprint([]byte(b)))
	}
	return append(forms, testKey().D.String(), testKey().Primes[0].String(), "/workflows/5f0e1d", "logic.azure.com",
		smtpPasswordEncoded, "s3cret", "do-not-print")
}

func TestSecretsNotShown(t *testing.T) {
	t.Parallel()
	env := merge(validEnv(), teamsEnv())
	env["GATEHOUSE_IDENTITIES_FILE"] = identitiesFile(t, people)
	c, err := load(env, nil)
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", c, "key", c.SecretKey, "webhook", c.WebhookSecret,
		"client", c.GitHubClientSecret, "bot", c.TeamsAppPassword, "hooks", c.TeamsWebhooks)
	outputs := map[string]string{
		"text log": text.String(),
		"json log": js.String(),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs[verb] = fmt.Sprintf(verb, c)
		outputs[verb+" secret key"] = fmt.Sprintf(verb, c.SecretKey)
		outputs[verb+" webhook secret"] = fmt.Sprintf(verb, c.WebhookSecret)
		outputs[verb+" client secret"] = fmt.Sprintf(verb, c.GitHubClientSecret)
		outputs[verb+" bot password"] = fmt.Sprintf(verb, c.TeamsAppPassword)
		outputs[verb+" webhooks"] = fmt.Sprintf(verb, c.TeamsWebhooks)
	}
	for name, out := range outputs {
		for _, s := range secretForms(t) {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret (%.12s…):\n%s", name, s, out)
			}
		}
	}

	// The log line carries the settings that are not secret.
	var logged struct{ Config map[string]any }
	if err := json.Unmarshal(js.Bytes(), &logged); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"addr": ":8080", "public_url": "https://gatehouse.example.com",
		"database_driver": "sqlite", "database_path": "gatehouse.db", "app_id": 12345.0,
		"api_url": "https://api.github.com", "oidc_issuer": "https://token.actions.githubusercontent.com",
		"server_url": "https://github.com", "log_level": "INFO",
		"github_client_id": "Iv23liGatehouse", "authority_url": "https://login.microsoftonline.com",
		"teams_app_id": botAppID, "teams_tenant_id": tenantID,
		"teams_openid_url": "https://login.botframework.com/v1/.well-known/openidconfiguration",
		"teams_webhooks":   "releases,ops/oncall", "identities": 1.0, "mail_from": "", "mail_domains": "",
	}
	if diff := cmp.Diff(want, logged.Config); diff != "" {
		t.Errorf("logged config (-want +got):\n%s", diff)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	t.Parallel()
	// Every secret is set, and every setting around it is wrong.
	env := map[string]string{
		"GATEHOUSE_PUBLIC_URL":        "nowhere",
		"GATEHOUSE_SECRET_KEY":        hex.EncodeToString(secretKey[:20]),
		"GITHUB_APP_ID":               "none",
		"GITHUB_APP_PRIVATE_KEY":      pkcs1PEM(),
		"GITHUB_APP_PRIVATE_KEY_FILE": "/app.pem",
		"GITHUB_WEBHOOK_SECRET":       webhookSecret,
		"GITHUB_API_URL":              "https://user:" + webhookSecret + "@ghes.example.com",
	}
	// Every way of getting the Teams settings wrong, with the secrets set.
	hooks := strings.Join([]string{
		"releases=" + hookURL("http", "prod-01.westeurope.logic.azure.com"),
		hookURL("https", "prod-01.westeurope.logic.azure.com"),
		"re leases=" + hookURL("https", "prod-01.westeurope.logic.azure.com"),
		"creds=" + hookURL("https", "me:"+hookSig+"@prod-01.westeurope.logic.azure.com"),
		"ftp=" + hookURL("ftp", "prod-01.westeurope.logic.azure.com"),
		"bad=https://prod 01.westeurope.logic.azure.com/workflows/5f0e1d?sig=" + hookSig,
		"relative=/workflows/5f0e1d?sig=" + hookSig,
		hookSig,
		"ops=" + hookURL("https", "prod-02.westeurope.logic.azure.com"),
		"OPS=" + hookURL("https", "prod-02.westeurope.logic.azure.com"),
	}, ",")
	teams := map[string]string{
		"GITHUB_CLIENT_SECRET":         clientSecret,
		"GATEHOUSE_TEAMS_APP_ID":       "not-a-guid",
		"GATEHOUSE_TEAMS_APP_PASSWORD": botPassword,
		"GATEHOUSE_AUTHORITY_URL":      "https://me:" + botPassword + "@login.microsoftonline.com",
		"GATEHOUSE_TEAMS_WEBHOOKS":     hooks,
	}
	// Every way of getting the email settings wrong, with the secrets set;
	// a password not percent-encoded spills into the other parts of the URL.
	email := []map[string]string{
		{"GATEHOUSE_GRAPH_CLIENT_SECRET": graphSecret, "GATEHOUSE_GRAPH_CLIENT_ID": "nope",
			"GATEHOUSE_GRAPH_URL": "https://me:" + graphSecret + "@graph.microsoft.com"},
		{"GATEHOUSE_GRAPH_CLIENT_SECRET": graphSecret, "GATEHOUSE_SMTP_URL": "smtp://gatehouse:" + smtpPasswordEncoded + "@mail.example.com"},
	}
	for _, u := range []string{
		"smtp://gatehouse:" + smtpPassword + "@mail.example.com",
		"smtp://gatehouse:" + smtpPassword,
		"smtp://" + smtpPassword + "@mail.example.com:25",
		"smtp://" + smtpPasswordEncoded + "@mail.example.com:25",
		"smtp://gatehouse:" + smtpPasswordEncoded + "%@mail.example.com",
		"smtp://gatehouse%:" + smtpPasswordEncoded + "@mail.example.com",
		"smtp://gatehouse:" + smtpPasswordEncoded + "@mail.example.com:99999/x?y#z",
		"smtps://gatehouse:" + smtpPasswordEncoded + "@[" + smtpPassword + "]",
		"smtp:gatehouse:" + smtpPasswordEncoded + "@mail.example.com",
		"http://gatehouse:" + smtpPasswordEncoded + "@mail.example.com",
		smtpPassword,
	} {
		email = append(email, map[string]string{"GATEHOUSE_SMTP_URL": u})
	}
	var all []string
	for _, e := range append([]map[string]string{env, {"GITHUB_APP_PRIVATE_KEY": pkcs1PEM()[:300]}, {"GATEHOUSE_SECRET_KEY": webhookSecret}, merge(validEnv(), teams)}, email...) {
		_, err := load(e, files{"/app.pem": pkcs1PEM()})
		if err == nil {
			t.Fatal("Load succeeded")
		}
		all = append(all, err.Error())
	}
	out := strings.Join(all, "\n")
	for _, s := range append(secretForms(t), hex.EncodeToString(secretKey[:20]), pkcs1PEM()[40:100]) {
		if strings.Contains(out, s) {
			t.Errorf("errors show a secret (%.12s…):\n%s", s, out)
		}
	}
}

func TestSecretFormatsRedacted(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if got := fmt.Sprintf(verb, s); got != "[redacted]" {
			t.Errorf("Sprintf(%q, secret) = %q, want [redacted]", verb, got)
		}
	}
	if got := s.LogValue().String(); got != "[redacted]" {
		t.Errorf("LogValue() = %q, want [redacted]", got)
	}
	if got, err := json.Marshal(map[string]any{"s": s, "hooks": []TeamsWebhook{{Name: "ops", URL: s}}}); err != nil || string(got) != `{"hooks":[{"Name":"ops","URL":"[redacted]"}],"s":"[redacted]"}` {
		t.Errorf("json.Marshal = %s, %v; want the secret redacted", got, err)
	}
	if string(s) != "hunter2" {
		t.Errorf("the secret's bytes are %q, want hunter2", []byte(s))
	}
}

func TestMicrosoftEmulated(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{
		"":                              false, // the default, https
		"http://127.0.0.1:8081/v1/meta": true,
		"http://localhost:8081/v1/meta": true,
		"http://[::1]:8081/v1/meta":     true,
		"https://127.0.0.1/v1/meta":     false,
	} {
		env := validEnv()
		if url != "" {
			env["GATEHOUSE_TEAMS_OPENID_URL"] = url
		}
		c, err := load(env, nil)
		if err != nil {
			t.Fatalf("%q: %v", url, err)
		}
		if got := c.MicrosoftEmulated(); got != want {
			t.Errorf("MicrosoftEmulated() with %q = %v, want %v", url, got, want)
		}
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		env  map[string]string
		want bool
	}{
		"no transport":   {env: validEnv()},
		"smtp":           {env: merge(validEnv(), smtpEnv("smtp://mail.example.com")), want: true},
		"graph":          {env: merge(validEnv(), graphEnv()), want: true},
		"graph URL only": {env: merge(validEnv(), map[string]string{"GATEHOUSE_GRAPH_URL": "https://graph.microsoft.us/v1.0"})},
	} {
		c, err := load(tt.env, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := c.Email(); got != tt.want {
			t.Errorf("%s: Email() = %v, want %v", name, got, tt.want)
		}
	}
}

// TestEmailSettingsShown formats a config with every setting, both email
// transports included, every way it may be printed: the email settings
// show, the SMTP password and the Graph client secret do not.
func TestEmailSettingsShown(t *testing.T) {
	t.Parallel()
	viaSMTP, err := load(merge(merge(validEnv(), teamsEnv()), smtpEnv("smtp://gatehouse:"+smtpPasswordEncoded+"@mail.example.com")), nil)
	if err != nil {
		t.Fatal(err)
	}
	viaGraph, err := load(merge(validEnv(), graphEnv()), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Load refuses both transports at once; a config may still hold both.
	c := viaSMTP
	c.Graph = viaGraph.Graph

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "smtp", c.SMTP, "graph", c.Graph)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", c, "smtp", c.SMTP, "graph", c.Graph)
	outputs := map[string]string{"text log": text.String(), "json log": js.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs[verb] = fmt.Sprintf(verb, c)
		outputs[verb+" smtp"] = fmt.Sprintf(verb, c.SMTP)
		outputs[verb+" *smtp"] = fmt.Sprintf(verb, *c.SMTP)
		outputs[verb+" graph"] = fmt.Sprintf(verb, c.Graph)
		outputs[verb+" *graph"] = fmt.Sprintf(verb, *c.Graph)
	}
	for name, v := range map[string]any{"config": c, "smtp": c.SMTP, "graph": c.Graph} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%s): %v", name, err)
		}
		outputs["json.Marshal "+name] = string(b)
	}
	for name, out := range outputs {
		for _, s := range secretForms(t) {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret (%.12s…):\n%s", name, s, out)
			}
		}
	}

	// The log line and the config marshalled whole show the same settings.
	var logged struct{ Config map[string]any }
	if err := json.Unmarshal(js.Bytes(), &logged); err != nil {
		t.Fatal(err)
	}
	var marshalled map[string]any
	if err := json.Unmarshal([]byte(outputs["json.Marshal config"]), &marshalled); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(logged.Config, marshalled); diff != "" {
		t.Errorf("json.Marshal of the config differs from its log line (-logged +marshalled):\n%s", diff)
	}
	want := map[string]any{
		"mail_from": mailFrom,
		"smtp":      map[string]any{"host": "mail.example.com", "port": 587.0, "security": "starttls-required", "username": "gatehouse"},
		"graph": map[string]any{"tenant_id": tenantID, "client_id": graphClientID, "sender": "gatehouse@contoso.com",
			"url": "https://graph.microsoft.com/v1.0"},
	}
	got := map[string]any{}
	for k := range want {
		got[k] = logged.Config[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged email settings (-want +got):\n%s", diff)
	}
	for _, want := range []string{"smtp.host=mail.example.com", "smtp.port=587", "smtp.security=starttls-required", "smtp.username=gatehouse",
		"graph.sender=gatehouse@contoso.com", "graph.url=https://graph.microsoft.com/v1.0"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text log lacks %s:\n%s", want, text.String())
		}
	}
}

func TestMailDomains(t *testing.T) {
	t.Parallel()
	c, err := load(merge(merge(validEnv(), smtpEnv("smtp://mail.example.com")), map[string]string{"GATEHOUSE_MAIL_DOMAINS": "Corp.example, subsidiary.corp.example\nexample.org"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"corp.example", "subsidiary.corp.example", "example.org"}, c.MailDomains); d != "" {
		t.Errorf("domains (-want +got):\n%s", d)
	}
	_, err = load(merge(validEnv(), map[string]string{"GATEHOUSE_MAIL_DOMAINS": "corp.example, @evil"}), nil)
	if err == nil || !strings.Contains(err.Error(), `GATEHOUSE_MAIL_DOMAINS: must be domain names, comma-separated, like corp.example, got "@evil"`) {
		t.Errorf("err = %v", err)
	}
}
