// Package actionrun is the Gatehouse action: it reads the step's inputs and
// the runner's environment, opens the approval issue, waits for a decision
// (standalone: by reading the comments with conditional requests),
// settles and closes the issue, and reports the outcome as step outputs, a
// step summary and an exit status.
package actionrun
