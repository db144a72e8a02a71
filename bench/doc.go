// Command bench measures the Gatehouse app against its performance targets,
// with the real binaries, on this machine:
//
//	go run ./bench [-run latency,intake,memory] [-json] [-keep] [flags]
//
// It builds gatehouse and gatehouse-action into a temporary directory,
// starts a sandbox world in this process (an emulated GitHub with the app
// installed on octo-org/deploy, and the Actions OIDC issuer), and runs each
// part against a fresh app process on its own SQLite database, at the app's
// default log level unless -log-level says otherwise. It prints a table, or
// with -json every number it took, including the inbox over time.
//
// latency: decision latency. -gates runs of gatehouse-action in app mode,
// -parallel at a time, each with its own run id. Once an action has printed
// that it registered its gate and is waiting, alice comments "approve" on
// its issue and the emulator delivers the issue_comment webhook. Measured:
// from the moment the emulator's POST of that delivery returned (the app
// had stored it and answered 202) to the moment the action process exited;
// also from the moment the POST began. Target: p99 < 100 ms.
//
// intake: webhook intake. For -duration, -concurrency clients POST signed
// issue_comment deliveries straight to the app's /webhooks/github, each
// with its own X-GitHub-Delivery. Bodies are a real emulator delivery with
// the issue number, comment id and body changed: one in -approval-every
// (10) is alice approving on one of 50 registered gates that need alice and
// bob (a real comment, so the app stores the delivery, records a response
// and reacts to it on GitHub; past 5,000 the same comments are sent again
// under new delivery ids, stored and found duplicate); the others are
// discussion on issues without a gate, which the app answers without
// storing. Measured: answers 202 per
// second, and how fast the app works through its inbox (the rows of its
// deliveries table done while sending, then for up to 30 s after). Target:
// 2,000 accepted per second.
//
// memory: memory with waiting actions. -waiters gates are registered through
// POST /api/v1/gates, each with an approval issue opened by the job token
// and an OIDC token minted for its own run id; then -waiters long polls
// GET /api/v1/gates/{id}?wait=60 are held open. The polls are goroutines of
// this process (the waiting actions' HTTP side, without 1,000 processes).
// Measured: the app's VmRSS and VmHWM while they wait. Then alice approves
// every gate, all at once, and each poll must come back approved; the time
// from each approval to its poll's return is shown too. Target: RSS < 128 MB.
//
// The emulator, the load clients and the pollers run in this process and
// share the machine with the app, so each part reports the CPU time the app
// process used (from /proc) beside this process's. GitHub's rate limits are
// not under test: the emulator's token budgets are refilled every second.
// Registrations come from many loopback addresses, as runners' would, since
// the app limits registrations per client address.
//
// Interrupting the run stops the app and the actions and removes the
// temporary directory; -keep leaves it (databases and app logs) in place.
package main
