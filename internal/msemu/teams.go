package msemu

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Tokens that Teams sends are valid from five minutes before they are
// issued until an hour after.
const (
	inboundTokenLifetime = time.Hour
	inboundNotBefore     = 5 * time.Minute
)

// Response is a bot's answer to an activity.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Signing says how Token signs.
type Signing int

const (
	// SignCurrent signs with the current published key, endorsed for
	// msteams: what Teams sends.
	SignCurrent Signing = iota
	// SignUnknownKey signs with an RSA key that the JWKS does not have.
	SignUnknownKey
	// SignUnendorsedKey signs with a published key that is endorsed for
	// other channels only.
	SignUnendorsedKey
	// SignNone makes an unsigned token: alg "none", empty signature.
	SignNone
	// SignHS256 signs with HMAC-SHA256 keyed with the current public key in
	// PEM form (algorithm confusion).
	SignHS256
)

// TokenOptions describes the token that comes with an activity. With only
// Audience set it is the token Teams sends; each other field forges one
// defect.
type TokenOptions struct {
	// Audience is the aud claim: the bot's app id. Required.
	Audience string
	// ServiceURL is the serviceurl claim; default ServiceURL().
	ServiceURL string
	// Issuer is the iss claim; default https://api.botframework.com.
	Issuer string
	// IssuedAt is the iat claim; default now. nbf is five minutes earlier,
	// exp an hour later.
	IssuedAt time.Time
	// Signing chooses the key and algorithm.
	Signing Signing
	// Claims are applied last: each sets a claim, or with a nil value
	// removes it.
	Claims map[string]any
}

// Token makes a token for an activity to a bot, signed as opts says.
func (e *Emulator) Token(opts TokenOptions) (string, error) {
	if opts.Audience == "" {
		return "", errors.New("msemu: Token needs the bot's app id as Audience")
	}
	if opts.ServiceURL == "" {
		opts.ServiceURL = e.ServiceURL()
	}
	if opts.Issuer == "" {
		opts.Issuer = botFrameworkIssuer
	}
	if opts.IssuedAt.IsZero() {
		opts.IssuedAt = e.clock()
	}
	iat := opts.IssuedAt.Unix()
	claims := map[string]any{
		"serviceurl": opts.ServiceURL,
		"nbf":        iat - int64(inboundNotBefore.Seconds()),
		"exp":        iat + int64(inboundTokenLifetime.Seconds()),
		"iat":        iat,
		"iss":        opts.Issuer,
		"aud":        opts.Audience,
	}
	for k, v := range opts.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	switch opts.Signing {
	case SignCurrent:
		return e.currentKey().rs256(claims)
	case SignUnknownKey:
		return e.unknown.rs256(claims)
	case SignUnendorsedKey:
		return e.unendorsed.rs256(claims)
	case SignNone:
		return e.currentKey().unsigned(claims)
	case SignHS256:
		return e.currentKey().hs256(claims)
	}
	return "", fmt.Errorf("msemu: unknown Signing %d", opts.Signing)
}

// Send posts an activity to a bot's messaging endpoint as Teams does, with
// "Authorization: Bearer <token>" (none when token is empty), and returns
// the bot's answer.
func (e *Emulator) Send(ctx context.Context, botURL string, activity any, token string) (Response, error) {
	if u, err := url.Parse(botURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Response{}, fmt.Errorf("msemu: bot URL %q is not an absolute http(s) URL", botURL)
	}
	body, err := json.Marshal(activity)
	if err != nil {
		return Response{}, fmt.Errorf("msemu: encode activity: %w", err)
	}
	var meta struct {
		Type         string `json:"type"`
		Conversation struct {
			ID       string `json:"id"`
			TenantID string `json:"tenantId"`
		} `json:"conversation"`
	}
	_ = json.Unmarshal(body, &meta) // only for the headers; any JSON may be sent
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, botURL, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("msemu: request to %s: %w", botURL, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Microsoft-SkypeBotApi (Microsoft-BotFramework 3.0)")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if meta.Conversation.ID != "" {
		req.Header.Set("x-ms-conversation-id", meta.Conversation.ID)
	}
	if meta.Conversation.TenantID != "" {
		req.Header.Set("x-ms-tenant-id", meta.Conversation.TenantID)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("msemu: send %s activity to %s: %w", meta.Type, botURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return Response{}, fmt.Errorf("msemu: read the answer of %s: %w", botURL, err)
	}
	e.logf("msemu: sent %s activity to %s -> %d", meta.Type, botURL, resp.StatusCode)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// InvokeOptions describes a person pressing an Action.Execute button.
type InvokeOptions struct {
	// User is who presses: a Teams id, AAD object id or user principal
	// name of a member of the conversation.
	User string
	// ConversationID is the channel (a team's id for General) or chat
	// where the card is; a thread id stands for its first card.
	ConversationID string
	// ReplyToID is the id the connector gave the posted card; in a channel
	// the invoke comes from the card's thread.
	ReplyToID string
	// Verb is the button's verb.
	Verb string
	// Data is the action's data with the card's input values merged in,
	// as Teams sends it.
	Data map[string]any
}

// Invoke sends the adaptiveCard/action invoke that Teams sends when
// opts.User presses a button, with a valid token, and returns the bot's
// answer.
func (e *Emulator) Invoke(ctx context.Context, botURL, botAppID string, opts InvokeOptions) (Response, error) {
	activity, err := e.InvokeActivity(botAppID, opts)
	if err != nil {
		return Response{}, err
	}
	token, err := e.Token(TokenOptions{Audience: botAppID})
	if err != nil {
		return Response{}, err
	}
	return e.Send(ctx, botURL, activity, token)
}

// InvokeActivity builds the invoke activity that Invoke sends, for tests
// that send it themselves (with a forged token, say).
func (e *Emulator) InvokeActivity(botAppID string, opts InvokeOptions) (map[string]any, error) {
	if botAppID == "" || opts.Verb == "" {
		return nil, errors.New("msemu: an invoke needs the bot's app id and a verb")
	}
	svc := e.ServiceURL()
	e.mu.Lock()
	defer e.mu.Unlock()
	conv, ok := e.conversation(opts.ConversationID)
	if !ok {
		return nil, fmt.Errorf("msemu: no conversation %q", opts.ConversationID)
	}
	u := e.user(opts.User)
	switch {
	case u == nil:
		return nil, fmt.Errorf("msemu: no person %q", opts.User)
	case !slices.Contains(conv.members(), u.ID):
		return nil, fmt.Errorf("msemu: %s is not a member of %s", u.Name, conv.id)
	case !conv.hasBot(botAppID):
		return nil, fmt.Errorf("msemu: bot %s is not installed in %s", botAppID, conv.id)
	}
	convID, replyTo := conv.id, cmp.Or(opts.ReplyToID, conv.thread)
	if replyTo != "" {
		p := e.findPost(conv.id, replyTo)
		if p == nil {
			return nil, fmt.Errorf("msemu: no activity %s was posted in %s", replyTo, conv.id)
		}
		if conv.typ == "channel" {
			convID = conv.id + ";messageid=" + threadRoot(p)
		}
	}
	data := maps.Clone(opts.Data)
	if data == nil {
		data = map[string]any{}
	}
	a := e.activity("invoke", svc, botAppID, conv, convID, u)
	a["name"] = "adaptiveCard/action"
	a["value"] = map[string]any{
		"action":  map[string]any{"type": "Action.Execute", "verb": opts.Verb, "data": data},
		"trigger": "manual",
	}
	if replyTo != "" {
		a["replyToId"] = replyTo
	}
	if conv.typ == "channel" {
		a["channelData"].(map[string]any)["source"] = map[string]any{"name": "message"}
	}
	return a, nil
}

// Install installs a bot in a team's General channel and tells the bot as
// Teams does: a conversationUpdate (teamMemberAdded, the bot among
// membersAdded), then an installationUpdate (add), from the team's first
// member. It fails when the bot does not answer both with 2xx; the bot
// stays installed.
func (e *Emulator) Install(ctx context.Context, botURL, botAppID, teamID string) error {
	activities, err := e.InstallActivities(botAppID, teamID)
	if err != nil {
		return err
	}
	if err := e.AddBot(teamID, botAppID); err != nil {
		return err
	}
	for _, a := range activities {
		token, err := e.Token(TokenOptions{Audience: botAppID})
		if err != nil {
			return err
		}
		res, err := e.Send(ctx, botURL, a, token)
		if err != nil {
			return err
		}
		if res.Status/100 != 2 {
			return fmt.Errorf("msemu: bot answered the %s with %d: %s", a["type"], res.Status, res.Body)
		}
	}
	return nil
}

// InstallActivities builds the activities that Install sends, without
// installing the bot.
func (e *Emulator) InstallActivities(botAppID, teamID string) ([]map[string]any, error) {
	if botAppID == "" {
		return nil, errors.New("msemu: installing needs the bot's app id")
	}
	svc := e.ServiceURL()
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.teams[teamID]
	if t == nil {
		return nil, fmt.Errorf("msemu: no team %q", teamID)
	}
	if len(t.Members) == 0 {
		return nil, fmt.Errorf("msemu: team %s has no member to install the bot", t.Name)
	}
	installer := e.users[t.Members[0]]
	conv, _ := e.conversation(t.ID)
	selected := map[string]any{"selectedChannel": map[string]any{"id": t.ID}}

	added := e.activity("conversationUpdate", svc, botAppID, conv, t.ID, installer)
	added["membersAdded"] = []any{map[string]any{"id": "28:" + botAppID, "name": e.opts.BotName}}
	cd := added["channelData"].(map[string]any)
	delete(cd, "channel")
	cd["settings"] = selected
	cd["eventType"] = "teamMemberAdded"

	install := e.activity("installationUpdate", svc, botAppID, conv, t.ID, installer)
	install["action"] = "add"
	cd = install["channelData"].(map[string]any)
	cd["settings"] = selected
	cd["source"] = map[string]any{"name": "message"}
	return []map[string]any{added, install}, nil
}

// activity builds what every activity from Teams has. Callers hold e.mu.
func (e *Emulator) activity(typ, serviceURL, botAppID string, conv conversation, convID string, from *Member) map[string]any {
	now := e.clock().UTC()
	tenant := e.opts.TenantID
	account := map[string]any{"id": convID, "conversationType": conv.typ, "tenantId": tenant}
	channelData := map[string]any{"tenant": map[string]any{"id": tenant}}
	switch conv.typ {
	case "channel":
		account["isGroup"] = true
		channel := map[string]any{"id": conv.channel.ID}
		if conv.channel.Name != "" {
			account["name"] = conv.channel.Name
			channel["name"] = conv.channel.Name
		}
		channelData["team"] = map[string]any{"id": conv.team.ID, "name": conv.team.Name, "aadGroupId": conv.team.AADGroupID}
		channelData["channel"] = channel
	case "groupChat":
		account["isGroup"] = true
		if conv.chat.Topic != "" {
			account["name"] = conv.chat.Topic
		}
	}
	return map[string]any{
		"type":           typ,
		"id":             "f:" + newUUID(),
		"timestamp":      now.Format("2006-01-02T15:04:05.000Z"),
		"localTimestamp": now.Format("2006-01-02T15:04:05.000-07:00"),
		"localTimezone":  "Etc/UTC",
		"serviceUrl":     serviceURL,
		"channelId":      "msteams",
		"from":           map[string]any{"id": from.ID, "name": from.Name, "aadObjectId": from.AADObjectID},
		"conversation":   account,
		"recipient":      map[string]any{"id": "28:" + botAppID, "name": e.opts.BotName},
		"entities": []any{map[string]any{
			"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Etc/UTC",
		}},
		"channelData": channelData,
		"locale":      "en-US",
	}
}

// threadRoot is the id of the thread's first activity: the post itself
// when it started a thread.
func threadRoot(p *post) string {
	if _, root, ok := strings.Cut(p.ConversationID, ";messageid="); ok {
		return root
	}
	return p.ID
}
