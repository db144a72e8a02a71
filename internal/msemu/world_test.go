package msemu

import (
	"net/http"
	"regexp"
	"testing"
)

func TestAddFillsIn(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	u, err := emu.AddUser(Member{Name: "Dana"})
	check(t, err)
	tm, err := emu.AddTeam(Team{Name: "Ops", Channels: []Channel{{Name: "Alerts"}}, Members: []string{u.AADObjectID}})
	check(t, err)
	group, err := emu.AddChat(Chat{Type: "groupChat", Members: []string{u.ID}})
	check(t, err)
	personal, err := emu.AddChat(Chat{Type: "personal", Members: []string{u.ID}})
	check(t, err)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, c := range []struct {
		what, value string
		re          *regexp.Regexp
	}{
		{"user id", u.ID, regexp.MustCompile(`^29:1[A-Za-z0-9_-]{80}$`)},
		{"object id", u.AADObjectID, uuid},
		{"team id", tm.ID, regexp.MustCompile(`^19:[0-9a-f]{32}@thread\.tacv2$`)},
		{"group id", tm.AADGroupID, uuid},
		{"channel id", tm.Channels[0].ID, regexp.MustCompile(`^19:[0-9a-f]{32}@thread\.tacv2$`)},
		{"team member", tm.Members[0], regexp.MustCompile(`^` + regexp.QuoteMeta(u.ID) + `$`)},
		{"group chat id", group.ID, regexp.MustCompile(`^19:[0-9a-f]{32}@thread\.v2$`)},
		{"personal chat id", personal.ID, regexp.MustCompile(`^a:1[A-Za-z0-9_-]{80}$`)},
	} {
		if !c.re.MatchString(c.value) {
			t.Errorf("%s %q does not match %s", c.what, c.value, c.re)
		}
	}
}

func TestAddRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	emu := w.emu
	personal := must[Chat](t)(emu.AddChat(Chat{Type: "personal", Members: []string{w.bob.ID}}))
	tests := []struct {
		name string
		add  func() error
	}{
		{"a member without a name", func() error { _, err := emu.AddUser(Member{}); return err }},
		{"a member id without 29:", func() error { _, err := emu.AddUser(Member{Name: "X", ID: "28:x"}); return err }},
		{"a member id in use", func() error { _, err := emu.AddUser(Member{Name: "X", ID: w.alice.ID}); return err }},
		{"an object id in use", func() error { _, err := emu.AddUser(Member{Name: "X", AADObjectID: w.alice.AADObjectID}); return err }},
		{"a user principal name in use", func() error {
			_, err := emu.AddUser(Member{Name: "X", UserPrincipalName: "Alice@Corp.Example"})
			return err
		}},
		{"a team without a name", func() error { _, err := emu.AddTeam(Team{}); return err }},
		{"a team id in use", func() error { _, err := emu.AddTeam(Team{Name: "X", ID: w.team.ID}); return err }},
		{"a team id of a channel", func() error { _, err := emu.AddTeam(Team{Name: "X", ID: w.deploys}); return err }},
		{"a team id of the wrong form", func() error { _, err := emu.AddTeam(Team{Name: "X", ID: "team-1"}); return err }},
		{"a channel without a name", func() error { _, err := emu.AddTeam(Team{Name: "X", Channels: []Channel{{}}}); return err }},
		{"a second General", func() error {
			_, err := emu.AddTeam(Team{Name: "X", Channels: []Channel{{Name: "general"}}})
			return err
		}},
		{"a channel twice", func() error {
			_, err := emu.AddTeam(Team{Name: "X", Channels: []Channel{{Name: "A"}, {Name: "a"}}})
			return err
		}},
		{"a channel id twice", func() error {
			_, err := emu.AddTeam(Team{Name: "X", Channels: []Channel{{ID: "19:c@thread.tacv2", Name: "A"}, {ID: "19:c@thread.tacv2", Name: "B"}}})
			return err
		}},
		{"an unknown team member", func() error { _, err := emu.AddTeam(Team{Name: "X", Members: []string{"29:nobody"}}); return err }},
		{"a chat of no type", func() error { _, err := emu.AddChat(Chat{Members: []string{w.alice.ID}}); return err }},
		{"a personal chat of two", func() error {
			_, err := emu.AddChat(Chat{Type: "personal", Members: []string{w.alice.ID, w.bob.ID}})
			return err
		}},
		{"a chat id in use", func() error {
			_, err := emu.AddChat(Chat{Type: "groupChat", ID: w.chat.ID, Members: []string{w.alice.ID}})
			return err
		}},
		{"a second member of a personal chat", func() error { return emu.AddMember(personal.ID, w.alice.ID) }},
		{"a member to no team", func() error { return emu.AddMember("19:none@thread.tacv2", w.alice.ID) }},
		{"an unknown member", func() error { return emu.AddMember(w.team.ID, "29:nobody") }},
		{"a bot to no team", func() error { return emu.AddBot("19:none@thread.tacv2", botID) }},
		{"a bot without an id", func() error { return emu.AddBot(w.team.ID, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.add(); err == nil {
				t.Error("succeeded")
			}
		})
	}
}

func TestAddMember(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)
	member := func() int {
		return do(t, http.MethodGet, connectorURL(w.emu, "conversations", w.deploys, "members", w.carol.ID), bearer(token), "").status
	}
	if got := member(); got != http.StatusNotFound {
		t.Fatalf("before AddMember: %d", got)
	}
	check(t, w.emu.AddMember(w.team.ID, w.carol.AADObjectID))
	check(t, w.emu.AddMember(w.team.ID, w.carol.ID)) // twice is once
	if got := member(); got != http.StatusOK {
		t.Errorf("after AddMember: %d", got)
	}
	check(t, w.emu.AddMember(w.chat.ID, w.bob.ID))
	if _, err := w.emu.InvokeActivity(botID, InvokeOptions{User: w.bob.ID, ConversationID: w.chat.ID, Verb: "approve"}); err != nil {
		t.Errorf("bob, added to the chat, cannot invoke there: %v", err)
	}
}
