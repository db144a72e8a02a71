package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse-ci/gatehouse/internal/conformance"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

const secret = "It's a Secret to Everybody"

// payload carries a marker that must never reach a log line.
const payload = `{"action":"created","comment":{"id":1,"body":"approve PAYLOAD-MARKER"}}`

var received = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// inbox is an in-memory Inbox.
type inbox struct {
	mu     sync.Mutex
	stored []store.Delivery
	leases []time.Duration
	err    error // returned by every AddDelivery when set
}

func (in *inbox) AddDelivery(_ context.Context, d store.Delivery, lease time.Duration) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err != nil {
		return false, in.err
	}
	for _, s := range in.stored {
		if s.ID == d.ID {
			return false, nil
		}
	}
	in.stored = append(in.stored, d)
	in.leases = append(in.leases, lease)
	return true, nil
}

// recorder collects what the handler reports through its hooks.
type recorder struct {
	mu       sync.Mutex
	accepted []store.Delivery
	observed [][2]string
	log      bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.Write(p)
}

// logLines decodes the JSON log lines.
func (r *recorder) logLines(t *testing.T) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.log.Bytes()))
	for dec.More() {
		var l map[string]any
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("log line: %v", err)
		}
		lines = append(lines, l)
	}
	return lines
}

// start serves a handler on loopback. edit changes the default options.
func start(t *testing.T, in *inbox, edit func(*Options)) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	o := Options{
		Secret: []byte(secret),
		Inbox:  in,
		Events: []string{"issue_comment", "installation"},
		Now:    func() time.Time { return received },
		Accepted: func(d store.Delivery) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.accepted = append(rec.accepted, d)
		},
		Observe: func(event, result string) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.observed = append(rec.observed, [2]string{event, result})
		},
		Logger: slog.New(slog.NewJSONHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&o)
	}
	srv := httptest.NewServer(NewHandler(o))
	t.Cleanup(srv.Close)
	return srv, rec
}

func sign(newHash func() hash.Hash, key, body []byte) string {
	mac := hmac.New(newHash, key)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// deliveryHeaders are the headers of a proper delivery of body.
func deliveryHeaders(body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	h.Set("X-GitHub-Event", "issue_comment")
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, []byte(secret), body))
	return h
}

type reply struct {
	code   int
	header http.Header
	body   map[string]string
}

func send(t *testing.T, url, method string, h http.Header, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{code: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("reply %d is not a JSON object: %q", resp.StatusCode, raw)
	}
	return r
}

func TestHandler(t *testing.T) {
	t.Parallel()
	const id = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	stored := store.Delivery{ID: id, Event: "issue_comment", Payload: []byte(payload), ReceivedAt: received}
	storeDown := errors.New("database is locked")
	tests := []struct {
		name    string
		opts    func(*Options)
		inbox   *inbox
		method  string
		body    []byte                           // payload when nil
		headers func(h http.Header, body []byte) // edits deliveryHeaders
		code    int
		reply   map[string]string
		stored  []store.Delivery // in the inbox afterwards, beyond what it held
		observe [2]string
		level   string // of the log line
	}{
		{
			name: "accepted", code: 202, reply: map[string]string{"status": "accepted"},
			stored:  []store.Delivery{stored},
			observe: [2]string{"issue_comment", "accepted"}, level: "DEBUG",
		},
		{
			name: "content type with charset", code: 202, reply: map[string]string{"status": "accepted"},
			headers: func(h http.Header, _ []byte) { h.Set("Content-Type", "application/json; charset=utf-8") },
			stored:  []store.Delivery{stored},
			observe: [2]string{"issue_comment", "accepted"}, level: "DEBUG",
		},
		{
			name: "at the size limit", opts: func(o *Options) { o.MaxBody = int64(len(payload)) },
			code: 202, reply: map[string]string{"status": "accepted"},
			stored:  []store.Delivery{stored},
			observe: [2]string{"issue_comment", "accepted"}, level: "DEBUG",
		},
		{
			name: "not relevant",
			opts: func(o *Options) {
				o.Relevant = func(_ context.Context, event string, body []byte) (bool, error) {
					return event != "issue_comment" || string(body) != payload, nil
				}
			},
			code: 202, reply: map[string]string{"status": "ignored"},
			observe: [2]string{"issue_comment", "ignored"}, level: "DEBUG",
		},
		{
			name: "relevance unknown",
			opts: func(o *Options) {
				o.Relevant = func(context.Context, string, []byte) (bool, error) { return false, errors.New("database is locked") }
			},
			code: 202, reply: map[string]string{"status": "accepted"},
			stored:  []store.Delivery{stored},
			observe: [2]string{"issue_comment", "accepted"}, level: "DEBUG",
		},
		{
			name: "duplicate", inbox: &inbox{stored: []store.Delivery{{ID: id, Event: "issue_comment"}}},
			code: 200, reply: map[string]string{"status": "duplicate"},
			observe: [2]string{"issue_comment", "duplicate"}, level: "DEBUG",
		},
		{
			name:    "unhandled event",
			headers: func(h http.Header, _ []byte) { h.Set("X-GitHub-Event", "star") },
			code:    202, reply: map[string]string{"status": "ignored"},
			observe: [2]string{"star", "ignored"}, level: "DEBUG",
		},
		{
			name:    "ping",
			body:    []byte(`{"zen":"Design for failure.","hook_id":1}`),
			headers: func(h http.Header, _ []byte) { h.Set("X-GitHub-Event", "ping") },
			code:    200, reply: map[string]string{"status": "pong"},
			observe: [2]string{"ping", "ping"}, level: "DEBUG",
		},
		{
			name: "store failure", inbox: &inbox{err: storeDown},
			code: 503, reply: map[string]string{"error": "the delivery could not be stored; redeliver it later"},
			observe: [2]string{"issue_comment", "unavailable"}, level: "ERROR",
		},
		{
			name: "GET", method: http.MethodGet,
			code: 405, reply: map[string]string{"error": "method GET is not allowed; GitHub delivers webhooks with POST"},
			observe: [2]string{"unknown", "bad_request"}, level: "WARN",
		},
		{
			name: "over the size limit", opts: func(o *Options) { o.MaxBody = int64(len(payload)) - 1 },
			code: 413, reply: map[string]string{"error": "the payload is larger than 70 bytes"},
			observe: [2]string{"unknown", "too_large"}, level: "WARN",
		},
		{
			name: "over the default size limit", body: bytes.Repeat([]byte(" "), DefaultMaxBody+1),
			code: 413, reply: map[string]string{"error": "the payload is larger than 26214400 bytes"},
			observe: [2]string{"unknown", "too_large"}, level: "WARN",
		},
		{
			name:    "no signature",
			headers: func(h http.Header, _ []byte) { h.Del("X-Hub-Signature-256") },
			code:    401, reply: map[string]string{"error": "X-Hub-Signature-256 is required: set a secret on the webhook; SHA-1 signatures (X-Hub-Signature) are refused"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name: "SHA-1 signature only",
			headers: func(h http.Header, body []byte) {
				h.Del("X-Hub-Signature-256")
				h.Set("X-Hub-Signature", "sha1="+sign(sha1.New, []byte(secret), body))
			},
			code: 401, reply: map[string]string{"error": "X-Hub-Signature-256 is required: set a secret on the webhook; SHA-1 signatures (X-Hub-Signature) are refused"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name: "SHA-1 under the SHA-256 header",
			headers: func(h http.Header, body []byte) {
				h.Set("X-Hub-Signature-256", "sha1="+sign(sha1.New, []byte(secret), body))
			},
			code: 401, reply: map[string]string{"error": "X-Hub-Signature-256 must be sha256=<hex HMAC>"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name: "SHA-512 under the SHA-256 header",
			headers: func(h http.Header, body []byte) {
				h.Set("X-Hub-Signature-256", "sha512="+sign(sha512.New, []byte(secret), body))
			},
			code: 401, reply: map[string]string{"error": "X-Hub-Signature-256 must be sha256=<hex HMAC>"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name: "wrong secret",
			headers: func(h http.Header, body []byte) {
				h.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, []byte("guessed"), body))
			},
			code: 401, reply: map[string]string{"error": "X-Hub-Signature-256 does not match the payload; check the webhook secret"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name: "tampered payload",
			headers: func(h http.Header, _ []byte) {
				h.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, []byte(secret), []byte(strings.Replace(payload, "approve", "reject", 1))))
			},
			code: 401, reply: map[string]string{"error": "X-Hub-Signature-256 does not match the payload; check the webhook secret"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name:    "signature not hex",
			headers: func(h http.Header, _ []byte) { h.Set("X-Hub-Signature-256", "sha256=not-hex") },
			code:    401, reply: map[string]string{"error": "X-Hub-Signature-256 does not match the payload; check the webhook secret"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name: "unsigned headers not trusted",
			headers: func(h http.Header, _ []byte) {
				h.Set("X-GitHub-Event", "ping")
				h.Set("Content-Type", "text/plain")
				h.Set("X-Hub-Signature-256", "sha256=00")
			},
			code: 401, reply: map[string]string{"error": "X-Hub-Signature-256 does not match the payload; check the webhook secret"},
			observe: [2]string{"unknown", "bad_signature"}, level: "WARN",
		},
		{
			name:    "no event",
			headers: func(h http.Header, _ []byte) { h.Del("X-GitHub-Event") },
			code:    400, reply: map[string]string{"error": "X-GitHub-Event and X-GitHub-Delivery are required"},
			observe: [2]string{"unknown", "bad_request"}, level: "WARN",
		},
		{
			name:    "no delivery id",
			headers: func(h http.Header, _ []byte) { h.Del("X-GitHub-Delivery") },
			code:    400, reply: map[string]string{"error": "X-GitHub-Event and X-GitHub-Delivery are required"},
			observe: [2]string{"issue_comment", "bad_request"}, level: "WARN",
		},
		{
			name:    "form-encoded",
			body:    []byte("payload=" + strings.ReplaceAll(payload, `"`, "%22")),
			headers: func(h http.Header, _ []byte) { h.Set("Content-Type", "application/x-www-form-urlencoded") },
			code:    415, reply: map[string]string{"error": "the payload must be application/json: set the webhook's content type to application/json"},
			observe: [2]string{"issue_comment", "bad_request"}, level: "WARN",
		},
		{
			name:    "no content type",
			headers: func(h http.Header, _ []byte) { h.Del("Content-Type") },
			code:    415, reply: map[string]string{"error": "the payload must be application/json: set the webhook's content type to application/json"},
			observe: [2]string{"issue_comment", "bad_request"}, level: "WARN",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.inbox
			if in == nil {
				in = &inbox{}
			}
			before := len(in.stored)
			srv, rec := start(t, in, tt.opts)

			body := tt.body
			if body == nil {
				body = []byte(payload)
			}
			h := deliveryHeaders(body)
			if tt.headers != nil {
				tt.headers(h, body)
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			got := send(t, srv.URL+"/webhooks/github", method, h, body)

			if got.code != tt.code {
				t.Errorf("status %d, want %d", got.code, tt.code)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if diff := cmp.Diff(tt.reply, got.body); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			if tt.code == 405 {
				if allow := got.header.Get("Allow"); allow != "POST" {
					t.Errorf("Allow %q, want POST", allow)
				}
			}

			in.mu.Lock()
			added, leases := in.stored[before:], in.leases
			in.mu.Unlock()
			if diff := cmp.Diff(tt.stored, added, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			var wantLeases []time.Duration
			if len(tt.stored) > 0 {
				wantLeases = []time.Duration{0} // due at once
			}
			if diff := cmp.Diff(wantLeases, leases); diff != "" {
				t.Errorf("leases (-want +got):\n%s", diff)
			}

			rec.mu.Lock()
			accepted, observed := rec.accepted, rec.observed
			rec.mu.Unlock()
			if diff := cmp.Diff(tt.stored, accepted); diff != "" {
				t.Errorf("Accepted called with (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([][2]string{tt.observe}, observed); diff != "" {
				t.Errorf("Observe called with (-want +got):\n%s", diff)
			}

			lines := rec.logLines(t)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			if l["level"] != tt.level {
				t.Errorf("log line %v, want level %s", l, tt.level)
			}
			want := h.Get("X-GitHub-Delivery")
			if id, ok := l["delivery"]; want == "" && ok || want != "" && id != want {
				t.Errorf("log line %v, want delivery %q (none when empty)", l, want)
			}
			if tt.inbox != nil && tt.inbox.err != nil && !strings.Contains(l["err"].(string), storeDown.Error()) {
				t.Errorf("log line %v does not say why the store failed", l)
			}
			rec.mu.Lock()
			logged := rec.log.String()
			rec.mu.Unlock()
			for _, s := range []string{secret, "PAYLOAD-MARKER", "Design for failure"} {
				if strings.Contains(logged, s) {
					t.Errorf("log shows %q: %s", s, logged)
				}
			}
		})
	}
}

func TestHandlerNoHooks(t *testing.T) {
	t.Parallel()
	in := &inbox{}
	srv := httptest.NewServer(NewHandler(Options{Secret: []byte(secret), Inbox: in, Events: []string{"issue_comment"}}))
	t.Cleanup(srv.Close)

	body := []byte(payload)
	got := send(t, srv.URL, http.MethodPost, deliveryHeaders(body), body)
	if got.code != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %v", got.code, got.body)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.stored) != 1 || in.stored[0].ReceivedAt.IsZero() {
		t.Errorf("stored %v, want one delivery received now", in.stored)
	}
}

func TestHandlerLogClipsDeliveryID(t *testing.T) {
	t.Parallel()
	srv, rec := start(t, &inbox{}, nil)
	h := deliveryHeaders(nil)
	h.Set("X-GitHub-Delivery", strings.Repeat("x", 10_000))
	h.Del("X-Hub-Signature-256")
	send(t, srv.URL, http.MethodPost, h, nil)

	lines := rec.logLines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1", len(lines))
	}
	if got, want := lines[0]["delivery"], strings.Repeat("x", 64)+"…"; got != want {
		t.Errorf("delivery logged as %q, want %q", got, want)
	}
}

// TestRealPayload posts GitHub's own issue_comment example, signed.
func TestRealPayload(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(conformance.File(t, "octokit-webhooks/payload-examples/api.github.com/issue_comment/created.payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	in := &inbox{}
	srv, rec := start(t, in, nil)
	got := send(t, srv.URL, http.MethodPost, deliveryHeaders(body), body)
	if got.code != http.StatusAccepted || got.body["status"] != "accepted" {
		t.Errorf("reply %d %v, want 202 accepted", got.code, got.body)
	}
	want := []store.Delivery{{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Event: "issue_comment", Payload: body, ReceivedAt: received}}
	in.mu.Lock()
	defer in.mu.Unlock()
	if diff := cmp.Diff(want, in.stored); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if diff := cmp.Diff(want, rec.accepted); diff != "" {
		t.Errorf("accepted (-want +got):\n%s", diff)
	}
}

func TestNewHandlerRefusesMissingSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "no secret", o: Options{Inbox: &inbox{}}, want: "webhook: Options.Secret is empty"},
		{name: "no inbox", o: Options{Secret: []byte(secret)}, want: "webhook: Options.Inbox is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("panic %v, want %q", got, tt.want)
				}
			}()
			NewHandler(tt.o)
		})
	}
}
