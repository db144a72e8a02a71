package outbox

import "time"

// handlerError is a Handler's error that says how to retry it.
type handlerError struct {
	err       error
	permanent bool
	again     bool
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

// Again marks a Handler's return that is not a failure: the item did part
// of its work and is due again at once, for the rest. It is logged at debug
// level and observed as "again", and its error text is not stored.
func Again(err error) error { return &handlerError{err: err, again: true} }
