// Package teams is the Microsoft Teams channel of the app: the Bot Framework
// bot that people answer gates through, the cards it posts, and the cards
// of links posted to Workflows incoming webhooks.
//
// Inbound, a Bot serves POST /api/teams/messages. Every activity carries a
// Bot Framework JWT that a Verifier checks before anything in the request
// is acted on: RS256 with a key from the OpenID metadata's jwks_uri, issuer
// https://api.botframework.com, audience the bot's app id, at most five
// minutes of clock skew, a serviceurl claim equal to the activity's
// serviceUrl, and a signing key endorsed for the activity's channelId. A
// bad or missing token is a 401; a good token that does not cover the
// activity is a 403. The bot remembers the conversations it is added to
// (conversationUpdate, installationUpdate) and turns the Action.Execute
// invokes of its cards (adaptiveCard/action) into answers to gates.
//
// Outbound, a Connector calls the Bot Connector REST API with a bot token
// got by client credentials, and Webhooks posts to the named Workflows
// webhooks, whose URLs are secrets and never appear in logs or errors. A
// Performer performs the Teams items of the app's outbox (post a gate's
// card, update it when the gate settles, post links to a webhook), and a
// Resolver turns a gate's teams-channel input into where its card goes.
package teams
