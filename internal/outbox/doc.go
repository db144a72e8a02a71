// Package outbox performs the app's side effects on GitHub — comments on
// the approval issue, reactions that acknowledge a counted comment, closing
// the issue — from the store's durable outbox, and hands the items of other
// kinds (Teams cards, emails) to their Handlers. The app writes each effect
// as an outbox item in the same transaction as the decision that causes it;
// a Worker claims due items, performs them, and retries failures until they
// succeed or, for failures that retrying will not fix, until it gives up.
// Items survive a restart: a claim is a lease, and an item whose lease runs
// out is claimed again. Each item gets a bounded time (half the lease at
// most); a Handler whose work does not fit returns Again when it made
// progress, and the item runs again at once, without counting as a failure
// or waiting for a backoff.
//
// A comment is never written twice: when an item has been attempted before
// (its earlier attempt may have posted it and died before recording so), the
// issue's comments are read first and a comment carrying the same audit
// marker (and, for response comments, of which a gate has several, the same
// text) counts as done. Reactions and closing are idempotent on GitHub.
//
// The items of one gate are the gate's audit trail, so they run one at a
// time in ID order within their lane: a gate's items wait while an earlier
// item of the gate and lane is not done. The GitHub kinds are one lane, and
// each "<lane>.<action>" family of kinds another, so that a channel in
// trouble never holds up the issue. Different gates run concurrently.
package outbox
