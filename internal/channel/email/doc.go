// Package email is the email channel of the app: it writes a gate's
// approval email, sends it over SMTP or Microsoft Graph, and performs the
// outbox items that send it (gates.KindEmail).
//
// Compose writes one message per recipient: who asks and why, the
// instructions, where the gate comes from, the deadline, the fields the
// response page will ask for, and the Approve and Reject links to the
// recipient's own response page. Opening a link changes nothing (mail
// scanners open every link): the page asks for confirmation. Message.MIME
// renders it as multipart/alternative text and HTML, and the same Message
// always gives the same bytes, so SMTP and Graph send the very same
// message.
//
// A Transport hands messages over in sessions, one a run. SMTP goes
// through go-mail: a session connects at its first message (STARTTLS when
// offered or required, or implicit TLS; a login only when a user name is
// set, and a password in the clear only to a loopback host) and sends the
// messages after it on the same connection. A send that fails closes the
// connection, and the next connects again; a message the server never saw
// because a connection that served earlier ones failed at MAIL FROM goes
// once more on a new connection. go-mail bounds connecting, setting the
// session up and each message by the timeout each, so a message on a new
// connection can take three times the timeout, and one on an open
// connection the timeout: Session.Timeout says which. Graph is
// POST /users/{sender}/sendMail with the MIME message, through kiota with
// a token got by client credentials, the whole send bounded by the
// timeout; a 429 whose Retry-After is short is waited out within it.
//
// A failed send is one of four Failures:
//
//   - Retry: not delivered, and trying again may work: the server could
//     not be reached or timed out before the message was handed over, a
//     4xx SMTP reply, Graph's 408, 429, or 503 with a Retry-After (Graph
//     did not take the request), a token endpoint that is down. Error's
//     RetryAfter carries a Retry-After.
//   - Refused: not delivered, and trying again will not help: a 5xx SMTP
//     reply to a recipient or to the message, Graph's other 4xx answers
//     (a recipient it refuses, a message too large).
//   - Unsure: the message may have been taken: the connection broke after
//     SMTP's final "." and before the reply, a Graph request went out whole
//     and no answer came, or Graph answered another 5xx (a 5xx to a POST
//     may come after the mail went).
//   - Blocked: not delivered, and no message can be until the operator
//     fixes the app's mail set-up: SMTP refusing the connection, the login
//     or the sender, a certificate the app does not trust, TLS or STARTTLS
//     the server does not offer; the identity platform refusing the app's
//     credentials; Graph's 401, 403 or 404 (no such sender mailbox).
//
// Reason words a failure for the issue, never naming a host, an address,
// a token or a credential.
//
// The Performer sends each recipient's email at most once. Before it hands
// an email over it moves it from "pending" to "sending" in the store, and
// afterwards to "sent", "failed" (Refused), "unknown" (Unsure) or back to
// "pending" (Retry, Blocked), recorded even when the item's time ran out
// during the send. An email found in "sending" when a run starts was handed
// over by a run that stopped before recording the outcome: it may or may
// not have arrived, so it is marked "unknown" and never sent again.
//
// A run sends the pending emails in order, and before each send after the
// first, checks that ctx leaves the session's Timeout and that the gate is
// neither settled nor past its deadline. Out of time after handing some
// over, it returns outbox.Again, and the outbox runs it again at once. A
// gate that settled or whose deadline passed gets no more: its pending
// emails are skipped, and one left in "sending" is unknown. A Retry-After
// stops the run, and the item is due when the service said. A Blocked
// failure stops the run too, without trying another login, and says once
// on the issue that no email can be sent until the mail settings are
// fixed; the emails stay pending and go once they are. Failed and unknown
// emails, and delays, are noted on the issue, where approvers can always
// answer.
package email
