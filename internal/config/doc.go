// Package config reads the app's settings (`gatehouse serve`) from the
// environment, once, at start. Load checks every setting and reports every
// problem together, one line per problem, each naming its variable, so an
// operator fixes a deployment in one pass. Secrets (the secret key, the
// app's private key, the webhook secret, the OAuth client secret, the Teams
// bot's password, the Workflows webhook URLs, which carry their
// signatures, the SMTP password and the Graph client secret) never appear
// in an error, in formatted output or in a log line: they are held in
// types that redact themselves, and a problem with GATEHOUSE_SMTP_URL names
// the part that is wrong without quoting the URL.
//
// Email goes through one transport: an SMTP server (GATEHOUSE_SMTP_URL) or
// a Microsoft Graph mailbox (GATEHOUSE_GRAPH_TENANT_ID, _CLIENT_ID,
// _CLIENT_SECRET and _SENDER, all four, and GATEHOUSE_GRAPH_URL), with
// GATEHOUSE_MAIL_FROM as the sender address. SMTP credentials go only over
// TLS, unless the server is on loopback: smtp:// with a user for any other
// host insists on STARTTLS.
//
// The identities file (GATEHOUSE_IDENTITIES_FILE) is read here too, with
// internal/identities, so that its problems stop the app at start with the
// rest.
package config
