package actionrun

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// runnerEnv is the environment a runner gives the action, with the inputs
// of a minimal step.
func runnerEnv(overrides map[string]string) func(string) string {
	env := map[string]string{
		"GITHUB_REPOSITORY":       "octo-org/deploy",
		"GITHUB_RUN_ID":           "9001",
		"GITHUB_RUN_ATTEMPT":      "1",
		"GITHUB_RUN_NUMBER":       "42",
		"GITHUB_WORKFLOW":         "release",
		"GITHUB_JOB":              "ship",
		"GITHUB_ACTION":           "gate",
		"GITHUB_ACTOR":            "octocat",
		"GITHUB_TRIGGERING_ACTOR": "octocat",
		"GITHUB_SERVER_URL":       "https://github.com",
		"GITHUB_API_URL":          "https://api.github.com",
		"GITHUB_OUTPUT":           "/tmp/out",
		"INPUT_APPROVERS":         "alice, bob",
		"INPUT_GITHUB-TOKEN":      "ghs_token",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(runnerEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := approval.Gate{
		Approvers:        approval.Approvers{Logins: []string{"alice", "bob"}},
		MinimumApprovals: 1,
		Initiators:       []string{"octocat"},
		Deadline:         time.Unix(0, 0).Add(time.Hour),
		OnTimeout:        approval.TimeoutReject,
	}
	if diff := cmp.Diff(want, c.Rules(time.Unix(0, 0))); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	for name, got := range map[string]any{
		"title":          c.Title,
		"labels":         strings.Join(c.Labels, ","),
		"fail-on-reject": c.FailOnReject,
		"poll-interval":  c.PollInterval,
		"repository":     c.Repository(),
		"run url":        c.RunURL(),
		"app-url":        c.AppURL,
	} {
		wantV := map[string]any{
			"title":          "Approval needed: release #42",
			"labels":         "approval",
			"fail-on-reject": true,
			"poll-interval":  5 * time.Second,
			"repository":     "octo-org/deploy",
			"run url":        "https://github.com/octo-org/deploy/actions/runs/9001",
			"app-url":        "",
		}[name]
		if got != wantV {
			t.Errorf("%s = %v, want %v", name, got, wantV)
		}
	}
}

func TestLoadInputs(t *testing.T) {
	c, err := Load(runnerEnv(map[string]string{
		"INPUT_APPROVERS":         "alice\r\n@octo-org/sre",
		"INPUT_MINIMUM-APPROVALS": "2",
		"INPUT_TIMEOUT":           "1d12h",
		"INPUT_ON-TIMEOUT":        "Approve",
		"INPUT_EXCLUDE-INITIATOR": "true",
		"INPUT_FAIL-ON-REJECT":    "FALSE",
		"INPUT_LABELS":            "approval, prod",
		"INPUT_POLL-INTERVAL":     "2s",
		"INPUT_APPROVE-WORDS":     "ship it",
		"INPUT_FIELDS":            "- id: reason\n  type: string\n  required: true\n",
		"GITHUB_RUN_ATTEMPT":      "3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(approval.Approvers{Logins: []string{"alice"}, Teams: []string{"octo-org/sre"}}, c.Approvers); diff != "" {
		t.Errorf("approvers (-want +got):\n%s", diff)
	}
	if c.MinimumApprovals != 2 || c.Timeout != 36*time.Hour || c.OnTimeout != approval.TimeoutApprove ||
		!c.ExcludeInitiator || c.FailOnReject || c.PollInterval != 2*time.Second || len(c.Fields) != 1 {
		t.Errorf("inputs not applied: %+v", c)
	}
	if diff := cmp.Diff([]string{"approval", "prod"}, c.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(c.RunURL(), "/actions/runs/9001/attempts/3") {
		t.Errorf("run url %s does not name the attempt", c.RunURL())
	}
	if !slices.Contains(c.Words.Approve, "ship it") {
		t.Errorf("approve words %v lack the extra word", c.Words.Approve)
	}
}

func TestLoadAllRequiresPeople(t *testing.T) {
	c, err := Load(runnerEnv(map[string]string{"INPUT_MINIMUM-APPROVALS": "ALL"}))
	if err != nil || !c.RequireAll {
		t.Fatalf("all: err=%v RequireAll=%v", err, c.RequireAll)
	}
}

// Every problem is reported at once, each naming its input.
func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(runnerEnv(map[string]string{
		"GITHUB_REPOSITORY":       "no-slash",
		"GITHUB_RUN_ID":           "x",
		"GITHUB_OUTPUT":           "",
		"INPUT_APPROVERS":         "not a login!",
		"INPUT_MINIMUM-APPROVALS": "many",
		"INPUT_TIMEOUT":           "soon",
		"INPUT_ON-TIMEOUT":        "shrug",
		"INPUT_EXCLUDE-INITIATOR": "maybe",
		"INPUT_FIELDS":            "- id: rollout\n  type: percentage\n",
		"INPUT_NOTIFY":            "pager",
		"INPUT_POLL-INTERVAL":     "10ms",
		"INPUT_GITHUB-TOKEN":      "",
		"INPUT_GATE-KEY":          "a\nb",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_OUTPUT", "approvers:", "minimum-approvals:",
		"timeout:", "on-timeout:", "exclude-initiator:", "fields:", "rollout", "notify:", "poll-interval:",
		"github-token:", "gate-key:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestLoadStandaloneLimits(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"emails only":           {map[string]string{"INPUT_APPROVERS": "a@corp.example"}, "a@corp.example can only answer through the Gatehouse app"},
		"notify":                {map[string]string{"INPUT_NOTIFY": "email"}, "notify: email and Teams notifications need the Gatehouse app"},
		"teams channel":         {map[string]string{"INPUT_TEAMS-CHANNEL": "releases"}, "teams-channel: needs the Gatehouse app"},
		"an email among logins": {map[string]string{"INPUT_APPROVERS": "alice, carol@corp.example", "INPUT_MINIMUM-APPROVALS": "all"}, "carol@corp.example can only answer through the Gatehouse app"},
		"quorum over people":    {map[string]string{"INPUT_MINIMUM-APPROVALS": "3"}, "3 approvals needed but only 2"},
		"initiator excluded":    {map[string]string{"INPUT_APPROVERS": "octocat", "INPUT_EXCLUDE-INITIATOR": "true"}, "1 approvals needed but only 0"},
		"all of teams":          {map[string]string{"INPUT_APPROVERS": "org/sre", "INPUT_MINIMUM-APPROVALS": "all"}, "\"all\" needs approvers that name people"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(runnerEnv(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// appEnv is runnerEnv in app mode, with the runner's OIDC token request
// variables.
func appEnv(overrides map[string]string) func(string) string {
	env := map[string]string{
		"INPUT_APP-URL":                  "https://gatehouse.example/",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   "https://runner.example/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return runnerEnv(env)
}

func TestLoadAppMode(t *testing.T) {
	c, err := Load(appEnv(map[string]string{
		"INPUT_APPROVERS":         "alice\n@octo-org/sre",
		"INPUT_POLL-INTERVAL":     "10ms", // ignored in app mode
		"INPUT_FIELDS":            "- id: reason\n  type: string\n",
		"INPUT_APPROVE-WORDS":     "ship it",
		"INPUT_MINIMUM-APPROVALS": "All",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"app-url":       c.AppURL,
		"oidc-audience": c.OIDCAudience,
		"gate key":      c.GateKey(),
		"gate id":       c.GateID(),
		"inputs":        c.Inputs,
		"require all":   c.RequireAll,
	}
	want := map[string]any{
		"app-url":       "https://gatehouse.example",
		"oidc-audience": "https://gatehouse.example",
		"gate key":      "ship/gate",
		// The id standalone mode has always given a step without gate-key.
		"gate id":     "026610022eecb1bb",
		"inputs":      RawInputs{Approvers: "alice\n@octo-org/sre", Fields: "- id: reason\n  type: string", ApproveWords: "ship it"},
		"require all": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadGateKey(t *testing.T) {
	for _, env := range []func(string) string{
		runnerEnv(map[string]string{"INPUT_GATE-KEY": "3"}),
		appEnv(map[string]string{"INPUT_GATE-KEY": "3"}),
	} {
		c, err := Load(env)
		if err != nil {
			t.Fatal(err)
		}
		if c.GateKey() != "ship/gate/3" || c.GateID() != "81128ae164099717" {
			t.Errorf("app-url %q: gate key %q, id %s", c.AppURL, c.GateKey(), c.GateID())
		}
	}
}

func TestLoadOIDCAudience(t *testing.T) {
	c, err := Load(appEnv(map[string]string{"INPUT_OIDC-AUDIENCE": "https://gatehouse.internal/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDCAudience != "https://gatehouse.internal" {
		t.Errorf("oidc-audience %q", c.OIDCAudience)
	}
}

func TestLoadAppModeLimits(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"not http":           {map[string]string{"INPUT_APP-URL": "ftp://gatehouse.example"}, "app-url: must be an absolute http(s) URL"},
		"relative":           {map[string]string{"INPUT_APP-URL": "gatehouse.example"}, "app-url: must be an absolute http(s) URL"},
		"query":              {map[string]string{"INPUT_APP-URL": "https://gatehouse.example/?x=1"}, "app-url: must not have a query or fragment"},
		"no id token url":    {map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": ""}, "`permissions: id-token: write`"},
		"no id token token":  {map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""}, "`permissions: id-token: write`"},
		"teams no channel":   {map[string]string{"INPUT_NOTIFY": "teams"}, "teams-channel: notify: teams needs the Teams channel"},
		"channel no notify":  {map[string]string{"INPUT_TEAMS-CHANNEL": "releases"}, "teams-channel: set notify: teams as well"},
		"gate key too long":  {map[string]string{"INPUT_GATE-KEY": strings.Repeat("k", 101)}, "gate-key: must be one line of at most 100 characters"},
		"quorum over people": {map[string]string{"INPUT_MINIMUM-APPROVALS": "3"}, "3 approvals needed but only 2"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(appEnv(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadAppModeTeams(t *testing.T) {
	c, err := Load(appEnv(map[string]string{
		"INPUT_NOTIFY":        "Teams",
		"INPUT_TEAMS-CHANNEL": "Platform/releases",
		"INPUT_APPROVERS":     "alice, carol@corp.example",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"teams"}, c.Notify); d != "" || c.TeamsChannel != "Platform/releases" {
		t.Errorf("notify (-want +got):\n%s; teams-channel %q", d, c.TeamsChannel)
	}
	if d := cmp.Diff([]string{"carol@corp.example"}, c.Approvers.Emails); d != "" {
		t.Errorf("email approvers (-want +got):\n%s", d)
	}
}

func TestLoadAppModeEmail(t *testing.T) {
	c, err := Load(appEnv(map[string]string{
		"INPUT_NOTIFY":        "email,\nteams",
		"INPUT_TEAMS-CHANNEL": "releases",
		"INPUT_APPROVERS":     "alice, carol@corp.example",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"email", "teams"}, c.Notify); d != "" {
		t.Errorf("notify (-want +got):\n%s", d)
	}
}
