package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/card"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// invokeResponse is the answer to an adaptiveCard/action invoke
// (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards):
// a card that replaces the clicked one, or an error the client shows.
type invokeResponse struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Value      any    `json:"value"`
}

const errorType = "application/vnd.microsoft.error"

type invokeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// invokeValue is the value of an adaptiveCard/action invoke: the
// Action.Execute clicked, its data merged with the card's inputs.
type invokeValue struct {
	Action struct {
		Type string                     `json:"type"`
		Verb string                     `json:"verb"`
		Data map[string]json.RawMessage `json:"data"`
	} `json:"action"`
}

// action records the answer a person gave with a card's button.
func (b *Bot) action(ctx context.Context, a *activity) reply {
	var v invokeValue
	if err := json.Unmarshal(a.Value, &v); err != nil || a.ID == "" {
		return badRequest("The card's action could not be read.", "bad request: unreadable action")
	}
	var decision approval.Decision
	switch v.Action.Verb {
	case card.VerbApprove:
		decision = approval.Approve
	case card.VerbReject:
		decision = approval.Reject
	default:
		return badRequest(fmt.Sprintf("The card's action %q is not one Gatehouse knows.", v.Action.Verb), "bad request: unknown verb")
	}
	data := make(map[string]string, len(v.Action.Data))
	for k, raw := range v.Action.Data {
		data[k] = text(raw)
	}
	gateID := data[card.GateKey]
	if gateID == "" {
		return badRequest("The card names no approval gate.", "bad request: no gate")
	}
	info, err := b.o.Gates.Info(ctx, gateID)
	if errors.Is(err, gates.ErrNotFound) {
		return unknownGate(gateID)
	}
	if err != nil {
		return internalError(fmt.Errorf("gate %s: %w", gateID, err))
	}
	fields := map[string]string{}
	for _, f := range info.Fields {
		if val, ok := data[f.ID]; ok {
			fields[f.ID] = val
		}
	}
	m, err := b.o.Connector.Member(ctx, a.ServiceURL, a.Conversation.ID, a.From.ID)
	if err != nil {
		return internalError(err)
	}
	// Who clicked is what the tenant's directory says of the member, never
	// what the activity claims; the user principal name is in a verified
	// domain, the mail attribute need not be.
	if m.AADObjectID == "" || (a.From.AADObjectID != "" && !strings.EqualFold(a.From.AADObjectID, m.AADObjectID)) {
		return reply{
			status: http.StatusOK,
			body: invokeResponse{StatusCode: http.StatusForbidden, Type: errorType, Value: invokeError{
				Code: "Forbidden", Message: "Gatehouse could not tell who you are from your organization's directory.",
			}},
			result: "refused: the member's directory entry does not match the activity",
		}
	}
	actor := approval.Actor{TeamsID: m.AADObjectID, Name: first(m.Name, a.From.Name), Email: first(m.UserPrincipalName, m.Email)}
	answered, err := b.o.Gates.Answer(ctx, gateID, gates.Answer{
		ID:       "teams:" + a.ID,
		Actor:    actor,
		Via:      approval.ViaTeams,
		Decision: decision,
		Fields:   fields,
		Comment:  data[card.CommentKey],
		At:       b.o.Now(),
	})
	if errors.Is(err, gates.ErrNotFound) {
		return unknownGate(gateID)
	}
	if err != nil {
		return internalError(fmt.Errorf("answer gate %s: %w", gateID, err))
	}
	// The card shows the inputs as sent, the reason with them.
	values := maps.Clone(fields)
	values[card.CommentKey] = data[card.CommentKey]
	body, err := card.Answered(info, answered, values)
	if err != nil {
		return internalError(fmt.Errorf("card of gate %s: %w", gateID, err))
	}
	return reply{
		status: http.StatusOK,
		body:   invokeResponse{StatusCode: http.StatusOK, Type: card.ContentType, Value: body},
		result: string(answered.Result),
	}
}

func badRequest(message, result string) reply {
	return reply{
		status: http.StatusOK,
		body:   invokeResponse{StatusCode: http.StatusBadRequest, Type: errorType, Value: invokeError{Code: "BadRequest", Message: message}},
		result: result,
	}
}

func unknownGate(id string) reply {
	return badRequest(fmt.Sprintf("Gatehouse does not know the approval gate %s; it may have been removed.", id), "bad request: unknown gate")
}

// internalError answers a failure on the app's side; err is logged, and
// the person is told only to try again.
func internalError(err error) reply {
	return reply{
		status: http.StatusOK,
		body: invokeResponse{StatusCode: http.StatusInternalServerError, Type: errorType, Value: invokeError{
			Code:    "InternalServerError",
			Message: "Gatehouse could not record your answer. Please try again.",
		}},
		result: "failed",
		err:    err,
	}
}

// text is an input's value as text. Teams sends inputs as strings
// (Input.Toggle "true"/"false", a multi-select "a,b"); other JSON is read
// as it is written, and a list of strings is joined with commas.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, ",")
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// first returns the first of its arguments that is not empty.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
