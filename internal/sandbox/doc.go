// Package sandbox is a whole Gatehouse world on loopback, for the demo, the
// end-to-end tests and the benchmarks: an emulated GitHub with an
// organization, a repository, people and a team, the GitHub App installed
// on it, the Actions OIDC issuer, and the settings (environment variables)
// that connect the app and the action to them.
package sandbox
