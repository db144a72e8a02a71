package ghemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	hookTimeout = 10 * time.Second
	hookshotUA  = "GitHub-Hookshot/6f5cbd1"
)

// Delivery is one webhook delivery attempt and what the receiver answered.
type Delivery struct {
	ID         string      // X-GitHub-Delivery; a redelivery keeps the original's
	Event      string      // X-GitHub-Event
	Action     string      // the payload's "action", if any
	Header     http.Header // the request headers sent
	Payload    []byte      // the exact body sent
	StatusCode int         // the receiver's status; 0 when the request failed
	Err        string      // why the request failed, if it did
	Redelivery bool
	At         time.Time
}

// outgoing is a delivery ready to send.
type outgoing struct {
	id     string
	event  string
	action string
	url    string
	header http.Header
	body   []byte
}

// hookQueue delivers in order per lane (one lane per issue) and lanes in
// parallel, like GitHub's asynchronous deliveries.
type hookQueue struct {
	mu         sync.Mutex
	lanes      map[string][]*outgoing // a lane exists while its worker runs
	pending    int
	idle       []chan struct{}
	deliveries []Delivery
	wg         sync.WaitGroup
}

type change struct {
	From string `json:"from"`
}

type eventPayload struct {
	Action       string                `json:"action"`
	Changes      map[string]change     `json:"changes,omitempty"`
	Issue        *issueJSON            `json:"issue,omitempty"`
	Comment      *commentJSON          `json:"comment,omitempty"`
	Label        *labelJSON            `json:"label,omitempty"`
	Assignee     *userJSON             `json:"assignee,omitempty"`
	Repository   repoJSON              `json:"repository"`
	Organization *orgJSON              `json:"organization,omitempty"`
	Sender       userJSON              `json:"sender"`
	Installation *installationLiteJSON `json:"installation,omitempty"`
}

// The emit functions queue webhook deliveries for a state change just
// made; callers hold e.mu, so each payload is a snapshot of that moment.

func (e *Emulator) emitIssue(is *issue, sender *account, action string, changes map[string]change) {
	p := e.payload(is, sender, action)
	if action == "edited" {
		p.Changes = changes
	}
	e.emit(is, "issues", p)
}

func (e *Emulator) emitLabeled(is *issue, sender *account, action string, labels []*label) {
	for _, l := range labels {
		p := e.payload(is, sender, action)
		lj := e.labelJSON(is.repo, l)
		p.Label = &lj
		e.emit(is, "issues", p)
	}
}

func (e *Emulator) emitAssigned(is *issue, sender *account, action string, who []*account) {
	for _, a := range who {
		p := e.payload(is, sender, action)
		p.Assignee = e.userPtr(a)
		e.emit(is, "issues", p)
	}
}

func (e *Emulator) emitComment(cm *comment, sender *account, action string, changes map[string]change) {
	p := e.payload(cm.issue, sender, action)
	cj := e.commentJSON(cm)
	p.Comment = &cj
	p.Changes = changes
	e.emit(cm.issue, "issue_comment", p)
}

func (e *Emulator) payload(is *issue, sender *account, action string) eventPayload {
	ij := e.issueJSON(is)
	p := eventPayload{Action: action, Issue: &ij, Repository: e.repoJSON(is.repo), Sender: e.userJSON(sender)}
	if is.repo.owner.kind == kindOrg {
		oj := e.orgJSON(is.repo.owner)
		p.Organization = &oj
	}
	return p
}

// emit queues a delivery of p. With the App installed on the repository
// it goes out as the App's webhook, carrying the installation; otherwise as
// a repository webhook.
func (e *Emulator) emit(is *issue, event string, p eventPayload) {
	if e.webhookURL == "" || e.isClosed() {
		return
	}
	targetType, targetID, hookID := "repository", is.repo.id, is.repo.hookID
	if in := e.installationFor(is.repo); in != nil {
		p.Installation = &installationLiteJSON{ID: in.id, NodeID: nodeID("Installation", in.id)}
		targetType, targetID, hookID = "integration", e.app.id, e.app.hookID
	}
	body, err := encodeJSON(p)
	if err != nil {
		e.logf("ghemu: encode %s webhook: %v", event, err)
		return
	}
	o, err := e.newOutgoing(event, p.Action, body, hookID, targetType, targetID)
	if err != nil {
		e.logf("ghemu: %v", err)
		return
	}
	e.enqueue(fmt.Sprintf("%d#%d", is.repo.id, is.number), o)
}

func (e *Emulator) isClosed() bool {
	select {
	case <-e.closed:
		return true
	default:
		return false
	}
}

// newOutgoing signs body and builds GitHub's delivery headers. Callers hold e.mu.
func (e *Emulator) newOutgoing(event, action string, body []byte, hookID int64, targetType string, targetID int64) (*outgoing, error) {
	id, err := randomGUID()
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Accept", "*/*")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", hookshotUA)
	h.Set("X-GitHub-Delivery", id)
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(hookID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(targetID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", targetType)
	if secret := e.opts.WebhookSecret; secret != "" {
		h.Set("X-Hub-Signature", "sha1="+sign(sha1.New, secret, body))
		h.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, secret, body))
	}
	return &outgoing{id: id, event: event, action: action, url: e.webhookURL, header: h, body: body}, nil
}

func sign(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func (e *Emulator) enqueue(lane string, o *outgoing) {
	q := &e.hooks
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending++
	if list, running := q.lanes[lane]; running {
		q.lanes[lane] = append(list, o)
		return
	}
	q.lanes[lane] = []*outgoing{o}
	q.wg.Add(1)
	go e.drain(lane)
}

// drain delivers a lane's queue in order, then retires the lane.
func (e *Emulator) drain(lane string) {
	q := &e.hooks
	defer q.wg.Done()
	for {
		q.mu.Lock()
		list := q.lanes[lane]
		if len(list) == 0 {
			delete(q.lanes, lane)
			q.mu.Unlock()
			return
		}
		o := list[0]
		q.lanes[lane] = list[1:]
		q.mu.Unlock()

		if !e.isClosed() {
			ctx, cancel := e.untilClosed(context.Background())
			e.send(ctx, o, false)
			cancel()
		}

		q.mu.Lock()
		q.pending--
		if q.pending == 0 {
			for _, ch := range q.idle {
				close(ch)
			}
			q.idle = nil
		}
		q.mu.Unlock()
	}
}

// untilClosed derives a context that Close cancels too.
func (e *Emulator) untilClosed(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-e.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// send makes one delivery attempt, with GitHub's 10 s timeout and no
// redirects or retries, and records it.
func (e *Emulator) send(ctx context.Context, o *outgoing, redelivery bool) Delivery {
	d := Delivery{ID: o.id, Event: o.event, Action: o.action, Header: o.header.Clone(), Payload: o.body, Redelivery: redelivery, At: e.clock()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(o.body))
	if err == nil {
		req.Header = o.header.Clone()
		var resp *http.Response
		if resp, err = e.hookCli.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			d.StatusCode = resp.StatusCode
		}
	}
	if err != nil {
		d.Err = err.Error()
	}
	e.logf("ghemu: delivery %s %s.%s -> %d %s", d.ID, d.Event, d.Action, d.StatusCode, d.Err)
	e.hooks.mu.Lock()
	e.hooks.deliveries = append(e.hooks.deliveries, d)
	e.hooks.mu.Unlock()
	return d
}

// WaitDeliveries waits until every queued delivery has been attempted.
func (e *Emulator) WaitDeliveries(ctx context.Context) error {
	q := &e.hooks
	q.mu.Lock()
	if q.pending == 0 {
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	q.idle = append(q.idle, ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ghemu: wait for deliveries: %w", ctx.Err())
	}
}

// Deliveries returns every delivery attempt so far, in the order made.
func (e *Emulator) Deliveries() []Delivery {
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	out := make([]Delivery, len(e.hooks.deliveries))
	for i, d := range e.hooks.deliveries {
		d.Header = d.Header.Clone()
		d.Payload = bytes.Clone(d.Payload)
		out[i] = d
	}
	return out
}

// Redeliver sends delivery id again, with the same GUID, headers and body,
// to the current webhook URL, like the "Redeliver" button, and returns the
// receiver's status.
func (e *Emulator) Redeliver(ctx context.Context, id string) (int, error) {
	var orig *Delivery
	e.hooks.mu.Lock()
	for i := range e.hooks.deliveries {
		if e.hooks.deliveries[i].ID == id {
			orig = &e.hooks.deliveries[i]
			break
		}
	}
	var o *outgoing
	if orig != nil {
		o = &outgoing{id: orig.ID, event: orig.Event, action: orig.Action, header: orig.Header.Clone(), body: orig.Payload}
	}
	e.hooks.mu.Unlock()
	if o == nil {
		return 0, fmt.Errorf("ghemu: no delivery %q to redeliver", id)
	}
	e.mu.Lock()
	o.url = e.webhookURL
	e.mu.Unlock()
	if o.url == "" {
		return 0, errors.New("ghemu: no webhook URL to redeliver to")
	}
	ctx, cancel := e.untilClosed(ctx)
	defer cancel()
	return deliveryResult(e.send(ctx, o, true))
}

// SendWebhook delivers payload (a value to marshal, or raw JSON bytes) as
// event through the App's webhook, signed like any delivery, and returns the
// delivery id and the receiver's status. Use it for events the emulator does
// not raise itself, such as installation or ping.
func (e *Emulator) SendWebhook(ctx context.Context, event string, payload any) (string, int, error) {
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	case json.RawMessage:
		body = p
	default:
		var err error
		if body, err = encodeJSON(payload); err != nil {
			return "", 0, fmt.Errorf("ghemu: encode %s payload: %w", event, err)
		}
	}
	var head struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return "", 0, fmt.Errorf("ghemu: %s payload is not a JSON object: %w", event, err)
	}
	e.mu.Lock()
	if e.webhookURL == "" {
		e.mu.Unlock()
		return "", 0, errors.New("ghemu: no webhook URL to send to")
	}
	o, err := e.newOutgoing(event, head.Action, body, e.app.hookID, "integration", e.app.id)
	e.mu.Unlock()
	if err != nil {
		return "", 0, err
	}
	ctx, cancel := e.untilClosed(ctx)
	defer cancel()
	status, err := deliveryResult(e.send(ctx, o, false))
	return o.id, status, err
}

func deliveryResult(d Delivery) (int, error) {
	if d.Err != "" {
		return 0, fmt.Errorf("ghemu: delivery %s: %s", d.ID, d.Err)
	}
	return d.StatusCode, nil
}
