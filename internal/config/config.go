package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Defaults of the contract (CONTRACT §5).
const (
	DefaultAddr        = ":8080"
	DefaultDatabaseURL = "sqlite:gatehouse.db"
	DefaultAPIURL      = "https://api.github.com"
	DefaultOIDCIssuer  = "https://token.actions.githubusercontent.com"
	DefaultServerURL   = "https://github.com"
)

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
}

// Database says where the app keeps its state.
type Database struct {
	Driver string // "sqlite"
	Path   string // the SQLite database file
}

// Secret is a secret value: it formats and logs as "[redacted]", whatever
// the verb. Use the bytes themselves where the secret is needed.
type Secret []byte

const redacted = "[redacted]"

// Format writes "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue is "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Audience is the audience the app expects in Actions OIDC tokens: its
// public URL.
func (c Config) Audience() string { return c.PublicURL }

// LogValue shows the settings that are not secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("public_url", c.PublicURL),
		slog.String("database_driver", c.Database.Driver),
		slog.String("database_path", c.Database.Path),
		slog.Int64("app_id", c.AppID),
		slog.String("api_url", c.APIURL),
		slog.String("oidc_issuer", c.OIDCIssuer),
		slog.String("server_url", c.ServerURL),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// Load reads the configuration through getenv (and readFile, for
// GITHUB_APP_PRIVATE_KEY_FILE) and reports every problem at once, joined,
// one per line. Empty variables take their defaults.
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

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
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
