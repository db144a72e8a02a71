package ghclient

import (
	"errors"
	"net/http"

	"github.com/google/go-github/v62/github"
)

// StatusCode returns the HTTP status of the GitHub response behind err, or 0
// when err carries none (a network error, a cancelled context).
func StatusCode(err error) int {
	var (
		resp  *http.Response
		er    *github.ErrorResponse
		rate  *github.RateLimitError
		abuse *github.AbuseRateLimitError
	)
	switch {
	case errors.As(err, &er):
		resp = er.Response
	case errors.As(err, &rate):
		resp = rate.Response
	case errors.As(err, &abuse):
		resp = abuse.Response
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// IsNotFound reports whether GitHub answered 404 Not Found.
func IsNotFound(err error) bool {
	return StatusCode(err) == http.StatusNotFound
}
