// Package actionrun is the Gatehouse action: it reads the step's inputs and
// the runner's environment, opens the approval issue, waits for a decision,
// and reports the outcome as step outputs, a step summary and an exit
// status.
//
// In standalone mode it reads the comments with conditional
// requests, applies the decision rules itself, and settles and closes the
// issue. In app mode it registers the gate with the Gatehouse app (signed in
// with the job's OIDC token) and long-polls the app, riding out the app's
// restarts; the app settles and closes the issue.
package actionrun
