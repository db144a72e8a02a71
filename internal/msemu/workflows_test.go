package msemu

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const webhookCard = `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"Approval needed"}]}}]}`

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

func TestWebhookAccepts(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	releases, err := emu.AddWebhook("releases")
	check(t, err)
	_, err = emu.AddWebhook("ops")
	check(t, err)
	shape := regexp.MustCompile(`^` + regexp.QuoteMeta(emu.URL()) + `/workflows/[0-9a-f]{32}/triggers/manual/paths/invoke\?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1\.0&sig=[A-Za-z0-9_-]{43}$`)
	if !shape.MatchString(releases) {
		t.Errorf("webhook URL %s is not shaped like a Workflows trigger", releases)
	}

	a := do(t, http.MethodPost, releases, jsonHeader(), webhookCard)
	if a.status != http.StatusAccepted || len(a.body) != 0 || a.header.Get("x-ms-workflow-run-id") == "" {
		t.Fatalf("got %d %q run id %q, want 202 with no body and a run id", a.status, a.body, a.header.Get("x-ms-workflow-run-id"))
	}
	posts := emu.WebhookPosts("releases")
	if len(posts) != 1 || string(posts[0].Body) != webhookCard || posts[0].ContentType != "application/json" {
		t.Fatalf("WebhookPosts(releases) = %+v", posts)
	}
	if text := cardText(t, posts[0].Body); text != "Approval needed" {
		t.Errorf("card text %q", text)
	}
	if n := len(emu.WebhookPosts("ops")); n != 0 {
		t.Errorf("ops got %d posts", n)
	}
	if emu.WebhookPosts("none") != nil {
		t.Error("an unknown webhook has posts")
	}
}

func TestWebhookRefuses(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	hook, err := emu.AddWebhook("releases")
	check(t, err)
	u, err := url.Parse(hook)
	check(t, err)
	withQuery := func(k, v string) string {
		c := *u
		q := c.Query()
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		c.RawQuery = q.Encode()
		return c.String()
	}
	unknown := strings.Replace(hook, "/workflows/", "/workflows/0", 1)
	tests := []struct {
		name, url, contentType, body string
		status                       int
		code                         string
	}{
		{"unknown workflow", unknown, "application/json", webhookCard, 404, "WorkflowNotFound"},
		{"no api-version", withQuery("api-version", ""), "application/json", webhookCard, 400, "MissingApiVersionParameter"},
		{"no sig", withQuery("sig", ""), "application/json", webhookCard, 401, "DirectApiAuthorizationRequired"},
		{"wrong sig", withQuery("sig", "guess"), "application/json", webhookCard, 401, "DirectApiInvalidAuthorizationSignature"},
		{"not JSON", hook, "application/json", "{", 400, "InvalidRequestContent"},
		{"a JSON array", hook, "application/json", "[]", 400, "TriggerInputSchemaMismatch"},
		{"plain text", hook, "text/plain", webhookCard, 400, "TriggerInputSchemaMismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, http.MethodPost, tt.url, http.Header{"Content-Type": {tt.contentType}}, tt.body)
			if a.status != tt.status || a.errorCode(t) != tt.code {
				t.Errorf("got %d %s, want %d %s", a.status, a.body, tt.status, tt.code)
			}
		})
	}
	if n := len(emu.WebhookPosts("releases")); n != 0 {
		t.Errorf("%d refused posts were kept", n)
	}
}

func TestWebhookFaults(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	hook, err := emu.AddWebhook("releases")
	check(t, err)
	check(t, emu.FailWebhookNext(2, http.StatusTooManyRequests))
	for i, want := range []int{429, 429, 202} {
		if a := do(t, http.MethodPost, hook, jsonHeader(), webhookCard); a.status != want {
			t.Errorf("post %d: %d, want %d", i, a.status, want)
		}
	}
	if n := len(emu.WebhookPosts("releases")); n != 1 {
		t.Errorf("%d posts kept, want 1", n)
	}
}

func TestAddWebhookRefuses(t *testing.T) {
	t.Parallel()
	unstarted, err := New(Options{GenerateKey: keySource(t)})
	check(t, err)
	defer unstarted.Close()
	if _, err := unstarted.AddWebhook("early"); err == nil {
		t.Error("AddWebhook before Start succeeded")
	}
	emu := start(t, Options{})
	_, err = emu.AddWebhook("releases")
	check(t, err)
	for _, name := range []string{"", "releases"} {
		if _, err := emu.AddWebhook(name); err == nil {
			t.Errorf("AddWebhook(%q) succeeded", name)
		}
	}
}
