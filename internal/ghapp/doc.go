// Package ghapp gives the app its GitHub clients: one go-github client per
// installation of the GitHub App, authenticated with installation tokens that
// ghinstallation mints and renews, and the App's own JWT-authenticated calls
// (who the App is, where it is installed). It also answers the questions the
// app asks of GitHub while recording responses: team membership (cached
// briefly, one request for concurrent askers) and the comments of an issue
// (every page).
//
// Every request goes through a ghclient retry transport whose waits are kept
// short: callers that must outlast a longer outage (the outbox) retry
// durably themselves. The App's JWTs are dated by Options.Now, the same clock
// the rest of the app uses.
package ghapp
