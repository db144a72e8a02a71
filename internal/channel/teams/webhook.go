package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/card"
)

// ErrUnknownWebhook: no webhook of that name is configured.
var ErrUnknownWebhook = errors.New("no such Teams webhook is configured")

// Webhooks posts cards to named Workflows incoming webhooks. A webhook's
// URL is a secret (anyone who has it can post to the channel): it never
// appears in an error, which names the webhook instead.
type Webhooks struct {
	urls   map[string]string
	client *http.Client
}

// NewWebhooks returns the webhooks urls (name → URL), posted to with
// client (nil: http.DefaultClient).
func NewWebhooks(urls map[string]string, client *http.Client) *Webhooks {
	if client == nil {
		client = http.DefaultClient
	}
	// Redirects are not followed: an error would name where they lead.
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhooks{urls: maps.Clone(urls), client: &noRedirects}
}

// Names lists the configured webhooks' names, sorted.
func (w *Webhooks) Names() []string {
	return slices.Sorted(maps.Keys(w.urls))
}

// webhookMessage is what a Workflows webhook takes: a message with the
// card as an attachment whose contentUrl is null.
type webhookMessage struct {
	Type        string              `json:"type"`
	Attachments []webhookAttachment `json:"attachments"`
}

type webhookAttachment struct {
	ContentType string          `json:"contentType"`
	ContentURL  *string         `json:"contentUrl"`
	Content     json.RawMessage `json:"content"`
}

// Post posts the card to the webhook name. Any 2xx answer is success.
func (w *Webhooks) Post(ctx context.Context, name string, cardJSON json.RawMessage) error {
	target, ok := w.urls[name]
	if !ok {
		return fmt.Errorf("post card to webhook %q: %w", name, ErrUnknownWebhook)
	}
	body, err := encodeMessage(webhookMessage{
		Type:        "message",
		Attachments: []webhookAttachment{{ContentType: card.ContentType, Content: cardJSON}},
	})
	if err != nil {
		return fmt.Errorf("post card to webhook %q: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post card to webhook %q: its configured URL is not valid", name)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		// A *url.Error names the URL; keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post card to webhook %q: %w", name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post card to webhook %q: %w", name, &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, time.Now())})
	}
	return nil
}
