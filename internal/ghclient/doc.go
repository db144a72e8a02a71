// Package ghclient is the HTTP plumbing every Gatehouse call to GitHub goes
// through: a go-github v62 client rooted at the API URL the runner gives
// (GITHUB_API_URL, used as is, so GitHub Enterprise Server and emulators
// work), a retrying transport that honours GitHub's rate limits, a
// conditional-request cache, and small helpers for errors and pagination.
//
// A request made by New passes, outermost first, through:
//
//	auth (token) → ETagTransport (optional) → retry transport → base transport
//
// The cache sits outside the retries so that it sees one final response per
// call: a 502 that a retry recovers from never reaches it, a final error is
// never stored, and the 304 it asks for is not a status the retry transport
// retries. Each retry re-sends the same If-None-Match.
//
// go-github v62 turns only 403 rate-limit responses into typed errors. The
// retry transport therefore handles 429 (and Retry-After on any error
// status) itself; a 429 that outlasts the retries reaches the caller as a
// *github.ErrorResponse, whose status StatusCode reports.
package ghclient
