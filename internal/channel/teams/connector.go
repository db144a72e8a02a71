package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-ci/gatehouse/internal/card"
)

const (
	// botScope is the scope of a token for the Bot Connector.
	botScope = "https://api.botframework.com/.default"
	// tokenEarly is how long before its expiry a token is replaced.
	tokenEarly = time.Minute
	// MaxMessageBytes is the largest message Teams accepts: 28 KB.
	MaxMessageBytes = 28 * 1024
	// maxResponseBytes bounds the answers read from the Connector.
	maxResponseBytes = 1 << 20
)

var (
	// ErrTooLarge: the message is over MaxMessageBytes.
	ErrTooLarge = errors.New("the message is larger than Teams accepts")
	// ErrServiceURL: a service URL the Connector will not send the bot
	// token to.
	ErrServiceURL = errors.New("service URL not allowed")
)

// HTTPError is an answer other than 2xx from the Bot Connector or a
// webhook.
type HTTPError struct {
	Status int
	// RetryAfter is the wait the service asked for; zero when it named
	// none.
	RetryAfter time.Duration
	// Message is the service's own error code and message, if it gave
	// them (never for webhooks).
	Message string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// ConnectorOptions configures a Connector.
type ConnectorOptions struct {
	// AuthorityURL is the Microsoft identity platform, e.g.
	// https://login.microsoftonline.com; tokens come from
	// {AuthorityURL}/{TenantID}/oauth2/v2.0/token.
	AuthorityURL string
	TenantID     string
	AppID        string
	AppPassword  string
	HTTPClient   *http.Client // default http.DefaultClient
	// AllowLoopbackHTTP lets service URLs be http:// on a loopback host
	// (an emulator); otherwise only https:// service URLs are called.
	AllowLoopbackHTTP bool
	Now               func() time.Time // default time.Now
}

// Connector calls the Bot Connector REST API as the bot
// (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference).
// It is safe for concurrent use.
type Connector struct {
	o     ConnectorOptions
	creds clientcredentials.Config

	mu    sync.Mutex
	token *oauth2.Token
}

// NewConnector returns a Connector configured by o.
func NewConnector(o ConnectorOptions) *Connector {
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Connector{
		o: o,
		creds: clientcredentials.Config{
			ClientID:     o.AppID,
			ClientSecret: o.AppPassword,
			TokenURL:     strings.TrimRight(o.AuthorityURL, "/") + "/" + url.PathEscape(o.TenantID) + "/oauth2/v2.0/token",
			Scopes:       []string{botScope},
			AuthStyle:    oauth2.AuthStyleInParams,
		},
	}
}

// Member is a member of a conversation, as the Connector describes it.
type Member struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	AADObjectID       string `json:"aadObjectId"`
	Email             string `json:"email"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// Channel is a channel of a team. The General channel has no name.
type Channel struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// cardMessage is a message activity carrying one Adaptive Card.
type cardMessage struct {
	Type        string           `json:"type"`
	ID          string           `json:"id,omitempty"`
	Attachments []cardAttachment `json:"attachments"`
}

type cardAttachment struct {
	ContentType string          `json:"contentType"`
	Content     json.RawMessage `json:"content"`
}

// SendCard posts a message with the card to a conversation and returns
// the new activity's id.
func (c *Connector) SendCard(ctx context.Context, serviceURL, conversationID string, cardJSON json.RawMessage) (string, error) {
	body, err := encodeMessage(cardMessage{Type: "message", Attachments: []cardAttachment{{ContentType: card.ContentType, Content: cardJSON}}})
	if err != nil {
		return "", fmt.Errorf("send card to conversation %s: %w", conversationID, err)
	}
	var created struct {
		ID string `json:"id"`
	}
	path := "/v3/conversations/" + url.PathEscape(conversationID) + "/activities"
	if err := c.call(ctx, http.MethodPost, serviceURL, path, body, &created); err != nil {
		return "", fmt.Errorf("send card to conversation %s: %w", conversationID, err)
	}
	if created.ID == "" {
		return "", fmt.Errorf("send card to conversation %s: the Connector returned no activity id", conversationID)
	}
	return created.ID, nil
}

// UpdateCard replaces the message activityID of a conversation with one
// carrying the card.
func (c *Connector) UpdateCard(ctx context.Context, serviceURL, conversationID, activityID string, cardJSON json.RawMessage) error {
	body, err := encodeMessage(cardMessage{Type: "message", ID: activityID, Attachments: []cardAttachment{{ContentType: card.ContentType, Content: cardJSON}}})
	if err != nil {
		return fmt.Errorf("update card %s in conversation %s: %w", activityID, conversationID, err)
	}
	path := "/v3/conversations/" + url.PathEscape(conversationID) + "/activities/" + url.PathEscape(activityID)
	if err := c.call(ctx, http.MethodPut, serviceURL, path, body, nil); err != nil {
		return fmt.Errorf("update card %s in conversation %s: %w", activityID, conversationID, err)
	}
	return nil
}

// Member returns a member of a conversation, with the email address and
// user principal name Teams knows for them.
func (c *Connector) Member(ctx context.Context, serviceURL, conversationID, memberID string) (Member, error) {
	var m Member
	path := "/v3/conversations/" + url.PathEscape(conversationID) + "/members/" + url.PathEscape(memberID)
	if err := c.call(ctx, http.MethodGet, serviceURL, path, nil, &m); err != nil {
		return Member{}, fmt.Errorf("get member %s of conversation %s: %w", memberID, conversationID, err)
	}
	return m, nil
}

// Channels lists the channels of a team.
func (c *Connector) Channels(ctx context.Context, serviceURL, teamID string) ([]Channel, error) {
	var list struct {
		Conversations []Channel `json:"conversations"`
	}
	path := "/v3/teams/" + url.PathEscape(teamID) + "/conversations"
	if err := c.call(ctx, http.MethodGet, serviceURL, path, nil, &list); err != nil {
		return nil, fmt.Errorf("list channels of team %s: %w", teamID, err)
	}
	return list.Conversations, nil
}

// call makes a request to the Connector at serviceURL with the bot token,
// sending body (JSON) when it is not nil and decoding the answer into out
// when it is not nil.
func (c *Connector) call(ctx context.Context, method, serviceURL, path string, body []byte, out any) error {
	base, err := c.checkServiceURL(serviceURL)
	if err != nil {
		return err
	}
	token, err := c.bearer(ctx)
	if err != nil {
		return err
	}
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		c.dropToken(token)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return connectorError(resp, c.o.Now())
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("decode the Connector's answer: %w", err)
	}
	return nil
}

// checkServiceURL returns serviceURL without its trailing slash when the
// bot token may be sent there: an https URL, or with AllowLoopbackHTTP an
// http URL on a loopback host.
func (c *Connector) checkServiceURL(serviceURL string) (string, error) {
	u, err := url.Parse(serviceURL)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: %q is not a URL of a service", ErrServiceURL, serviceURL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.o.AllowLoopbackHTTP && loopback(u.Hostname()):
	case u.Scheme == "http" && c.o.AllowLoopbackHTTP:
		return "", fmt.Errorf("%w: %q is neither https nor on a loopback host", ErrServiceURL, serviceURL)
	default:
		return "", fmt.Errorf("%w: %q is not https", ErrServiceURL, serviceURL)
	}
	return strings.TrimRight(serviceURL, "/"), nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer returns the bot token, got anew when the one held expires within
// tokenEarly.
func (c *Connector) bearer(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != nil && c.o.Now().Before(c.token.Expiry.Add(-tokenEarly)) {
		return c.token.AccessToken, nil
	}
	tok, err := c.creds.Token(context.WithValue(ctx, oauth2.HTTPClient, c.o.HTTPClient))
	if err != nil {
		return "", fmt.Errorf("get a bot token: %w", err)
	}
	c.token = tok
	return tok.AccessToken, nil
}

// dropToken forgets the token the Connector refused, so that the next call
// gets another.
func (c *Connector) dropToken(refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != nil && c.token.AccessToken == refused {
		c.token = nil
	}
}

// encodeMessage encodes a message and checks its size.
func encodeMessage(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the message: %w", err)
	}
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(b), MaxMessageBytes)
	}
	return b, nil
}

// connectorError reads a Connector error answer (an ErrorResponse).
func connectorError(resp *http.Response, now time.Time) error {
	e := &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, now)}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) == nil {
		code, msg := strings.TrimSpace(body.Error.Code), strings.TrimSpace(body.Error.Message)
		if code != "" && msg != "" {
			code += ": "
		}
		e.Message = code + msg
	}
	return e
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. Zero
// when there is none.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 32); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
