package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/card"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Infos describes gates; the gates service is one.
type Infos interface {
	Info(ctx context.Context, id string) (gates.Info, error)
}

// CardStore is the part of store.Store that remembers posted cards.
type CardStore interface {
	PutCard(ctx context.Context, c store.Card) error
	Card(ctx context.Context, gateID string) (store.Card, error)
}

// PerformerOptions configures a Performer. Store and Gates are required;
// Connector is nil when the bot is not configured, Webhooks when no
// webhook is.
type PerformerOptions struct {
	Connector *Connector
	Webhooks  *Webhooks
	Store     CardStore
	Gates     Infos
	// RespondURL mints the signed link to a gate's response page, for the
	// cards posted to webhooks.
	RespondURL func(gates.Info) (string, error)
	Now        func() time.Time // default time.Now
}

// Performer performs the Teams items of the outbox (kinds
// gates.KindTeamsCard, KindTeamsUpdate and KindTeamsWebhook). Its errors
// are marked outbox.Permanent when retrying will not help, and carry the
// service's Retry-After (outbox.RetryAt).
type Performer struct {
	o PerformerOptions
}

// NewPerformer returns a Performer configured by o.
func NewPerformer(o PerformerOptions) *Performer {
	if o.Webhooks == nil {
		o.Webhooks = NewWebhooks(nil, nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Performer{o: o}
}

// Perform performs one item.
func (p *Performer) Perform(ctx context.Context, it store.OutboxItem) error {
	err := p.perform(ctx, it)
	if err == nil {
		return nil
	}
	switch j := p.judge(err); {
	case j.permanent:
		return outbox.Permanent(err)
	case !j.notBefore.IsZero():
		return outbox.RetryAt(err, j.notBefore)
	}
	return err
}

func (p *Performer) perform(ctx context.Context, it store.OutboxItem) error {
	var item gates.TeamsItem
	if err := json.Unmarshal(it.Payload, &item); err != nil || item.Gate == "" {
		return unfixable("teams outbox item %s: the payload is not a Teams item", it.Key)
	}
	switch it.Kind {
	case gates.KindTeamsCard:
		return p.postCard(ctx, item)
	case gates.KindTeamsUpdate:
		return p.updateCard(ctx, item)
	case gates.KindTeamsWebhook:
		return p.postLinks(ctx, item)
	}
	return unfixable("teams outbox item %s: kind %q is not a Teams kind", it.Key, it.Kind)
}

// postCard posts the gate's card to a conversation of the bot and
// remembers it, to update it when the gate settles.
//
// The Connector has no idempotency key: when the app stops after the post
// and before the card is remembered, the item is performed again and the
// card is posted twice. A card remembered for the same conversation means
// the post was done.
func (p *Performer) postCard(ctx context.Context, item gates.TeamsItem) error {
	t := item.Target
	if p.o.Connector == nil {
		return unfixable("post the card of gate %s: the Teams bot is not configured", item.Gate)
	}
	if t.ServiceURL == "" || t.ConversationID == "" {
		return unfixable("post the card of gate %s: the target names no conversation", item.Gate)
	}
	posted, err := p.o.Store.Card(ctx, item.Gate)
	switch {
	case err == nil && posted.ServiceURL == t.ServiceURL && posted.ConversationID == t.ConversationID:
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("post the card of gate %s: %w", item.Gate, err)
	}
	info, err := p.info(ctx, item.Gate)
	if err != nil {
		return err
	}
	build := card.Pending
	if approval.Status(info.View.Status).Settled() {
		build = card.Settled
	}
	body, err := build(info)
	if err != nil {
		return unfixable("build the card of gate %s: %w", item.Gate, err)
	}
	id, err := p.o.Connector.SendCard(ctx, t.ServiceURL, t.ConversationID, body)
	if err != nil {
		return fmt.Errorf("post the card of gate %s: %w", item.Gate, err)
	}
	// A failure here also posts the card again when the item is retried.
	if err := p.o.Store.PutCard(ctx, store.Card{
		GateID:         item.Gate,
		ServiceURL:     t.ServiceURL,
		ConversationID: t.ConversationID,
		ActivityID:     id,
		PostedAt:       p.o.Now(),
	}); err != nil {
		return fmt.Errorf("remember the card of gate %s: %w", item.Gate, err)
	}
	return nil
}

// updateCard replaces the gate's posted card with one showing the
// outcome. A gate without a posted card has nothing to update.
func (p *Performer) updateCard(ctx context.Context, item gates.TeamsItem) error {
	posted, err := p.o.Store.Card(ctx, item.Gate)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update the card of gate %s: %w", item.Gate, err)
	}
	if p.o.Connector == nil {
		return unfixable("update the card of gate %s: the Teams bot is not configured", item.Gate)
	}
	info, err := p.info(ctx, item.Gate)
	if err != nil {
		return err
	}
	body, err := card.Settled(info)
	if err != nil {
		return unfixable("build the card of gate %s: %w", item.Gate, err)
	}
	if err := p.o.Connector.UpdateCard(ctx, posted.ServiceURL, posted.ConversationID, posted.ActivityID, body); err != nil {
		return fmt.Errorf("update the card of gate %s: %w", item.Gate, err)
	}
	return nil
}

// postLinks posts a card of links to the gate's response page to a
// Workflows webhook. Webhooks have no idempotency key either: an item
// performed again after a stop may post twice.
func (p *Performer) postLinks(ctx context.Context, item gates.TeamsItem) error {
	name := item.Target.Webhook
	if name == "" {
		return unfixable("post the links of gate %s: the target names no webhook", item.Gate)
	}
	if p.o.RespondURL == nil {
		return unfixable("post the links of gate %s: response links are not configured", item.Gate)
	}
	info, err := p.info(ctx, item.Gate)
	if err != nil {
		return err
	}
	link, err := p.o.RespondURL(info)
	if err != nil {
		return unfixable("post the links of gate %s: mint the response link: %w", item.Gate, err)
	}
	body, err := card.Links(info, link)
	if err != nil {
		return unfixable("build the links card of gate %s: %w", item.Gate, err)
	}
	if err := p.o.Webhooks.Post(ctx, name, body); err != nil {
		return fmt.Errorf("post the links of gate %s: %w", item.Gate, err)
	}
	return nil
}

// info describes a gate.
func (p *Performer) info(ctx context.Context, id string) (gates.Info, error) {
	info, err := p.o.Gates.Info(ctx, id)
	if err != nil {
		return gates.Info{}, fmt.Errorf("gate %s: %w", id, err)
	}
	return info, nil
}

// permanentError is an error that retrying will not fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func unfixable(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// judgement says whether retrying an item can help, and not before when.
type judgement struct {
	permanent bool
	notBefore time.Time
}

// judge sorts a failure: a Retry-After is honoured; 4xx answers other
// than 408 and 429 (also from the token endpoint), a message too large, a
// service URL not allowed, an unknown webhook or gate, and a bad item will
// not get better; anything else (5xx, 408, 429, the network, the store) is
// retried.
func (p *Performer) judge(err error) judgement {
	var he *HTTPError
	if errors.As(err, &he) {
		if he.RetryAfter > 0 {
			return judgement{notBefore: p.o.Now().Add(he.RetryAfter)}
		}
		return judgement{permanent: permanentStatus(he.Status)}
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return judgement{permanent: permanentStatus(re.Response.StatusCode)}
	}
	var pe *permanentError
	permanent := errors.As(err, &pe) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrServiceURL) ||
		errors.Is(err, ErrUnknownWebhook) || errors.Is(err, gates.ErrNotFound)
	return judgement{permanent: permanent}
}

func permanentStatus(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}
