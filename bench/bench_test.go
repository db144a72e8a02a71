package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/sandbox"
)

// TestTemplate makes a body from a real emulator delivery and checks that
// it reads as the comment it stands for.
func TestTemplate(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{Owner: owner, Repo: repo, Writers: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()
	if err := sb.GitHub.SetWebhookURL(hook.URL); err != nil {
		t.Fatal(err)
	}
	w := &world{sb: sb}
	ctx := context.Background()
	is, err := w.openIssue(ctx, newClient(1, nil), "Discussion")
	if err != nil {
		t.Fatal(err)
	}
	id, err := sb.GitHub.Comment("alice", owner, repo, is.Number, "Looks fine to me.")
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.GitHub.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := deliveryOf(sb.GitHub, id)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := shape(d.Payload)
	if err != nil {
		t.Fatal(err)
	}

	text, _ := json.Marshal(`approve "now" <b>`)
	payload := tmpl.forIssue(77).fill(nil, 4242, text)
	if strings.Contains(string(payload), "@@") {
		t.Errorf("a hole is left in %s", payload)
	}
	var e github.IssueCommentEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		t.Fatalf("the body is not JSON: %v\n%s", err, payload)
	}
	base := sb.GitHub.WebURL() + "/" + owner + "/" + repo + "/issues/77"
	got := map[string]any{
		"action": e.GetAction(), "issue": e.GetIssue().GetNumber(), "issue_url": e.GetIssue().GetHTMLURL(),
		"comment": e.GetComment().GetID(), "comment_url": e.GetComment().GetHTMLURL(),
		"body": e.GetComment().GetBody(), "login": e.GetComment().GetUser().GetLogin(),
		"repository": e.GetRepo().GetFullName(),
	}
	want := map[string]any{
		"action": "created", "issue": 77, "issue_url": base,
		"comment": int64(4242), "comment_url": base + "#issuecomment-4242",
		"body": `approve "now" <b>`, "login": "alice",
		"repository": owner + "/" + repo,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the filled body (-want +got):\n%s", diff)
	}
}

func TestShapeRefusesOtherEvents(t *testing.T) {
	if _, err := shape([]byte(`{"action":"opened","issue":{"number":1}}`)); err == nil {
		t.Error("shape took a payload without a comment")
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		in   []time.Duration
		want percentiles
	}{
		{"none", nil, percentiles{}},
		{"one", []time.Duration{3 * time.Millisecond}, percentiles{P50: 3, P90: 3, P99: 3, Max: 3}},
		{"1 to 100 ms", ds, percentiles{P50: 50, P90: 90, P99: 99, Max: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, percentilesOf(tt.in)); diff != "" {
				t.Errorf("percentilesOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssueNumber(t *testing.T) {
	tests := []struct {
		line    string
		want    int
		wantErr bool
	}{
		{"Waiting for approval on http://127.0.0.1:1/o/r/issues/12 (times out at 2030-01-01T00:00:00Z)", 12, false},
		{"Waiting for approval on http://127.0.0.1:1/o/r/pulls (times out at …)", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := issueNumber(tt.line)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("issueNumber = %d, %v; want %d, error %t", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWatcherFindsLineAcrossWrites(t *testing.T) {
	w := newWatcher("Waiting for approval on ")
	for _, chunk := range []string{"Opened issue\nWaiting for appr", "oval on http://x/issues/3 (times", " out)\nmore\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case line := <-w.found:
		if want := "Waiting for approval on http://x/issues/3 (times out)"; line != want {
			t.Errorf("found %q, want %q", line, want)
		}
	default:
		t.Error("the line was not found")
	}
	if got, want := w.String(), "Opened issue\nWaiting for approval on http://x/issues/3 (times out)\nmore\n"; got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
}
