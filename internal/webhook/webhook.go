package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// DefaultMaxBody is 25 MiB: GitHub caps payloads at 25 MB.
const DefaultMaxBody = 25 << 20

// The headers GitHub sends with a delivery.
const (
	signatureHeader = "X-Hub-Signature-256"
	eventHeader     = "X-GitHub-Event"
	deliveryHeader  = "X-GitHub-Delivery"
)

// unknownEvent is the event reported to Observe until the delivery is
// authenticated, so that unauthenticated requests cannot add label values.
const unknownEvent = "unknown"

// Inbox stores deliveries durably; store.Store is one.
type Inbox interface {
	// AddDelivery stores d, leased until d.ReceivedAt+lease; a delivery
	// whose ID is stored already is left alone and added is false.
	AddDelivery(ctx context.Context, d store.Delivery, lease time.Duration) (added bool, err error)
}

// Options configure the handler. Secret and Inbox are required.
type Options struct {
	Secret []byte // the webhook secret
	Inbox  Inbox
	// Events are the events the app handles; others are answered 202 and
	// not stored.
	Events []string
	// Relevant, when set, tells whether a delivery of a handled event
	// concerns the app (a comment on an approval issue, say); the others
	// are answered 202 and not stored. An error stores the delivery.
	Relevant func(ctx context.Context, event string, payload []byte) (bool, error)
	MaxBody  int64 // the largest payload accepted; DefaultMaxBody when zero
	Now      func() time.Time
	// Accepted is called, on the request's goroutine, with each delivery
	// newly stored, so that it can be processed at once. It should hand
	// the delivery on rather than process it there: GitHub waits for the
	// answer.
	Accepted func(store.Delivery)
	// Observe, when set, is told the outcome of every request. event is
	// "unknown" until the delivery is authenticated and names its event;
	// result is one of accepted, duplicate, ignored, ping, bad_signature,
	// bad_request, too_large or unavailable.
	Observe func(event, result string)
	Logger  *slog.Logger
}

// NewHandler returns the handler of `POST /webhooks/github`. It panics when
// o.Secret is empty or o.Inbox is nil: the app must not run unauthenticated.
func NewHandler(o Options) http.Handler {
	if len(o.Secret) == 0 {
		panic("webhook: Options.Secret is empty")
	}
	if o.Inbox == nil {
		panic("webhook: Options.Inbox is nil")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &handler{o: o, events: slices.Clone(o.Events)}
}

type handler struct {
	o      Options
	events []string
}

// answer is the outcome of one request.
type answer struct {
	code   int
	result string // as reported to Observe
	event  string // as reported to Observe
	status string // the reply's "status", when accepted
	err    string // the reply's "error", when rejected
	cause  error  // logged, not sent
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.handle(w, r)
	if h.o.Observe != nil {
		h.o.Observe(a.event, a.result)
	}
	h.log(r, a)

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.code)
	_ = json.NewEncoder(w).Encode(struct {
		Status string `json:"status,omitempty"`
		Error  string `json:"error,omitempty"`
	}{a.status, a.err})
}

func (h *handler) handle(w http.ResponseWriter, r *http.Request) answer {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return reject(http.StatusMethodNotAllowed, "bad_request", fmt.Sprintf("method %s is not allowed; GitHub delivers webhooks with POST", r.Method), nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return reject(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the payload is larger than %d bytes", h.o.MaxBody), nil)
		}
		return reject(http.StatusBadRequest, "bad_request", "could not read the payload", err)
	}

	// Nothing the sender says is looked at before the signature checks out.
	sig := r.Header.Get(signatureHeader)
	switch {
	case sig == "":
		return reject(http.StatusUnauthorized, "bad_signature", "X-Hub-Signature-256 is required: set a secret on the webhook; SHA-1 signatures (X-Hub-Signature) are refused", nil)
	case !strings.HasPrefix(sig, "sha256="):
		// ValidateSignature would accept sha1= and sha512= too.
		return reject(http.StatusUnauthorized, "bad_signature", "X-Hub-Signature-256 must be sha256=<hex HMAC>", nil)
	}
	if err := github.ValidateSignature(sig, body, h.o.Secret); err != nil {
		return reject(http.StatusUnauthorized, "bad_signature", "X-Hub-Signature-256 does not match the payload; check the webhook secret", nil)
	}

	event, id := r.Header.Get(eventHeader), r.Header.Get(deliveryHeader)
	if event == "" || id == "" {
		a := reject(http.StatusBadRequest, "bad_request", "X-GitHub-Event and X-GitHub-Delivery are required", nil)
		if event != "" {
			a.event = event
		}
		return a
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		a := reject(http.StatusUnsupportedMediaType, "bad_request", "the payload must be application/json: set the webhook's content type to application/json", nil)
		a.event = event
		return a
	}
	a := answer{event: event}
	switch {
	case event == "ping":
		a.code, a.result, a.status = http.StatusOK, "ping", "pong"
		return a
	case !slices.Contains(h.events, event):
		a.code, a.result, a.status = http.StatusAccepted, "ignored", "ignored"
		return a
	}
	if h.o.Relevant != nil {
		relevant, err := h.o.Relevant(r.Context(), event, body)
		if err == nil && !relevant {
			a.code, a.result, a.status = http.StatusAccepted, "ignored", "ignored"
			return a
		}
	}

	d := store.Delivery{ID: id, Event: event, Payload: body, ReceivedAt: h.o.Now()}
	// Stored due at once, for whichever worker claims it.
	added, err := h.o.Inbox.AddDelivery(r.Context(), d, 0)
	switch {
	case err != nil:
		a.code, a.result = http.StatusServiceUnavailable, "unavailable"
		a.err = "the delivery could not be stored; redeliver it later"
		a.cause = fmt.Errorf("store delivery %s: %w", id, err)
	case !added:
		a.code, a.result, a.status = http.StatusOK, "duplicate", "duplicate"
	default:
		a.code, a.result, a.status = http.StatusAccepted, "accepted", "accepted"
		if h.o.Accepted != nil {
			h.o.Accepted(d)
		}
	}
	return a
}

func reject(code int, result, msg string, cause error) answer {
	return answer{code: code, result: result, event: unknownEvent, err: msg, cause: cause}
}

// log writes one line per request: a warning (an error when the inbox
// failed) for a rejected one, a debug line otherwise. It never logs the
// payload or the secret.
func (h *handler) log(r *http.Request, a answer) {
	attrs := []slog.Attr{
		slog.String("event", a.event),
		slog.String("result", a.result),
		slog.Int("status", a.code),
	}
	if id := r.Header.Get(deliveryHeader); id != "" {
		attrs = append(attrs, slog.String("delivery", clip(id)))
	}
	level, msg := slog.LevelDebug, "webhook delivery"
	if a.err != "" {
		level, msg = slog.LevelWarn, "webhook delivery rejected"
		attrs = append(attrs, slog.String("reason", a.err), slog.String("remote", r.RemoteAddr))
	}
	if a.cause != nil {
		attrs = append(attrs, slog.Any("err", a.cause))
		if a.code >= http.StatusInternalServerError {
			level = slog.LevelError
		}
	}
	h.o.Logger.LogAttrs(r.Context(), level, msg, attrs...)
}

// clip bounds a header value logged before it is authenticated. A GitHub
// delivery id is a 36-character GUID.
func clip(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
