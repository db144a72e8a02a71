package ghapp

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	jwt "github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/ghclient"
)

// ErrNotInstalled means the App is not installed on a repository.
var ErrNotInstalled = errors.New("the GitHub App is not installed on the repository")

const (
	defaultMembershipTTL = time.Minute
	// Retries within one request stay short; see the package comment.
	defaultRetryAttempts = 3
	defaultRetryMaxWait  = 5 * time.Second
)

// Options configures New.
type Options struct {
	// APIURL is the API root (GITHUB_API_URL), used as is: no /api/v3 is
	// appended for GitHub Enterprise Server.
	APIURL        string
	AppID         int64
	PrivateKeyPEM []byte // the App's RSA key, PKCS#1 or PKCS#8
	// Transport is the base transport under the retries; nil uses a clone
	// of http.DefaultTransport.
	Transport http.RoundTripper
	// Retry bounds the retries within one request; zero fields default to
	// 3 attempts and waits of at most 5s.
	Retry ghclient.RetryOptions
	// MembershipTTL is how long a team membership answer is reused;
	// default 1 minute.
	MembershipTTL time.Duration
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger     // default discards
}

// Identity is who the App is on GitHub.
type Identity struct {
	ID       int64
	Slug     string
	BotLogin string // "<slug>[bot]", the author of what installations write
}

// Apps makes the App's GitHub clients. It is safe for concurrent use.
type Apps struct {
	apiURL  string
	appID   int64
	rt      http.RoundTripper // retrying, shared by every client
	signer  signer
	app     *github.Client // authenticated as the App (JWT)
	members *memberships

	mu       sync.Mutex
	clients  map[int64]*github.Client
	identity *Identity
}

// New checks o and returns the App's clients. No request is made.
func New(o Options) (*Apps, error) {
	if o.AppID <= 0 {
		return nil, fmt.Errorf("GitHub App id %d: want a positive number", o.AppID)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(o.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("GitHub App private key: want an RSA key in PEM: %w", err)
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Retry.MaxAttempts <= 0 {
		o.Retry.MaxAttempts = defaultRetryAttempts
	}
	if o.Retry.MaxWait <= 0 {
		o.Retry.MaxWait = defaultRetryMaxWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retry.Logger == nil {
		o.Retry.Logger = o.Logger
	}
	if o.MembershipTTL <= 0 {
		o.MembershipTTL = defaultMembershipTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Apps{
		apiURL:  o.APIURL,
		appID:   o.AppID,
		rt:      ghclient.NewRetryTransport(o.Transport, o.Retry),
		signer:  signer{appID: o.AppID, key: key, now: o.Now},
		clients: map[int64]*github.Client{},
	}
	atr, err := a.appsTransport()
	if err != nil {
		return nil, err
	}
	if a.app, err = ghclient.NewWithTransport(o.APIURL, atr); err != nil {
		return nil, err
	}
	a.members = newMemberships(a.fetchMembership, o.MembershipTTL, o.Now)
	return a, nil
}

// appsTransport returns a new transport that authenticates as the App. Each
// installation gets its own: ghinstallation writes to the App transport
// when it renews a token.
func (a *Apps) appsTransport() (*ghinstallation.AppsTransport, error) {
	atr, err := ghinstallation.NewAppsTransportWithOptions(a.rt, a.appID, ghinstallation.WithSigner(a.signer))
	if err != nil {
		return nil, fmt.Errorf("GitHub App transport: %w", err)
	}
	atr.BaseURL = a.apiURL
	return atr, nil
}

// Installation returns the client of an installation, made once and reused.
// ghinstallation mints its token on first use and renews it a minute before
// it expires.
func (a *Apps) Installation(id int64) (*github.Client, error) {
	if id <= 0 {
		return nil, fmt.Errorf("installation id %d: want a positive number", id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[id]; ok {
		return c, nil
	}
	atr, err := a.appsTransport()
	if err != nil {
		return nil, err
	}
	itr := ghinstallation.NewFromAppsTransport(atr, id)
	itr.BaseURL = a.apiURL
	c, err := ghclient.NewWithTransport(a.apiURL, itr)
	if err != nil {
		return nil, err
	}
	a.clients[id] = c
	return c, nil
}

// Identity returns who the App is, asked once of GET /app
// (https://docs.github.com/rest/apps/apps#get-the-authenticated-app):
// installation tokens cannot read GET /user.
func (a *Apps) Identity(ctx context.Context) (Identity, error) {
	a.mu.Lock()
	known := a.identity
	a.mu.Unlock()
	if known != nil {
		return *known, nil
	}
	app, _, err := a.app.Apps.Get(ctx, "")
	if err != nil {
		return Identity{}, fmt.Errorf("get the GitHub App: %w", err)
	}
	if app.GetSlug() == "" {
		return Identity{}, errors.New("get the GitHub App: the answer has no slug")
	}
	id := Identity{ID: app.GetID(), Slug: app.GetSlug(), BotLogin: app.GetSlug() + "[bot]"}
	a.mu.Lock()
	a.identity = &id
	a.mu.Unlock()
	return id, nil
}

// RepoInstallation returns the id of the App's installation on owner/repo
// (https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app),
// or an error wrapping ErrNotInstalled.
func (a *Apps) RepoInstallation(ctx context.Context, owner, repo string) (int64, error) {
	in, _, err := a.app.Apps.FindRepositoryInstallation(ctx, owner, repo)
	if ghclient.IsNotFound(err) {
		return 0, fmt.Errorf("%s/%s: %w", owner, repo, ErrNotInstalled)
	}
	if err != nil {
		return 0, fmt.Errorf("find the installation on %s/%s: %w", owner, repo, err)
	}
	return in.GetID(), nil
}

// ActiveMember reports whether login is an active member of the team
// org/slug, as the installation sees it
// (https://docs.github.com/rest/teams/members#get-team-membership-for-a-user).
// A pending invitation is not membership, and GitHub's 404 (not a member,
// or a team the installation cannot see) is false. Answers are reused for
// Options.MembershipTTL, and concurrent callers asking the same question
// share one request.
func (a *Apps) ActiveMember(ctx context.Context, installationID int64, org, slug, login string) (bool, error) {
	return a.members.active(ctx, memberKey{installationID, lower(org), lower(slug), lower(login)})
}

func (a *Apps) fetchMembership(ctx context.Context, k memberKey) (bool, error) {
	c, err := a.Installation(k.installation)
	if err != nil {
		return false, err
	}
	m, _, err := c.Teams.GetTeamMembershipBySlug(ctx, k.org, k.slug, k.login)
	if ghclient.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("team membership of %s in %s/%s: %w", k.login, k.org, k.slug, err)
	}
	return m.GetState() == "active", nil
}

// TeamMembers lists the logins of the active members of the team org/slug,
// as the installation sees it
// (https://docs.github.com/rest/teams/members#list-team-members), 100 a
// page. A team the installation cannot see is an error.
func (a *Apps) TeamMembers(ctx context.Context, installationID int64, org, slug string) ([]string, error) {
	c, err := a.Installation(installationID)
	if err != nil {
		return nil, err
	}
	users, err := ghclient.ListAll(ctx, func(opts github.ListOptions) ([]*github.User, *github.Response, error) {
		return c.Teams.ListTeamMembersBySlug(ctx, org, slug, &github.TeamListTeamMembersOptions{ListOptions: opts})
	})
	if err != nil {
		return nil, fmt.Errorf("list members of %s/%s: %w", org, slug, err)
	}
	logins := make([]string, 0, len(users))
	for _, u := range users {
		logins = append(logins, u.GetLogin())
	}
	return logins, nil
}

// IssueComments lists every comment of an issue, oldest first, 100 a page
// (https://docs.github.com/rest/issues/comments#list-issue-comments).
func (a *Apps) IssueComments(ctx context.Context, installationID int64, owner, repo string, issue int) ([]*github.IssueComment, error) {
	c, err := a.Installation(installationID)
	if err != nil {
		return nil, err
	}
	cs, err := ghclient.ListAll(ctx, func(opts github.ListOptions) ([]*github.IssueComment, *github.Response, error) {
		return c.Issues.ListComments(ctx, owner, repo, issue, &github.IssueListCommentsOptions{ListOptions: opts})
	})
	if err != nil {
		return nil, fmt.Errorf("list comments of %s/%s#%d: %w", owner, repo, issue, err)
	}
	return cs, nil
}

// signer signs the App's JWTs, dated by the app's clock rather than
// ghinstallation's: issued a minute back (GitHub's advice against clock
// drift) and valid for five.
type signer struct {
	appID int64
	key   *rsa.PrivateKey
	now   func() time.Time
}

// Sign implements ghinstallation.Signer; the claims ghinstallation proposes
// are replaced.
func (s signer) Sign(jwt.Claims) (string, error) {
	now := s.now().Truncate(time.Second)
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(s.appID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
}
