package teams

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

var testCard = json.RawMessage(`{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"Deploy?"}]}`)

func TestConnectorCalls(t *testing.T) {
	ms := newFakeMS(t)
	ms.members["29:alice"] = Member{ID: "29:alice", Name: "Alice", AADObjectID: "aad-alice", Email: "alice@corp.example", UserPrincipalName: "alice@corp.example"}
	ms.channels["19:team@thread.tacv2"] = []Channel{{ID: "19:team@thread.tacv2"}, {ID: "19:rel@thread.tacv2", Name: "releases"}}
	c := ms.newConnector(testclock.New(time.Now()))
	ctx := t.Context()
	conv := "19:rel@thread.tacv2;messageid=17"

	id, err := c.SendCard(ctx, ms.ServiceURL(), conv, testCard)
	if err != nil {
		t.Fatal(err)
	}
	if id != "activity-1" {
		t.Errorf("activity id %q, want activity-1", id)
	}
	if err := c.UpdateCard(ctx, ms.ServiceURL(), conv, id, testCard); err != nil {
		t.Fatal(err)
	}
	m, err := c.Member(ctx, ms.ServiceURL(), conv, "29:alice")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ms.members["29:alice"], m); d != "" {
		t.Errorf("member (-want +got):\n%s", d)
	}
	chs, err := c.Channels(ctx, ms.ServiceURL(), "19:team@thread.tacv2")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ms.channels["19:team@thread.tacv2"], chs); d != "" {
		t.Errorf("channels (-want +got):\n%s", d)
	}

	card := `{"contentType":"application/vnd.microsoft.card.adaptive","content":` + string(testCard) + `}`
	want := []call{
		{Method: "POST", Path: "/amer/v3/conversations/" + conv + "/activities", Auth: "Bearer bot-token-1", Body: `{"type":"message","attachments":[` + card + `]}`},
		{Method: "PUT", Path: "/amer/v3/conversations/" + conv + "/activities/activity-1", Auth: "Bearer bot-token-1", Body: `{"type":"message","id":"activity-1","attachments":[` + card + `]}`},
		{Method: "GET", Path: "/amer/v3/conversations/" + conv + "/members/29:alice", Auth: "Bearer bot-token-1"},
		{Method: "GET", Path: "/amer/v3/teams/19:team@thread.tacv2/conversations", Auth: "Bearer bot-token-1"},
	}
	if d := cmp.Diff(want, ms.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	// One token for all four calls, asked for by client credentials.
	wantForms := []map[string]string{{
		"tenant": testTenant, "grant_type": "client_credentials", "client_id": testAppID,
		"client_secret": testSecret, "scope": "https://api.botframework.com/.default",
	}}
	if d := cmp.Diff(wantForms, ms.TokenForms()); d != "" {
		t.Errorf("token requests (-want +got):\n%s", d)
	}
}

func TestConnectorTokenRefreshedAfterExpiry(t *testing.T) {
	ms := newFakeMS(t)
	c := testclock.New(time.Now())
	conn := ms.newConnector(c)
	send := func() {
		t.Helper()
		if _, err := conn.SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard); err != nil {
			t.Fatal(err)
		}
	}
	send()
	c.Advance(58 * time.Minute)
	send()
	c.Advance(2 * time.Minute) // within a minute of the hour's expiry
	send()
	var auths []string
	for _, cl := range ms.Calls() {
		auths = append(auths, cl.Auth)
	}
	if d := cmp.Diff([]string{"Bearer bot-token-1", "Bearer bot-token-1", "Bearer bot-token-2"}, auths); d != "" {
		t.Errorf("bearers (-want +got):\n%s", d)
	}
}

// A token the Connector refuses is dropped: the next call gets another.
func TestConnectorDropsRefusedToken(t *testing.T) {
	ms := newFakeMS(t)
	conn := ms.newConnector(testclock.New(time.Now()))
	if _, err := conn.SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard); err != nil {
		t.Fatal(err)
	}
	ms.mu.Lock()
	ms.issued = append(ms.issued, "revoked") // the fake now wants a token it never gave
	ms.mu.Unlock()
	_, err := conn.SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("SendCard with a refused token: %v, want a 401", err)
	}
	if n := len(ms.TokenForms()); n != 1 {
		t.Fatalf("%d token requests before the refusal, want 1", n)
	}
	_, _ = conn.SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard)
	if n := len(ms.TokenForms()); n != 2 {
		t.Errorf("%d token requests after the refusal, want 2", n)
	}
}

func TestConnectorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a    answer
		want HTTPError
	}{
		{"503", answer{status: 503}, HTTPError{Status: 503}},
		{"429 with Retry-After", answer{status: 429, retryAfter: "7"}, HTTPError{Status: 429, RetryAfter: 7 * time.Second}},
		{"502 with Retry-After", answer{status: 502, retryAfter: "120"}, HTTPError{Status: 502, RetryAfter: 2 * time.Minute}},
		{"403 with an error body", answer{status: 403, body: `{"error":{"code":"BotNotInConversationRoster","message":"The bot is not part of the conversation roster."}}`},
			HTTPError{Status: 403, Message: "BotNotInConversationRoster: The bot is not part of the conversation roster."}},
		{"404 with a body that is not JSON", answer{status: 404, body: "<html>"}, HTTPError{Status: 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ms := newFakeMS(t)
			ms.fail("POST", "/amer/v3/conversations/19:c/activities", tt.a)
			_, err := ms.newConnector(testclock.New(time.Now())).SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard)
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("SendCard: %v, want an *HTTPError", err)
			}
			if d := cmp.Diff(tt.want, *he); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if !strings.Contains(err.Error(), "send card to conversation 19:c") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	if got := retryAfter(h, now); got != 90*time.Second {
		t.Errorf("retryAfter = %v, want 1m30s", got)
	}
	h.Set("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat))
	if got := retryAfter(h, now); got != 0 {
		t.Errorf("retryAfter of a past date = %v, want 0", got)
	}
}

func TestConnectorTokenError(t *testing.T) {
	ms := newFakeMS(t)
	ms.tokenStatus = http.StatusUnauthorized
	_, err := ms.newConnector(testclock.New(time.Now())).SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SendCard with bad credentials: %v, want the token endpoint's 401", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error %q shows the app password", err)
	}
	if n := len(ms.Calls()); n != 0 {
		t.Errorf("%d Connector calls without a token", n)
	}
}

// The bot token goes only to https service URLs, or to http on a loopback
// host when allowed (an emulator).
func TestConnectorServiceURLs(t *testing.T) {
	tests := []struct {
		url      string
		loopback bool
		want     string // "" : refused
	}{
		{"https://smba.trafficmanager.net/amer/", false, "https://smba.trafficmanager.net/amer"},
		{"https://smba.trafficmanager.net", true, "https://smba.trafficmanager.net"},
		{"http://smba.trafficmanager.net/amer/", false, ""},
		{"http://smba.trafficmanager.net/amer/", true, ""},
		{"http://127.0.0.1:3978/", false, ""},
		{"http://127.0.0.1:3978/", true, "http://127.0.0.1:3978"},
		{"http://[::1]:3978", true, "http://[::1]:3978"},
		{"http://localhost:3978/x/", true, "http://localhost:3978/x"},
		{"https://user:pw@smba.trafficmanager.net/", false, ""},
		{"https://smba.trafficmanager.net/?x=1", false, ""},
		{"ftp://smba.trafficmanager.net/", true, ""},
		{"/amer/", true, ""},
		{"", true, ""},
	}
	for _, tt := range tests {
		c := NewConnector(ConnectorOptions{AllowLoopbackHTTP: tt.loopback})
		got, err := c.checkServiceURL(tt.url)
		switch {
		case tt.want == "" && !errors.Is(err, ErrServiceURL):
			t.Errorf("checkServiceURL(%q, loopback %v) = %q, %v; want ErrServiceURL", tt.url, tt.loopback, got, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("checkServiceURL(%q, loopback %v) = %q, %v; want %q", tt.url, tt.loopback, got, err, tt.want)
		}
	}
}

// A refused service URL gets neither a token request nor the token.
func TestConnectorRefusesServiceURLBeforeToken(t *testing.T) {
	ms := newFakeMS(t)
	conn := NewConnector(ConnectorOptions{AuthorityURL: ms.URL(), TenantID: testTenant, AppID: testAppID, AppPassword: testSecret, HTTPClient: ms.srv.Client()})
	if _, err := conn.SendCard(t.Context(), ms.ServiceURL(), "19:c", testCard); !errors.Is(err, ErrServiceURL) {
		t.Fatalf("SendCard to http without AllowLoopbackHTTP: %v, want ErrServiceURL", err)
	}
	if n := len(ms.TokenForms()) + len(ms.Calls()); n != 0 {
		t.Errorf("%d requests made", n)
	}
}

func TestConnectorMessageTooLarge(t *testing.T) {
	ms := newFakeMS(t)
	big := json.RawMessage(`{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"` + strings.Repeat("x", MaxMessageBytes) + `"}]}`)
	_, err := ms.newConnector(testclock.New(time.Now())).SendCard(t.Context(), ms.ServiceURL(), "19:c", big)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("SendCard of a large card: %v, want ErrTooLarge", err)
	}
	if n := len(ms.Calls()); n != 0 {
		t.Errorf("%d Connector calls", n)
	}
}
