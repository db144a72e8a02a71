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
	"strings"
	"sync"
	"testing"

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

const webhookSecret = "whsec-do-not-print-me"

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

var keyEqual = cmp.Comparer(func(a, b *rsa.PrivateKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
})

func TestLoad(t *testing.T) {
	t.Parallel()
	defaults := Config{
		Addr:          ":8080",
		PublicURL:     "https://gatehouse.example.com",
		Database:      Database{Driver: "sqlite", Path: "gatehouse.db"},
		SecretKey:     secretKey,
		AppID:         12345,
		PrivateKey:    testKey(),
		WebhookSecret: Secret(webhookSecret),
		APIURL:        "https://api.github.com",
		OIDCIssuer:    "https://token.actions.githubusercontent.com",
		ServerURL:     "https://github.com",
		LogLevel:      slog.LevelInfo,
	}
	with := func(change func(*Config)) Config {
		c := defaults
		change(&c)
		return c
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
				"GATEHOUSE_ADDR":         "127.0.0.1:9000",
				"GATEHOUSE_PUBLIC_URL":   "http://localhost:9000/gatehouse//",
				"GATEHOUSE_DATABASE_URL": "sqlite:/var/lib/gatehouse/state.db",
				"GITHUB_API_URL":         "https://ghes.example.com/api/v3/",
				"GATEHOUSE_OIDC_ISSUER":  "https://ghes.example.com/_services/token",
				"GITHUB_SERVER_URL":      "https://ghes.example.com/",
				"GATEHOUSE_LOG_LEVEL":    "DEBUG",
			},
			want: with(func(c *Config) {
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
			if diff := cmp.Diff(tt.want, got, keyEqual); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("not DER at all")}))
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
			if diff := cmp.Diff(Config{}, got, keyEqual); diff != "" {
				t.Errorf("Load returned a config with its error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL": "postgres://db/gatehouse",
		"GATEHOUSE_SECRET_KEY":   "abcd",
		"GITHUB_APP_ID":          "x",
		"GITHUB_API_URL":         "api.github.com",
		"GATEHOUSE_LOG_LEVEL":    "loud",
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

// secretForms are the ways a secret could leak into text.
func secretForms(t *testing.T) []string {
	t.Helper()
	forms := strings.Split(pkcs1PEM(), "\n")[1:4]
	for _, b := range [][]byte{secretKey, []byte(webhookSecret)} {
		forms = append(forms, string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), fmt.Sprint([]byte(b)))
	}
	return append(forms, webhookSecret, testKey().D.String(), testKey().Primes[0].String())
}

func TestSecretsNotShown(t *testing.T) {
	t.Parallel()
	c, err := load(validEnv(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", c, "key", c.SecretKey, "webhook", c.WebhookSecret)
	outputs := map[string]string{
		"text log": text.String(),
		"json log": js.String(),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs[verb] = fmt.Sprintf(verb, c)
		outputs[verb+" secret key"] = fmt.Sprintf(verb, c.SecretKey)
		outputs[verb+" webhook secret"] = fmt.Sprintf(verb, c.WebhookSecret)
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
	var all []string
	for _, e := range []map[string]string{env, {"GITHUB_APP_PRIVATE_KEY": pkcs1PEM()[:300]}, {"GATEHOUSE_SECRET_KEY": webhookSecret}} {
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
	if string(s) != "hunter2" {
		t.Errorf("the secret's bytes are %q, want hunter2", []byte(s))
	}
}
