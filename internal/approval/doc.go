// Package approval is the pure decision model shared by the action and the
// app: a Gate (who may approve, how many approvals settle it, its fields and
// deadline), the Responses people give, and Evaluate, which turns the two
// into an Outcome with the clock injected. It does no I/O: callers resolve
// identities and team memberships before they build a Response.
package approval
