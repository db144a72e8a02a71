// Package audit writes the approval issue's history, the audit trail that
// both the action and the app keep: the issue body that opens a gate, the
// reply to a response that was not counted, the cancellation note and the
// summary that settles it. Every text starts with a hidden marker line
// (`<!-- gatehouse:<kind> gate=<id> … -->`) so tools, and Gatehouse itself,
// can read the trail back.
package audit
