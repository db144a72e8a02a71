package teams

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// generalName is the name given to a team's General channel, which the
// Connector lists without one.
const generalName = "General"

// conversationEvent remembers or forgets conversations on a
// conversationUpdate or installationUpdate activity
// (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events).
// It returns what it did, for the log.
func (b *Bot) conversationEvent(ctx context.Context, a *activity) (string, error) {
	if _, err := b.o.Connector.checkServiceURL(a.ServiceURL); err != nil {
		return "", err
	}
	if a.ChannelData.Team.ID != "" {
		return b.teamEvent(ctx, a)
	}
	return b.chatEvent(ctx, a)
}

// teamEvent handles an event in a team.
func (b *Bot) teamEvent(ctx context.Context, a *activity) (string, error) {
	teamID := a.ChannelData.Team.ID
	switch {
	case b.removesBot(a):
		if err := b.o.Store.RemoveTeam(ctx, teamID); err != nil {
			return "", err
		}
		return "team forgotten", nil
	case b.addsBot(a):
		return b.syncTeam(ctx, a)
	}
	switch ch := a.ChannelData.Channel; a.ChannelData.EventType {
	case "channelCreated", "channelRenamed", "channelRestored":
		if ch.ID == "" {
			return "ignored: no channel", nil
		}
		name, err := b.teamName(ctx, a)
		if err != nil {
			return "", err
		}
		if err := b.o.Store.PutConversation(ctx, b.channel(a, name, ch.ID, ch.Name)); err != nil {
			return "", err
		}
		return "channel remembered", nil
	case "channelDeleted":
		if err := b.o.Store.RemoveConversation(ctx, ch.ID); err != nil {
			return "", err
		}
		return "channel forgotten", nil
	case "teamRenamed":
		return b.renameTeam(ctx, a)
	case "teamDeleted", "teamHardDeleted":
		if err := b.o.Store.RemoveTeam(ctx, teamID); err != nil {
			return "", err
		}
		return "team forgotten", nil
	}
	return "ignored", nil
}

// syncTeam remembers every channel of a team the bot was added to, and
// forgets the team's channels it remembered before.
func (b *Bot) syncTeam(ctx context.Context, a *activity) (string, error) {
	teamID := a.ChannelData.Team.ID
	name, err := b.teamName(ctx, a)
	if err != nil {
		return "", err
	}
	channels, err := b.o.Connector.Channels(ctx, a.ServiceURL, teamID)
	if err != nil {
		// Remember at least the conversation the bot was added in.
		if a.Conversation.ID != "" {
			if perr := b.o.Store.PutConversation(ctx, b.channel(a, name, a.Conversation.ID, a.Conversation.Name)); perr != nil {
				return "", fmt.Errorf("%w; and remember conversation %s: %w", err, a.Conversation.ID, perr)
			}
		}
		return "", err
	}
	if err := b.o.Store.RemoveTeam(ctx, teamID); err != nil {
		return "", err
	}
	for _, ch := range channels {
		if err := b.o.Store.PutConversation(ctx, b.channel(a, name, ch.ID, ch.Name)); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("team remembered with %d channels", len(channels)), nil
}

// renameTeam gives the team's remembered channels its new name.
func (b *Bot) renameTeam(ctx context.Context, a *activity) (string, error) {
	team := a.ChannelData.Team
	if team.Name == "" {
		return "ignored: no team name", nil
	}
	cs, err := b.o.Store.Conversations(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		if c.TeamID != team.ID {
			continue
		}
		c.TeamName, c.UpdatedAt = team.Name, b.o.Now()
		if err := b.o.Store.PutConversation(ctx, c); err != nil {
			return "", err
		}
	}
	return "team renamed", nil
}

// teamName is the team's name as the activity gives it, else as
// remembered (channel events do not carry it).
func (b *Bot) teamName(ctx context.Context, a *activity) (string, error) {
	team := a.ChannelData.Team
	if team.Name != "" {
		return team.Name, nil
	}
	cs, err := b.o.Store.Conversations(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		if c.TeamID == team.ID && c.TeamName != "" {
			return c.TeamName, nil
		}
	}
	return "", nil
}

// channel is the conversation of a team's channel.
func (b *Bot) channel(a *activity, teamName, id, name string) store.Conversation {
	if name == "" && id == a.ChannelData.Team.ID {
		name = generalName
	}
	return store.Conversation{
		ID:         id,
		ServiceURL: a.ServiceURL,
		TenantID:   tenant(a),
		Type:       "channel",
		TeamID:     a.ChannelData.Team.ID,
		TeamName:   teamName,
		Name:       name,
		UpdatedAt:  b.o.Now(),
	}
}

// chatEvent handles an event in a group or personal chat: the chat is
// remembered, unless the bot left it.
func (b *Bot) chatEvent(ctx context.Context, a *activity) (string, error) {
	if a.Conversation.ID == "" {
		return "ignored: no conversation", nil
	}
	if b.removesBot(a) {
		if err := b.o.Store.RemoveConversation(ctx, a.Conversation.ID); err != nil {
			return "", err
		}
		return "chat forgotten", nil
	}
	kind := a.Conversation.ConversationType
	if kind == "" {
		kind = "personal"
		if a.Conversation.IsGroup {
			kind = "groupChat"
		}
	}
	c := store.Conversation{
		ID:         a.Conversation.ID,
		ServiceURL: a.ServiceURL,
		TenantID:   tenant(a),
		Type:       kind,
		Name:       a.Conversation.Name,
		UpdatedAt:  b.o.Now(),
	}
	if err := b.o.Store.PutConversation(ctx, c); err != nil {
		return "", err
	}
	return "chat remembered", nil
}

// addsBot reports whether the activity says the bot was added.
func (b *Bot) addsBot(a *activity) bool {
	if a.Type == "installationUpdate" {
		return a.Action == "add" || a.Action == "add-upgrade"
	}
	return slices.ContainsFunc(a.MembersAdded, func(m account) bool { return b.isBot(a, m) })
}

// removesBot reports whether the activity says the bot was removed.
func (b *Bot) removesBot(a *activity) bool {
	if a.Type == "installationUpdate" {
		return a.Action == "remove" || a.Action == "remove-upgrade"
	}
	return slices.ContainsFunc(a.MembersRemoved, func(m account) bool { return b.isBot(a, m) })
}

// isBot reports whether m is this bot: "28:<app id>", or the activity's
// recipient.
func (b *Bot) isBot(a *activity, m account) bool {
	return m.ID != "" && (m.ID == "28:"+b.o.AppID || m.ID == a.Recipient.ID)
}

func tenant(a *activity) string {
	if a.ChannelData.Tenant.ID != "" {
		return a.ChannelData.Tenant.ID
	}
	return a.Conversation.TenantID
}
