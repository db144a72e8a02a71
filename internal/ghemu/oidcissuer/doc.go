// Package oidcissuer emulates the GitHub Actions OIDC issuer
// (https://token.actions.githubusercontent.com) on a loopback address, for
// tests and the local demo.
//
// It serves the discovery document and the signing keys the way the real
// issuer does, and the runner's token request endpoint the way
// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN work: the
// URL a job receives already carries a query (api-version), a client appends
// audience=<aud> and sends the request token as a bearer token, and the answer
// is {"value":"<jwt>"}. Tokens are RS256 JWTs carrying the claims GitHub
// documents, with custom claims encoded as strings as the real ones are.
//
// Mint signs tokens directly, including deliberately broken ones (expired,
// not yet valid, foreign key, foreign issuer, alg "none", HS256 signed with
// the public key) for verifier tests.
package oidcissuer
