package ghemu

import (
	"fmt"
	"math"
	"net/http"
	"path"
	"strconv"
	"time"
)

// Fault makes the next Times requests that match it fail, or wait first.
// Faults apply after authentication, so a faulted answer still carries the
// caller's rate limit headers, and a faulted request does not consume rate
// limit. The oldest matching fault applies first.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches the request's URL path (no query) with path.Match
	// syntax, where * stands for one path segment:
	// "/repos/o/r/issues/*/comments". Empty matches any path.
	Path string
	// Status is the answer: 403 and 429 answer as GitHub's secondary rate
	// limit, anything else with GitHub's message for that status. Zero
	// serves the request normally after Delay.
	Status int
	// RetryAfter, when set, is sent as Retry-After (whole seconds, rounded up).
	RetryAfter time.Duration
	// Delay is how long to wait before answering.
	Delay time.Duration
	// Times is how many requests the fault affects; zero means one.
	Times int
}

// InjectFault arms f.
func (e *Emulator) InjectFault(f Fault) error {
	if _, err := path.Match(f.Path, "/"); err != nil {
		return fmt.Errorf("ghemu: fault path %q: %w", f.Path, err)
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("ghemu: fault status %d is not a 4xx or 5xx status", f.Status)
	}
	if f.Times < 0 || f.Delay < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("ghemu: fault %+v has a negative count or duration", f)
	}
	if f.Times == 0 {
		f.Times = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
	return nil
}

// takeFault consumes one use of the first fault matching r. Callers hold e.mu.
func (e *Emulator) takeFault(r *http.Request) *Fault {
	for i, f := range e.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.Path != "" {
			if m, _ := path.Match(f.Path, r.URL.Path); !m {
				continue
			}
		}
		f.Times--
		if f.Times == 0 {
			e.faults = append(e.faults[:i], e.faults[i+1:]...)
		}
		use := *f
		return &use
	}
	return nil
}

// faultResponse renders a fault's answer.
func (e *Emulator) faultResponse(f *Fault, doc, reqID string) response {
	err := &apiError{status: f.Status, message: http.StatusText(f.Status)}
	switch f.Status {
	case http.StatusForbidden, http.StatusTooManyRequests:
		err.message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + reqID + "."
		err.doc = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable:
		err.message = "Server Error"
	}
	res := e.errorResponse(err, doc)
	if f.RetryAfter > 0 {
		res.header.Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	return res
}
