package msemu

import (
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"
)

// webhook is a Workflows flow started by "When a Teams webhook request is
// received".
type webhook struct {
	id    string
	sig   string
	posts []WebhookPost
}

// WebhookPost is a request that a Workflows webhook accepted.
type WebhookPost struct {
	// Body is the JSON posted.
	Body json.RawMessage
	// ContentType is the request's Content-Type.
	ContentType string
	// At is when it was accepted.
	At time.Time
}

// AddWebhook adds a Workflows webhook and returns its URL, shaped like the
// real one (…/workflows/{id}/triggers/manual/paths/invoke?api-version=…&sig=…).
// Call it after Start.
func (e *Emulator) AddWebhook(name string) (string, error) {
	if name == "" {
		return "", errors.New("msemu: a webhook needs a name")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base == "" {
		return "", errors.New("msemu: AddWebhook before Start")
	}
	if e.webhooks[name] != nil {
		return "", fmt.Errorf("msemu: webhook %s already exists", name)
	}
	h := &webhook{id: hex.EncodeToString(randomBytes(16)), sig: randomString(32)}
	e.webhooks[name] = h
	return e.base + "/workflows/" + h.id + "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + h.sig, nil
}

// WebhookPosts returns what the webhook named name accepted, in order.
func (e *Emulator) WebhookPosts(name string) []WebhookPost {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h := e.webhooks[name]; h != nil {
		return slices.Clone(h.posts)
	}
	return nil
}

func (e *Emulator) workflowRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /workflows/{id}/triggers/manual/paths/invoke", e.serveWebhook)
}

// serveWebhook answers as a Logic Apps request trigger: 202 Accepted with
// no body once the run is queued.
func (e *Emulator) serveWebhook(w http.ResponseWriter, r *http.Request) {
	id, q := r.PathValue("id"), r.URL.Query()
	e.mu.Lock()
	var h *webhook
	for _, wh := range e.webhooks {
		if wh.id == id {
			h = wh
		}
	}
	e.mu.Unlock()
	switch {
	case h == nil:
		writeJSON(w, http.StatusNotFound, errorBody("WorkflowNotFound", fmt.Sprintf("The workflow '%s' could not be found.", id)))
		return
	case q.Get("api-version") == "":
		writeJSON(w, http.StatusBadRequest, errorBody("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return
	case q.Get("sig") == "":
		writeJSON(w, http.StatusUnauthorized, errorBody("DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme."))
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("sig")), []byte(h.sig)) != 1:
		writeJSON(w, http.StatusUnauthorized, errorBody("DirectApiInvalidAuthorizationSignature", "The provided authorization signature is not valid."))
		return
	}
	e.mu.Lock()
	f := takeFault(&e.hookFaults)
	e.mu.Unlock()
	if f != nil {
		webhookFault(w, f)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("RequestContentTooLarge", "The request content is too large."))
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	var doc any
	if mt == "application/json" {
		if err := json.Unmarshal(body, &doc); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody("InvalidRequestContent", "The request content is not valid and could not be deserialized: "+err.Error()))
			return
		}
	}
	if _, ok := doc.(map[string]any); !ok {
		writeJSON(w, http.StatusBadRequest, errorBody("TriggerInputSchemaMismatch", "The input body for trigger 'manual' of type 'Request' did not match its schema definition."))
		return
	}
	e.mu.Lock()
	h.posts = append(h.posts, WebhookPost{Body: body, ContentType: ct, At: e.clock()})
	e.mu.Unlock()
	w.Header().Set("x-ms-workflow-run-id", fmt.Sprintf("08584%015d", e.clock().UnixNano()%1e15))
	w.WriteHeader(http.StatusAccepted)
}
