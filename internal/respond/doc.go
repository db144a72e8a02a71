// Package respond serves the response pages that links in notifications
// lead to: GET /respond/{token} shows the gate and a form with one input per
// typed field, and POST /respond/{token} records the decision through the
// gates service, once per person.
//
// A link's token is compact and URL-safe: a version, a kind, an expiry, a
// nonce, the gate id and an optional recipient, signed with HMAC-SHA256
// under a key derived from the app's secret key. A token acts on its own
// gate only. Links posted to a channel (the Workflows cards of Teams) are
// not bound to a person, so the page first signs the person in with GitHub:
// GET /auth/github/login starts the App's OAuth web flow with a random state
// kept in a short-lived cookie, and GET /auth/github/callback checks it,
// exchanges the code, asks GitHub whose token it is and keeps that login in
// a signed session cookie for an hour; GitHub's token is not kept. POST
// /auth/signout forgets the session. Answers from channel links count as
// via teams.
//
// GET and HEAD change nothing, so link scanners and previews are harmless.
// A POST needs the session and a CSRF value bound to that person and that
// link. Every page is server-rendered HTML without scripts, under a strict
// Content-Security-Policy, never cached; sign-in only ever returns to a
// local /respond/ path.
package respond
