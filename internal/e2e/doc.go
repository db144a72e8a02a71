// Package e2e holds the end-to-end tests: they build the real
// gatehouse-action binary and run it the way a GitHub runner does (INPUT_*
// and GITHUB_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files)
// against the GitHub emulator, with reviewers acting through the emulator's
// REST API.
package e2e
