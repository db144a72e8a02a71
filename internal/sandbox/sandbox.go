package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
)

// Options describe the world.
type Options struct {
	Owner, Repo string
	// Writers may comment on the repository's issues; Readers have read
	// access.
	Writers, Readers []string
	// Teams maps team slugs of the organization to their active members.
	Teams map[string][]string
	// GitHub configures the emulator; its WebhookSecret is set here.
	GitHub ghemu.Options
}

// Sandbox is a running world. Close it when done.
type Sandbox struct {
	GitHub *ghemu.Emulator
	OIDC   *oidcissuer.Issuer
	Owner  string
	Repo   string
	// Tokens are the people's personal tokens, by login.
	Tokens map[string]string
	// JobToken is the job's GITHUB_TOKEN (github-actions[bot]).
	JobToken       string
	InstallationID int64
	webhookSecret  string
	secretKey      string
	keyPEM         []byte
}

// Start builds and serves the world.
func Start(o Options) (_ *Sandbox, err error) {
	s := &Sandbox{Owner: o.Owner, Repo: o.Repo, Tokens: map[string]string{}}
	if s.webhookSecret, err = random(20); err != nil {
		return nil, err
	}
	if s.secretKey, err = random(32); err != nil {
		return nil, err
	}
	gh := o.GitHub
	gh.WebhookSecret = s.webhookSecret
	if s.GitHub, err = ghemu.New(gh); err != nil {
		return nil, err
	}
	if err := s.GitHub.Start(); err != nil {
		return nil, err
	}
	s.OIDC = oidcissuer.New()
	s.OIDC.Start()
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.populate(o); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if s.keyPEM, err = s.GitHub.AppPrivateKeyPEM(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) populate(o Options) error {
	access := map[string]string{"github-actions[bot]": "write"}
	var members []string
	for role, logins := range map[string][]string{"write": o.Writers, "read": o.Readers} {
		for _, login := range logins {
			tok, err := s.GitHub.AddUser(login)
			if err != nil {
				return err
			}
			s.Tokens[login], access[login] = tok, role
			members = append(members, login)
		}
	}
	var err error
	if s.JobToken, err = s.GitHub.AddBot("github-actions"); err != nil {
		return err
	}
	if err := s.GitHub.AddOrg(o.Owner, members...); err != nil {
		return err
	}
	for slug, team := range o.Teams {
		if err := s.GitHub.AddTeam(o.Owner, slug, team...); err != nil {
			return err
		}
	}
	if err := s.GitHub.AddRepo(o.Owner, o.Repo, access); err != nil {
		return err
	}
	s.InstallationID, err = s.GitHub.InstallApp(o.Owner, o.Repo)
	return err
}

// Close stops the emulators.
func (s *Sandbox) Close() {
	if s.OIDC != nil {
		s.OIDC.Close()
	}
	if s.GitHub != nil {
		s.GitHub.Close()
	}
}

// Repository is "owner/name".
func (s *Sandbox) Repository() string { return s.Owner + "/" + s.Repo }

// FreeAddr returns a loopback address with a port free at the time of the
// call, for an app whose public URL must be known before it starts.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// AppEnv is the app's environment for listening on addr (host:port) with
// its SQLite database at dbPath. The emulator's webhooks go to it.
func (s *Sandbox) AppEnv(addr, dbPath string) (map[string]string, error) {
	url := "http://" + addr
	if err := s.GitHub.SetWebhookURL(url + "/webhooks/github"); err != nil {
		return nil, err
	}
	return map[string]string{
		"GATEHOUSE_ADDR":         addr,
		"GATEHOUSE_PUBLIC_URL":   url,
		"GATEHOUSE_DATABASE_URL": "sqlite:" + dbPath,
		"GATEHOUSE_SECRET_KEY":   s.secretKey,
		"GITHUB_APP_ID":          strconv.FormatInt(s.GitHub.AppID(), 10),
		"GITHUB_APP_PRIVATE_KEY": string(s.keyPEM),
		"GITHUB_WEBHOOK_SECRET":  s.webhookSecret,
		"GITHUB_API_URL":         s.GitHub.APIURL(),
		"GITHUB_SERVER_URL":      s.GitHub.WebURL(),
		"GATEHOUSE_OIDC_ISSUER":  s.OIDC.Issuer(),
	}, nil
}

// WebhookSecret is the secret the emulator signs deliveries with.
func (s *Sandbox) WebhookSecret() string { return s.webhookSecret }

// Run is the workflow run a step of the action belongs to.
type Run struct {
	ID, Attempt, Number int
	Workflow, Job, Step string
	Actor               string
}

// DefaultRun is run 9001 of the release workflow, started by octocat.
var DefaultRun = Run{ID: 9001, Attempt: 1, Number: 42, Workflow: "release", Job: "ship", Step: "gate", Actor: "octocat"}

// ActionEnv is the environment a runner gives the action: the run's
// variables, the job token, the OIDC request variables (the job has
// id-token: write), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY at the given
// paths, and the inputs (names as in action.yml).
func (s *Sandbox) ActionEnv(run Run, inputs map[string]string, outputPath, summaryPath string) map[string]string {
	reqURL, reqToken := s.OIDC.RequestURL(oidcissuer.JobClaims{
		Repository: s.Repository(), RunID: int64(run.ID), RunAttempt: run.Attempt, RunNumber: run.Number,
		Workflow: run.Workflow, Actor: run.Actor, Ref: "refs/heads/main", EventName: "push",
	})
	env := map[string]string{
		"GITHUB_ACTIONS":                 "true",
		"GITHUB_REPOSITORY":              s.Repository(),
		"GITHUB_RUN_ID":                  strconv.Itoa(run.ID),
		"GITHUB_RUN_ATTEMPT":             strconv.Itoa(run.Attempt),
		"GITHUB_RUN_NUMBER":              strconv.Itoa(run.Number),
		"GITHUB_WORKFLOW":                run.Workflow,
		"GITHUB_JOB":                     run.Job,
		"GITHUB_ACTION":                  run.Step,
		"GITHUB_ACTOR":                   run.Actor,
		"GITHUB_TRIGGERING_ACTOR":        run.Actor,
		"GITHUB_SHA":                     "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_REF":                     "refs/heads/main",
		"GITHUB_SERVER_URL":              s.GitHub.WebURL(),
		"GITHUB_API_URL":                 s.GitHub.APIURL(),
		"GITHUB_OUTPUT":                  outputPath,
		"GITHUB_STEP_SUMMARY":            summaryPath,
		"ACTIONS_ID_TOKEN_REQUEST_URL":   reqURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": reqToken,
		"INPUT_GITHUB-TOKEN":             s.JobToken,
	}
	for name, v := range inputs {
		env["INPUT_"+strings.ToUpper(name)] = v
	}
	return env
}

// Environ turns an environment map into os/exec's form, after base.
func Environ(base []string, env map[string]string) []string {
	out := append([]string(nil), base...)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
