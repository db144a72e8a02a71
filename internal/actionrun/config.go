package actionrun

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sethvargo/go-githubactions"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/comment"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

const (
	// minPollInterval is the shortest poll-interval accepted.
	minPollInterval = time.Second
	// maxGateKey is the longest gate-key accepted.
	maxGateKey = 100
)

// Config is everything the action needs, read and validated once.
type Config struct {
	Owner, Repo     string
	RunID           int64
	RunAttempt      int
	RunNumber       int
	Workflow        string
	Job             string
	Step            string // GITHUB_ACTION: the step's id
	Actor           string
	TriggeringActor string
	SHA, Ref        string
	ServerURL       string
	APIURL          string
	OutputPath      string
	SummaryPath     string

	Approvers        approval.Approvers
	MinimumApprovals int
	RequireAll       bool
	Title            string
	Instructions     string
	Fields           fields.Schema
	Timeout          time.Duration
	OnTimeout        approval.OnTimeout
	ExcludeInitiator bool
	FailOnReject     bool
	Labels           []string
	Notify           []string
	TeamsChannel     string
	// AppURL is the app's base URL without a trailing slash; empty in
	// standalone mode.
	AppURL string
	// OIDCAudience is the audience of the job's OIDC token (app mode).
	OIDCAudience string
	// GateKeyInput is the gate-key input: it tells apart the gates of one
	// step in a matrix.
	GateKeyInput string
	Token        string
	// PollInterval is standalone mode's; app mode long-polls the app.
	PollInterval time.Duration
	Words        comment.Words
	// Inputs holds inputs as written, which app mode hands to the app to
	// parse with the same parsers.
	Inputs RawInputs
}

// RawInputs are inputs as written.
type RawInputs struct {
	Approvers, Fields, ApproveWords, RejectWords string
}

// Repository is "owner/repo".
func (c Config) Repository() string { return c.Owner + "/" + c.Repo }

// RunURL is the run's web page.
func (c Config) RunURL() string {
	u := fmt.Sprintf("%s/%s/actions/runs/%d", c.ServerURL, c.Repository(), c.RunID)
	if c.RunAttempt > 1 {
		u += fmt.Sprintf("/attempts/%d", c.RunAttempt)
	}
	return u
}

// GateKey tells apart the gates of one run attempt: the job and step ids,
// and the gate-key input when set.
func (c Config) GateKey() string {
	key := c.Job + "/" + c.Step
	if c.GateKeyInput != "" {
		key += "/" + c.GateKeyInput
	}
	return key
}

// GateID names the gate, in the audit trail's markers and in the app.
func (c Config) GateID() string {
	return api.GateID(c.Repository(), c.RunID, c.RunAttempt, c.GateKey())
}

// Initiators are the run's actor and triggering actor.
func (c Config) Initiators() []string {
	var out []string
	for _, a := range []string{c.Actor, c.TriggeringActor} {
		if a != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, a) }) {
			out = append(out, a)
		}
	}
	return out
}

// Rules is the gate as the decision rules see it, with its deadline counted
// from start.
func (c Config) Rules(start time.Time) approval.Gate {
	return approval.Gate{
		Approvers:        c.Approvers,
		MinimumApprovals: c.MinimumApprovals,
		RequireAll:       c.RequireAll,
		ExcludeInitiator: c.ExcludeInitiator,
		Initiators:       c.Initiators(),
		Fields:           c.Fields,
		Deadline:         start.Add(c.Timeout),
		OnTimeout:        c.OnTimeout,
	}
}

// Load reads the inputs (INPUT_*) and the runner's GITHUB_* variables through
// getenv and reports every problem at once. Empty inputs take the defaults
// of action.yml.
func Load(getenv func(string) string) (Config, error) {
	gha := githubactions.New(githubactions.WithGetenv(githubactions.GetenvFunc(getenv)))
	input := func(name, def string) string {
		if v := strings.TrimSpace(gha.GetInput(name)); v != "" {
			return v
		}
		return def
	}
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	c := Config{
		Workflow:        env("GITHUB_WORKFLOW", ""),
		Job:             env("GITHUB_JOB", ""),
		Step:            env("GITHUB_ACTION", ""),
		Actor:           env("GITHUB_ACTOR", ""),
		TriggeringActor: env("GITHUB_TRIGGERING_ACTOR", ""),
		SHA:             env("GITHUB_SHA", ""),
		Ref:             env("GITHUB_REF", ""),
		ServerURL:       strings.TrimSuffix(env("GITHUB_SERVER_URL", "https://github.com"), "/"),
		APIURL:          strings.TrimSuffix(env("GITHUB_API_URL", "https://api.github.com"), "/"),
		OutputPath:      env("GITHUB_OUTPUT", ""),
		SummaryPath:     env("GITHUB_STEP_SUMMARY", ""),
		Instructions:    gha.GetInput("instructions"),
		TeamsChannel:    input("teams-channel", ""),
		Token:           input("github-token", ""),
	}

	repo := env("GITHUB_REPOSITORY", "")
	if owner, name, ok := strings.Cut(repo, "/"); ok && owner != "" && name != "" && !strings.Contains(name, "/") {
		c.Owner, c.Repo = owner, name
	} else {
		fail("GITHUB_REPOSITORY: must be owner/name, got %q", repo)
	}
	var err error
	if c.RunID, err = strconv.ParseInt(env("GITHUB_RUN_ID", ""), 10, 64); err != nil || c.RunID < 1 {
		fail("GITHUB_RUN_ID: must be a positive number, got %q", getenv("GITHUB_RUN_ID"))
	}
	if c.RunAttempt, err = strconv.Atoi(env("GITHUB_RUN_ATTEMPT", "1")); err != nil || c.RunAttempt < 1 {
		fail("GITHUB_RUN_ATTEMPT: must be a positive number, got %q", getenv("GITHUB_RUN_ATTEMPT"))
	}
	if c.RunNumber, err = strconv.Atoi(env("GITHUB_RUN_NUMBER", "0")); err != nil || c.RunNumber < 0 {
		fail("GITHUB_RUN_NUMBER: must be a number, got %q", getenv("GITHUB_RUN_NUMBER"))
	}
	for name, v := range map[string]string{"GITHUB_SERVER_URL": c.ServerURL, "GITHUB_API_URL": c.APIURL} {
		if err := checkURL(v); err != nil {
			fail("%s: %v", name, err)
		}
	}
	if c.OutputPath == "" {
		fail("GITHUB_OUTPUT: not set; the action must run as a workflow step")
	}

	// The gate's rules are checked as a whole once each part has parsed.
	rulesParsed := true
	if c.Approvers, err = approval.ParseApprovers(input("approvers", "")); err != nil {
		errs = append(errs, err)
		rulesParsed = false
	}
	switch m := strings.ToLower(input("minimum-approvals", "1")); m {
	case "all":
		c.RequireAll = true
	default:
		if c.MinimumApprovals, err = strconv.Atoi(m); err != nil {
			fail("minimum-approvals: must be a whole number of at least 1, or all; got %q", m)
			rulesParsed = false
		}
	}
	c.Title = input("title", fmt.Sprintf("Approval needed: %s #%d", c.Workflow, c.RunNumber))
	if c.Fields, err = fields.Parse(gha.GetInput("fields")); err != nil {
		fail("fields: %v", err)
	}
	if c.Timeout, err = fields.ParseDuration(input("timeout", "1h")); err != nil || c.Timeout <= 0 {
		fail("timeout: must be a positive duration like 90m, 36h or 7d; got %q", input("timeout", "1h"))
	}
	if c.OnTimeout, err = approval.ParseOnTimeout(input("on-timeout", "reject")); err != nil {
		errs = append(errs, err)
		rulesParsed = false
	}
	c.ExcludeInitiator = parseBool(input("exclude-initiator", "false"), "exclude-initiator", &errs)
	c.FailOnReject = parseBool(input("fail-on-reject", "true"), "fail-on-reject", &errs)
	c.Labels = list(input("labels", "approval"))
	c.Notify = list(strings.ToLower(input("notify", "")))
	for _, n := range c.Notify {
		if n != "email" && n != "teams" {
			fail("notify: must be email, teams or both, got %q", n)
		}
	}
	c.AppURL = strings.TrimSuffix(input("app-url", ""), "/")
	c.GateKeyInput = input("gate-key", "")
	if strings.ContainsFunc(c.GateKeyInput, unicode.IsControl) || utf8.RuneCountInString(c.GateKeyInput) > maxGateKey {
		fail("gate-key: must be one line of at most %d characters, got %q", maxGateKey, c.GateKeyInput)
	}
	if c.AppURL != "" {
		if !appModeChecks(&c, input, env, fail) {
			rulesParsed = false
		}
	} else if !standaloneChecks(&c, input, fail) {
		rulesParsed = false
	}
	if c.TeamsChannel != "" && !slices.Contains(c.Notify, "teams") {
		fail("teams-channel: set notify: teams as well")
	}
	if c.Token == "" {
		fail("github-token: required (the default is the job's GITHUB_TOKEN)")
	}
	if c.Words, err = comment.ParseWords(gha.GetInput("approve-words"), gha.GetInput("reject-words")); err != nil {
		errs = append(errs, err)
	}
	c.Inputs = RawInputs{
		Approvers:    input("approvers", ""),
		Fields:       gha.GetInput("fields"),
		ApproveWords: gha.GetInput("approve-words"),
		RejectWords:  gha.GetInput("reject-words"),
	}
	if rulesParsed {
		if err := c.Rules(time.Time{}).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// appModeChecks checks the inputs of app mode and reports whether the
// approvers are usable.
func appModeChecks(c *Config, input, env func(name, def string) string, fail func(string, ...any)) bool {
	if err := checkURL(c.AppURL); err != nil {
		fail("app-url: %v", err)
	} else if u, _ := url.Parse(c.AppURL); u.RawQuery != "" || u.Fragment != "" {
		fail("app-url: must not have a query or fragment, got %q", c.AppURL)
	}
	c.OIDCAudience = strings.TrimSuffix(input("oidc-audience", c.AppURL), "/")
	if env("ACTIONS_ID_TOKEN_REQUEST_URL", "") == "" || env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "") == "" {
		fail("app-url: app mode signs in to the app with the job's OIDC token, but the runner gave none (no ACTIONS_ID_TOKEN_REQUEST_URL): give the job `permissions: id-token: write`")
	}
	if slices.Contains(c.Notify, "teams") && c.TeamsChannel == "" {
		fail("teams-channel: notify: teams needs the Teams channel (or Workflows webhook) to post the card to")
	}
	return true
}

// standaloneChecks checks the inputs of standalone mode and reports
// whether the approvers are usable.
func standaloneChecks(c *Config, input func(name, def string) string, fail func(string, ...any)) bool {
	if len(c.Notify) > 0 {
		fail("notify: email and Teams notifications need the Gatehouse app (app-url)")
	}
	if c.TeamsChannel != "" {
		fail("teams-channel: needs the Gatehouse app (app-url)")
	}
	pi := input("poll-interval", "5s")
	var err error
	if c.PollInterval, err = fields.ParseDuration(pi); err != nil || c.PollInterval < minPollInterval {
		fail("poll-interval: must be a duration of at least %s, got %q", minPollInterval, pi)
	}
	if len(c.Approvers.Emails) > 0 {
		fail("approvers: %s can only answer through the Gatehouse app (app-url); in standalone mode list GitHub logins or teams", strings.Join(c.Approvers.Emails, ", "))
		return false
	}
	return true
}

func parseBool(v, name string, errs *[]error) bool {
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	*errs = append(*errs, fmt.Errorf("%s: must be true or false, got %q", name, v))
	return false
}

func list(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", s)
	}
	return nil
}
