// Package msemu is an in-memory stand-in for the Microsoft services that
// Gatehouse talks to, served on loopback for tests, end-to-end tests and
// `gatehouse demo`: the Microsoft identity platform's token endpoint and
// tenant discovery, the Bot Framework's OpenID metadata, the Bot Connector
// API of Teams, Teams itself sending activities to a bot, Workflows (Power
// Automate) webhooks, and Microsoft Graph's sendMail. It aims to answer as
// the real services do where Gatehouse depends on them, so the real
// binaries run against it unchanged (GATEHOUSE_AUTHORITY_URL =
// AuthorityURL(), GATEHOUSE_TEAMS_OPENID_URL = OpenIDURL(), webhook URLs
// from AddWebhook, the Graph URL from GraphURL()).
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
//	err = emu.AddApp(tenant, mailAppID, mailSecret)         // an app that sends mail through Graph
//	err = emu.GrantMailSend(tenant, mailAppID)              // with the Mail.Send application role
//	err = emu.AddMailbox(tenant, "gatehouse@corp.example")  // the mailbox it sends as
//
// With Options.TLS the server speaks HTTPS with a self-signed certificate
// (ECDSA P-256, for 127.0.0.1, ::1 and localhost, valid for a day), which
// CertPEM returns for a client's root pool or a child process's
// SSL_CERT_FILE; URL() is then https. MSAL, under azidentity, takes only
// an https authority.
//
// Each service has its own routes on the one server, under URL():
//
//	POST /{tenant}/oauth2/v2.0/token                              identity platform (client credentials)
//	GET  /{tenant}/discovery/v2.0/keys                            keys that sign access tokens
//	GET  /{tenant}/v2.0/.well-known/openid-configuration          tenant discovery
//	GET  /v1/.well-known/openidconfiguration                      Bot Framework OpenID metadata
//	GET  /v1/.well-known/keys                                     keys that sign activities to bots
//	POST /teams/v3/conversations/{conversationId}/activities      Bot Connector (ServiceURL() is /teams/)
//	PUT  /teams/v3/conversations/{conversationId}/activities/{activityId}
//	GET  /teams/v3/conversations/{conversationId}/members/{memberId}
//	GET  /teams/v3/teams/{teamId}/conversations
//	POST /workflows/{id}/triggers/manual/paths/invoke             Workflows webhooks
//	POST /v1.0/users/{id | userPrincipalName}/sendMail            Microsoft Graph (GraphURL() is /v1.0)
//
// # Identity platform
//
// AddApp registers an application with a client secret in a tenant. The
// token endpoint takes the client credentials grant with the secret in the
// form or in HTTP Basic, and a single "<resource>/.default" scope (beside
// the openid, offline_access, profile and email scopes that MSAL adds) for
// https://api.botframework.com, or for Microsoft Graph: its global
// resource https://graph.microsoft.com or URL(), the emulator standing for
// Graph as a national cloud's Graph host does. It answers
// {"token_type":"Bearer","expires_in","ext_expires_in","access_token"}
// with Options.TokenLifetime (3599 s by default), and refuses as the real
// one does, with {"error","error_description":"AADSTS…","error_codes",
// "timestamp","trace_id","correlation_id","error_uri"}: 400
// invalid_request (a missing parameter, an unknown tenant),
// unsupported_grant_type, invalid_scope (no /.default), unauthorized_client
// (an app not in the tenant), invalid_resource; 401 invalid_client (a
// missing or wrong secret). Access tokens are RS256 JWTs in the v1.0
// format: aud the resource, iss https://sts.windows.net/{tenant}/, appid
// and azp the client id, tid, oid, sub, iat, nbf and exp; Graph tokens of
// an app granted Mail.Send carry roles ["Mail.Send"]. TokenRequests counts
// requests by client id, so tests can see caching.
//
// A tenant's discovery document, which MSAL reads before asking for a
// token, has the members login.microsoftonline.com answers, with issuer
// {URL()}/{tenant}/v2.0, token_endpoint TokenURL(tenant), jwks_uri the keys
// above and msgraph_host the emulator; an unknown tenant is 400
// invalid_tenant (AADSTS90002). A tenant exists once it is the Teams
// tenant or has an app or a mailbox.
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
//
// # Microsoft Graph: sendMail
//
// AddMailbox makes a mailbox exist in a tenant; GrantMailSend gives an app
// the Mail.Send application role and, with mailboxes, an application
// access policy restricting it to them. sendMail takes the mailbox by
// address (compared case-insensitively) or by object id (MailboxID), and
// checks in Graph's order, answering Graph's errors
// {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}}:
//
//   - an access token of this identity platform for a Graph resource,
//     unexpired by the emulator's clock: else 401 InvalidAuthenticationToken
//     ("Access token is empty.", "…Invalid audience.", "Lifetime validation
//     failed, the token is expired.") with WWW-Authenticate;
//   - a pending fault (FailGraphNext, ThrottleGraph: 429
//     ApplicationThrottled with Retry-After);
//   - the Mail.Send role in the token: else 403 ErrorAccessDenied;
//   - the access policy: else 403 ErrorAccessDenied ("[RAOP] : Blocked by
//     tenant configured AppOnly AccessPolicy settings.");
//   - the mailbox in the token's tenant: else 404 ErrorInvalidUser;
//   - the body, at most 4 MB (413 RequestEntityTooLarge), decompressed for
//     Content-Encoding: gzip as kiota sends it (another encoding is 400
//     BadRequest);
//   - text/plain: base64 (white space allowed) of an RFC 5322 message, else
//     400 ErrorMimeContentInvalidBase64String or ErrorMimeContentInvalid;
//     application/json: {"message":{…},"saveToSentItems":bool}, else 400
//     UnableToDeserializePostBody; either with a valid recipient in To, Cc
//     or Bcc, else 400 ErrorInvalidRecipients; any other type is 415.
//
// An accepted message is answered 202 with no body and kept (SentMail).
// Every answer has request-id and client-request-id (the request's, or the
// request-id). GraphRequests counts every sendMail request.
package msemu
