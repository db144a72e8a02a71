package msemu

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Member is a person in the Teams tenant, as the Bot Connector describes
// them.
type Member struct {
	// ID is the person's Teams id, "29:…"; generated when empty.
	ID string
	// Name is the display name; required.
	Name string
	// AADObjectID is the Microsoft Entra object id; generated when empty.
	AADObjectID       string
	Email             string
	UserPrincipalName string
	GivenName         string
	Surname           string
}

// Team is a team of the tenant. Every team has a General channel whose id
// is the team's id.
type Team struct {
	// ID is "19:…@thread.tacv2"; generated when empty.
	ID string
	// Name is the team's name; required.
	Name string
	// AADGroupID is the team's Microsoft 365 group; generated when empty.
	AADGroupID string
	// Channels are the channels besides General.
	Channels []Channel
	// Members are people added with AddUser, by Teams id, AAD object id or
	// user principal name; New returns them as Teams ids.
	Members []string
}

// Channel is a channel of a team.
type Channel struct {
	// ID is "19:…@thread.tacv2"; generated when empty.
	ID string
	// Name is the channel's name; required, and not "General".
	Name string
}

// Chat is a conversation outside teams: a group chat, or a personal chat
// between one person and a bot.
type Chat struct {
	// ID is generated when empty: "19:…@thread.v2" for a group chat,
	// "a:…" for a personal chat.
	ID string
	// Type is "groupChat" or "personal".
	Type string
	// Topic is a group chat's name; optional.
	Topic string
	// Members are people, as in Team.Members; a personal chat has one.
	Members []string
}

type team struct {
	Team
	bots map[string]bool // installed bots by app id
}

type chat struct {
	Chat
	bots map[string]bool
}

// AddUser adds a person to the tenant and returns them with the generated
// fields filled in.
func (e *Emulator) AddUser(m Member) (Member, error) {
	if m.Name == "" {
		return Member{}, errors.New("msemu: a member needs a name")
	}
	if m.ID == "" {
		m.ID = "29:1" + randomString(60)
	}
	if !strings.HasPrefix(m.ID, "29:") {
		return Member{}, fmt.Errorf("msemu: member id %q does not start with \"29:\"", m.ID)
	}
	if m.AADObjectID == "" {
		m.AADObjectID = newUUID()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range e.users {
		if u.ID == m.ID || strings.EqualFold(u.AADObjectID, m.AADObjectID) ||
			(m.UserPrincipalName != "" && strings.EqualFold(u.UserPrincipalName, m.UserPrincipalName)) {
			return Member{}, fmt.Errorf("msemu: %s (%s) has the id, object id or user principal name of %s", m.Name, m.ID, u.Name)
		}
	}
	u := m
	e.users[m.ID] = &u
	return m, nil
}

// AddTeam adds a team with its channels and members and returns it with
// the generated fields filled in and members as Teams ids.
func (e *Emulator) AddTeam(t Team) (Team, error) {
	if t.Name == "" {
		return Team{}, errors.New("msemu: a team needs a name")
	}
	if t.ID == "" {
		t.ID = threadID("tacv2")
	}
	if t.AADGroupID == "" {
		t.AADGroupID = newUUID()
	}
	t.Channels = slices.Clone(t.Channels)
	names := map[string]bool{"general": true}
	for i, ch := range t.Channels {
		switch {
		case ch.Name == "":
			return Team{}, fmt.Errorf("msemu: channel %d of team %s needs a name", i, t.Name)
		case names[strings.ToLower(ch.Name)]:
			return Team{}, fmt.Errorf("msemu: team %s already has a channel named %s", t.Name, ch.Name)
		}
		names[strings.ToLower(ch.Name)] = true
		if ch.ID == "" {
			t.Channels[i].ID = threadID("tacv2")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := []string{t.ID}
	for _, ch := range t.Channels {
		ids = append(ids, ch.ID)
	}
	for _, id := range ids {
		if err := e.checkNewConversationID(id, "@thread."); err != nil {
			return Team{}, err
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
		return Team{}, fmt.Errorf("msemu: team %s repeats a channel id", t.Name)
	}
	members, err := e.resolveMembers(t.Members)
	if err != nil {
		return Team{}, err
	}
	t.Members = members
	e.teams[t.ID] = &team{Team: t, bots: map[string]bool{}}
	return cloneTeam(t), nil
}

// AddChat adds a group or personal chat and returns it with the generated
// fields filled in and members as Teams ids.
func (e *Emulator) AddChat(c Chat) (Chat, error) {
	switch c.Type {
	case "groupChat":
		if c.ID == "" {
			c.ID = threadID("v2")
		}
	case "personal":
		if len(c.Members) != 1 {
			return Chat{}, fmt.Errorf("msemu: a personal chat has one member, not %d", len(c.Members))
		}
		if c.ID == "" {
			c.ID = "a:1" + randomString(60)
		}
	default:
		return Chat{}, fmt.Errorf("msemu: chat type %q is not groupChat or personal", c.Type)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkNewConversationID(c.ID, ""); err != nil {
		return Chat{}, err
	}
	members, err := e.resolveMembers(c.Members)
	if err != nil {
		return Chat{}, err
	}
	c.Members = members
	e.chats[c.ID] = &chat{Chat: c, bots: map[string]bool{}}
	return c, nil
}

// AddMember adds a person (by Teams id, AAD object id or user principal
// name) to a team or chat.
func (e *Emulator) AddMember(teamOrChatID, person string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(person)
	if u == nil {
		return fmt.Errorf("msemu: no person %q", person)
	}
	switch {
	case e.teams[teamOrChatID] != nil:
		t := e.teams[teamOrChatID]
		if !slices.Contains(t.Members, u.ID) {
			t.Members = append(t.Members, u.ID)
		}
	case e.chats[teamOrChatID] != nil:
		c := e.chats[teamOrChatID]
		if c.Type == "personal" {
			return fmt.Errorf("msemu: personal chat %s has one member", c.ID)
		}
		if !slices.Contains(c.Members, u.ID) {
			c.Members = append(c.Members, u.ID)
		}
	default:
		return fmt.Errorf("msemu: no team or chat %q", teamOrChatID)
	}
	return nil
}

// AddBot installs a bot in a team or chat without telling it, so that the
// bot can post there. Install also tells the bot.
func (e *Emulator) AddBot(teamOrChatID, botAppID string) error {
	if botAppID == "" {
		return errors.New("msemu: AddBot needs the bot's app id")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.teams[teamOrChatID] != nil:
		e.teams[teamOrChatID].bots[botAppID] = true
	case e.chats[teamOrChatID] != nil:
		e.chats[teamOrChatID].bots[botAppID] = true
	default:
		return fmt.Errorf("msemu: no team or chat %q", teamOrChatID)
	}
	return nil
}

// checkNewConversationID refuses an id in use or of the wrong form.
// Callers hold e.mu.
func (e *Emulator) checkNewConversationID(id, infix string) error {
	if !strings.HasPrefix(id, "19:") && !strings.HasPrefix(id, "a:") || !strings.Contains(id, infix) || strings.Contains(id, ";") {
		return fmt.Errorf("msemu: %q is not a conversation id of this kind", id)
	}
	if _, ok := e.conversation(id); ok {
		return fmt.Errorf("msemu: conversation %s already exists", id)
	}
	return nil
}

// resolveMembers turns people references into Teams ids. Callers hold e.mu.
func (e *Emulator) resolveMembers(refs []string) ([]string, error) {
	var ids []string
	for _, ref := range refs {
		u := e.user(ref)
		if u == nil {
			return nil, fmt.Errorf("msemu: no person %q (add them with AddUser first)", ref)
		}
		if !slices.Contains(ids, u.ID) {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

// user finds a person by Teams id, AAD object id or user principal name.
// Callers hold e.mu.
func (e *Emulator) user(ref string) *Member {
	if u := e.users[ref]; u != nil {
		return u
	}
	for _, u := range e.users {
		if strings.EqualFold(u.AADObjectID, ref) || (u.UserPrincipalName != "" && strings.EqualFold(u.UserPrincipalName, ref)) {
			return u
		}
	}
	return nil
}

// conversation is a channel (possibly one thread of it) or a chat.
type conversation struct {
	id      string // without ";messageid=…"
	thread  string // the root activity id after ";messageid=", if any
	typ     string // "channel", "groupChat" or "personal"
	team    *team
	channel Channel // for a channel; Name is empty for General
	chat    *chat
}

// conversation resolves a conversation id as the Bot Connector gets it.
// Callers hold e.mu.
func (e *Emulator) conversation(id string) (conversation, bool) {
	base, thread, _ := strings.Cut(id, ";messageid=")
	if t := e.teams[base]; t != nil {
		return conversation{id: base, thread: thread, typ: "channel", team: t, channel: Channel{ID: base}}, true
	}
	for _, t := range e.teams {
		for _, ch := range t.Channels {
			if ch.ID == base {
				return conversation{id: base, thread: thread, typ: "channel", team: t, channel: ch}, true
			}
		}
	}
	if c := e.chats[base]; c != nil {
		return conversation{id: base, thread: thread, typ: c.Type, chat: c}, true
	}
	return conversation{}, false
}

func (c conversation) members() []string {
	if c.team != nil {
		return c.team.Members
	}
	return c.chat.Members
}

func (c conversation) hasBot(appID string) bool {
	if c.team != nil {
		return c.team.bots[appID]
	}
	return c.chat.bots[appID]
}

// threadID makes a conversation id such as 19:…@thread.tacv2.
func threadID(kind string) string {
	return "19:" + hex.EncodeToString(randomBytes(16)) + "@thread." + kind
}

func cloneTeam(t Team) Team {
	t.Channels = slices.Clone(t.Channels)
	t.Members = slices.Clone(t.Members)
	return t
}
