// Package msemu is an in-memory stand-in for the Microsoft services that
// Gatehouse talks to, served on loopback for tests, end-to-end tests and
// `gatehouse demo`: the Microsoft identity platform's token endpoint, the
// Bot Framework's OpenID metadata, the Bot Connector API of Teams, Teams
// itself sending activities to a bot, and Workflows (Power Automate)
// webhooks. It aims to answer as the real services do where Gatehouse
// depends on them, so the real binaries run against it unchanged
// (GATEHOUSE_AUTHORITY_URL = AuthorityURL(), GATEHOUSE_TEAMS_OPENID_URL =
// OpenIDURL(), webhook URLs from AddWebhook).
//
// # Setting up
//
//	emu, err := msemu.New(msemu.Options{})
//	err = emu.Start()
//	defer emu.Close()
//	err = emu.AddApp(emu.TenantID(), botAppID, botSecret)   // the bot's app registration
//	alice, err := emu.AddUser(msemu.Member{Name: "Alice", Email: "alice@corp.example", UserPrincipalName: "alice@corp.example"})
//	team, err := emu.AddTeam(msemu.Team{Name: "Release", Channels: []msemu.Channel{{Name: "Deploys"}}, Members: []string{alice.ID}})
//	err = emu.Install(ctx, botURL, botAppID, team.ID)       // Teams tells the bot, which learns the team
//	hookURL, err := emu.AddWebhook("releases")              // a Workflows webhook
//
// Each service has its own routes on the one server, under URL():
//
//	POST /{tenant}/oauth2/v2.0/token                              identity platform (client credentials)
//	GET  /{tenant}/discovery/v2.0/keys                            keys that sign access tokens
//	GET  /v1/.well-known/openidconfiguration                      Bot Framework OpenID metadata
//	GET  /v1/.well-known/keys                                     keys that sign activities to bots
//	POST /teams/v3/conversations/{conversationId}/activities      Bot Connector (ServiceURL() is /teams/)
//	PUT  /teams/v3/conversations/{conversationId}/activities/{activityId}
//	GET  /teams/v3/conversations/{conversationId}/members/{memberId}
//	GET  /teams/v3/teams/{teamId}/conversations
//	POST /workflows/{id}/triggers/manual/paths/invoke             Workflows webhooks
//
// # Identity platform
//
// AddApp registers an application with a client secret in a tenant. The
// token endpoint takes the client credentials grant with the secret in the
// form or in HTTP Basic, and a single "<resource>/.default" scope for
// https://api.botframework.com or https://graph.microsoft.com. It answers
// {"token_type":"Bearer","expires_in","ext_expires_in","access_token"}
// with Options.TokenLifetime (3599 s by default), and refuses as the real
// one does, with {"error","error_description":"AADSTS…","error_codes",
// "timestamp","trace_id","correlation_id","error_uri"}: 400
// invalid_request (a missing parameter, an unknown tenant),
// unsupported_grant_type, invalid_scope (no /.default), unauthorized_client
// (an app not in the tenant), invalid_resource; 401 invalid_client (a
// missing or wrong secret). Access tokens are RS256 JWTs in the v1.0
// format: aud the resource, iss https://sts.windows.net/{tenant}/, appid
// and azp the client id, tid, oid, sub, iat, nbf and exp. TokenRequests
// counts requests by client id, so tests can see caching.
//
// # Bot Connector
//
// The connector takes an access token for https://api.botframework.com of
// a registered app, unexpired by the emulator's clock (no leeway);
// otherwise 401 {"message":"Authorization has been denied for this
// request."}. The app is the bot; it must be installed (Install or AddBot)
// in the team or chat, or the answer is 403 BotNotInConversationRoster.
// Errors are {"error":{"code","message"}}: 404 ConversationNotFound,
// ActivityNotFoundInConversation, MemberNotFoundInConversation; 400
// BadArgument for a body that is not a message activity; 413
// MessageSizeTooBig past 28 KB.
//
//   - Posting to a channel starts a thread; posting to a thread
//     ("19:…;messageid=…") replies in it. The answer is 201 {"id"}, ids
//     increasing like Teams' millisecond ids. Activities returns what was
//     posted, each with its updates; AdaptiveCard reads a card out of one.
//   - Updating answers 200 {"id"}, the conversation given as the channel or
//     as the thread.
//   - Members are found by Teams id, AAD object id or user principal name,
//     in a team, any of its channels or a chat, and answered as a
//     TeamsChannelAccount with userRole "user".
//   - A team's channels list General first, named null, with the team's id.
//
// FailNext and Throttle make the next requests that authenticate fail with
// the connector's answer for the status (429 Throttled with Retry-After;
// 500 and 502 ServiceError; 503 and 504 without a body). ConnectorRequests
// counts every request.
//
// # Teams sending activities to a bot
//
// Install, Invoke and Send post activities to a bot's messaging endpoint
// as Teams does: channelId msteams, serviceUrl ServiceURL(), from the
// person, recipient "28:<bot app id>", conversation and channelData as for
// a channel (team, channel, tenant) or chat, and "Authorization: Bearer"
// with a JWT that the Bot Framework's keys sign: RS256, kid and x5t of a
// key in the JWKS endorsed for msteams, iss https://api.botframework.com,
// aud the bot's app id, serviceurl the activity's serviceUrl, iat, nbf five
// minutes earlier and exp an hour later. Token forges the defects a bot
// must refuse (TokenOptions): an unknown or unendorsed key, alg none or
// HS256, expired, another audience, issuer or service URL. RotateKey
// publishes a new signing key beside the old ones.
//
// An invoke is what pressing an Action.Execute button sends: name
// adaptiveCard/action, value {"action":{"type":"Action.Execute","verb",
// "data"},"trigger":"manual"}, and, for a card posted in a channel,
// replyToId the card's id in the card's thread. Invoke refuses what Teams
// cannot send: a person outside the conversation, a bot not installed
// there, a card never posted. InvokeActivity and InstallActivities build
// the activities without sending them, for forged deliveries through Send.
//
// # Workflows webhooks
//
// AddWebhook returns a URL shaped like a flow's "When a Teams webhook
// request is received" trigger. A post with the right sig and a JSON object
// is answered 202 with no body and kept (WebhookPosts); otherwise Logic
// Apps' errors: 404 WorkflowNotFound, 400 MissingApiVersionParameter, 401
// DirectApiAuthorizationRequired or DirectApiInvalidAuthorizationSignature,
// 400 InvalidRequestContent or TriggerInputSchemaMismatch. FailWebhookNext
// makes the next posts fail.
package msemu
