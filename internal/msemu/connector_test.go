package msemu

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cardActivity is a message with an Adaptive Card saying text.
func cardActivity(text string) string {
	return `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"` + text + `"}]}}]}`
}

// postCard posts a card to a conversation and returns its activity id.
func postCard(t *testing.T, emu *Emulator, token, conversationID, text string) string {
	t.Helper()
	a := do(t, http.MethodPost, connectorURL(emu, "conversations", conversationID, "activities"), bearer(token), cardActivity(text))
	if a.status != http.StatusCreated {
		t.Fatalf("post to %s: %d %s", conversationID, a.status, a.body)
	}
	id, _ := a.json(t)["id"].(string)
	if id == "" {
		t.Fatalf("post answered %s, without an id", a.body)
	}
	return id
}

func cardText(t *testing.T, activity json.RawMessage) string {
	t.Helper()
	card, err := AdaptiveCard(activity)
	check(t, err)
	var c struct{ Body []struct{ Text string } }
	check(t, json.Unmarshal(card, &c))
	return c.Body[0].Text
}

func TestPostAndUpdateActivities(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)

	first := postCard(t, w.emu, token, w.deploys, "pending")
	second := postCard(t, w.emu, token, w.deploys, "other")
	reply := postCard(t, w.emu, token, w.deploys+";messageid="+first, "a reply in the thread")
	inChat := postCard(t, w.emu, token, w.chat.ID, "in a chat")
	if !(first < second && second < reply) {
		t.Errorf("ids %s, %s, %s do not increase", first, second, reply)
	}

	// Updated once addressed by the channel, once by the thread.
	for i, conv := range []string{w.deploys, w.deploys + ";messageid=" + first} {
		a := do(t, http.MethodPut, connectorURL(w.emu, "conversations", conv, "activities", first), bearer(token), cardActivity([]string{"approved", "approved by alice"}[i]))
		if a.status != http.StatusOK || a.json(t)["id"] != first {
			t.Fatalf("update via %s: %d %s", conv, a.status, a.body)
		}
	}

	got := w.emu.Activities(w.deploys)
	if len(got) != 3 {
		t.Fatalf("Activities(Deploys) has %d activities, want 3", len(got))
	}
	summary := func(p Posted) []string {
		s := []string{p.ID, p.ConversationID, p.BotAppID, cardText(t, p.Activity)}
		for _, u := range p.Updates {
			s = append(s, cardText(t, u))
		}
		return append(s, "latest: "+cardText(t, p.Latest()))
	}
	want := [][]string{
		{first, w.deploys, botID, "pending", "approved", "approved by alice", "latest: approved by alice"},
		{second, w.deploys, botID, "other", "latest: other"},
		{reply, w.deploys + ";messageid=" + first, botID, "a reply in the thread", "latest: a reply in the thread"},
	}
	var gotSummary [][]string
	for _, p := range got {
		gotSummary = append(gotSummary, summary(p))
	}
	if diff := cmp.Diff(want, gotSummary); diff != "" {
		t.Errorf("activities (-want +got):\n%s", diff)
	}
	if n := len(w.emu.Activities(w.deploys + ";messageid=" + first)); n != 3 {
		t.Errorf("Activities of a thread id gives %d, want its channel's 3", n)
	}
	if chat := w.emu.Activities(w.chat.ID); len(chat) != 1 || chat[0].ID != inChat {
		t.Errorf("Activities(chat) = %+v, want %s", chat, inChat)
	}
	if general := w.emu.Activities(w.team.ID); len(general) != 0 {
		t.Errorf("General has %d activities, want none", len(general))
	}
}

func TestConnectorRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)
	posted := postCard(t, w.emu, token, w.deploys, "card")
	graph := postForm(t, w.emu.TokenURL(w.emu.TenantID()), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {botID}, "client_secret": {botSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	}).json(t)["access_token"].(string)
	forged, err := w.emu.Token(TokenOptions{Audience: "https://api.botframework.com", Claims: map[string]any{"appid": botID}})
	check(t, err)
	other := must[Team](t)(w.emu.AddTeam(Team{Name: "Elsewhere", Members: []string{w.alice.ID}}))

	tests := []struct {
		name, method, url, auth, body string
		status                        int
		code                          string
	}{
		{"no token", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "", cardActivity("x"), 401, ""},
		{"not a bearer token", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "Basic " + botSecret, cardActivity("x"), 401, ""},
		{"a Graph token", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "Bearer " + graph, cardActivity("x"), 401, ""},
		{"a token not from the identity platform", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "Bearer " + forged, cardActivity("x"), 401, ""},
		{"unknown conversation", "POST", connectorURL(w.emu, "conversations", "19:nothing@thread.tacv2", "activities"), "Bearer " + token, cardActivity("x"), 404, "ConversationNotFound"},
		{"unknown thread", "POST", connectorURL(w.emu, "conversations", w.deploys+";messageid=1", "activities"), "Bearer " + token, cardActivity("x"), 404, "ConversationNotFound"},
		{"bot not in the team", "POST", connectorURL(w.emu, "conversations", other.ID, "activities"), "Bearer " + token, cardActivity("x"), 403, "BotNotInConversationRoster"},
		{"not JSON", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "Bearer " + token, "{", 400, "BadArgument"},
		{"not a message", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "Bearer " + token, `{"type":"event"}`, 400, "BadArgument"},
		{"over 28 KB", "POST", connectorURL(w.emu, "conversations", w.deploys, "activities"), "Bearer " + token, cardActivity(strings.Repeat("x", 28*1024)), 413, "MessageSizeTooBig"},
		{"update of an unknown activity", "PUT", connectorURL(w.emu, "conversations", w.deploys, "activities", "42"), "Bearer " + token, cardActivity("x"), 404, "ActivityNotFoundInConversation"},
		{"update in another channel", "PUT", connectorURL(w.emu, "conversations", w.team.ID, "activities", posted), "Bearer " + token, cardActivity("x"), 404, "ActivityNotFoundInConversation"},
		{"member of an unknown conversation", "GET", connectorURL(w.emu, "conversations", "19:nothing@thread.tacv2", "members", w.alice.ID), "Bearer " + token, "", 404, "ConversationNotFound"},
		{"channels of an unknown team", "GET", connectorURL(w.emu, "teams", w.deploys, "conversations"), "Bearer " + token, "", 404, "ConversationNotFound"},
		{"channels of a team without the bot", "GET", connectorURL(w.emu, "teams", other.ID, "conversations"), "Bearer " + token, "", 403, "BotNotInConversationRoster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			a := do(t, tt.method, tt.url, h, tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status == http.StatusUnauthorized {
				if msg := a.json(t)["message"]; msg != "Authorization has been denied for this request." {
					t.Errorf("message = %v", msg)
				}
				return
			}
			if code := a.errorCode(t); code != tt.code {
				t.Errorf("code %q, want %q", code, tt.code)
			}
		})
	}
	if got := w.emu.Activities(w.deploys); len(got) != 1 || len(got[0].Updates) != 0 {
		t.Errorf("refused requests changed the channel: %+v", got)
	}
}

func TestConnectorRefusesExpiredToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)
	postCard(t, w.emu, token, w.deploys, "while valid")
	w.clock.Advance(defaultTokenLifetime + time.Second)
	a := do(t, http.MethodPost, connectorURL(w.emu, "conversations", w.deploys, "activities"), bearer(token), cardActivity("x"))
	if a.status != http.StatusUnauthorized {
		t.Errorf("status %d with an expired token, want 401", a.status)
	}
	postCard(t, w.emu, botToken(t, w.emu), w.deploys, "with a new token")
}

func TestGetMember(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)
	alice := map[string]any{
		"id": w.alice.ID, "name": "Alice Example", "aadObjectId": w.alice.AADObjectID,
		"email": "alice@corp.example", "userPrincipalName": "alice@corp.example",
		"givenName": "Alice", "surname": "Example", "tenantId": DefaultTenantID, "userRole": "user",
	}
	tests := []struct {
		name, conversation, member string
		want                       map[string]any // nil: not a member
	}{
		{"by Teams id in a channel", w.deploys, w.alice.ID, alice},
		{"by object id in the team", w.team.ID, w.alice.AADObjectID, alice},
		{"by user principal name in a thread", w.deploys + ";messageid=1", "ALICE@corp.example", alice},
		{"in a chat", w.chat.ID, w.alice.ID, alice},
		{"few fields", w.team.ID, w.bob.ID, map[string]any{
			"id": w.bob.ID, "name": "Bob Example", "aadObjectId": w.bob.AADObjectID,
			"userPrincipalName": "bob@corp.example", "tenantId": DefaultTenantID, "userRole": "user",
		}},
		{"in the tenant, not in the team", w.deploys, w.carol.ID, nil},
		{"not in the tenant", w.deploys, "29:nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, http.MethodGet, connectorURL(w.emu, "conversations", tt.conversation, "members", tt.member), bearer(token), "")
			if tt.want == nil {
				if a.status != http.StatusNotFound || a.errorCode(t) != "MemberNotFoundInConversation" {
					t.Errorf("got %d %s, want 404 MemberNotFoundInConversation", a.status, a.body)
				}
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if diff := cmp.Diff(tt.want, a.json(t)); diff != "" {
				t.Errorf("member (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTeamChannels(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := do(t, http.MethodGet, connectorURL(w.emu, "teams", w.team.ID, "conversations"), bearer(botToken(t, w.emu)), "")
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	want := map[string]any{"conversations": []any{
		map[string]any{"id": w.team.ID, "name": nil},
		map[string]any{"id": w.deploys, "name": "Deploys"},
	}}
	if diff := cmp.Diff(want, a.json(t)); diff != "" {
		t.Errorf("channels (-want +got):\n%s", diff)
	}
}

func TestConnectorFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)
	check(t, w.emu.FailNext(2, http.StatusBadGateway))
	check(t, w.emu.Throttle(1, 1500*time.Millisecond))
	check(t, w.emu.FailNext(1, http.StatusServiceUnavailable))

	send := func() answer {
		return do(t, http.MethodPost, connectorURL(w.emu, "conversations", w.deploys, "activities"), bearer(token), cardActivity("x"))
	}
	// A request that does not authenticate consumes no fault.
	if a := do(t, http.MethodPost, connectorURL(w.emu, "conversations", w.deploys, "activities"), nil, cardActivity("x")); a.status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", a.status)
	}
	for i, want := range []struct {
		status     int
		code       string
		retryAfter string
	}{
		{502, "ServiceError", ""},
		{502, "ServiceError", ""},
		{429, "Throttled", "2"},
		{503, "", ""},
		{201, "", ""},
	} {
		a := send()
		if a.status != want.status || a.header.Get("Retry-After") != want.retryAfter {
			t.Fatalf("request %d: %d Retry-After %q, want %d %q", i, a.status, a.header.Get("Retry-After"), want.status, want.retryAfter)
		}
		if want.code != "" && a.errorCode(t) != want.code {
			t.Errorf("request %d: code %q, want %q", i, a.errorCode(t), want.code)
		}
		if want.status == 503 && len(a.body) != 0 {
			t.Errorf("503 has a body: %s", a.body)
		}
	}
	if n := len(w.emu.Activities(w.deploys)); n != 1 {
		t.Errorf("%d activities recorded, want only the one that succeeded", n)
	}
	if n := w.emu.ConnectorRequests(); n != 6 {
		t.Errorf("ConnectorRequests = %d, want 6", n)
	}
}

func TestFaultArguments(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	for _, err := range []error{
		emu.FailNext(0, 500),
		emu.FailNext(1, 200),
		emu.FailNext(1, 600),
		emu.Throttle(1, -time.Second),
		emu.FailWebhookNext(1, 302),
	} {
		if err == nil {
			t.Error("a bad fault was accepted")
		}
	}
}

func TestAdaptiveCard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, activity, want string
	}{
		{"the card after another attachment", `{"attachments":[{"contentType":"image/png","contentUrl":"x"},{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard"}}]}`, `{"type":"AdaptiveCard"}`},
		{"no card", `{"type":"message","text":"hi"}`, ""},
		{"not JSON", `{`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AdaptiveCard(json.RawMessage(tt.activity))
			if tt.want == "" {
				if err == nil {
					t.Errorf("AdaptiveCard = %s, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("AdaptiveCard = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestConnectorFaultAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		code   string // empty: no body
	}{
		{400, "BadArgument"},
		{401, "BotNotRegistered"},
		{403, "BotDisabledByAdmin"},
		{404, "ConversationNotFound"},
		{412, "PreconditionFailed"},
		{413, "MessageSizeTooBig"},
		{429, "Throttled"},
		{500, "ServiceError"},
		{502, "ServiceError"},
		{503, ""},
		{504, ""},
		{409, "Conflict"},
		{499, "Status499"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			rec := httptest.NewRecorder()
			connectorFault(rec, &fault{status: tt.status})
			a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			if a.status != tt.status || a.header.Get("Retry-After") != "" {
				t.Fatalf("got %d Retry-After %q", a.status, a.header.Get("Retry-After"))
			}
			if tt.code == "" {
				if len(a.body) != 0 {
					t.Errorf("body %s, want none", a.body)
				}
				return
			}
			if code := a.errorCode(t); code != tt.code {
				t.Errorf("code %q, want %q", code, tt.code)
			}
		})
	}
}
