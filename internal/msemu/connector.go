package msemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	serviceURLPath = "/teams/"
	// maxMessageBytes is the largest activity Teams takes, as the
	// contract's 28 KB message limit.
	maxMessageBytes = 28 * 1024
	// adaptiveCardType is the content type of an Adaptive Card attachment.
	adaptiveCardType = "application/vnd.microsoft.card.adaptive"
)

// Posted is an activity that a bot sent through the Bot Connector.
type Posted struct {
	// ID is the activity id the connector answered with.
	ID string
	// ConversationID is the conversation as the bot addressed it: a
	// channel id starts a thread, a thread id ("…;messageid=…") replies
	// in it.
	ConversationID string
	// BotAppID is the app id of the bot's access token.
	BotAppID string
	// Activity is the body as the bot sent it.
	Activity json.RawMessage
	// Updates are the bodies of PUT …/activities/{id}, in order.
	Updates []json.RawMessage
	// At is when the connector took it.
	At time.Time
}

// Latest is the activity as it stands: the last update, or the original.
func (p Posted) Latest() json.RawMessage {
	if len(p.Updates) > 0 {
		return p.Updates[len(p.Updates)-1]
	}
	return p.Activity
}

// AdaptiveCard returns the content of the first Adaptive Card attachment
// of an activity (or of a Workflows webhook body, which has the same
// shape).
func AdaptiveCard(activity json.RawMessage) (json.RawMessage, error) {
	var a struct {
		Attachments []struct {
			ContentType string          `json:"contentType"`
			Content     json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(activity, &a); err != nil {
		return nil, fmt.Errorf("msemu: read activity: %w", err)
	}
	for _, at := range a.Attachments {
		if at.ContentType == adaptiveCardType {
			return at.Content, nil
		}
	}
	return nil, errors.New("msemu: the activity has no Adaptive Card attachment")
}

// post is a recorded activity. Callers hold e.mu to use it.
type post struct {
	Posted
	conversation string // the channel or chat, without ";messageid="
}

// Activities returns the activities posted in a channel (including replies
// in its threads) or chat, in the order posted. A thread id selects its
// channel.
func (e *Emulator) Activities(conversationID string) []Posted {
	base, _, _ := strings.Cut(conversationID, ";messageid=")
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Posted
	for _, p := range e.posts {
		if p.conversation == base {
			c := p.Posted
			c.Updates = slices.Clone(c.Updates)
			out = append(out, c)
		}
	}
	return out
}

// ConnectorRequests counts the requests the Bot Connector received,
// refused and faulted ones included.
func (e *Emulator) ConnectorRequests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.connectorRequests
}

func (e *Emulator) connectorRoutes(mux *http.ServeMux) {
	p := "/teams/v3/"
	mux.HandleFunc("POST "+p+"conversations/{conversationId}/activities", e.connector(e.sendToConversation))
	mux.HandleFunc("PUT "+p+"conversations/{conversationId}/activities/{activityId}", e.connector(e.updateActivity))
	mux.HandleFunc("GET "+p+"conversations/{conversationId}/members/{memberId}", e.connector(e.getMember))
	mux.HandleFunc("GET "+p+"teams/{teamId}/conversations", e.connector(e.teamChannels))
}

// connectorCall is one authenticated Bot Connector request.
type connectorCall struct {
	w     http.ResponseWriter
	r     *http.Request
	botID string
}

// connector authenticates a request as the Bot Connector does, then
// applies a pending fault or runs handle.
func (e *Emulator) connector(handle func(c *connectorCall)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.connectorRequests++
		e.mu.Unlock()
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		bot, err := e.verifyAccessToken(raw, botFrameworkResource)
		if !ok || err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Authorization has been denied for this request."})
			return
		}
		e.mu.Lock()
		f := takeFault(&e.faults)
		e.mu.Unlock()
		if f != nil {
			connectorFault(w, f)
			return
		}
		handle(&connectorCall{w: w, r: r, botID: bot.ClientID})
	}
}

// conversationFor resolves the call's conversation and checks that the bot
// is in it, answering the error itself when not. Callers hold e.mu.
func (e *Emulator) conversationFor(c *connectorCall, id string) (conversation, bool) {
	conv, ok := e.conversation(id)
	if !ok {
		writeJSON(c.w, http.StatusNotFound, errorBody("ConversationNotFound", "Conversation not found."))
		return conversation{}, false
	}
	if !conv.hasBot(c.botID) {
		writeJSON(c.w, http.StatusForbidden, errorBody("BotNotInConversationRoster", "The bot is not part of the conversation roster."))
		return conversation{}, false
	}
	return conv, true
}

// readActivity reads a message activity from the body, answering the error
// itself when it is not one.
func readActivity(c *connectorCall) (json.RawMessage, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBodyBytes))
	if err != nil || len(body) > maxMessageBytes {
		writeJSON(c.w, http.StatusRequestEntityTooLarge, errorBody("MessageSizeTooBig", "Message size too large."))
		return nil, false
	}
	var a struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		writeJSON(c.w, http.StatusBadRequest, errorBody("BadArgument", "The request body is not a valid activity: "+err.Error()))
		return nil, false
	}
	if a.Type != "message" {
		writeJSON(c.w, http.StatusBadRequest, errorBody("BadArgument", fmt.Sprintf("Activity type %q is not supported here; send a message.", a.Type)))
		return nil, false
	}
	return body, true
}

// sendToConversation is POST v3/conversations/{conversationId}/activities.
func (e *Emulator) sendToConversation(c *connectorCall) {
	body, ok := readActivity(c)
	if !ok {
		return
	}
	id := c.r.PathValue("conversationId")
	e.mu.Lock()
	defer e.mu.Unlock()
	conv, ok := e.conversationFor(c, id)
	if !ok {
		return
	}
	if conv.thread != "" && e.findPost(conv.id, conv.thread) == nil {
		writeJSON(c.w, http.StatusNotFound, errorBody("ConversationNotFound", "Conversation not found."))
		return
	}
	e.lastActivityID = max(e.lastActivityID+1, e.clock().UnixMilli())
	p := &post{
		Posted: Posted{
			ID:             strconv.FormatInt(e.lastActivityID, 10),
			ConversationID: id,
			BotAppID:       c.botID,
			Activity:       body,
			At:             e.clock(),
		},
		conversation: conv.id,
	}
	e.posts = append(e.posts, p)
	writeJSON(c.w, http.StatusCreated, map[string]string{"id": p.ID})
}

// updateActivity is PUT v3/conversations/{conversationId}/activities/{activityId}.
func (e *Emulator) updateActivity(c *connectorCall) {
	body, ok := readActivity(c)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	conv, ok := e.conversationFor(c, c.r.PathValue("conversationId"))
	if !ok {
		return
	}
	p := e.findPost(conv.id, c.r.PathValue("activityId"))
	if p == nil {
		writeJSON(c.w, http.StatusNotFound, errorBody("ActivityNotFoundInConversation", "Message does not exist in the thread."))
		return
	}
	p.Updates = append(p.Updates, body)
	writeJSON(c.w, http.StatusOK, map[string]string{"id": p.ID})
}

// findPost finds an activity posted in a channel or chat. Callers hold e.mu.
func (e *Emulator) findPost(conversationID, activityID string) *post {
	for _, p := range e.posts {
		if p.conversation == conversationID && p.ID == activityID {
			return p
		}
	}
	return nil
}

// teamsChannelAccount is a member as GET …/members/{memberId} answers.
type teamsChannelAccount struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	AADObjectID       string `json:"aadObjectId"`
	Email             string `json:"email,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	GivenName         string `json:"givenName,omitempty"`
	Surname           string `json:"surname,omitempty"`
	TenantID          string `json:"tenantId"`
	UserRole          string `json:"userRole"`
}

// getMember is GET v3/conversations/{conversationId}/members/{memberId},
// where the member is named by Teams id, AAD object id or user principal
// name.
func (e *Emulator) getMember(c *connectorCall) {
	e.mu.Lock()
	defer e.mu.Unlock()
	conv, ok := e.conversationFor(c, c.r.PathValue("conversationId"))
	if !ok {
		return
	}
	u := e.user(c.r.PathValue("memberId"))
	if u == nil || !slices.Contains(conv.members(), u.ID) {
		writeJSON(c.w, http.StatusNotFound, errorBody("MemberNotFoundInConversation", "Member not found in conversation."))
		return
	}
	writeJSON(c.w, http.StatusOK, teamsChannelAccount{
		ID:                u.ID,
		Name:              u.Name,
		AADObjectID:       u.AADObjectID,
		Email:             u.Email,
		UserPrincipalName: u.UserPrincipalName,
		GivenName:         u.GivenName,
		Surname:           u.Surname,
		TenantID:          e.opts.TenantID,
		UserRole:          "user",
	})
}

// channelInfo is one channel as GET v3/teams/{teamId}/conversations lists
// it; General's name is null.
type channelInfo struct {
	ID   string  `json:"id"`
	Name *string `json:"name"`
}

// teamChannels is GET v3/teams/{teamId}/conversations.
func (e *Emulator) teamChannels(c *connectorCall) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.teams[c.r.PathValue("teamId")]
	if t == nil {
		writeJSON(c.w, http.StatusNotFound, errorBody("ConversationNotFound", "Conversation not found."))
		return
	}
	if !t.bots[c.botID] {
		writeJSON(c.w, http.StatusForbidden, errorBody("BotNotInConversationRoster", "The bot is not part of the conversation roster."))
		return
	}
	list := []channelInfo{{ID: t.ID}}
	for _, ch := range t.Channels {
		list = append(list, channelInfo{ID: ch.ID, Name: &ch.Name})
	}
	writeJSON(c.w, http.StatusOK, map[string][]channelInfo{"conversations": list})
}
