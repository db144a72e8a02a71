package teams

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// maxKnown bounds the known targets an error lists.
const maxKnown = 10

// unresolvedError is gates.ErrUnknownChannel: a teams-channel names
// nothing the app knows, or more than one channel. Its text says what is
// known.
type unresolvedError struct{ msg string }

func (e *unresolvedError) Error() string        { return e.msg }
func (e *unresolvedError) Is(target error) bool { return target == gates.ErrUnknownChannel }

func unresolved(format string, args ...any) error {
	return &unresolvedError{msg: fmt.Sprintf(format, args...)}
}

// ConversationLister lists the conversations the bot remembers.
type ConversationLister interface {
	Conversations(ctx context.Context) ([]store.Conversation, error)
}

// ResolverOptions configures a Resolver.
type ResolverOptions struct {
	// Bot says whether the Teams bot is configured; Store is read only
	// then.
	Bot   bool
	Store ConversationLister
	// Webhooks are the names of the configured Workflows webhooks.
	Webhooks []string
}

// Resolver finds where a gate's Teams card goes.
type Resolver struct {
	o ResolverOptions
}

// NewResolver returns a Resolver configured by o.
func NewResolver(o ResolverOptions) *Resolver {
	return &Resolver{o: o}
}

// Resolve finds the target a teams-channel names: a configured webhook by
// name, else a conversation the bot is in by conversation id,
// "team/channel" or channel name (names compare case-insensitively). A
// name that matches nothing, or channels of several teams, is an error
// that is gates.ErrUnknownChannel.
func (r *Resolver) Resolve(ctx context.Context, name string) (gates.TeamsTarget, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return gates.TeamsTarget{}, unresolved("teams-channel is empty")
	}
	for _, w := range r.o.Webhooks {
		if strings.EqualFold(w, name) {
			return gates.TeamsTarget{Webhook: w}, nil
		}
	}
	if !r.o.Bot {
		if len(r.o.Webhooks) == 0 {
			return gates.TeamsTarget{}, unresolved("no Teams channel or webhook named %q is known to this app: neither the Teams bot (GATEHOUSE_TEAMS_APP_ID) nor Workflows webhooks (GATEHOUSE_TEAMS_WEBHOOKS) are configured", name)
		}
		return gates.TeamsTarget{}, unresolved("no Teams webhook named %q is configured; known: %s; the Teams bot is not configured, so channels cannot be named", name, known(r.o.Webhooks, nil))
	}
	cs, err := r.o.Store.Conversations(ctx)
	if err != nil {
		return gates.TeamsTarget{}, fmt.Errorf("resolve Teams channel %q: %w", name, err)
	}
	for _, c := range cs {
		if c.ID == name {
			return target(c), nil
		}
	}
	matches := filter(cs, func(c store.Conversation) bool {
		return c.TeamID != "" && strings.EqualFold(c.TeamName+"/"+c.Name, name)
	})
	if len(matches) == 0 {
		matches = filter(cs, func(c store.Conversation) bool { return c.Name != "" && strings.EqualFold(c.Name, name) })
	}
	switch len(matches) {
	case 0:
		return gates.TeamsTarget{}, unresolved("no Teams channel or webhook named %q is known to this app; known: %s; add the bot to the channel or configure GATEHOUSE_TEAMS_WEBHOOKS", name, known(r.o.Webhooks, cs))
	case 1:
		return target(matches[0]), nil
	}
	names := make([]string, len(matches))
	for i, c := range matches {
		names[i] = label(c) + " (" + c.ID + ")"
	}
	return gates.TeamsTarget{}, unresolved("several Teams channels are named %q: %s; name one as \"team/channel\" or by its conversation id", name, strings.Join(names, ", "))
}

func target(c store.Conversation) gates.TeamsTarget {
	return gates.TeamsTarget{ServiceURL: c.ServiceURL, ConversationID: c.ID}
}

func filter(cs []store.Conversation, keep func(store.Conversation) bool) []store.Conversation {
	var out []store.Conversation
	for _, c := range cs {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// label names a conversation as a teams-channel would: "team/channel",
// or a chat's name.
func label(c store.Conversation) string {
	if c.TeamID != "" {
		return c.TeamName + "/" + c.Name
	}
	return c.Name + " (chat)"
}

// known lists the webhooks and the named conversations, at most maxKnown.
func known(webhooks []string, cs []store.Conversation) string {
	var names []string
	for _, w := range slices.Sorted(slices.Values(webhooks)) {
		names = append(names, w+" (webhook)")
	}
	var convs []string
	for _, c := range cs {
		if c.Name != "" {
			convs = append(convs, label(c))
		}
	}
	slices.Sort(convs)
	names = append(names, convs...)
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > maxKnown:
		return strings.Join(names[:maxKnown], ", ") + fmt.Sprintf(", … (%d more)", len(names)-maxKnown)
	}
	return strings.Join(names, ", ")
}
