package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"

	"github.com/gatehouse-ci/gatehouse/internal/config"
)

const (
	// defaultGraphTimeout bounds one send: the token, the request and
	// kiota's retries of 429.
	defaultGraphTimeout = 20 * time.Second
	// maxGraphErrorBody bounds the error answer read.
	maxGraphErrorBody = 64 << 10
	// maxInlineWait is the longest Retry-After of a 429 waited out within a
	// send; a longer one ends the send, and the outbox waits instead.
	maxInlineWait = 2 * time.Second
)

// GraphOptions configures a Microsoft Graph transport.
type GraphOptions struct {
	// AuthorityURL is the Microsoft identity platform
	// (GATEHOUSE_AUTHORITY_URL).
	AuthorityURL string
	Graph        config.Graph
	// HTTPClient's Transport carries both the token requests and the Graph
	// calls; nil uses http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds one send; default 20s.
	Timeout time.Duration
}

// Graph sends messages as a mailbox through Microsoft Graph
// (POST /users/{sender}/sendMail with the MIME message), with an app's
// client credentials that hold the Mail.Send application role.
type Graph struct {
	adapter  *khttp.NetHttpRequestAdapter
	endpoint url.URL
	timeout  time.Duration
}

// NewGraph returns a Graph transport configured by o.
func NewGraph(o GraphOptions) (*Graph, error) {
	g := o.Graph
	switch {
	case g.TenantID == "" || g.ClientID == "" || len(g.ClientSecret) == 0:
		return nil, errors.New("graph: the tenant id, client id and client secret are all required")
	case g.Sender == "":
		return nil, errors.New("graph: no sender mailbox")
	}
	base, err := url.Parse(strings.TrimRight(g.URL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("graph: URL %q is not an absolute https URL", g.URL)
	}
	authority, err := url.Parse(o.AuthorityURL)
	if err != nil || authority.Scheme != "https" || authority.Host == "" {
		return nil, fmt.Errorf("graph: authority URL %q is not an absolute https URL", o.AuthorityURL)
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultGraphTimeout
	}
	rt := http.DefaultTransport
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		rt = o.HTTPClient.Transport
	}

	cred, err := azidentity.NewClientSecretCredential(g.TenantID, g.ClientID, string(g.ClientSecret), &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: o.AuthorityURL},
			Transport: &http.Client{Transport: rt},
			// The outbox retries; a token request is tried once.
			Retry: policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: strings.TrimRight(o.AuthorityURL, "/") != config.DefaultAuthorityURL,
	})
	if err != nil {
		return nil, fmt.Errorf("graph: credential: %w", err)
	}
	scope := base.Scheme + "://" + base.Host + "/.default"
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHostsAndObservabilityOptionsAndIsCaeEnabled(
		cred, []string{scope}, []string{base.Hostname()}, kauth.ObservabilityOptions{}, false)
	if err != nil {
		return nil, fmt.Errorf("graph: authentication provider: %w", err)
	}
	// Kiota's default middleware, in a fixed order (compression outside
	// the retries, so that a retried body is the compressed one), with
	// retries of 429 only, and only when Retry-After asks for a short
	// wait: a 5xx to a POST may come after the mail went.
	middleware := []khttp.Middleware{
		khttp.NewCompressionHandler(),
		khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
			DelaySeconds: 1,
			ShouldRetry: func(waited time.Duration, _ int, _ *http.Request, resp *http.Response) bool {
				wait, _ := retryAfterOf(resp.Header, time.Now())
				return resp.StatusCode == http.StatusTooManyRequests && waited+wait <= maxInlineWait
			},
		}),
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
	client := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(tracedTransport{rt}, middleware...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := khttp.NewNetHttpRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, client)
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(base.String())
	endpoint, err := url.Parse(base.String() + "/users/" + url.PathEscape(g.Sender) + "/sendMail")
	if err != nil {
		return nil, fmt.Errorf("graph: sender %q: %w", g.Sender, err)
	}
	return &Graph{adapter: adapter, endpoint: *endpoint, timeout: o.Timeout}, nil
}

// Name is "graph".
func (g *Graph) Name() string { return "graph" }

// Timeout bounds one send, whatever happens.
func (g *Graph) Timeout() time.Duration { return g.timeout }

// Open starts a session: each of its sends is one Send.
func (g *Graph) Open() Session { return graphSession{g} }

// graphSession sends through Graph; the HTTP client keeps connections.
type graphSession struct{ g *Graph }

func (s graphSession) Send(ctx context.Context, m Message) error { return s.g.Send(ctx, m) }
func (s graphSession) Timeout() time.Duration                    { return s.g.timeout }
func (s graphSession) Close()                                    {}

// Send posts m, as MIME, to sendMail. Graph answers 202 when it takes the
// message.
func (g *Graph) Send(ctx context.Context, m Message) error {
	raw, err := m.MIME()
	if err != nil {
		return &Error{Failure: Refused, Reason: "the message could not be built", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req := abs.NewRequestInformation()
	req.Method = abs.POST
	req.SetUri(g.endpoint)
	req.Headers.Add("Accept", "application/json")
	req.SetStreamContentAndContentType(base64.StdEncoding.AppendEncode(nil, raw), "text/plain")
	handler := abs.NewRequestHandlerOption()
	handler.SetResponseHandler(func(resp any, _ abs.ErrorMappings) (any, error) {
		r, ok := resp.(*http.Response)
		if !ok || r == nil {
			return nil, errors.New("graph: no response")
		}
		return nil, readAnswer(r)
	})
	req.AddRequestOptions([]abs.RequestOption{handler})
	if err := g.adapter.SendNoContent(ctx, req, nil); err != nil {
		return graphFailure(err)
	}
	return nil
}

// graphError is an error answer of Microsoft Graph, as a kiota ApiError
// with Graph's error code and Retry-After.
type graphError struct {
	api           *abs.ApiError
	code          string // e.g. ErrorAccessDenied
	retryAfter    time.Duration
	hasRetryAfter bool
}

func (e *graphError) Error() string { return e.api.Error() }
func (e *graphError) Unwrap() error { return e.api }

// readAnswer reads Graph's answer: nil for 2xx, else a *graphError.
func readAnswer(r *http.Response) error {
	defer r.Body.Close()
	if r.StatusCode >= 200 && r.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxGraphErrorBody))
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxGraphErrorBody))
	var answer struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &answer) // a body that is not Graph's error shape leaves the code empty
	headers := abs.NewResponseHeaders()
	for k, vs := range r.Header {
		for _, v := range vs {
			headers.Add(k, v)
		}
	}
	msg := "Microsoft Graph answered " + strconv.Itoa(r.StatusCode)
	if answer.Error.Code != "" {
		msg += " " + answer.Error.Code + ": " + answer.Error.Message
	}
	ge := &graphError{
		api:  &abs.ApiError{Message: msg, ResponseStatusCode: r.StatusCode, ResponseHeaders: headers},
		code: safeCode(answer.Error.Code),
	}
	ge.retryAfter, ge.hasRetryAfter = retryAfterOf(r.Header, time.Now())
	return ge
}

// retryAfterOf reads a Retry-After header, in seconds or an HTTP date, as
// a wait from now; false when there is none or it does not parse.
func retryAfterOf(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// safeCode keeps a service's error code only when it looks like one.
func safeCode(code string) string {
	if len(code) > 64 || strings.ContainsFunc(code, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.')
	}) {
		return ""
	}
	return code
}

// unansweredError is a request that went out whole and got no answer:
// Graph may have taken the message.
type unansweredError struct{ err error }

func (e *unansweredError) Error() string {
	return "the request was sent and no answer came: " + e.err.Error()
}
func (e *unansweredError) Unwrap() error { return e.err }

// tracedTransport marks the failures of requests that were written out
// whole before the answer failed.
type tracedTransport struct{ next http.RoundTripper }

func (t tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	resp, err := t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil && wrote.Load() {
		return nil, &unansweredError{err}
	}
	return resp, err
}

// graphFailure judges a failed sendMail.
func graphFailure(err error) error {
	var (
		unanswered *unansweredError
		api        *abs.ApiError
		auth       *azidentity.AuthenticationFailedError
	)
	fail := func(f Failure, reason string) error {
		return &Error{Failure: f, Reason: reason, Err: fmt.Errorf("graph: %w", err)}
	}
	switch {
	case errors.As(err, &unanswered):
		return fail(Unsure, "Microsoft Graph did not answer after taking the message")
	case errors.As(err, &api):
		return apiFailure(err, api.ResponseStatusCode)
	case errors.As(err, &auth):
		return tokenFailure(err, auth.RawResponse)
	case isCertError(err):
		return fail(Blocked, "Microsoft Graph's TLS certificate was not accepted")
	case isTimeout(err):
		return fail(Retry, "Microsoft Graph did not answer in time")
	case isDial(err):
		return fail(Retry, "Microsoft Graph could not be reached")
	}
	return fail(Retry, "the email could not be handed to Microsoft Graph")
}

// apiFailure judges an error answer of Graph. Graph did not take the
// request when it answers 429, or 503 with a Retry-After: those are tried
// again, no sooner than it asks. Any other 5xx to a POST may come after
// the mail went, so it is not sent again. 401 and 403 refuse the app's
// token or its right to send as the sender, and 404 names no such sender:
// the app's set-up blocks every message. Other answers refuse the message.
func apiFailure(err error, status int) error {
	var ge *graphError
	code := strconv.Itoa(status)
	var (
		wait    time.Duration
		hasWait bool
	)
	if errors.As(err, &ge) {
		if ge.code != "" {
			code += " " + ge.code
		}
		wait, hasWait = ge.retryAfter, ge.hasRetryAfter
	}
	fail := func(f Failure, reason string) error {
		e := &Error{Failure: f, Reason: reason, Err: fmt.Errorf("graph: %w", err)}
		if f == Retry {
			e.RetryAfter = wait
		}
		return e
	}
	switch {
	case status == http.StatusTooManyRequests:
		return fail(Retry, "Microsoft Graph is throttling ("+code+")")
	case status == http.StatusServiceUnavailable && hasWait:
		return fail(Retry, "Microsoft Graph is unavailable ("+code+")")
	case status == http.StatusRequestTimeout:
		return fail(Retry, "Microsoft Graph is unavailable ("+code+")")
	case status == http.StatusGatewayTimeout:
		return fail(Unsure, "Microsoft Graph timed out and may have sent it ("+code+")")
	case status >= 500:
		return fail(Unsure, "Microsoft Graph failed and may have sent it ("+code+")")
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return fail(Blocked, "Microsoft Graph refused the app's access ("+code+")")
	case status == http.StatusNotFound:
		return fail(Blocked, "Microsoft Graph does not know the sender mailbox ("+code+")")
	}
	return fail(Refused, "Microsoft Graph refused it ("+code+")")
}

// tokenFailure judges a failure to get an access token: an answer of 429
// or 5xx, or none, is worth retrying; other answers refuse the app's
// credentials, which blocks every message.
func tokenFailure(err error, resp *http.Response) error {
	if resp == nil {
		return &Error{Failure: Retry, Reason: "the Microsoft identity platform could not be reached", Err: fmt.Errorf("graph token: %w", err)}
	}
	code := strconv.Itoa(resp.StatusCode)
	if body, rerr := runtime.Payload(resp); rerr == nil {
		var answer struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &answer) == nil && safeCode(answer.Error) != "" {
			code += " " + answer.Error
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		wait, _ := retryAfterOf(resp.Header, time.Now())
		return &Error{
			Failure: Retry, Reason: "the Microsoft identity platform is unavailable (" + code + ")",
			RetryAfter: wait, Err: fmt.Errorf("graph token: %w", err),
		}
	}
	return &Error{Failure: Blocked, Reason: "the Microsoft identity platform refused the app's credentials (" + code + ")", Err: fmt.Errorf("graph token: %w", err)}
}

func isCertError(err error) bool {
	var (
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	return errors.As(err, &certErr) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}
