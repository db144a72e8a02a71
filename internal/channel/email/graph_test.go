package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/config"
	"github.com/gatehouse-ci/gatehouse/internal/msemu"
)

const (
	graphClientID = "00000000-0000-4000-8000-00000000e0a1"
	graphSecret   = "graph-app-secret"
	graphSender   = "gatehouse@corp.example"
)

// emuKeys are the emulator's signing keys, made once: making them is slow.
var emuKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, 4)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
})

// graphEnv is a Graph transport on an emulated Microsoft cloud.
type graphEnv struct {
	emu    *msemu.Emulator
	tenant string
	rt     *routedTransport
	sender string // the mailbox the transport sends as; graphSender unless set
}

// newGraphEnv starts an emulator where the app may send as graphSender
// unless setup says otherwise.
func newGraphEnv(t *testing.T) *graphEnv {
	t.Helper()
	keys, err := emuKeys()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	emu, err := msemu.New(msemu.Options{TLS: true, GenerateKey: func() (*rsa.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		k := keys[next%len(keys)]
		next++
		return k, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.CertPEM()) {
		t.Fatal("the emulator's certificate does not parse")
	}
	e := &graphEnv{emu: emu, tenant: emu.TenantID(), sender: graphSender, rt: &routedTransport{
		emu: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}}
	if err := emu.AddApp(e.tenant, graphClientID, graphSecret); err != nil {
		t.Fatal(err)
	}
	if err := emu.AddMailbox(e.tenant, graphSender); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *graphEnv) transport(t *testing.T, secret string) *Graph {
	t.Helper()
	g, err := NewGraph(GraphOptions{
		AuthorityURL: e.emu.AuthorityURL(),
		Graph: config.Graph{
			TenantID: e.tenant, ClientID: graphClientID, ClientSecret: config.Secret(secret),
			Sender: e.sender, URL: e.emu.GraphURL(),
		},
		HTTPClient: &http.Client{Transport: e.rt},
		Timeout:    10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// routedTransport sends sendMail requests to sendMail when set, and
// everything else to the emulator.
type routedTransport struct {
	emu      *http.Transport
	sendMail http.RoundTripper
}

func (r *routedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.sendMail != nil && strings.HasSuffix(req.URL.Path, "/sendMail") {
		return r.sendMail.RoundTrip(req)
	}
	return r.emu.RoundTrip(req)
}

func TestGraphSend(t *testing.T) {
	t.Parallel()
	e := newGraphEnv(t)
	if err := e.emu.GrantMailSend(e.tenant, graphClientID, graphSender); err != nil {
		t.Fatal(err)
	}
	g := e.transport(t, graphSecret)
	m := testMessage(t)
	for range 2 {
		if err := sendAlone(t.Context(), g, m); err != nil {
			t.Fatal(err)
		}
	}
	want, err := m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	sent := e.emu.SentMail()
	if len(sent) != 2 {
		t.Fatalf("%d messages sent, want 2", len(sent))
	}
	got := sent[0]
	if !bytes.Equal(got.MIME, want) {
		t.Errorf("Graph got other MIME than MIME():\n%s", cmp.Diff(string(want), string(got.MIME)))
	}
	p := parseMIME(t, got.MIME)
	if id := p.header.Get("Message-Id"); id != "<"+testMsgID+">" {
		t.Errorf("Message-ID %q", id)
	}
	got.MIME, got.At = nil, time.Time{}
	wantSent := msemu.SentMail{Tenant: e.tenant, ClientID: graphClientID, Mailbox: graphSender, ContentType: "text/plain", Gzipped: true}
	if d := cmp.Diff(wantSent, got); d != "" {
		t.Errorf("sent mail (-want +got):\n%s", d)
	}
	// The token is got once and kept.
	if n := e.emu.TokenRequests(graphClientID); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if g.Name() != "graph" || g.Timeout() != 10*time.Second {
		t.Errorf("Name %q, Timeout %v", g.Name(), g.Timeout())
	}
}

func TestGraphThrottled(t *testing.T) {
	t.Parallel()
	e := newGraphEnv(t)
	if err := e.emu.GrantMailSend(e.tenant, graphClientID); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.ThrottleGraph(1, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sendAlone(t.Context(), e.transport(t, graphSecret), testMessage(t)); err != nil {
		t.Fatalf("throttled once: %v", err)
	}
	if n := e.emu.GraphRequests(); n != 2 {
		t.Errorf("%d Graph requests, want 2", n)
	}
	sent := e.emu.SentMail()
	if len(sent) != 1 || !sent[0].Gzipped {
		t.Fatalf("sent %+v, want one gzipped message", sent)
	}
}

func TestGraphFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		setup      func(t *testing.T, e *graphEnv)
		secret     string
		want       Failure
		reason     string
		retryAfter time.Duration
		requests   int // sendMail requests Graph answered
	}{
		{
			name: "no Mail.Send role", want: Blocked, reason: "Microsoft Graph refused the app's access (403 ErrorAccessDenied)", requests: 1,
		},
		{
			name: "mailbox outside the access policy",
			setup: func(t *testing.T, e *graphEnv) {
				if err := e.emu.GrantMailSend(e.tenant, graphClientID, "other@corp.example"); err != nil {
					t.Fatal(err)
				}
			},
			want: Blocked, reason: "Microsoft Graph refused the app's access (403 ErrorAccessDenied)", requests: 1,
		},
		{
			name: "no such sender mailbox",
			setup: func(t *testing.T, e *graphEnv) {
				grant(t, e)
				e.sender = "nobody@corp.example"
			},
			want: Blocked, reason: "Microsoft Graph does not know the sender mailbox (404 ErrorInvalidUser)", requests: 1,
		},
		{
			name: "wrong client secret", secret: "not-the-secret",
			want: Blocked, reason: "the Microsoft identity platform refused the app's credentials (401 invalid_client)",
		},
		{name: "500", setup: failNext(500), want: Unsure, reason: "Microsoft Graph failed and may have sent it (500 InternalServerError)", requests: 1},
		{name: "502", setup: failNext(502), want: Unsure, reason: "Microsoft Graph failed and may have sent it (502 BadGateway)", requests: 1},
		{name: "503", setup: failNext(503), want: Unsure, reason: "Microsoft Graph failed and may have sent it (503 ServiceUnavailable)", requests: 1},
		{
			name: "throttled for long",
			setup: func(t *testing.T, e *graphEnv) {
				grant(t, e)
				if err := e.emu.ThrottleGraph(1, 30*time.Second); err != nil {
					t.Fatal(err)
				}
			},
			want: Retry, reason: "Microsoft Graph is throttling (429 ApplicationThrottled)", retryAfter: 30 * time.Second, requests: 1,
		},
		{name: "504", setup: failNext(504), want: Unsure, reason: "Microsoft Graph timed out and may have sent it (504 GatewayTimeout)", requests: 1},
		{name: "400", setup: failNext(400), want: Refused, reason: "Microsoft Graph refused it (400 BadRequest)", requests: 1},
		{name: "413", setup: failNext(413), want: Refused, reason: "Microsoft Graph refused it (413 RequestEntityTooLarge)", requests: 1},
		{
			name: "no answer after the request",
			setup: func(t *testing.T, e *graphEnv) {
				grant(t, e)
				e.rt.sendMail = blackHole(t)
			},
			want: Unsure, reason: "Microsoft Graph did not answer after taking the message",
		},
		{
			name: "unreachable",
			setup: func(t *testing.T, e *graphEnv) {
				grant(t, e)
				port := freePort(t)
				e.rt.sendMail = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return new(net.Dialer).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
				}}
			},
			want: Retry, reason: "Microsoft Graph could not be reached",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newGraphEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			secret := graphSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			err := sendAlone(t.Context(), e.transport(t, secret), testMessage(t))
			if err == nil {
				t.Fatal("no error")
			}
			if got := FailureOf(err); got != tc.want {
				t.Errorf("failure %v, want %v (%v)", got, tc.want, err)
			}
			reason := Reason(err)
			if reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
			if got := retryAfter(err); got != tc.retryAfter {
				t.Errorf("Retry-After %v, want %v", got, tc.retryAfter)
			}
			for _, secret := range []string{"127.0.0.1", graphSender, testTo, secret, graphClientID} {
				if strings.Contains(reason, secret) {
					t.Errorf("reason %q names %q", reason, secret)
				}
			}
			if n := e.emu.GraphRequests(); n != tc.requests {
				t.Errorf("%d sendMail requests, want %d", n, tc.requests)
			}
			if n := len(e.emu.SentMail()); n != 0 {
				t.Errorf("%d messages sent, want none", n)
			}
		})
	}
}

func grant(t *testing.T, e *graphEnv) {
	t.Helper()
	if err := e.emu.GrantMailSend(e.tenant, graphClientID); err != nil {
		t.Fatal(err)
	}
}

func failNext(status int) func(*testing.T, *graphEnv) {
	return func(t *testing.T, e *graphEnv) {
		grant(t, e)
		if err := e.emu.FailGraphNext(1, status); err != nil {
			t.Fatal(err)
		}
	}
}

// blackHole is a transport to a server that reads each request whole and
// closes the connection without answering.
func blackHole(t *testing.T) http.RoundTripper {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialTLSContext = nil
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, addr)
	}
	return tr
}

func TestGraphAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string // the header
		body       string
		want       Failure
		reason     string
		wait       time.Duration
	}{
		{"throttled", 429, "", `{"error":{"code":"ApplicationThrottled","message":"slow down"}}`, Retry, "Microsoft Graph is throttling (429 ApplicationThrottled)", 0},
		{"throttled, wait", 429, "120", `{"error":{"code":"ApplicationThrottled"}}`, Retry, "Microsoft Graph is throttling (429 ApplicationThrottled)", 2 * time.Minute},
		{"unavailable, wait", 503, "7", ``, Retry, "Microsoft Graph is unavailable (503)", 7 * time.Second},
		{"unavailable, no wait", 503, "0", ``, Retry, "Microsoft Graph is unavailable (503)", 0},
		{"unavailable, wait until", 503, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), ``, Retry, "Microsoft Graph is unavailable (503)", 0},
		{"unavailable", 503, "", `{"error":{"code":"ServiceUnavailable"}}`, Unsure, "Microsoft Graph failed and may have sent it (503 ServiceUnavailable)", 0},
		{"unavailable, unreadable wait", 503, "soon", ``, Unsure, "Microsoft Graph failed and may have sent it (503)", 0},
		{"request timeout", 408, "", ``, Retry, "Microsoft Graph is unavailable (408)", 0},
		{"500", 500, "", `{"error":{"code":"generalException"}}`, Unsure, "Microsoft Graph failed and may have sent it (500 generalException)", 0},
		{"504", 504, "30", ``, Unsure, "Microsoft Graph timed out and may have sent it (504)", 0},
		{"507", 507, "", `not json`, Unsure, "Microsoft Graph failed and may have sent it (507)", 0},
		{"token refused", 401, "", `{"error":{"code":"InvalidAuthenticationToken"}}`, Blocked, "Microsoft Graph refused the app's access (401 InvalidAuthenticationToken)", 0},
		{"send as denied", 403, "", `{"error":{"code":"ErrorSendAsDenied"}}`, Blocked, "Microsoft Graph refused the app's access (403 ErrorSendAsDenied)", 0},
		{"no sender", 404, "", `{"error":{"code":"<b>user@corp.example</b>"}}`, Blocked, "Microsoft Graph does not know the sender mailbox (404)", 0},
		{"bad recipients", 400, "", `{"error":{"code":"ErrorInvalidRecipients"}}`, Refused, "Microsoft Graph refused it (400 ErrorInvalidRecipients)", 0},
		{"media type", 415, "", `{"error":{"code":"UnsupportedMediaType"}}`, Refused, "Microsoft Graph refused it (415 UnsupportedMediaType)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tc.retryAfter != "" {
				rec.Header().Set("Retry-After", tc.retryAfter)
			}
			rec.WriteHeader(tc.status)
			rec.WriteString(tc.body)
			err := graphFailure(readAnswer(rec.Result()))
			if got := FailureOf(err); got != tc.want {
				t.Errorf("failure %v, want %v", got, tc.want)
			}
			if got := Reason(err); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			wait := retryAfter(err)
			if tc.name == "unavailable, wait until" {
				// An HTTP date: about an hour from now.
				if wait < 59*time.Minute || wait > time.Hour {
					t.Errorf("Retry-After %v, want about an hour", wait)
				}
			} else if wait != tc.wait {
				t.Errorf("Retry-After %v, want %v", wait, tc.wait)
			}
		})
	}
	rec := httptest.NewRecorder()
	rec.WriteHeader(http.StatusAccepted)
	if err := readAnswer(rec.Result()); err != nil {
		t.Errorf("202: %v", err)
	}
}

func TestNewGraphErrors(t *testing.T) {
	good := GraphOptions{
		AuthorityURL: "https://login.example",
		Graph:        config.Graph{TenantID: "t", ClientID: "c", ClientSecret: config.Secret("s"), Sender: graphSender, URL: "https://graph.example/v1.0"},
	}
	if _, err := NewGraph(good); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for name, change := range map[string]func(*GraphOptions){
		"no tenant":          func(o *GraphOptions) { o.Graph.TenantID = "" },
		"no secret":          func(o *GraphOptions) { o.Graph.ClientSecret = nil },
		"no sender":          func(o *GraphOptions) { o.Graph.Sender = "" },
		"http Graph URL":     func(o *GraphOptions) { o.Graph.URL = "http://graph.example/v1.0" },
		"relative Graph URL": func(o *GraphOptions) { o.Graph.URL = "/v1.0" },
		"http authority":     func(o *GraphOptions) { o.AuthorityURL = "http://login.example" },
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			change(&o)
			if _, err := NewGraph(o); err == nil {
				t.Error("no error")
			}
		})
	}
}
