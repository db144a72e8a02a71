package msemu

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
	abs "github.com/microsoft/kiota-abstractions-go"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	nethttplibrary "github.com/microsoft/kiota-http-go"

	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

// The Microsoft 365 tenant that sends mail, its sending app and mailbox.
const (
	mailTenant = "contoso.onmicrosoft.com"
	mailAppID  = "6a11ce00-0000-4000-8000-00000000a11c"
	mailSecret = "mail~secret"
	sender     = "gatehouse@contoso.example"
)

// approvalMIME is a message as the app writes it.
const approvalMIME = "From: Gatehouse <gatehouse@contoso.example>\r\n" +
	"To: Alice <alice@contoso.example>\r\n" +
	"Cc: ops@contoso.example\r\n" +
	"Subject: Approval needed: deploy production\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n" +
	"Message-ID: <gate-42.alice@gatehouse.example>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Approve: https://gatehouse.example/respond/t0k3n\r\n"

// approvalJSON is the same message as a JSON sendMail body.
const approvalJSON = `{"message":{"subject":"Approval needed","body":{"contentType":"Text","content":"Approve?"},` +
	`"toRecipients":[{"emailAddress":{"address":"alice@contoso.example"}}]},"saveToSentItems":false}`

// mailWorld is a tenant with the sender's mailbox and the app granted
// Mail.Send, plus apps without the role and restricted to another mailbox.
type mailWorld struct {
	emu   *Emulator
	clock *testclock.Clock
}

const (
	ungrantedAppID  = "6a11ce00-0000-4000-8000-0000000000a2"
	restrictedAppID = "6a11ce00-0000-4000-8000-0000000000a3"
	otherMailbox    = "other@contoso.example"
	foreignMailbox  = "someone@fabrikam.example"
)

func newMailWorld(t *testing.T, tls bool) *mailWorld {
	t.Helper()
	c := testclock.New(time.Now().Truncate(time.Second))
	w := &mailWorld{emu: start(t, Options{TLS: tls, Now: c.Now}), clock: c}
	for _, id := range []string{mailAppID, ungrantedAppID, restrictedAppID} {
		check(t, w.emu.AddApp(mailTenant, id, mailSecret))
	}
	check(t, w.emu.GrantMailSend(mailTenant, mailAppID))
	check(t, w.emu.GrantMailSend(mailTenant, restrictedAppID, "OTHER@contoso.example"))
	check(t, w.emu.AddMailbox(mailTenant, sender))
	check(t, w.emu.AddMailbox(mailTenant, otherMailbox))
	check(t, w.emu.AddMailbox("fabrikam.onmicrosoft.com", foreignMailbox))
	return w
}

// graphApp is the app's Microsoft Graph stack: azidentity's client secret
// credential on the emulator's authority, kiota's Azure Identity
// authentication and its net/http adapter with the default middleware,
// over a transport that trusts CertPEM.
type graphApp struct {
	adapter *nethttplibrary.NetHttpRequestAdapter
	wire    *wire
}

func newGraphApp(t *testing.T, emu *Emulator, clientID, scope string) *graphApp {
	t.Helper()
	tr, client := trusting(t, emu)
	cred, err := azidentity.NewClientSecretCredential(mailTenant, clientID, mailSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: emu.AuthorityURL()},
			Transport: client,
		},
		DisableInstanceDiscovery: true,
	})
	check(t, err)
	u, err := url.Parse(emu.GraphURL())
	check(t, err)
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{u.Hostname()})
	check(t, err)
	w := &wire{next: tr}
	httpClient := &http.Client{Transport: nethttplibrary.NewCustomTransportWithParentTransport(w, nethttplibrary.GetDefaultMiddlewares()...)}
	adapter, err := nethttplibrary.NewNetHttpRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	check(t, err)
	adapter.SetBaseUrl(emu.GraphURL())
	return &graphApp{adapter: adapter, wire: w}
}

// sendMail posts body to /users/{mailbox}/sendMail as the app does and
// returns Graph's last answer on the wire, and kiota's error.
func (g *graphApp) sendMail(t *testing.T, mailbox, contentType string, body []byte) (answer, error) {
	t.Helper()
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.POST, "{+baseurl}/users/{user}/sendMail", map[string]string{"user": mailbox})
	info.SetStreamContentAndContentType(body, contentType)
	err := g.adapter.SendNoContent(t.Context(), info, nil)
	return g.wire.lastAnswer(), err
}

// wire is the transport under kiota's middleware. It keeps the last answer
// so that tests can read Graph's error body, which kiota leaves unread
// without an error mapping.
type wire struct {
	next http.RoundTripper

	mu   sync.Mutex
	last answer
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	w.mu.Lock()
	w.last = answer{status: resp.StatusCode, header: resp.Header, body: b}
	w.mu.Unlock()
	return resp, nil
}

func (w *wire) lastAnswer() answer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func b64(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSendMailThroughGraphStack(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t, true)
	g := newGraphApp(t, w.emu, mailAppID, w.emu.URL()+"/.default")

	for _, c := range []struct{ contentType, body string }{
		{"text/plain", string(b64(approvalMIME))},
		{"application/json", approvalJSON},
	} {
		a, err := g.sendMail(t, sender, c.contentType, []byte(c.body))
		if err != nil || a.status != http.StatusAccepted || len(a.body) != 0 {
			t.Fatalf("%s: got %d %q, %v; want 202 with no body", c.contentType, a.status, a.body, err)
		}
		if id := a.header.Get("request-id"); !uuidShape.MatchString(id) {
			t.Errorf("request-id %q is not a UUID", id)
		}
	}
	now := w.clock.Now()
	want := []SentMail{
		{Tenant: mailTenant, ClientID: mailAppID, Mailbox: sender, ContentType: "text/plain", Gzipped: true, MIME: []byte(approvalMIME), At: now},
		{Tenant: mailTenant, ClientID: mailAppID, Mailbox: sender, ContentType: "application/json", Gzipped: true, JSON: json.RawMessage(approvalJSON), At: now},
	}
	if diff := cmp.Diff(want, w.emu.SentMail()); diff != "" {
		t.Errorf("SentMail (-want +got):\n%s", diff)
	}
	if n := w.emu.TokenRequests(mailAppID); n != 1 {
		t.Errorf("TokenRequests = %d, want 1 (the token cached)", n)
	}
	if n := w.emu.GraphRequests(); n != 2 {
		t.Errorf("GraphRequests = %d, want 2", n)
	}
}

// graphErrorOf reads Graph's error body and checks its shape.
func graphErrorOf(t *testing.T, a answer) graphErrorDetail {
	t.Helper()
	var body graphErrorBody
	if err := json.Unmarshal(a.body, &body); err != nil {
		t.Fatalf("answer %d %q is not a Graph error: %v", a.status, a.body, err)
	}
	in := body.Error.InnerError
	if _, err := time.Parse("2006-01-02T15:04:05", in.Date); err != nil {
		t.Errorf("innerError.date: %v", err)
	}
	if in.RequestID != a.header.Get("request-id") || in.ClientRequestID != a.header.Get("client-request-id") || !uuidShape.MatchString(in.RequestID) {
		t.Errorf("innerError %+v does not match the headers %v", in, a.header)
	}
	return body.Error
}

func TestSendMailRefusalsThroughGraphStack(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t, true)
	graph := w.emu.URL() + "/.default"
	apps := map[string]*graphApp{
		"granted":      newGraphApp(t, w.emu, mailAppID, graph),
		"ungranted":    newGraphApp(t, w.emu, ungrantedAppID, graph),
		"restricted":   newGraphApp(t, w.emu, restrictedAppID, graph),
		"bot audience": newGraphApp(t, w.emu, mailAppID, "https://api.botframework.com/.default"),
	}
	noTo := strings.Replace(approvalMIME, "To: Alice <alice@contoso.example>\r\nCc: ops@contoso.example\r\n", "", 1)
	tests := []struct {
		name, app, mailbox, contentType, body string
		status                                int
		code, message                         string
	}{
		{"wrong audience", "bot audience", sender, "text/plain", string(b64(approvalMIME)), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."},
		{"no Mail.Send role", "ungranted", sender, "text/plain", string(b64(approvalMIME)), 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."},
		{"policy excludes the mailbox", "restricted", sender, "text/plain", string(b64(approvalMIME)), 403, "ErrorAccessDenied", policyDenied},
		{"policy excludes an unknown mailbox", "restricted", "nobody@contoso.example", "text/plain", string(b64(approvalMIME)), 403, "ErrorAccessDenied", policyDenied},
		{"unknown mailbox", "granted", "nobody@contoso.example", "text/plain", string(b64(approvalMIME)), 404, "ErrorInvalidUser", "The requested user 'nobody@contoso.example' is invalid."},
		{"mailbox of another tenant", "granted", foreignMailbox, "text/plain", string(b64(approvalMIME)), 404, "ErrorInvalidUser", "The requested user 'someone@fabrikam.example' is invalid."},
		{"bad base64", "granted", sender, "text/plain", approvalMIME, 400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."},
		{"base64 of no message", "granted", sender, "text/plain", string(b64("not a message")), 400, "ErrorMimeContentInvalid", "The MIME content is not valid."},
		{"MIME without recipients", "granted", sender, "text/plain", string(b64(noTo)), 400, "ErrorInvalidRecipients", noRecipients},
		{"JSON without recipients", "granted", sender, "application/json", `{"message":{"subject":"x"}}`, 400, "ErrorInvalidRecipients", noRecipients},
		{"JSON that does not parse", "granted", sender, "application/json", `{"message":`, 400, "UnableToDeserializePostBody", "were unable to deserialize "},
		{"wrong content type", "granted", sender, "application/xml", "<message/>", 415, "UnsupportedMediaType", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := apps[tt.app].sendMail(t, tt.mailbox, tt.contentType, []byte(tt.body))
			if err == nil {
				t.Error("kiota reported no error")
			}
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			got := graphErrorOf(t, a)
			if got.Code != tt.code || (tt.message != "" && got.Message != tt.message) {
				t.Errorf("error %s %q, want %s %q", got.Code, got.Message, tt.code, tt.message)
			}
			if tt.status == http.StatusUnauthorized && !strings.Contains(a.header.Get("WWW-Authenticate"), `client_id="00000003-0000-0000-c000-000000000000"`) {
				t.Errorf("WWW-Authenticate = %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	if sent := w.emu.SentMail(); len(sent) != 0 {
		t.Errorf("refused mail was recorded: %+v", sent)
	}
}

func TestSendMailExpiredTokenThroughGraphStack(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t, true)
	g := newGraphApp(t, w.emu, mailAppID, w.emu.URL()+"/.default")
	if a, err := g.sendMail(t, sender, "text/plain", b64(approvalMIME)); err != nil {
		t.Fatalf("first send: %d %s: %v", a.status, a.body, err)
	}
	w.clock.Advance(time.Hour) // the cached token is an hour old by the emulator's clock
	a, err := g.sendMail(t, sender, "text/plain", b64(approvalMIME))
	if err == nil || a.status != http.StatusUnauthorized {
		t.Fatalf("got %d %s, %v; want 401", a.status, a.body, err)
	}
	if got := graphErrorOf(t, a); got.Code != "InvalidAuthenticationToken" || got.Message != "Lifetime validation failed, the token is expired." {
		t.Errorf("error %s %q", got.Code, got.Message)
	}
	if n := len(w.emu.SentMail()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
}

// graphToken gets an access token for scope from the token endpoint.
func graphToken(t *testing.T, emu *Emulator, clientID, scope string) string {
	t.Helper()
	a := postForm(t, emu.TokenURL(mailTenant), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {mailSecret}, "scope": {scope},
	})
	if a.status != http.StatusOK {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	tok, _ := a.json(t)["access_token"].(string)
	return tok
}

func gzipped(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	check(t, err)
	check(t, zw.Close())
	return buf.String()
}

func sendMailURL(emu *Emulator, mailbox string) string {
	return emu.GraphURL() + "/users/" + url.PathEscape(mailbox) + "/sendMail"
}

// TestSendMailBodies posts with net/http, with and without gzip.
func TestSendMailBodies(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t, false)
	token := graphToken(t, w.emu, mailAppID, "https://graph.microsoft.com/.default")
	folded := regexp.MustCompile(`.{1,76}`).ReplaceAllString(string(b64(approvalMIME)), "$0\r\n")
	mime := http.Header{"Content-Type": {"text/plain"}}
	gz := http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"}}
	tests := []struct {
		name    string
		mailbox string
		header  http.Header
		body    string
		status  int
		code    string
		gzipped bool
	}{
		{"MIME, not compressed", sender, mime, string(b64(approvalMIME)), 202, "", false},
		{"MIME, gzip", sender, gz, gzipped(t, b64(approvalMIME)), 202, "", true},
		{"MIME in lines of 76", sender, mime, folded, 202, "", false},
		{"mailbox by object id", w.emu.MailboxID(mailTenant, sender), mime, string(b64(approvalMIME)), 202, "", false},
		{"mailbox address in another case", "GateHouse@Contoso.Example", mime, string(b64(approvalMIME)), 202, "", false},
		{"JSON, gzip", sender, http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, gzipped(t, []byte(approvalJSON)), 202, "", true},
		{"brotli", sender, http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"br"}}, string(b64(approvalMIME)), 400, "BadRequest", false},
		{"gzip header, plain body", sender, gz, string(b64(approvalMIME)), 400, "BadRequest", false},
		{"over 4 MB", sender, mime, strings.Repeat("QUFB", 1<<20) + "QUFB", 413, "RequestEntityTooLarge", false},
		{"MIME with a bad recipient", sender, mime, string(b64("To: <nobody\r\n\r\nhi\r\n")), 400, "ErrorInvalidRecipients", false},
		{"JSON with a bad recipient", sender, jsonHeader(), `{"message":{"toRecipients":[{"emailAddress":{"address":"nobody"}}]}}`, 400, "ErrorInvalidRecipients", false},
		{"JSON saveToSentItems not a boolean", sender, jsonHeader(), `{"message":{"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]},"saveToSentItems":"no"}`, 400, "UnableToDeserializePostBody", false},
		{"no content type", sender, http.Header{}, string(b64(approvalMIME)), 415, "UnsupportedMediaType", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header.Clone()
			h.Set("Authorization", "Bearer "+token)
			h.Set("client-request-id", "0b0b0b0b-1111-4222-8333-444444444444")
			before := len(w.emu.SentMail())
			a := do(t, http.MethodPost, sendMailURL(w.emu, tt.mailbox), h, tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if got := a.header.Get("client-request-id"); got != "0b0b0b0b-1111-4222-8333-444444444444" {
				t.Errorf("client-request-id = %q, want the request's", got)
			}
			sent := w.emu.SentMail()
			if tt.status != http.StatusAccepted {
				if got := graphErrorOf(t, a).Code; got != tt.code {
					t.Errorf("code %s, want %s", got, tt.code)
				}
				if len(sent) != before {
					t.Errorf("a refused message was recorded")
				}
				return
			}
			if len(sent) != before+1 {
				t.Fatalf("%d messages recorded, want %d", len(sent), before+1)
			}
			last := sent[len(sent)-1]
			if last.Mailbox != sender || last.Gzipped != tt.gzipped || last.ContentType != h.Get("Content-Type") {
				t.Errorf("recorded %+v", last)
			}
			if last.JSON == nil && string(last.MIME) != approvalMIME {
				t.Errorf("MIME = %q, want %q", last.MIME, approvalMIME)
			}
		})
	}
}

func TestSendMailTokenChecks(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t, false)
	botFramework, err := w.emu.Token(TokenOptions{Audience: w.emu.URL()})
	check(t, err)
	tests := []struct {
		name, authorization string
		status              int
		message             string
	}{
		{"no token", "", 401, "Access token is empty."},
		{"empty bearer", "Bearer ", 401, "Access token is empty."},
		{"not a JWT", "Bearer abc", 401, "Access token validation failure."},
		{"signed by another key", "Bearer " + botFramework, 401, "Access token validation failure."},
		{"global Graph resource", "Bearer " + graphToken(t, w.emu, mailAppID, "https://graph.microsoft.com/.default"), 202, ""},
		{"the emulator as Graph", "Bearer " + graphToken(t, w.emu, mailAppID, w.emu.URL()+"/.default"), 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"text/plain"}}
			if tt.authorization != "" {
				h.Set("Authorization", tt.authorization)
			}
			a := do(t, http.MethodPost, sendMailURL(w.emu, sender), h, string(b64(approvalMIME)))
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status == http.StatusAccepted {
				if a.header.Get("client-request-id") != a.header.Get("request-id") {
					t.Errorf("without a client-request-id, it is %q, want the request-id %q", a.header.Get("client-request-id"), a.header.Get("request-id"))
				}
				return
			}
			if got := graphErrorOf(t, a); got.Code != "InvalidAuthenticationToken" || got.Message != tt.message {
				t.Errorf("error %s %q, want InvalidAuthenticationToken %q", got.Code, got.Message, tt.message)
			}
		})
	}
}

func TestGraphFaults(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t, false)
	h := http.Header{"Content-Type": {"text/plain"}, "Authorization": {"Bearer " + graphToken(t, w.emu, mailAppID, w.emu.URL()+"/.default")}}
	check(t, w.emu.FailGraphNext(1, http.StatusServiceUnavailable))
	check(t, w.emu.ThrottleGraph(2, 1500*time.Millisecond))
	type result struct {
		Status     int
		Code       string
		RetryAfter string
	}
	var got []result
	unauthenticated := do(t, http.MethodPost, sendMailURL(w.emu, sender), http.Header{"Content-Type": {"text/plain"}}, string(b64(approvalMIME)))
	got = append(got, result{unauthenticated.status, graphErrorOf(t, unauthenticated).Code, ""})
	for range 4 {
		a := do(t, http.MethodPost, sendMailURL(w.emu, sender), h, string(b64(approvalMIME)))
		r := result{Status: a.status, RetryAfter: a.header.Get("Retry-After")}
		if a.status != http.StatusAccepted {
			r.Code = graphErrorOf(t, a).Code
		}
		got = append(got, r)
	}
	want := []result{
		{401, "InvalidAuthenticationToken", ""}, // takes no fault
		{503, "ServiceUnavailable", ""},
		{429, "ApplicationThrottled", "2"},
		{429, "ApplicationThrottled", "2"},
		{202, "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if n := len(w.emu.SentMail()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
	if n := w.emu.GraphRequests(); n != 5 {
		t.Errorf("GraphRequests = %d, want 5", n)
	}
	for _, err := range []error{
		w.emu.FailGraphNext(0, 500),
		w.emu.FailGraphNext(1, 302),
		w.emu.ThrottleGraph(1, -time.Second),
	} {
		if err == nil {
			t.Error("a bad fault was accepted")
		}
	}
}

func TestMailSetupRefuses(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	check(t, emu.AddApp(mailTenant, mailAppID, mailSecret))
	check(t, emu.AddMailbox(mailTenant, sender))
	tests := []struct {
		name string
		err  error
	}{
		{"mailbox twice, in another case", emu.AddMailbox(mailTenant, strings.ToUpper(sender))},
		{"mailbox with a display name", emu.AddMailbox(mailTenant, "Gatehouse <g@contoso.example>")},
		{"mailbox not an address", emu.AddMailbox(mailTenant, "gatehouse")},
		{"mailbox in no tenant", emu.AddMailbox("", "a@contoso.example")},
		{"grant to an unknown app", emu.GrantMailSend(mailTenant, "stranger")},
		{"grant in another tenant", emu.GrantMailSend("fabrikam.onmicrosoft.com", mailAppID)},
		{"policy of a non-address", emu.GrantMailSend(mailTenant, mailAppID, "everyone")},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if id := emu.MailboxID(mailTenant, "GATEHOUSE@contoso.example"); !uuidShape.MatchString(id) {
		t.Errorf("MailboxID = %q, want a UUID", id)
	}
	if id := emu.MailboxID(mailTenant, "nobody@contoso.example"); id != "" {
		t.Errorf("MailboxID of no mailbox = %q", id)
	}
	if got := emu.GraphURL(); got != emu.URL()+"/v1.0" {
		t.Errorf("GraphURL = %s", got)
	}
}
