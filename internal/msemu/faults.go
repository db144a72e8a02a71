package msemu

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fault makes the next times requests of a service fail.
type fault struct {
	status     int
	retryAfter time.Duration
	times      int
}

// FailNext makes the next n Bot Connector requests that authenticate
// answer status (4xx or 5xx) with the connector's error for it.
func (e *Emulator) FailNext(n, status int) error {
	return e.addFault(&e.faults, n, status, 0)
}

// Throttle makes the next n Bot Connector requests that authenticate
// answer 429 Throttled with Retry-After (whole seconds, rounded up; none
// when retryAfter is zero).
func (e *Emulator) Throttle(n int, retryAfter time.Duration) error {
	if retryAfter < 0 {
		return fmt.Errorf("msemu: Retry-After %v is negative", retryAfter)
	}
	return e.addFault(&e.faults, n, http.StatusTooManyRequests, retryAfter)
}

// FailWebhookNext makes the next n posts to Workflows webhooks with a valid
// signature answer status (4xx or 5xx).
func (e *Emulator) FailWebhookNext(n, status int) error {
	return e.addFault(&e.hookFaults, n, status, 0)
}

// FailGraphNext makes the next n sendMail requests with a valid access
// token answer status (4xx or 5xx) in Graph's error shape.
func (e *Emulator) FailGraphNext(n, status int) error {
	return e.addFault(&e.graphFaults, n, status, 0)
}

// ThrottleGraph makes the next n sendMail requests with a valid access
// token answer 429 ApplicationThrottled, as Exchange Online throttles a
// mailbox, with Retry-After (whole seconds, rounded up; none when
// retryAfter is zero).
func (e *Emulator) ThrottleGraph(n int, retryAfter time.Duration) error {
	if retryAfter < 0 {
		return fmt.Errorf("msemu: Retry-After %v is negative", retryAfter)
	}
	return e.addFault(&e.graphFaults, n, http.StatusTooManyRequests, retryAfter)
}

func (e *Emulator) addFault(q *[]*fault, n, status int, retryAfter time.Duration) error {
	if n < 1 {
		return fmt.Errorf("msemu: fault count %d is not positive", n)
	}
	if status < 400 || status > 599 {
		return fmt.Errorf("msemu: fault status %d is not a 4xx or 5xx status", status)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	*q = append(*q, &fault{status: status, retryAfter: retryAfter, times: n})
	return nil
}

// takeFault consumes one use of the oldest fault. Callers hold e.mu.
func takeFault(q *[]*fault) *fault {
	if len(*q) == 0 {
		return nil
	}
	f := (*q)[0]
	f.times--
	if f.times == 0 {
		*q = (*q)[1:]
	}
	return f
}

// connectorFault answers as the Bot Connector does for the status.
func connectorFault(w http.ResponseWriter, f *fault) {
	if f.retryAfter > 0 {
		setRetryAfter(w, f.retryAfter)
	}
	code, message := statusCode(f.status), statusMessage(f.status)
	switch f.status {
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		w.WriteHeader(f.status) // answered by the gateway, without a body
		return
	case http.StatusBadRequest:
		code, message = "BadArgument", "Bad argument."
	case http.StatusUnauthorized:
		code, message = "BotNotRegistered", "No registration found for this bot."
	case http.StatusForbidden:
		code, message = "BotDisabledByAdmin", "The tenant admin disabled this bot."
	case http.StatusNotFound:
		code, message = "ConversationNotFound", "Conversation not found."
	case http.StatusPreconditionFailed:
		code, message = "PreconditionFailed", "Precondition failed, please try again."
	case http.StatusRequestEntityTooLarge:
		code, message = "MessageSizeTooBig", "Message size too large."
	case http.StatusTooManyRequests:
		code, message = "Throttled", "Too many requests."
	case http.StatusInternalServerError, http.StatusBadGateway:
		code, message = "ServiceError", "Unknown"
	}
	writeJSON(w, f.status, errorBody(code, message))
}

// graphFault is Graph's answer for the status.
func graphFault(f *fault) *graphError {
	g := &graphError{status: f.status, code: statusCode(f.status), message: statusMessage(f.status), retryAfter: f.retryAfter}
	switch f.status {
	case http.StatusUnauthorized:
		g.code, g.message = "InvalidAuthenticationToken", "Access token validation failure."
	case http.StatusForbidden:
		g.code, g.message = "ErrorAccessDenied", accessDenied
	case http.StatusTooManyRequests:
		g.code, g.message = "ApplicationThrottled", "Application is over its MailboxConcurrency limit."
	}
	return g
}

// webhookFault answers in Logic Apps' error shape.
func webhookFault(w http.ResponseWriter, f *fault) {
	writeJSON(w, f.status, errorBody(statusCode(f.status), statusMessage(f.status)))
}

// statusCode is a status text as an error code: "Too Many Requests" →
// "TooManyRequests".
func statusCode(status int) string {
	if text := http.StatusText(status); text != "" {
		return strings.NewReplacer(" ", "", "'", "", "-", "").Replace(text)
	}
	return "Status" + strconv.Itoa(status)
}

func statusMessage(status int) string {
	if text := http.StatusText(status); text != "" {
		return text + "."
	}
	return "Request failed."
}

// setRetryAfter sets Retry-After in whole seconds, rounded up.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
}
