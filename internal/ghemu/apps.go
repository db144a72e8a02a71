package ghemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	installationTokenTTL = time.Hour
	jwtMaxLifetime       = 10 * time.Minute
	jwtClockDrift        = 60 * time.Second
)

func (e *Emulator) initApp() error {
	a := app{
		id:    e.opts.AppID,
		slug:  e.opts.AppSlug,
		name:  e.opts.AppName,
		perms: e.opts.AppPermissions,
	}
	if a.id == 0 {
		a.id = 1
	}
	if a.id < 0 {
		return fmt.Errorf("ghemu: AppID %d is negative", a.id)
	}
	if a.slug == "" {
		a.slug = "gatehouse"
	}
	if !loginPattern.MatchString(a.slug) {
		return fmt.Errorf("ghemu: AppSlug %q is not a valid slug", a.slug)
	}
	if a.name == "" {
		a.name = "Gatehouse"
	}
	if a.perms == nil {
		a.perms = map[string]string{"issues": "write", "members": "read", "metadata": "read"}
	}
	for k, v := range a.perms {
		if v != "read" && v != "write" && v != "admin" {
			return fmt.Errorf("ghemu: App permission %s=%q is not read, write or admin", k, v)
		}
	}
	a.perms = maps.Clone(a.perms)
	a.clientID = fmt.Sprintf("Iv1.%016x", a.id)
	a.hookID = e.newID()
	a.created = e.now()
	a.owner = &account{id: e.newID(), login: a.slug, kind: kindOrg, created: a.created}
	bot, err := e.ensureAccount(a.slug+botSuffix, kindBot)
	if err != nil {
		return err
	}
	a.bot = bot
	if e.opts.AppPrivateKeyPEM != nil {
		key, err := parseRSAPrivateKey(e.opts.AppPrivateKeyPEM)
		if err != nil {
			return err
		}
		a.key = &key.PublicKey
		a.keyPEM = append([]byte(nil), e.opts.AppPrivateKeyPEM...)
	}
	e.app = a
	return nil
}

func parseRSAPrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("ghemu: AppPrivateKeyPEM holds no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ghemu: AppPrivateKeyPEM: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ghemu: AppPrivateKeyPEM holds a %T, not an RSA key", k)
	}
	return rk, nil
}

// AppID is the App's id, the "iss" of its JWTs.
func (e *Emulator) AppID() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.app.id
}

// AppSlug is the App's slug; installation tokens act as "<slug>[bot]".
func (e *Emulator) AppSlug() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.app.slug
}

// AppPrivateKeyPEM returns the App's private key in PKCS#1 PEM form,
// generating a 2048-bit key on first use when Options gave none.
func (e *Emulator) AppPrivateKeyPEM() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.app.keyPEM == nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("ghemu: generate App key: %w", err)
		}
		e.app.key = &key.PublicKey
		e.app.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	}
	return append([]byte(nil), e.app.keyPEM...), nil
}

// InstallApp installs the App on owner's account for the named
// repositories, or for all of them (present and future) when none are
// named, and returns the installation id. Installing again on the same
// account replaces the repository selection, as GitHub keeps one
// installation per account.
func (e *Emulator) InstallApp(owner string, repos ...string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	acct := e.accounts[lower(owner)]
	if acct == nil || acct.kind == kindBot {
		return 0, fmt.Errorf("ghemu: InstallApp: no user or organization %q", owner)
	}
	var selected map[int64]bool
	if len(repos) > 0 {
		selected = map[int64]bool{}
		for _, name := range repos {
			rp := e.findRepo(owner, name)
			if rp == nil {
				return 0, fmt.Errorf("ghemu: InstallApp: no repository %s/%s", owner, name)
			}
			selected[rp.id] = true
		}
	}
	for _, in := range e.installs {
		if in.account == acct {
			in.repos = selected
			return in.id, nil
		}
	}
	in := &installation{id: e.newID(), account: acct, repos: selected, created: e.now()}
	e.installs[in.id] = in
	return in.id, nil
}

// verifyAppJWT checks an App JWT as GitHub does: RS256 signed by the App's
// key, iss the App id, iat not in the future (60 s drift allowed), exp in the
// future and at most 10 minutes after now.
func (e *Emulator) verifyAppJWT(raw string) error {
	parts := strings.Split(raw, ".")
	undecodable := errUnauthorized("A JSON web token could not be decoded")
	if len(parts) != 3 || e.app.key == nil {
		return undecodable
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return undecodable
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *float64        `json:"iat"`
		Exp *float64        `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return undecodable
	}
	id := strconv.FormatInt(e.app.id, 10)
	if iss := strings.Trim(string(claims.Iss), `"`); iss != id && iss != e.app.clientID {
		return errUnauthorized("Integration not found")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return undecodable
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(e.app.key, crypto.SHA256, sum[:], sig) != nil {
		return undecodable
	}
	now := e.clock()
	if claims.Iat == nil || time.Unix(int64(*claims.Iat), 0).After(now.Add(jwtClockDrift)) {
		return errUnauthorized("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	if claims.Exp == nil || !time.Unix(int64(*claims.Exp), 0).After(now) {
		return errUnauthorized("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if time.Unix(int64(*claims.Exp), 0).After(now.Add(jwtMaxLifetime + jwtClockDrift)) {
		return errUnauthorized("'Expiration time' claim ('exp') is too far in the future")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

type appRESTJSON struct {
	appJSON
	ClientID           string `json:"client_id"`
	InstallationsCount int    `json:"installations_count"`
}

// getApp serves GET /app.
func (e *Emulator) getApp(c *call) (reply, error) {
	return ok(appRESTJSON{appJSON: e.appJSON(), ClientID: e.app.clientID, InstallationsCount: len(e.installs)}), nil
}

// getRepoInstallation serves GET /repos/{owner}/{repo}/installation.
func (e *Emulator) getRepoInstallation(c *call) (reply, error) {
	rp := e.findRepo(c.param("owner"), c.param("repo"))
	if rp == nil {
		return reply{}, errNotFound()
	}
	in := e.installationFor(rp)
	if in == nil {
		return reply{}, errNotFound()
	}
	return ok(e.installationJSON(in)), nil
}

// getInstallation serves GET /app/installations/{installation_id}.
func (e *Emulator) getInstallation(c *call) (reply, error) {
	in, err := e.installationParam(c)
	if err != nil {
		return reply{}, err
	}
	return ok(e.installationJSON(in)), nil
}

func (e *Emulator) installationParam(c *call) (*installation, error) {
	id, err := strconv.ParseInt(c.param("installation_id"), 10, 64)
	if err != nil {
		return nil, errNotFound()
	}
	in := e.installs[id]
	if in == nil {
		return nil, errNotFound()
	}
	return in, nil
}

type accessTokenRequest struct {
	Repositories  []string          `json:"repositories"`
	RepositoryIDs []int64           `json:"repository_ids"`
	Permissions   map[string]string `json:"permissions"`
}

type accessTokenJSON struct {
	Token               string            `json:"token"`
	ExpiresAt           time.Time         `json:"expires_at"`
	Permissions         map[string]string `json:"permissions"`
	RepositorySelection string            `json:"repository_selection"`
	Repositories        []repoJSON        `json:"repositories,omitempty"`
}

// createAccessToken serves POST /app/installations/{installation_id}/access_tokens.
func (e *Emulator) createAccessToken(c *call) (reply, error) {
	in, err := e.installationParam(c)
	if err != nil {
		return reply{}, err
	}
	var req accessTokenRequest
	if err := c.decode(&req); err != nil {
		return reply{}, err
	}
	perms := maps.Clone(e.app.perms)
	if req.Permissions != nil {
		perms = map[string]string{}
		if e.app.perms["metadata"] != "" {
			perms["metadata"] = "read" // always granted, as on GitHub
		}
		for k, v := range req.Permissions {
			if !permAtLeast(e.app.perms[k], v) {
				return reply{}, errUnprocessable("The permissions requested are not granted to this installation.")
			}
			perms[k] = v
		}
	}
	var narrowed []*repo
	for _, name := range req.Repositories {
		rp := e.findRepo(in.account.login, name)
		if rp == nil || (in.repos != nil && !in.repos[rp.id]) {
			return reply{}, errUnprocessable("There is at least one repository that does not exist or is not accessible to the parent installation.")
		}
		narrowed = append(narrowed, rp)
	}
	for _, id := range req.RepositoryIDs {
		rp := e.repoByID(id)
		if rp == nil || rp.owner != in.account || (in.repos != nil && !in.repos[rp.id]) {
			return reply{}, errUnprocessable("There is at least one repository that does not exist or is not accessible to the parent installation.")
		}
		narrowed = append(narrowed, rp)
	}
	value, err := randomToken("ghs_")
	if err != nil {
		return reply{}, err
	}
	t := &token{value: value, acct: e.app.bot, inst: in, perms: perms, expires: e.now().Add(installationTokenTTL)}
	out := accessTokenJSON{Token: value, ExpiresAt: t.expires, Permissions: perms, RepositorySelection: "all"}
	if in.repos != nil {
		out.RepositorySelection = "selected"
	}
	if narrowed != nil {
		t.repos = map[int64]bool{}
		for _, rp := range narrowed {
			t.repos[rp.id] = true
			out.Repositories = append(out.Repositories, e.repoJSON(rp))
		}
	}
	e.tokens[value] = t
	return reply{status: http.StatusCreated, body: out}, nil
}

func (e *Emulator) repoByID(id int64) *repo {
	for _, rp := range e.repos {
		if rp.id == id {
			return rp
		}
	}
	return nil
}
