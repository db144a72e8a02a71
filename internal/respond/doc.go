// Package respond serves the response pages that links in notifications
// lead to: GET /respond/{token} shows the gate and a form with one input per
// typed field, and POST /respond/{token} records the decision through the
// gates service, once per person.
//
// A link's token is compact and URL-safe: a version, a kind, an expiry, a
// nonce, the gate id and a recipient, signed with HMAC-SHA256 under a key
// derived from the app's secret key. A token acts on its own gate only.
// There are two kinds of link.
//
// Links posted to a channel (the Workflows cards of Teams) are not bound to
// a person, so the page first signs the person in with GitHub: GET
// /auth/github/login starts the App's OAuth web flow with a random state
// kept in a short-lived cookie, and GET /auth/github/callback checks it,
// exchanges the code, asks GitHub whose token it is and keeps that login in
// a signed session cookie for an hour; GitHub's token is not kept. POST
// /auth/signout forgets the session. Answers from channel links count as
// via teams, once per login. Without GitHub sign-in set up, channel links
// answer 503 and the /auth/ routes do not exist.
//
// Links mailed to a person are bound to their recipient: the token carries
// the lower-cased address, and holding the link (it was sent to that
// mailbox) is what authenticates its recipient, so there is no sign-in and
// no session. The answer is the recipient's, via email, recorded under the
// answer id "email:<gate>:<address>": the gates service records an id once,
// in one transaction, which makes the link single-use. Once used, the page
// shows what was recorded through it. The email's approve and reject links
// add ?decision=, which only puts that button first.
//
// GET and HEAD change nothing, so link scanners and previews are harmless.
// A POST needs a CSRF value bound to the link and the person: the signed-in
// login, or "email:<address>" for an email link, which no login can be.
// Every page is server-rendered HTML without scripts, under a strict
// Content-Security-Policy, never cached and sent without a referrer;
// sign-in only ever returns to a local /respond/ path.
package respond
