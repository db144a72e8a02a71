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
// A Transport hands messages over: SMTP through go-mail, one connection a
// message (STARTTLS when offered or required, or implicit TLS; a login
// only when a user name is set, and a password in the clear only to a
// loopback host), or Graph's POST /users/{sender}/sendMail with the MIME
// message, through kiota with a token got by client credentials. A failed
// send is one of three Failures:
//
//   - Retry: not delivered, and trying again may work: the server could
//     not be reached or timed out before the message was handed over, a
//     4xx SMTP reply, Graph's 429, 500, 502 or 503, a token endpoint that
//     is down.
//   - Refused: not delivered, and trying again will not help: a 5xx SMTP
//     reply, credentials refused, settings the server does not meet,
//     Graph's 400, 401, 403, 404, 413 or 415.
//   - Unsure: the message may have been taken: the connection broke after
//     SMTP's final "." and before the reply, a Graph request went out whole
//     and no answer came, or Graph answered 504.
//
// Reason words a failure for the issue, never naming a host, an address,
// a token or a credential.
//
// The Performer sends each recipient's email at most once. Before it hands
// an email over it moves it from "pending" to "sending" in the store, and
// afterwards to "sent", "failed", "unknown" (Unsure) or back to "pending"
// (Retry, tried again with the outbox's backoff until the gate settles).
// An email found in "sending" when a run starts was handed over by a run
// that stopped before recording the outcome: it may have arrived, so it is
// marked "unknown" and never sent again. Failed and unknown emails, and
// delays, are noted on the issue, where approvers can always answer.
package email
