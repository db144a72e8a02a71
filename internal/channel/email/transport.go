package email

import (
	"context"
	"errors"
	"time"
)

// Transport sends messages: SMTP or Microsoft Graph.
type Transport interface {
	// Open starts a session that hands messages over one after another;
	// the caller closes it. Opening does no I/O.
	Open() Session
	// Name is "smtp" or "graph", for metrics and logs.
	Name() string
}

// Session hands messages over one after another: over SMTP on one
// connection, as long as it works.
type Session interface {
	// Send hands m over for delivery. Its error says what the failure
	// means: see FailureOf and Reason.
	Send(ctx context.Context, m Message) error
	// Timeout is the longest the next Send can take, whatever happens.
	Timeout() time.Duration
	// Close ends the session.
	Close()
}

// Failure says what a failed send means for the message.
type Failure int

// The kinds of failure.
const (
	// Retry: the message was not delivered, and trying again may work
	// (unreachable, timed out before the message was handed over, a
	// temporary refusal, throttling).
	Retry Failure = iota
	// Refused: the message was not delivered, and trying again will not
	// help (a permanent refusal of this message or its recipient).
	Refused
	// Unsure: the message may have been accepted (the connection broke
	// after the whole message was handed over): it must not be sent again.
	Unsure
	// Blocked: the message was not delivered, and no message can be until
	// the app's mail set-up is fixed: credentials or a certificate the
	// server does not take, security it does not offer, a sender the app
	// may not send as. Nothing about the message itself is wrong.
	Blocked
)

func (f Failure) String() string {
	switch f {
	case Retry:
		return "retry"
	case Refused:
		return "refused"
	case Unsure:
		return "unsure"
	case Blocked:
		return "blocked"
	}
	return "unknown"
}

// Error is a failed send, as the transports report it.
type Error struct {
	Failure Failure
	// Reason says briefly why, for people reading the issue: it never
	// names a host, an address, a token or a credential.
	Reason string
	// RetryAfter is how long the service asked the app to wait before
	// sending again (a Retry failure's Retry-After); zero when it did not.
	RetryAfter time.Duration
	// Err is the underlying error, for the logs.
	Err error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// FailureOf says what err means for the message. An error that does not
// come from a transport (nil included) is Retry.
func FailureOf(err error) Failure {
	var e *Error
	if errors.As(err, &e) {
		return e.Failure
	}
	return Retry
}

// retryAfter is how long the service behind err asked to wait; zero when
// it did not.
func retryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.Failure == Retry {
		return e.RetryAfter
	}
	return 0
}

// Reason is a short, human reason for err that is safe to show on the
// issue.
func Reason(err error) string {
	var e *Error
	switch {
	case errors.As(err, &e) && e.Reason != "":
		return e.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return "sending took too long"
	}
	return "the email could not be sent"
}
