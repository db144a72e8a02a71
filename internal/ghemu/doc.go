// Package ghemu is an in-memory GitHub for tests and for `gatehouse demo`:
// the REST API endpoints Gatehouse uses, the issue web pages that html_url
// points to, and webhook deliveries, served on loopback. It aims to answer
// exactly as api.github.com does where Gatehouse depends on it, so the real
// binaries can run against it unchanged (GITHUB_API_URL = APIURL(),
// GITHUB_SERVER_URL = WebURL()).
//
// # Setting up
//
//	emu, err := ghemu.New(ghemu.Options{WebhookURL: hookURL, WebhookSecret: secret})
//	err = emu.Start()
//	defer emu.Close()
//	alice, err := emu.AddUser("alice")             // a personal token (scope "repo")
//	bot, err := emu.AddBot("github-actions")       // a GITHUB_TOKEN stand-in: github-actions[bot]
//	err = emu.AddOrg("acme")
//	err = emu.AddTeam("acme", "release", "bob")    // active members
//	err = emu.SetMembership("acme", "release", "carol", "pending")
//	err = emu.AddRepo("acme", "app", map[string]string{"alice": "write", "github-actions[bot]": "write"})
//	err = emu.GrantScopes(alice, "read:org")        // needed to read team memberships
//	id, err := emu.InstallApp("acme", "app")        // the App, on acme, for acme/app
//
// Repositories are private: people without access to one (and tokens of
// installations that do not cover it) get 404, as on GitHub. The owner of a
// personal repository is its admin; members of the owning organization
// (listed in AddOrg, or active in one of its teams) can read it, as with
// GitHub's default base permission; collaborators have the role given.
//
// # REST API
//
// Authenticated with "Authorization: Bearer <token>" or "token <token>";
// a missing credential is 401 "Requires authentication", an unknown or
// expired one 401 "Bad credentials". Endpoints:
//
//	GET    /rate_limit                                             (does not count)
//	GET    /user                                                   (403 for bot and installation tokens)
//	GET    /repos/{owner}/{repo}
//	POST   /repos/{owner}/{repo}/issues
//	GET    /repos/{owner}/{repo}/issues/{issue_number}
//	PATCH  /repos/{owner}/{repo}/issues/{issue_number}
//	GET    /repos/{owner}/{repo}/issues/{issue_number}/comments    (per_page, page, since)
//	POST   /repos/{owner}/{repo}/issues/{issue_number}/comments
//	GET    /repos/{owner}/{repo}/issues/comments/{comment_id}
//	PATCH  /repos/{owner}/{repo}/issues/comments/{comment_id}
//	DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}
//	GET    /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions
//	POST   /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions
//	POST   /repos/{owner}/{repo}/issues/{issue_number}/labels
//	POST   /repos/{owner}/{repo}/issues/{issue_number}/assignees
//	GET    /repos/{owner}/{repo}/collaborators/{username}/permission
//	GET    /orgs/{org}/teams/{team_slug}
//	GET    /orgs/{org}/teams/{team_slug}/members                  (per_page, page, role)
//	GET    /orgs/{org}/teams/{team_slug}/memberships/{username}
//	GET    /app                                                    (App JWT)
//	GET    /app/installations/{installation_id}                    (App JWT)
//	POST   /app/installations/{installation_id}/access_tokens      (App JWT)
//	GET    /repos/{owner}/{repo}/installation                      (App JWT)
//
// /repositories/{id}/… serves the same as /repos/{owner}/{repo}/…, because
// Link headers use that form. Anything else is 404
// {"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}.
// Errors carry the endpoint's documentation_url and, like today's GitHub,
// a "status" string; validation errors are 422 "Validation Failed" with
// errors [{resource, field, code}], a missing required property is 422
// "Invalid request.\n\n\"title\" wasn't supplied.", malformed JSON is 400
// "Problems parsing JSON".
//
// Behaviour worth knowing, each as GitHub does it:
//   - Creating an issue: a blank title is missing_field, titles stop at 256
//     characters, bodies at 65536. Labels and assignees from callers without
//     push (triage) access are dropped silently; from callers with it,
//     missing labels are created and an unassignable login is 422
//     {"value","resource":"Issue","field":"assignees","code":"invalid"}.
//     POST …/assignees ignores unassignable logins instead. At most 10
//     assignees.
//   - Closing without state_reason closes as "completed"; reopening sets
//     "reopened". The author may edit and close their own issue; others need
//     triage access (403 "Must have admin rights to Repository.").
//   - Comments: an empty body is missing_field; over 65536 characters is
//     {"resource":"IssueComment","code":"unprocessable","field":"data"}.
//     Their author, people with write access and installations with
//     issues:write may edit and delete them. Lists are ascending by id;
//     since keeps comments updated at or after it.
//   - Reactions: 201 when new, 200 with the existing reaction when the
//     person already reacted with that content.
//   - Teams and team memberships: a person's token needs the read:org
//     scope and the person must belong to the org; an installation token
//     needs the members permission on that org. Otherwise the answer is 404,
//     as GitHub gives GITHUB_TOKEN: a membership 404 alone cannot tell "not a
//     member" from "cannot see the team"; GET /orgs/{org}/teams/{team_slug}
//     can.
//   - Installation tokens act as "<slug>[bot]", reach only the
//     installation's repositories (optionally narrowed when minted), hold the
//     App's permissions (issues:write, members:read, metadata:read unless
//     Options.AppPermissions says otherwise; 403 "Resource not accessible
//     by integration" without the one needed) and expire after an hour.
//     Issues and comments they create carry performed_via_github_app.
//   - App JWTs must be RS256-signed with the App's key, iss the App id (or
//     client id), iat not in the future (60 s drift allowed), exp in the
//     future and at most 10 minutes away; ghinstallation's transports work
//     unchanged.
//
// Every answer carries Content-Type, X-GitHub-Request-Id, X-GitHub-Media-Type
// and the x-ratelimit-limit, -remaining, -used, -reset and -resource
// headers; person and bot tokens also get X-OAuth-Scopes. Every 200 GET has a
// weak ETag over the body and the Link header, so a list page whose
// neighbours change (a new last page appears) changes ETag; single issues
// and comments also have Last-Modified. If-None-Match (or If-Modified-Since
// without it) that matches answers 304 with no body, and does not count
// against the rate limit. Every other authenticated request counts one.
//
// List endpoints take per_page (default 30, at most Options.PerPageMax,
// default 100) and page, and send GitHub's Link header: absolute
// /repositories/{id}/… URLs keeping the other query parameters, with rel
// "prev", "next", "last" and "first" as they apply; none for a single page.
//
// # Rate limits and faults
//
// Each token has its own primary budget of 5000 an hour (1000 for bot
// tokens, as for GITHUB_TOKEN; App JWT calls share one, "app"). SetRateLimit sets it; once exhausted, requests answer
// 403 "API rate limit exceeded for user ID …" with x-ratelimit-remaining: 0
// until the reset time. InjectFault makes the next matching requests fail
// (403 or 429 as a secondary rate limit with GitHub's message and optional
// Retry-After; 5xx as "Server Error"; any other 4xx with its status text)
// or wait first. Fault paths use path.Match syntax on the URL path, where *
// is one segment. Stats counts requests by route, 304 answers and rate
// limit use by token.
//
// # Webhooks
//
// With a webhook URL (Options.WebhookURL or SetWebhookURL), changes made
// through the API or the web helpers are delivered like GitHub: issues
// (opened, edited, closed, reopened, labeled, unlabeled, assigned,
// unassigned) and issue_comment (created, edited with changes.body.from,
// deleted), with X-GitHub-Event, X-GitHub-Delivery (a GUID),
// X-GitHub-Hook-ID, X-GitHub-Hook-Installation-Target-Type and -ID,
// X-Hub-Signature (sha1) and X-Hub-Signature-256 (when a secret is set),
// User-Agent GitHub-Hookshot/…, and payloads shaped as GitHub sends them
// (organization for organization repositories). When the App is installed
// on the repository the delivery is the App's (target type "integration",
// payload "installation": {id, node_id}); otherwise it is a repository
// webhook. Deliveries are asynchronous, in order per issue, with a 10 s
// timeout, no redirects and no retries. Deliveries lists every attempt with
// the status received; WaitDeliveries waits for the queue to drain;
// Redeliver sends one again with the same GUID and body; SendWebhook sends
// an event the emulator does not raise itself (installation, ping…).
//
// # Signing in with GitHub (OAuth web flow)
//
// The App has a client id (AppClientID, "Iv1.…") and a client secret
// (AppClientSecret), and SetAppCallbackURL registers its callback URL. On
// the web host:
//
//	GET  /login?login=alice&return_to=/path    signs the browser in as alice (a user_session
//	                                           cookie, no password) and redirects to return_to,
//	                                           a path on this host; without login, a sign-in form
//	GET  /login/oauth/authorize                client_id, redirect_uri, state: 302 to /login
//	                                           first when not signed in, then to redirect_uri
//	                                           with code and state
//	POST /login/oauth/access_token             client_id, client_secret (or HTTP Basic), code,
//	                                           redirect_uri: a user access token
//
// An unknown client_id is a 404 page; a redirect_uri that is not the
// callback URL or below it goes back to the callback URL with
// error=redirect_uri_mismatch; DenyNextAuthorization makes the next one go
// back with error=access_denied, as when a person cancels. Codes are
// single-use and expire after 10 minutes. The token answer is form-encoded
// unless Accept asks for JSON: access_token (ghu_…, good for 8 hours),
// expires_in, refresh_token (ghr_…, not redeemable here),
// refresh_token_expires_in, scope "" and token_type "bearer"; errors are
// 200 with error, error_description and error_uri (bad_verification_code,
// incorrect_client_credentials, redirect_uri_mismatch). A user access token
// acts as its person on the API (GET /user answers them); it is not
// narrowed to the App's installations as on GitHub.
//
// # Acting as a person on the web
//
// Comment, EditComment, DeleteComment, React and CloseIssue change state as
// a person using github.com would, with the same permission rules and
// webhooks, for tests and the demo to play approvers. Issue and Comments
// return snapshots for assertions. The issue page at html_url is a small
// HTML page with each comment under its #issuecomment-{id} anchor.
package ghemu
