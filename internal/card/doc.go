// Package card builds the Adaptive Cards (version 1.5) that Gatehouse shows
// in Microsoft Teams for a gate: the Pending card the bot posts when the
// gate opens, the Answered card the person who clicked sees next, the
// Settled card the posted one becomes, and the Links card for a Workflows
// webhook, which supports only Action.OpenUrl. It is pure: it turns a
// gates.Info into card JSON and does no I/O.
//
// The Pending card has one input per field, with the field's id as the
// input id, so that the values Teams merges into the Action.Execute data
// are the raw values fields.Schema.Resolve takes (a multiselect sends its
// values comma-separated); the data also carries GateKey and the reason
// under CommentKey. Clients check required inputs, max-length, number
// bounds and the anchored pattern themselves; the server checks every value
// again. A required boolean is not marked required, since a toggle always
// sends true or false and a required toggle would have to be on.
//
// Every card is at most MaxBytes of JSON. When a card would be larger, the
// instructions are cut first, ending with a pointer to the issue; when it
// does not fit even without them, the other free texts (descriptions,
// values, comments, reasons) are cut to smaller caps and the instructions
// get what room that frees. Only a field schema too large for a card by
// itself is an error. Text that workflow authors and reviewers write goes only into text
// properties, never into URLs or ids, and the JSON is written by
// encoding/json. Instructions are passed through as markdown; URLs are
// linked only when they are plain absolute http(s) URLs.
package card
