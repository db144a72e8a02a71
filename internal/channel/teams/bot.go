package teams

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/google/uuid"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// maxActivityBytes bounds the body of an activity.
const maxActivityBytes = 256 << 10

// Gates is the part of the gates service the bot answers through.
type Gates interface {
	// Info describes a gate (gates.ErrNotFound for an unknown one): the
	// bot reads its field ids.
	Info(ctx context.Context, id string) (gates.Info, error)
	Answer(ctx context.Context, gateID string, a gates.Answer) (gates.Answered, error)
}

// ConversationStore is the part of store.Store in which the bot remembers
// the conversations it is in.
type ConversationStore interface {
	PutConversation(ctx context.Context, c store.Conversation) error
	RemoveConversation(ctx context.Context, id string) error
	RemoveTeam(ctx context.Context, teamID string) error
	Conversations(ctx context.Context) ([]store.Conversation, error)
}

// BotOptions configures a Bot. All but Now and Logger are required.
type BotOptions struct {
	AppID string
	// TenantID, when a GUID, is the only tenant whose activities are
	// taken.
	TenantID  string
	Verifier  *Verifier
	Connector *Connector
	Store     ConversationStore
	Gates     Gates
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default discards
}

// Bot serves the bot's messaging endpoint, POST /api/teams/messages.
type Bot struct {
	o BotOptions
}

// NewBot returns a bot configured by o.
func NewBot(o BotOptions) *Bot {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bot{o: o}
}

// activity is the part of a Bot Framework activity the bot reads.
type activity struct {
	Type           string           `json:"type"`
	ID             string           `json:"id"`
	Name           string           `json:"name"`
	Action         string           `json:"action"` // installationUpdate: add, remove, add-upgrade, remove-upgrade
	ServiceURL     string           `json:"serviceUrl"`
	ChannelID      string           `json:"channelId"`
	From           account          `json:"from"`
	Recipient      account          `json:"recipient"`
	Conversation   conversation     `json:"conversation"`
	MembersAdded   []account        `json:"membersAdded"`
	MembersRemoved []account        `json:"membersRemoved"`
	ChannelData    teamsChannelData `json:"channelData"`
	Value          json.RawMessage  `json:"value"`
}

type account struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	AADObjectID string `json:"aadObjectId"`
}

type conversation struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	ConversationType string `json:"conversationType"` // personal, groupChat, channel
	IsGroup          bool   `json:"isGroup"`
	TenantID         string `json:"tenantId"`
}

// teamsChannelData is the channelData Teams puts on its activities.
type teamsChannelData struct {
	EventType string `json:"eventType"`
	Team      struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"team"`
	Channel struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"channel"`
	Tenant struct {
		ID string `json:"id"`
	} `json:"tenant"`
}

// reply is how the bot answers an activity, and what it logs of it.
type reply struct {
	status int
	body   any    // JSON; nil for none
	result string // for the log
	err    error  // logged, never sent
}

// ServeHTTP verifies the activity's token, reads the activity, checks that
// the token covers it, and handles it.
func (b *Bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("use POST"))
		return
	}
	token, err := b.o.Verifier.Verify(ctx, r.Header.Get("Authorization"))
	if err != nil {
		b.refuse(ctx, w, nil, err)
		return
	}
	a, status, err := readActivity(w, r)
	if err != nil {
		b.o.Logger.WarnContext(ctx, "teams activity not readable", "status", status, "error", err)
		writeJSON(w, status, errorBody(err.Error()))
		return
	}
	if err := token.Check(a.ServiceURL, a.ChannelID); err != nil {
		b.refuse(ctx, w, a, err)
		return
	}
	if err := b.from(a); err != nil {
		b.refuse(ctx, w, a, err)
		return
	}
	rep := b.handle(ctx, a)
	attrs := []any{"type", a.Type, "name", a.Name, "id", a.ID, "conversation", a.Conversation.ID, "status", rep.status, "result", rep.result}
	if rep.err != nil {
		b.o.Logger.ErrorContext(ctx, "teams activity", append(attrs, "error", rep.err)...)
	} else {
		b.o.Logger.InfoContext(ctx, "teams activity", attrs...)
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	writeJSON(w, rep.status, rep.body)
}

// from refuses activities that are not from Microsoft Teams in the bot's
// tenant: other channels of the Azure Bot resource (Web Chat, Direct Line)
// let their clients say who is speaking.
func (b *Bot) from(a *activity) error {
	if a.ChannelID != "msteams" {
		return forbidden("only Microsoft Teams activities are taken, not channel %q", a.ChannelID)
	}
	if _, err := uuid.Parse(b.o.TenantID); err != nil {
		return nil
	}
	tenant := first(a.Conversation.TenantID, a.ChannelData.Tenant.ID)
	if !strings.EqualFold(tenant, b.o.TenantID) {
		return forbidden("the activity comes from tenant %q, not the bot's", tenant)
	}
	return nil
}

// refuse answers a request whose token does not do, or could not be
// checked (503).
func (b *Bot) refuse(ctx context.Context, w http.ResponseWriter, a *activity, err error) {
	var attrs []any
	if a != nil {
		attrs = append(attrs, "type", a.Type, "name", a.Name, "id", a.ID, "conversation", a.Conversation.ID)
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		b.o.Logger.ErrorContext(ctx, "teams activity not verified", append(attrs, "status", http.StatusServiceUnavailable, "error", err)...)
		writeJSON(w, http.StatusServiceUnavailable, errorBody("the request's token could not be checked; try again later"))
		return
	}
	b.o.Logger.WarnContext(ctx, "teams activity refused", append(attrs, "status", ae.Status, "reason", ae.Reason)...)
	writeJSON(w, ae.Status, errorBody(ae.Reason))
}

// readActivity reads the body as an activity. On error it returns the
// status to answer.
func readActivity(w http.ResponseWriter, r *http.Request) (*activity, int, error) {
	var a activity
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActivityBytes)).Decode(&a); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, errors.New("the activity is too large")
		}
		return nil, http.StatusBadRequest, errors.New("the body is not a JSON activity")
	}
	if a.Type == "" {
		return nil, http.StatusBadRequest, errors.New("the activity has no type")
	}
	return &a, 0, nil
}

// handle acts on a verified activity.
func (b *Bot) handle(ctx context.Context, a *activity) reply {
	switch a.Type {
	case "conversationUpdate", "installationUpdate":
		result, err := b.conversationEvent(ctx, a)
		if err != nil {
			return reply{status: http.StatusInternalServerError, body: errorBody("the event could not be recorded"), result: "failed", err: err}
		}
		return reply{status: http.StatusOK, result: result}
	case "invoke":
		if a.Name != "adaptiveCard/action" {
			return reply{status: http.StatusNotImplemented, result: "ignored: invoke not handled"}
		}
		return b.action(ctx, a)
	default: // messages (someone mentioned the bot) and other activities
		return reply{status: http.StatusOK, result: "ignored"}
	}
}

// errorBody is the JSON error body of the app's HTTP answers.
func errorBody(msg string) any {
	return map[string]string{"error": msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
