package ghemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

const testSecret = "It's a Secret to Everybody"

// receiver is a webhook endpoint that records what it gets and answers
// with the statuses queued in answers (then 202).
type receiver struct {
	mu      sync.Mutex
	got     []received
	answers []int
	srv     *httptest.Server
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	rc := &receiver{answers: answers}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		status := http.StatusAccepted
		if len(rc.answers) > 0 {
			status, rc.answers = rc.answers[0], rc.answers[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func waitDeliveries(t *testing.T, emu *Emulator) {
	t.Helper()
	if err := emu.WaitDeliveries(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func events(rs []received) []string {
	var out []string
	for _, r := range rs {
		var p struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(r.body, &p)
		out = append(out, r.header.Get("X-GitHub-Event")+"."+p.Action)
	}
	return out
}

func TestWebhookDeliveries(t *testing.T) {
	rc := newReceiver(t)
	w := newWorld(t, Options{AppID: testAppID, WebhookURL: rc.srv.URL, WebhookSecret: testSecret})
	instID := must[int64](t)(w.emu.InstallApp("acme", "app"))

	is, _, err := w.aliceGH.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{Title: github.String("gate"), Labels: &[]string{"approval"}})
	check(t, err)
	cm, _, err := w.bobGH.Issues.CreateComment(t.Context(), "acme", "app", 1, &github.IssueComment{Body: github.String("approve")})
	check(t, err)
	_, _, err = w.bobGH.Issues.EditComment(t.Context(), "acme", "app", cm.GetID(), &github.IssueComment{Body: github.String("reject")})
	check(t, err)
	_, err = w.bobGH.Issues.DeleteComment(t.Context(), "acme", "app", cm.GetID())
	check(t, err)
	_, _, err = w.aliceGH.Issues.Edit(t.Context(), "acme", "app", 1, &github.IssueRequest{State: github.String("closed"), StateReason: github.String("not_planned")})
	check(t, err)
	check(t, w.emu.CloseIssue("alice", "acme", "app", 1, "")) // already closed: no event
	waitDeliveries(t, w.emu)

	got := rc.all()
	want := []string{"issues.opened", "issues.labeled", "issue_comment.created", "issue_comment.edited", "issue_comment.deleted", "issues.closed"}
	if d := cmp.Diff(want, events(got)); d != "" {
		t.Fatalf("deliveries (-want +got):\n%s", d)
	}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for i, r := range got {
		h := r.header
		if !guid.MatchString(h.Get("X-GitHub-Delivery")) || h.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") || h.Get("X-GitHub-Hook-ID") == "" ||
			h.Get("X-GitHub-Hook-Installation-Target-Type") != "integration" || h.Get("X-GitHub-Hook-Installation-Target-ID") != strconv.Itoa(testAppID) {
			t.Errorf("delivery %d headers: %v", i, h)
		}
		if err := github.ValidateSignature(h.Get("X-Hub-Signature-256"), r.body, []byte(testSecret)); err != nil {
			t.Errorf("delivery %d: sha256 signature: %v", i, err)
		}
		mac := hmac.New(sha1.New, []byte(testSecret))
		mac.Write(r.body)
		if h.Get("X-Hub-Signature") != "sha1="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("delivery %d: sha1 signature %q", i, h.Get("X-Hub-Signature"))
		}
	}

	var edited github.IssueCommentEvent
	decodeJSON(t, got[3].body, &edited)
	gotEdit := []any{edited.GetChanges().GetBody().GetFrom(), edited.GetComment().GetBody(), edited.GetComment().GetID(),
		edited.GetSender().GetLogin(), edited.GetRepo().GetFullName(), edited.GetInstallation().GetID(), edited.GetIssue().GetNumber(),
		edited.GetOrganization().GetLogin(), edited.GetIssue().GetComments()}
	wantEdit := []any{"approve", "reject", cm.GetID(), "bob", "acme/app", instID, is.GetNumber(), "acme", 1}
	if d := cmp.Diff(wantEdit, gotEdit); d != "" {
		t.Errorf("issue_comment.edited (-want +got):\n%s", d)
	}
	var closed github.IssuesEvent
	decodeJSON(t, got[5].body, &closed)
	if closed.GetIssue().GetState() != "closed" || closed.GetIssue().GetStateReason() != "not_planned" || closed.GetSender().GetLogin() != "alice" {
		t.Errorf("issues.closed issue = %+v", closed.GetIssue())
	}

	ds := w.emu.Deliveries()
	if len(ds) != len(got) {
		t.Fatalf("%d deliveries recorded, %d received", len(ds), len(got))
	}
	for i, d := range ds {
		if d.StatusCode != 202 || d.ID != got[i].header.Get("X-GitHub-Delivery") || string(d.Payload) != string(got[i].body) || d.Redelivery {
			t.Errorf("delivery record %d = %+v", i, d)
		}
	}
}

func TestRepositoryWebhookWithoutInstallation(t *testing.T) {
	rc := newReceiver(t)
	w := newWorld(t, Options{WebhookURL: rc.srv.URL})
	_, err := w.emu.Comment("alice", "alice", "tools", 1, "x")
	if err == nil {
		t.Fatal("commented on a missing issue")
	}
	mustIssue(t, w.aliceGH, "alice", "tools", "t")
	waitDeliveries(t, w.emu)
	got := rc.all()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	h := got[0].header
	var p map[string]json.RawMessage
	decodeJSON(t, got[0].body, &p)
	if h.Get("X-GitHub-Hook-Installation-Target-Type") != "repository" || h.Get("X-Hub-Signature-256") != "" || p["installation"] != nil || p["organization"] != nil {
		t.Errorf("repository webhook: headers %v, keys %v", h, sortedKeys(p))
	}
}

func TestDeliveriesKeepIssueOrder(t *testing.T) {
	rc := newReceiver(t)
	w := newWorld(t, Options{WebhookURL: rc.srv.URL})
	mustIssue(t, w.aliceGH, "acme", "app", "one")
	mustIssue(t, w.aliceGH, "acme", "app", "two")
	var want []string
	for i := range 20 {
		n := i%2 + 1
		_, err := w.emu.Comment("bob", "acme", "app", n, fmt.Sprintf("%d:%d", n, i))
		check(t, err)
		want = append(want, fmt.Sprintf("%d:%d", n, i))
	}
	waitDeliveries(t, w.emu)
	perIssue := map[int][]string{}
	for _, r := range rc.all() {
		var ev github.IssueCommentEvent
		decodeJSON(t, r.body, &ev)
		if ev.Comment != nil {
			perIssue[ev.GetIssue().GetNumber()] = append(perIssue[ev.GetIssue().GetNumber()], ev.GetComment().GetBody())
		}
	}
	for n := 1; n <= 2; n++ {
		var wantN []string
		for _, s := range want {
			if strings.HasPrefix(s, fmt.Sprintf("%d:", n)) {
				wantN = append(wantN, s)
			}
		}
		if d := cmp.Diff(wantN, perIssue[n]); d != "" {
			t.Errorf("issue %d order (-want +got):\n%s", n, d)
		}
	}
}

func TestRedeliverAndFailures(t *testing.T) {
	rc := newReceiver(t, 500)
	w := newWorld(t, Options{WebhookURL: rc.srv.URL, WebhookSecret: testSecret})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	waitDeliveries(t, w.emu)

	ds := w.emu.Deliveries()
	if len(ds) != 1 || ds[0].StatusCode != 500 || ds[0].Event != "issues" || ds[0].Action != "opened" {
		t.Fatalf("deliveries = %+v; a failed delivery is recorded and not retried", ds)
	}
	status, err := w.emu.Redeliver(t.Context(), ds[0].ID)
	check(t, err)
	if status != 202 {
		t.Errorf("redelivery status %d", status)
	}
	got := rc.all()
	if len(got) != 2 || string(got[0].body) != string(got[1].body) ||
		got[1].header.Get("X-GitHub-Delivery") != ds[0].ID || got[1].header.Get("X-Hub-Signature-256") != got[0].header.Get("X-Hub-Signature-256") {
		t.Errorf("redelivery differs from the original")
	}
	if ds := w.emu.Deliveries(); len(ds) != 2 || !ds[1].Redelivery || ds[1].StatusCode != 202 {
		t.Errorf("records after redelivery = %+v", ds)
	}
	if _, err := w.emu.Redeliver(t.Context(), "no-such-delivery"); err == nil {
		t.Error("redelivered an unknown delivery")
	}

	// An unreachable receiver is recorded as a failed attempt.
	rc.srv.Close()
	_, status, err = w.emu.SendWebhook(t.Context(), "ping", map[string]any{"zen": "Design for failure.", "hook_id": 1})
	if err == nil || status != 0 {
		t.Errorf("send to a closed receiver: %d %v", status, err)
	}
	if ds := w.emu.Deliveries(); ds[len(ds)-1].Err == "" {
		t.Errorf("failed attempt not recorded: %+v", ds[len(ds)-1])
	}
}

func TestSendWebhook(t *testing.T) {
	rc := newReceiver(t, 200)
	w := newWorld(t, Options{WebhookURL: rc.srv.URL, WebhookSecret: testSecret})
	id, status, err := w.emu.SendWebhook(t.Context(), "installation", []byte(`{"action":"created","installation":{"id":7}}`))
	check(t, err)
	got := rc.all()
	if status != 200 || len(got) != 1 || got[0].header.Get("X-GitHub-Event") != "installation" || got[0].header.Get("X-GitHub-Delivery") != id {
		t.Fatalf("sent %q: %d, received %+v", id, status, got)
	}
	if err := github.ValidateSignature(got[0].header.Get("X-Hub-Signature-256"), got[0].body, []byte(testSecret)); err != nil {
		t.Error(err)
	}
	if ds := w.emu.Deliveries(); len(ds) != 1 || ds[0].Action != "created" {
		t.Errorf("deliveries = %+v", ds)
	}
	if _, _, err := w.emu.SendWebhook(t.Context(), "ping", []byte("not json")); err == nil {
		t.Error("sent a payload that is not JSON")
	}
}

func TestNoWebhookURL(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	waitDeliveries(t, w.emu)
	if ds := w.emu.Deliveries(); len(ds) != 0 {
		t.Errorf("deliveries without a URL: %+v", ds)
	}
	if _, _, err := w.emu.SendWebhook(t.Context(), "ping", map[string]string{}); err == nil {
		t.Error("SendWebhook without a URL succeeded")
	}
	rc := newReceiver(t)
	check(t, w.emu.SetWebhookURL(rc.srv.URL))
	_, err := w.emu.Comment("bob", "acme", "app", 1, "late")
	check(t, err)
	waitDeliveries(t, w.emu)
	if got := events(rc.all()); cmp.Diff([]string{"issue_comment.created"}, got) != "" {
		t.Errorf("after SetWebhookURL: %v", got)
	}
}

func TestDeliveryStatusesAreRecordedAsIs(t *testing.T) {
	rc := newReceiver(t, 302, 500, 200)
	w := newWorld(t, Options{WebhookURL: rc.srv.URL})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	for _, body := range []string{"one", "two"} {
		_, err := w.emu.Comment("bob", "acme", "app", 1, body)
		check(t, err)
	}
	waitDeliveries(t, w.emu)
	var got []int
	for _, d := range w.emu.Deliveries() {
		got = append(got, d.StatusCode)
	}
	// No redirect is followed and no failure retried.
	if d := cmp.Diff([]int{302, 500, 200}, got); d != "" || len(rc.all()) != 3 {
		t.Errorf("statuses (-want +got):\n%s\nreceived %d", d, len(rc.all()))
	}
}

func TestCloseCancelsDeliveriesInFlight(t *testing.T) {
	arrived := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client going away
		close(arrived)
		<-r.Context().Done()
	}))
	t.Cleanup(hung.Close)
	w := newWorld(t, Options{WebhookURL: hung.URL})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	<-arrived
	check(t, w.emu.Close())
	ds := w.emu.Deliveries()
	if len(ds) != 1 || ds[0].StatusCode != 0 || !strings.Contains(ds[0].Err, "context canceled") {
		t.Errorf("deliveries after Close = %+v", ds)
	}
	if err := w.emu.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
}
