package teams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

type fakeLister struct {
	cs  []store.Conversation
	err error
}

func (f fakeLister) Conversations(context.Context) ([]store.Conversation, error) { return f.cs, f.err }

func TestResolve(t *testing.T) {
	const svc = "https://smba.trafficmanager.net/amer/"
	conv := func(id, team, name string) store.Conversation {
		c := store.Conversation{ID: id, ServiceURL: svc, Type: "channel", TeamID: "", TeamName: team, Name: name}
		if team != "" {
			c.TeamID = "19:" + strings.ToLower(team) + "@thread.tacv2"
		} else {
			c.Type = "groupChat"
		}
		return c
	}
	remembered := []store.Conversation{
		conv("19:a@thread.tacv2", "Platform", "releases-prod"),
		conv("19:b@thread.tacv2", "Platform", "General"),
		conv("19:c@thread.tacv2", "Web", "General"),
		conv("19:d@thread.tacv2", "Web", "deploys"),
		conv("19:chat@thread.v2", "", "Release crew"),
		{ID: "a:personal", ServiceURL: svc, Type: "personal"},
	}
	at := func(id string) gates.TeamsTarget { return gates.TeamsTarget{ServiceURL: svc, ConversationID: id} }
	bot := ResolverOptions{Bot: true, Store: fakeLister{cs: remembered}, Webhooks: []string{"ops", "Releases-Hook"}}
	tests := []struct {
		name    string
		o       ResolverOptions
		in      string
		want    gates.TeamsTarget
		wantErr string
	}{
		{"webhook", bot, "ops", gates.TeamsTarget{Webhook: "ops"}, ""},
		{"webhook, any case", bot, "releases-hook", gates.TeamsTarget{Webhook: "Releases-Hook"}, ""},
		{"channel name", bot, "releases-prod", at("19:a@thread.tacv2"), ""},
		{"channel name, any case", bot, " Deploys ", at("19:d@thread.tacv2"), ""},
		{"team/channel", bot, "web/general", at("19:c@thread.tacv2"), ""},
		{"conversation id", bot, "19:b@thread.tacv2", at("19:b@thread.tacv2"), ""},
		{"personal chat by id", bot, "a:personal", at("a:personal"), ""},
		{"group chat name", bot, "release crew", at("19:chat@thread.v2"), ""},
		{"same name in two teams", bot, "General", gates.TeamsTarget{},
			`several Teams channels are named "General": Platform/General (19:b@thread.tacv2), Web/General (19:c@thread.tacv2); name one as "team/channel"`},
		{"unknown", bot, "releases", gates.TeamsTarget{},
			`no Teams channel or webhook named "releases" is known to this app; known: Releases-Hook (webhook), ops (webhook), Platform/General, Platform/releases-prod, Release crew (chat), Web/General, Web/deploys; add the bot to the channel or configure GATEHOUSE_TEAMS_WEBHOOKS`},
		{"unknown team", bot, "Mobile/General", gates.TeamsTarget{}, `no Teams channel or webhook named "Mobile/General"`},
		{"empty", bot, " ", gates.TeamsTarget{}, "teams-channel is empty"},
		{"nothing known", ResolverOptions{Bot: true, Store: fakeLister{}}, "releases", gates.TeamsTarget{}, "known: none; add the bot"},
		{"no bot, webhooks", ResolverOptions{Webhooks: []string{"ops"}}, "releases", gates.TeamsTarget{},
			`no Teams webhook named "releases" is configured; known: ops (webhook); the Teams bot is not configured`},
		{"no bot, webhook found", ResolverOptions{Webhooks: []string{"ops"}}, "ops", gates.TeamsTarget{Webhook: "ops"}, ""},
		{"nothing configured", ResolverOptions{}, "releases", gates.TeamsTarget{},
			"neither the Teams bot (GATEHOUSE_TEAMS_APP_ID) nor Workflows webhooks (GATEHOUSE_TEAMS_WEBHOOKS) are configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewResolver(tt.o).Resolve(t.Context(), tt.in)
			if tt.wantErr != "" {
				if !contains(err, tt.wantErr) || !errors.Is(err, gates.ErrUnknownChannel) {
					t.Fatalf("Resolve(%q) = %v, %v; want ErrUnknownChannel saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Resolve(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestResolveListsFewKnown(t *testing.T) {
	var cs []store.Conversation
	for i := range 25 {
		cs = append(cs, store.Conversation{ID: fmt.Sprintf("19:%02d", i), TeamID: "19:t", TeamName: "T", Name: fmt.Sprintf("c%02d", i)})
	}
	_, err := NewResolver(ResolverOptions{Bot: true, Store: fakeLister{cs: cs}}).Resolve(t.Context(), "x")
	if !contains(err, "known: T/c00, T/c01, T/c02, T/c03, T/c04, T/c05, T/c06, T/c07, T/c08, T/c09, … (15 more);") {
		t.Errorf("Resolve: %v", err)
	}
}

func TestResolveStoreError(t *testing.T) {
	_, err := NewResolver(ResolverOptions{Bot: true, Store: fakeLister{err: errors.New("database is locked")}}).Resolve(t.Context(), "x")
	if err == nil || errors.Is(err, gates.ErrUnknownChannel) {
		t.Errorf("Resolve with the store failing: %v, want a store error", err)
	}
}
