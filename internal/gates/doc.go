// Package gates is the app's core: it registers gates for waiting actions,
// records decisions from webhook deliveries, settles gates (by decision,
// timeout or cancellation) and answers the actions' long polls.
//
// Every decision takes the same path: authenticate the source (done by the
// caller) → parse → authorize the actor → store the response idempotently →
// evaluate → if settled, store the outcome and the GitHub side effects
// (outbox) in the same transaction → wake the waiting pollers.
package gates
