// Package webhook is the intake of GitHub's webhook deliveries
// (`POST /webhooks/github`). It authenticates each delivery by its
// X-Hub-Signature-256 HMAC before looking at anything else (the legacy SHA-1
// signature is refused), bounds its size, and stores the ones the app
// handles in a durable inbox, deduplicated by delivery id. Processing
// happens elsewhere, asynchronously: the handler only answers GitHub, fast,
// and hands each newly stored delivery on.
package webhook
