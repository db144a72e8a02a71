// Package oidc verifies the GitHub Actions OIDC tokens that the action sends
// to the app when it registers a gate.
//
// A Verifier checks a token's RS256 signature against the issuer's published
// keys (found by OpenID Connect discovery, cached, and fetched again when a
// token names a key the cache does not hold), its issuer, its audience (the
// configured one, exactly), its expiry and not-before times with a small
// leeway, and returns the job's claims typed (GitHub sends numbers such as
// run_id as strings).
//
// Errors tell the caller what to answer: ErrInvalidToken (401) when the token
// is malformed, forged, expired or meant for someone else; ErrUnavailable
// (502/503) when the issuer cannot be reached or answers with an error, so the
// token could not be checked at all.
//
// The app must start while the issuer is briefly unreachable, and must not
// start with an issuer that can never work. So NewVerifier tries discovery
// once: a failure that retrying can fix (a network error, a timeout, an HTTP
// 5xx, 408 or 429) is not returned, and discovery is tried again when a token
// is verified (one attempt at a time, shared by concurrent callers); a failure
// that retrying cannot fix (an HTTP 4xx, a document that names another issuer
// or no jwks_uri, a malformed document) is returned.
//
// Tokens never appear in errors.
package oidc
