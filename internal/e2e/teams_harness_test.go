package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-ci/gatehouse/internal/msemu"
)

// The bot's Azure registration in the emulated tenant.
const (
	botAppID    = "5b1d2c3e-0000-4000-8000-0000000000b0"
	botPassword = "bot-secret-value"
)

// teamsWorld is an appWorld whose app has a Teams bot, installed in the
// Platform team (channels General and releases) of an emulated Microsoft
// 365 tenant, and a Workflows webhook named ops. The identities file ties
// alice's login, address and Teams account together; carol is in Teams
// only, by a listed address; mallory is in the team but approves nothing.
type teamsWorld struct {
	*appWorld
	ms       *msemu.Emulator
	team     msemu.Team
	releases msemu.Channel
	alice    msemu.Member
	carol    msemu.Member
	mallory  msemu.Member
}

func newTeamsWorld(t *testing.T) *teamsWorld {
	t.Helper()
	ms, err := msemu.New(msemu.Options{})
	must(t, err)
	must(t, ms.Start())
	t.Cleanup(func() { ms.Close() })
	tw := &teamsWorld{ms: ms}
	must(t, ms.AddApp(ms.TenantID(), botAppID, botPassword))
	tw.alice, err = ms.AddUser(msemu.Member{Name: "Alice Smith", Email: "alice.smith@corp.example", UserPrincipalName: "alice.smith@corp.example"})
	must(t, err)
	tw.carol, err = ms.AddUser(msemu.Member{Name: "Carol Jones", Email: "carol@corp.example", UserPrincipalName: "carol@corp.example"})
	must(t, err)
	tw.mallory, err = ms.AddUser(msemu.Member{Name: "Mallory", Email: "mallory@corp.example", UserPrincipalName: "mallory@corp.example"})
	must(t, err)
	tw.team, err = ms.AddTeam(msemu.Team{
		Name: "Platform", Channels: []msemu.Channel{{Name: "releases"}},
		Members: []string{tw.alice.ID, tw.carol.ID, tw.mallory.ID},
	})
	must(t, err)
	for _, c := range tw.team.Channels {
		if c.Name == "releases" {
			tw.releases = c
		}
	}
	hook, err := ms.AddWebhook("ops")
	must(t, err)
	people := filepath.Join(t.TempDir(), "identities.yaml")
	must(t, os.WriteFile(people, []byte("people:\n  - github: alice\n    emails: [alice@corp.example]\n    teams: "+tw.alice.AADObjectID+"\n"), 0o600))

	tw.appWorld = newAppWorldWith(t, func(w *appWorld) {
		must(t, w.emu.SetAppCallbackURL(w.url+"/auth/github/callback"))
		for k, v := range map[string]string{
			"GATEHOUSE_TEAMS_APP_ID":       botAppID,
			"GATEHOUSE_TEAMS_APP_PASSWORD": botPassword,
			"GATEHOUSE_TEAMS_TENANT_ID":    ms.TenantID(),
			"GATEHOUSE_AUTHORITY_URL":      ms.AuthorityURL(),
			"GATEHOUSE_TEAMS_OPENID_URL":   ms.OpenIDURL(),
			"GATEHOUSE_TEAMS_WEBHOOKS":     "ops=" + hook,
			"GATEHOUSE_IDENTITIES_FILE":    people,
			"GITHUB_CLIENT_ID":             w.emu.AppClientID(),
			"GITHUB_CLIENT_SECRET":         w.emu.AppClientSecret(),
		} {
			w.env[k] = v
		}
	})
	must(t, ms.Install(context.Background(), tw.botURL(), botAppID, tw.team.ID))
	return tw
}

func (tw *teamsWorld) botURL() string { return tw.url + "/api/teams/messages" }

// waitCard waits for the gate's card in the releases channel and returns
// the message posted.
func (tw *teamsWorld) waitCard() msemu.Posted {
	tw.t.Helper()
	var posted []msemu.Posted
	tw.waitFor("the card in the releases channel", func() bool {
		posted = tw.ms.Activities(tw.releases.ID)
		return len(posted) > 0
	})
	if len(posted) != 1 {
		tw.t.Fatalf("%d messages in the releases channel, want 1", len(posted))
	}
	return posted[0]
}

// click has a person press a card button, as Teams sends it.
func (tw *teamsWorld) click(user msemu.Member, card msemu.Posted, verb string, data map[string]any) invokeAnswer {
	tw.t.Helper()
	d := map[string]any{"_gate": tw.gateID()}
	for k, v := range data {
		d[k] = v
	}
	resp, err := tw.ms.Invoke(context.Background(), tw.botURL(), botAppID, msemu.InvokeOptions{
		User: user.ID, ConversationID: tw.releases.ID, ReplyToID: card.ID, Verb: verb, Data: d,
	})
	must(tw.t, err)
	return decodeInvoke(tw.t, resp)
}

// invokeAnswer is the bot's answer to an adaptiveCard/action invoke.
type invokeAnswer struct {
	HTTPStatus int
	StatusCode int             `json:"statusCode"`
	Type       string          `json:"type"`
	Value      json.RawMessage `json:"value"`
}

func decodeInvoke(t *testing.T, resp msemu.Response) invokeAnswer {
	t.Helper()
	a := invokeAnswer{HTTPStatus: resp.Status}
	if resp.Status == 200 {
		if err := json.Unmarshal(resp.Body, &a); err != nil {
			t.Fatalf("invoke answer %s: %v", resp.Body, err)
		}
	}
	return a
}

// text is every string in a card, joined: what a person reads.
func text(card json.RawMessage) string {
	var v any
	if json.Unmarshal(card, &v) != nil {
		return ""
	}
	var parts []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			parts = append(parts, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(parts, "\n")
}

// actions lists the card's action types.
func actions(card json.RawMessage) []string {
	var c struct {
		Actions []struct {
			Type string `json:"type"`
		} `json:"actions"`
	}
	json.Unmarshal(card, &c)
	var out []string
	for _, a := range c.Actions {
		out = append(out, a.Type)
	}
	return out
}
