// Package config reads the app's settings (`gatehouse serve`) from the
// environment, once, at start. Load checks every setting and reports every
// problem together, one line per problem, each naming its variable, so an
// operator fixes a deployment in one pass. Secrets (the secret key, the
// app's private key, the webhook secret, the OAuth client secret, the Teams
// bot's password and the Workflows webhook URLs, which carry their
// signatures) never appear in an error, in formatted output or in a log
// line: they are held in types that redact themselves.
//
// The identities file (GATEHOUSE_IDENTITIES_FILE) is read here too, with
// internal/identities, so that its problems stop the app at start with the
// rest.
package config
