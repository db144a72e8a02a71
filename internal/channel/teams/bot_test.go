package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/card"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/store"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

// fakeGates answers as its fields say and records the answers.
type fakeGates struct {
	mu       sync.Mutex
	infos    map[string]gates.Info
	answered gates.Answered // Gate defaults to the gate's info
	err      error
	answers  []gates.Answer
}

func (f *fakeGates) Info(_ context.Context, id string) (gates.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.infos[id]
	if !ok {
		return gates.Info{}, gates.ErrNotFound
	}
	return info, nil
}

func (f *fakeGates) Answer(_ context.Context, gateID string, a gates.Answer) (gates.Answered, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return gates.Answered{}, f.err
	}
	f.answers = append(f.answers, a)
	res := f.answered
	if res.Gate.ID == "" {
		res.Gate = f.infos[gateID]
	}
	return res, nil
}

func testInfo(status string) gates.Info {
	return gates.Info{
		ID:          "g1",
		Repository:  "acme/app",
		Title:       "Deploy acme/app to production",
		IssueNumber: 7,
		IssueURL:    "https://github.com/acme/app/issues/7",
		Run:         api.Run{Workflow: "deploy", Job: "prod", Number: 12, URL: "https://github.com/acme/app/actions/runs/1"},
		Fields: fields.Schema{
			{ID: "ticket", Type: fields.String},
			{ID: "notify", Type: fields.Boolean},
			{ID: "regions", Type: fields.Multiselect, Values: []string{"eu", "us"}},
		},
		MinimumApprovals: 1,
		View:             api.Gate{ID: "g1", Status: status, MinimumApprovals: 1},
	}
}

// botEnv is a bot on a fake of the Microsoft services, a SQLite store and
// fake gates.
type botEnv struct {
	ms    *fakeMS
	clock *testclock.Clock
	store *sqlite.Store
	gates *fakeGates
	bot   *Bot
	logs  *bytes.Buffer
}

func newBotEnv(t *testing.T) *botEnv {
	t.Helper()
	ms := newFakeMS(t)
	ms.members["29:alice"] = Member{ID: "29:alice", Name: "Alice Example", AADObjectID: "aad-alice", Email: "alice.example@mail.example", UserPrincipalName: "alice@corp.example"}
	ms.members["29:bob"] = Member{ID: "29:bob", Name: "Bob", AADObjectID: "aad-bob", UserPrincipalName: "bob@corp.example"}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := testclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := &botEnv{ms: ms, clock: c, store: st, gates: &fakeGates{infos: map[string]gates.Info{"g1": testInfo("pending")}}, logs: &bytes.Buffer{}}
	e.bot = NewBot(BotOptions{
		AppID:     testAppID,
		TenantID:  testTenant,
		Verifier:  NewVerifier(ms.OpenIDURL(), testAppID, ms.srv.Client(), c.Now),
		Connector: ms.newConnector(c),
		Store:     st,
		Gates:     e.gates,
		Now:       c.Now,
		Logger:    slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	return e
}

// send posts an activity with a good token for its service URL.
func (e *botEnv) send(t *testing.T, activity string) *httptest.ResponseRecorder {
	t.Helper()
	return e.post(t, activity, "Bearer "+e.ms.jwtFor(t, "k1", claimsAt(e.clock.Now(), e.ms.ServiceURL())))
}

func (e *botEnv) post(t *testing.T, activity, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	activity = strings.ReplaceAll(activity, "SERVICE_URL", e.ms.ServiceURL())
	req := httptest.NewRequest(http.MethodPost, "/api/teams/messages", strings.NewReader(activity))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	e.bot.ServeHTTP(rec, req)
	return rec
}

func (e *botEnv) conversations(t *testing.T) []store.Conversation {
	t.Helper()
	cs, err := e.store.Conversations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// invoke is an adaptiveCard/action invoke from Alice in a channel.
func invoke(verb string, data string) string {
	return `{
		"type": "invoke", "name": "adaptiveCard/action", "id": "f:act-1",
		"channelId": "msteams", "serviceUrl": "SERVICE_URL",
		"from": {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"},
		"recipient": {"id": "28:` + testAppID + `", "name": "Gatehouse"},
		"conversation": {"id": "19:rel@thread.tacv2;messageid=1700000000000", "conversationType": "channel", "isGroup": true, "tenantId": "` + testTenant + `"},
		"channelData": {"tenant": {"id": "` + testTenant + `"}, "team": {"id": "19:team@thread.tacv2"}, "channel": {"id": "19:rel@thread.tacv2"}},
		"value": {"action": {"type": "Action.Execute", "verb": "` + verb + `", "data": ` + data + `}, "trigger": "manual"}
	}`
}

func TestBotInvokeResults(t *testing.T) {
	t.Parallel()
	data := `{"_gate": "g1", "_comment": "dashboards are green", "ticket": "CHG-1", "notify": "true", "regions": "eu,us", "other": "x"}`
	wantFields := map[string]string{"ticket": "CHG-1", "notify": "true", "regions": "eu,us"}
	values := map[string]string{"ticket": "CHG-1", "notify": "true", "regions": "eu,us", card.CommentKey: "dashboards are green"}
	settled := testInfo("approved")
	tests := []struct {
		name     string
		verb     string
		answered gates.Answered
	}{
		{"recorded", "approve", gates.Answered{Result: gates.Recorded, Identity: "alice"}},
		{"recorded, settling", "approve", gates.Answered{Result: gates.Recorded, Identity: "alice", Gate: settled}},
		{"duplicate", "approve", gates.Answered{Result: gates.Duplicate, Identity: "alice"}},
		{"invalid", "reject", gates.Answered{Result: gates.Invalid, Problems: []string{"ticket: must match CHG-[0-9]+"}}},
		{"not eligible", "approve", gates.Answered{Result: gates.NotEligible, Reason: "alice@corp.example is not an approver of this gate"}},
		{"closed", "reject", gates.Answered{Result: gates.Closed, Gate: settled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newBotEnv(t)
			e.gates.answered = tt.answered
			rec := e.send(t, invoke(tt.verb, data))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			wantCard, err := card.Answered(testInfo("pending"), tt.answered, values)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"statusCode": 200.0, "type": "application/vnd.microsoft.card.adaptive", "value": decode(t, wantCard)}
			if d := cmp.Diff(want, decode(t, rec.Body.Bytes())); d != "" {
				t.Errorf("invoke response (-want +got):\n%s", d)
			}
			wantAnswer := []gates.Answer{{
				ID:       "teams:f:act-1",
				Actor:    approval.Actor{TeamsID: "aad-alice", Name: "Alice Example", Email: "alice@corp.example"},
				Via:      approval.ViaTeams,
				Decision: approval.Decision(tt.verb),
				Fields:   wantFields,
				Comment:  "dashboards are green",
				At:       e.clock.Now(),
			}}
			if d := cmp.Diff(wantAnswer, e.gates.answers); d != "" {
				t.Errorf("answers (-want +got):\n%s", d)
			}
		})
	}
}

// A member without an email address is known by their user principal
// name; values that are not strings are read as text; fields not sent are
// not given.
func TestBotInvokeIdentityAndValues(t *testing.T) {
	e := newBotEnv(t)
	e.gates.answered = gates.Answered{Result: gates.Recorded}
	activity := strings.NewReplacer(`"29:alice", "name": "Alice", "aadObjectId": "aad-alice"`, `"29:bob"`).
		Replace(invoke("approve", `{"_gate": "g1", "_comment": null, "notify": false, "regions": ["eu", "us"]}`))
	if rec := e.send(t, activity); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := []gates.Answer{{
		ID:       "teams:f:act-1",
		Actor:    approval.Actor{TeamsID: "aad-bob", Name: "Bob", Email: "bob@corp.example"},
		Via:      approval.ViaTeams,
		Decision: approval.Approve,
		Fields:   map[string]string{"notify": "false", "regions": "eu,us"},
		At:       e.clock.Now(),
	}}
	if d := cmp.Diff(want, e.gates.answers); d != "" {
		t.Errorf("answers (-want +got):\n%s", d)
	}
}

func TestBotInvokeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		activity   string
		setup      func(*botEnv)
		wantStatus float64 // the invoke response's statusCode
		wantText   string  // in its message
	}{
		{"unknown verb", invoke("escalate", `{"_gate": "g1"}`), nil, 400, `"escalate"`},
		{"no gate", invoke("approve", `{"ticket": "CHG-1"}`), nil, 400, "names no approval gate"},
		{"unknown gate", invoke("approve", `{"_gate": "g404"}`), nil, 400, "does not know the approval gate g404"},
		{"unreadable value", strings.Replace(invoke("approve", `{}`), `"value": {"action"`, `"value": {"action": 1, "x"`, 1), nil, 400, "could not be read"},
		{"gone while answering", invoke("approve", `{"_gate": "g1"}`), func(e *botEnv) { e.gates.err = gates.ErrNotFound }, 400, "does not know the approval gate g1"},
		{"store failure", invoke("approve", `{"_gate": "g1"}`), func(e *botEnv) { e.gates.err = errors.New("database is locked") }, 500, "Please try again"},
		{"activity claims another member", strings.Replace(invoke("approve", `{"_gate": "g1"}`), `"aadObjectId": "aad-alice"`, `"aadObjectId": "aad-bob"`, 1), nil, 403, "could not tell who you are"},
		{"member lookup fails", invoke("approve", `{"_gate": "g1"}`), func(e *botEnv) {
			e.ms.fail("GET", "/amer/v3/conversations/19:rel@thread.tacv2;messageid=1700000000000/members/29:alice", answer{status: 503})
		}, 500, "Please try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newBotEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			rec := e.send(t, tt.activity)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got struct {
				StatusCode float64 `json:"statusCode"`
				Type       string  `json:"type"`
				Value      struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"value"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.StatusCode != tt.wantStatus || got.Type != "application/vnd.microsoft.error" || !strings.Contains(got.Value.Message, tt.wantText) {
				t.Errorf("invoke response %s, want status %v saying %q", rec.Body, tt.wantStatus, tt.wantText)
			}
			if len(e.gates.answers) != 0 {
				t.Errorf("answers recorded: %+v", e.gates.answers)
			}
			if tt.wantStatus == 500 && (strings.Contains(rec.Body.String(), "database") || !strings.Contains(e.logs.String(), `"level":"ERROR"`)) {
				t.Errorf("internal error: answered %s, logged %s", rec.Body, e.logs)
			}
		})
	}
}

// Nothing in an activity is acted on unless its token verifies and covers
// it.
func TestBotRefusesUnverified(t *testing.T) {
	t.Parallel()
	good := func(e *botEnv, t *testing.T) string {
		return "Bearer " + e.ms.jwtFor(t, "k1", claimsAt(e.clock.Now(), e.ms.ServiceURL()))
	}
	activity := invoke("approve", `{"_gate": "g1"}`)
	addedToChat := `{"type": "conversationUpdate", "id": "f:1", "channelId": "msteams", "serviceUrl": "SERVICE_URL",
		"membersAdded": [{"id": "28:` + testAppID + `"}], "recipient": {"id": "28:` + testAppID + `"},
		"conversation": {"id": "19:chat@thread.v2", "conversationType": "groupChat", "isGroup": true}}`
	tests := []struct {
		name       string
		activity   string
		auth       func(e *botEnv, t *testing.T) string
		wantStatus int
	}{
		{"no token", activity, func(*botEnv, *testing.T) string { return "" }, 401},
		{"forged token", activity, func(e *botEnv, t *testing.T) string {
			return "Bearer " + forge(t, "k1", claimsAt(e.clock.Now(), e.ms.ServiceURL()))
		}, 401},
		{"expired token", addedToChat, func(e *botEnv, t *testing.T) string {
			return "Bearer " + e.ms.jwtFor(t, "k1", claimsAt(e.clock.Now().Add(-2*time.Hour), e.ms.ServiceURL()))
		}, 401},
		{"token for another service URL", activity, func(e *botEnv, t *testing.T) string {
			return "Bearer " + e.ms.jwtFor(t, "k1", claimsAt(e.clock.Now(), "https://smba.trafficmanager.net/amer/"))
		}, 403},
		{"key not endorsed for msteams", addedToChat, func(e *botEnv, t *testing.T) string {
			return "Bearer " + e.ms.jwtFor(t, "k2", claimsAt(e.clock.Now(), e.ms.ServiceURL()))
		}, 403},
		{"another channel, whose clients say who they are", strings.Replace(activity, `"channelId": "msteams"`, `"channelId": "webchat"`, 1), good, 403},
		{"another tenant", strings.ReplaceAll(activity, testTenant, "72f988bf-86f1-41af-91ab-2d7cd011db47"), good, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newBotEnv(t)
			rec := e.post(t, tt.activity, tt.auth(e, t))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if len(e.gates.answers) != 0 || len(e.conversations(t)) != 0 || len(e.ms.Calls()) != 0 {
				t.Errorf("acted on: answers %v, conversations %v, connector calls %v", e.gates.answers, e.conversations(t), e.ms.Calls())
			}
			if strings.Contains(e.logs.String(), "Bearer") || strings.Contains(e.logs.String(), "eyJ") {
				t.Errorf("log shows the token: %s", e.logs)
			}
		})
	}
}

func TestBotRequests(t *testing.T) {
	e := newBotEnv(t)
	req := httptest.NewRequest(http.MethodGet, "/api/teams/messages", nil)
	rec := httptest.NewRecorder()
	e.bot.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", rec.Code)
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"not JSON", "hello", 400},
		{"no type", `{"id": "1"}`, 400},
		{"too large", `{"type": "message", "text": "` + strings.Repeat("x", maxActivityBytes) + `"}`, 413},
		{"message", `{"type": "message", "id": "1", "channelId": "msteams", "serviceUrl": "SERVICE_URL", "text": "<at>Gatehouse</at> hi", "channelData": {"tenant": {"id": "` + testTenant + `"}}}`, 200},
		{"typing", `{"type": "typing", "channelId": "msteams", "serviceUrl": "SERVICE_URL", "channelData": {"tenant": {"id": "` + testTenant + `"}}}`, 200},
		{"another invoke", `{"type": "invoke", "name": "task/fetch", "channelId": "msteams", "serviceUrl": "SERVICE_URL", "channelData": {"tenant": {"id": "` + testTenant + `"}}}`, 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.send(t, tt.body)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
	if len(e.ms.Calls()) != 0 || len(e.conversations(t)) != 0 {
		t.Errorf("acted on: calls %v, conversations %v", e.ms.Calls(), e.conversations(t))
	}
}

// teamActivity is a conversationUpdate or installationUpdate in the team
// "Platform".
func teamActivity(typ, extra, channelData string) string {
	return `{"type": "` + typ + `", "id": "f:ev", "channelId": "msteams", "serviceUrl": "SERVICE_URL",
		"from": {"id": "29:alice", "aadObjectId": "aad-alice"},
		"recipient": {"id": "28:` + testAppID + `", "name": "Gatehouse"},
		"conversation": {"id": "19:team@thread.tacv2", "conversationType": "channel", "isGroup": true, "tenantId": "` + testTenant + `"},
		` + extra + `
		"channelData": {"tenant": {"id": "` + testTenant + `"}, ` + channelData + `}}`
}

// The bot remembers the conversations it is in as Teams tells it about
// them.
func TestBotConversationEvents(t *testing.T) {
	e := newBotEnv(t)
	e.ms.channels["19:team@thread.tacv2"] = []Channel{{ID: "19:team@thread.tacv2"}, {ID: "19:rel@thread.tacv2", Name: "releases-prod"}}
	bot := `{"id": "28:` + testAppID + `"}`
	team := `"team": {"id": "19:team@thread.tacv2", "name": "Platform", "aadGroupId": "group-1"}`
	teamNoName := `"team": {"id": "19:team@thread.tacv2"}`
	svc := e.ms.ServiceURL()
	channel := func(id, name, teamName string) store.Conversation {
		return store.Conversation{ID: id, ServiceURL: svc, TenantID: testTenant, Type: "channel", TeamID: "19:team@thread.tacv2", TeamName: teamName, Name: name}
	}
	general := channel("19:team@thread.tacv2", "General", "Platform")
	releases := channel("19:rel@thread.tacv2", "releases-prod", "Platform")
	chat := store.Conversation{ID: "19:chat@thread.v2", ServiceURL: svc, TenantID: testTenant, Type: "groupChat", Name: "Release crew"}
	personal := store.Conversation{ID: "a:1personal", ServiceURL: svc, TenantID: testTenant, Type: "personal"}
	steps := []struct {
		name     string
		activity string
		want     []store.Conversation
	}{
		{"bot added to a team: every channel", teamActivity("conversationUpdate", `"membersAdded": [`+bot+`],`, `"eventType": "teamMemberAdded", `+team),
			[]store.Conversation{releases, general}},
		{"someone else added: nothing changes", teamActivity("conversationUpdate", `"membersAdded": [{"id": "29:carol"}],`, `"eventType": "teamMemberAdded", `+team),
			[]store.Conversation{releases, general}},
		{"channel created", teamActivity("conversationUpdate", "", `"eventType": "channelCreated", "channel": {"id": "19:ops@thread.tacv2", "name": "ops"}, `+teamNoName),
			[]store.Conversation{channel("19:ops@thread.tacv2", "ops", "Platform"), releases, general}},
		{"channel renamed", teamActivity("conversationUpdate", "", `"eventType": "channelRenamed", "channel": {"id": "19:ops@thread.tacv2", "name": "operations"}, `+teamNoName),
			[]store.Conversation{channel("19:ops@thread.tacv2", "operations", "Platform"), releases, general}},
		{"channel deleted", teamActivity("conversationUpdate", "", `"eventType": "channelDeleted", "channel": {"id": "19:ops@thread.tacv2", "name": "operations"}, `+teamNoName),
			[]store.Conversation{releases, general}},
		{"team renamed", teamActivity("conversationUpdate", "", `"eventType": "teamRenamed", "team": {"id": "19:team@thread.tacv2", "name": "Platform Eng"}`),
			[]store.Conversation{channel("19:rel@thread.tacv2", "releases-prod", "Platform Eng"), channel("19:team@thread.tacv2", "General", "Platform Eng")}},
		{"added to a group chat", `{"type": "conversationUpdate", "id": "f:2", "channelId": "msteams", "serviceUrl": "SERVICE_URL",
			"membersAdded": [` + bot + `], "recipient": {"id": "28:` + testAppID + `"},
			"conversation": {"id": "19:chat@thread.v2", "conversationType": "groupChat", "isGroup": true, "name": "Release crew", "tenantId": "` + testTenant + `"},
			"channelData": {"tenant": {"id": "` + testTenant + `"}}}`,
			[]store.Conversation{chat, channel("19:rel@thread.tacv2", "releases-prod", "Platform Eng"), channel("19:team@thread.tacv2", "General", "Platform Eng")}},
		{"installed in a personal chat", `{"type": "installationUpdate", "action": "add", "id": "f:3", "channelId": "msteams", "serviceUrl": "SERVICE_URL",
			"recipient": {"id": "28:` + testAppID + `"}, "conversation": {"id": "a:1personal", "conversationType": "personal", "tenantId": "` + testTenant + `"},
			"channelData": {"tenant": {"id": "` + testTenant + `"}}}`,
			[]store.Conversation{chat, channel("19:rel@thread.tacv2", "releases-prod", "Platform Eng"), channel("19:team@thread.tacv2", "General", "Platform Eng"), personal}},
		{"bot removed from the team", teamActivity("conversationUpdate", `"membersRemoved": [`+bot+`],`, `"eventType": "teamMemberRemoved", `+teamNoName),
			[]store.Conversation{chat, personal}},
		{"installed in the team again", teamActivity("installationUpdate", `"action": "add",`, `"settings": {"selectedChannel": {"id": "19:team@thread.tacv2"}}, `+team),
			[]store.Conversation{chat, releases, general, personal}},
		{"uninstalled from the team", teamActivity("installationUpdate", `"action": "remove",`, team),
			[]store.Conversation{chat, personal}},
		{"removed from the group chat", `{"type": "conversationUpdate", "id": "f:4", "channelId": "msteams", "serviceUrl": "SERVICE_URL",
			"membersRemoved": [` + bot + `], "recipient": {"id": "28:` + testAppID + `"},
			"conversation": {"id": "19:chat@thread.v2", "conversationType": "groupChat", "isGroup": true, "tenantId": "` + testTenant + `"}}`,
			[]store.Conversation{personal}},
	}
	for _, s := range steps {
		rec := e.send(t, s.activity)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", s.name, rec.Code, rec.Body)
		}
		if d := cmp.Diff(s.want, e.conversations(t), cmpopts.IgnoreFields(store.Conversation{}, "UpdatedAt")); d != "" {
			t.Errorf("%s: conversations (-want +got):\n%s", s.name, d)
		}
	}
}

// When the team's channels cannot be listed, the bot remembers the channel
// it was added in and answers an error.
func TestBotTeamChannelsUnavailable(t *testing.T) {
	e := newBotEnv(t)
	e.ms.fail("GET", "/amer/v3/teams/19:team@thread.tacv2/conversations", answer{status: 503})
	activity := strings.Replace(teamActivity("installationUpdate", `"action": "add",`, `"team": {"id": "19:team@thread.tacv2", "name": "Platform"}`),
		`"id": "19:team@thread.tacv2", "conversationType"`, `"id": "19:rel@thread.tacv2", "name": "releases-prod", "conversationType"`, 1)
	rec := e.send(t, activity)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	want := []store.Conversation{{ID: "19:rel@thread.tacv2", ServiceURL: e.ms.ServiceURL(), TenantID: testTenant, Type: "channel",
		TeamID: "19:team@thread.tacv2", TeamName: "Platform", Name: "releases-prod"}}
	if d := cmp.Diff(want, e.conversations(t), cmpopts.IgnoreFields(store.Conversation{}, "UpdatedAt")); d != "" {
		t.Errorf("conversations (-want +got):\n%s", d)
	}
}

// Each activity is logged once, with what became of it.
func TestBotLogsActivity(t *testing.T) {
	e := newBotEnv(t)
	e.gates.answered = gates.Answered{Result: gates.Recorded}
	e.send(t, invoke("approve", `{"_gate": "g1"}`))
	var line map[string]any
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1: %s", len(lines), e.logs)
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	delete(line, "time")
	want := map[string]any{"level": "INFO", "msg": "teams activity", "type": "invoke", "name": "adaptiveCard/action", "id": "f:act-1",
		"conversation": "19:rel@thread.tacv2;messageid=1700000000000", "status": 200.0, "result": "recorded"}
	if d := cmp.Diff(want, line); d != "" {
		t.Errorf("log line (-want +got):\n%s", d)
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
