package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Kind is the kind of an effect; it is also the outbox item's Kind.
type Kind string

// The kinds of effect.
const (
	KindComment Kind = "comment" // post Body on the issue
	KindReact   Kind = "react"   // react with Content to comment CommentID
	KindClose   Kind = "close"   // close the issue with Reason
)

// Effect is one side effect on a GitHub issue, stored as an outbox item's
// JSON payload.
type Effect struct {
	Kind         Kind   `json:"kind"`
	Installation int64  `json:"installation"`
	Owner        string `json:"owner"`
	Repo         string `json:"repo"`
	Issue        int    `json:"issue"`
	CommentID    int64  `json:"comment_id,omitempty"` // react: the comment
	Content      string `json:"content,omitempty"`    // react: e.g. "+1"
	Body         string `json:"body,omitempty"`       // comment: starts with its audit marker line
	Reason       string `json:"reason,omitempty"`     // close: "completed" or "not_planned"
}

// reactions are the contents GitHub accepts for a reaction.
var reactions = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// Item returns the outbox item for e, due at once. key must be unique
// across the outbox; enqueueing an item whose key exists does nothing, which
// makes enqueueing idempotent.
func Item(gateID, key string, e Effect) (store.OutboxItem, error) {
	if gateID == "" || key == "" {
		return store.OutboxItem{}, errors.New("outbox item: gate id and key are required")
	}
	if err := e.validate(); err != nil {
		return store.OutboxItem{}, fmt.Errorf("outbox item %s: %w", key, err)
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return store.OutboxItem{}, fmt.Errorf("outbox item %s: %w", key, err)
	}
	return store.OutboxItem{GateID: gateID, Key: key, Kind: string(e.Kind), Payload: payload}, nil
}

// decode reads an item's effect back.
func decode(it store.OutboxItem) (Effect, error) {
	var e Effect
	if err := json.Unmarshal(it.Payload, &e); err != nil {
		return Effect{}, fmt.Errorf("payload: %w", err)
	}
	if string(e.Kind) != it.Kind {
		return Effect{}, fmt.Errorf("payload kind %q does not match the item's kind %q", e.Kind, it.Kind)
	}
	return e, e.validate()
}

func (e Effect) validate() error {
	if e.Installation <= 0 || e.Owner == "" || e.Repo == "" || e.Issue <= 0 {
		return fmt.Errorf("%s effect: installation, owner, repo and issue are required", e.Kind)
	}
	switch e.Kind {
	case KindComment:
		if _, ok := audit.ParseMarker(e.Body); !ok {
			return errors.New("comment effect: the body must start with an audit marker line")
		}
	case KindReact:
		if e.CommentID <= 0 {
			return errors.New("react effect: comment id is required")
		}
		if !slices.Contains(reactions, e.Content) {
			return fmt.Errorf("react effect: content %q is not one of %v", e.Content, reactions)
		}
	case KindClose:
		if e.Reason != "completed" && e.Reason != "not_planned" {
			return fmt.Errorf("close effect: reason %q is not completed or not_planned", e.Reason)
		}
	default:
		return fmt.Errorf("effect kind %q is not comment, react or close", e.Kind)
	}
	return nil
}
