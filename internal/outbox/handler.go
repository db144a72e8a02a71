package outbox

import "time"

// handlerError is a Handler's error that says how to retry it.
type handlerError struct {
	err       error
	permanent bool
	until     time.Time
}

func (h *handlerError) Error() string { return h.err.Error() }
func (h *handlerError) Unwrap() error { return h.err }

// Permanent marks a Handler's error that retrying will not fix, such as a
// 4xx answer: the item is given up after a few attempts.
func Permanent(err error) error { return &handlerError{err: err, permanent: true} }

// RetryAt marks a Handler's error that is worth retrying, not before t
// (a Retry-After).
func RetryAt(err error, t time.Time) error { return &handlerError{err: err, until: t} }
