package ghemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The structs in this file are GitHub's JSON shapes, field for field and in
// GitHub's order, including the fields GitHub sends as null. go-github's
// types omit empty fields, which the webhook schemas (additionalProperties:
// false, nulls required) would reject, so the emulator keeps its own.

type userJSON struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	SiteAdmin         bool   `json:"site_admin"`
}

type orgJSON struct {
	Login            string `json:"login"`
	ID               int64  `json:"id"`
	NodeID           string `json:"node_id"`
	URL              string `json:"url"`
	ReposURL         string `json:"repos_url"`
	EventsURL        string `json:"events_url"`
	HooksURL         string `json:"hooks_url"`
	IssuesURL        string `json:"issues_url"`
	MembersURL       string `json:"members_url"`
	PublicMembersURL string `json:"public_members_url"`
	AvatarURL        string `json:"avatar_url"`
	Description      string `json:"description"`
}

type labelJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Color       string  `json:"color"`
	Default     bool    `json:"default"`
	Description *string `json:"description"`
}

type reactionsJSON struct {
	URL        string `json:"url"`
	TotalCount int    `json:"total_count"`
	PlusOne    int    `json:"+1"`
	MinusOne   int    `json:"-1"`
	Laugh      int    `json:"laugh"`
	Hooray     int    `json:"hooray"`
	Confused   int    `json:"confused"`
	Heart      int    `json:"heart"`
	Rocket     int    `json:"rocket"`
	Eyes       int    `json:"eyes"`
}

type reactionJSON struct {
	ID        int64     `json:"id"`
	NodeID    string    `json:"node_id"`
	User      userJSON  `json:"user"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// appJSON is the App as webhooks and performed_via_github_app show it.
type appJSON struct {
	ID          int64             `json:"id"`
	Slug        string            `json:"slug"`
	NodeID      string            `json:"node_id"`
	Owner       userJSON          `json:"owner"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	ExternalURL string            `json:"external_url"`
	HTMLURL     string            `json:"html_url"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Permissions map[string]string `json:"permissions"`
	Events      []string          `json:"events"`
}

// issueJSON is an issue as webhooks show it; restIssueJSON adds closed_by,
// which only the REST API sends.
type issueJSON struct {
	URL                   string        `json:"url"`
	RepositoryURL         string        `json:"repository_url"`
	LabelsURL             string        `json:"labels_url"`
	CommentsURL           string        `json:"comments_url"`
	EventsURL             string        `json:"events_url"`
	HTMLURL               string        `json:"html_url"`
	ID                    int64         `json:"id"`
	NodeID                string        `json:"node_id"`
	Number                int           `json:"number"`
	Title                 string        `json:"title"`
	User                  userJSON      `json:"user"`
	Labels                []labelJSON   `json:"labels"`
	State                 string        `json:"state"`
	Locked                bool          `json:"locked"`
	Assignee              *userJSON     `json:"assignee"`
	Assignees             []userJSON    `json:"assignees"`
	Milestone             *struct{}     `json:"milestone"` // the emulator has no milestones: always null
	Comments              int           `json:"comments"`
	CreatedAt             time.Time     `json:"created_at"`
	UpdatedAt             time.Time     `json:"updated_at"`
	ClosedAt              *time.Time    `json:"closed_at"`
	AuthorAssociation     string        `json:"author_association"`
	ActiveLockReason      *string       `json:"active_lock_reason"`
	Body                  *string       `json:"body"`
	Reactions             reactionsJSON `json:"reactions"`
	TimelineURL           string        `json:"timeline_url"`
	PerformedViaGitHubApp *appJSON      `json:"performed_via_github_app"`
	StateReason           *string       `json:"state_reason"`
}

type restIssueJSON struct {
	issueJSON
	ClosedBy *userJSON `json:"closed_by"`
}

type commentJSON struct {
	URL                   string        `json:"url"`
	HTMLURL               string        `json:"html_url"`
	IssueURL              string        `json:"issue_url"`
	ID                    int64         `json:"id"`
	NodeID                string        `json:"node_id"`
	User                  userJSON      `json:"user"`
	CreatedAt             time.Time     `json:"created_at"`
	UpdatedAt             time.Time     `json:"updated_at"`
	AuthorAssociation     string        `json:"author_association"`
	Body                  string        `json:"body"`
	Reactions             reactionsJSON `json:"reactions"`
	PerformedViaGitHubApp *appJSON      `json:"performed_via_github_app"`
}

type repoJSON struct {
	ID                       int64             `json:"id"`
	NodeID                   string            `json:"node_id"`
	Name                     string            `json:"name"`
	FullName                 string            `json:"full_name"`
	Private                  bool              `json:"private"`
	Owner                    userJSON          `json:"owner"`
	HTMLURL                  string            `json:"html_url"`
	Description              *string           `json:"description"`
	Fork                     bool              `json:"fork"`
	URL                      string            `json:"url"`
	ForksURL                 string            `json:"forks_url"`
	KeysURL                  string            `json:"keys_url"`
	CollaboratorsURL         string            `json:"collaborators_url"`
	TeamsURL                 string            `json:"teams_url"`
	HooksURL                 string            `json:"hooks_url"`
	IssueEventsURL           string            `json:"issue_events_url"`
	EventsURL                string            `json:"events_url"`
	AssigneesURL             string            `json:"assignees_url"`
	BranchesURL              string            `json:"branches_url"`
	TagsURL                  string            `json:"tags_url"`
	BlobsURL                 string            `json:"blobs_url"`
	GitTagsURL               string            `json:"git_tags_url"`
	GitRefsURL               string            `json:"git_refs_url"`
	TreesURL                 string            `json:"trees_url"`
	StatusesURL              string            `json:"statuses_url"`
	LanguagesURL             string            `json:"languages_url"`
	StargazersURL            string            `json:"stargazers_url"`
	ContributorsURL          string            `json:"contributors_url"`
	SubscribersURL           string            `json:"subscribers_url"`
	SubscriptionURL          string            `json:"subscription_url"`
	CommitsURL               string            `json:"commits_url"`
	GitCommitsURL            string            `json:"git_commits_url"`
	CommentsURL              string            `json:"comments_url"`
	IssueCommentURL          string            `json:"issue_comment_url"`
	ContentsURL              string            `json:"contents_url"`
	CompareURL               string            `json:"compare_url"`
	MergesURL                string            `json:"merges_url"`
	ArchiveURL               string            `json:"archive_url"`
	DownloadsURL             string            `json:"downloads_url"`
	IssuesURL                string            `json:"issues_url"`
	PullsURL                 string            `json:"pulls_url"`
	MilestonesURL            string            `json:"milestones_url"`
	NotificationsURL         string            `json:"notifications_url"`
	LabelsURL                string            `json:"labels_url"`
	ReleasesURL              string            `json:"releases_url"`
	DeploymentsURL           string            `json:"deployments_url"`
	CreatedAt                time.Time         `json:"created_at"`
	UpdatedAt                time.Time         `json:"updated_at"`
	PushedAt                 time.Time         `json:"pushed_at"`
	GitURL                   string            `json:"git_url"`
	SSHURL                   string            `json:"ssh_url"`
	CloneURL                 string            `json:"clone_url"`
	SVNURL                   string            `json:"svn_url"`
	Homepage                 *string           `json:"homepage"`
	Size                     int               `json:"size"`
	StargazersCount          int               `json:"stargazers_count"`
	WatchersCount            int               `json:"watchers_count"`
	Language                 *string           `json:"language"`
	HasIssues                bool              `json:"has_issues"`
	HasProjects              bool              `json:"has_projects"`
	HasDownloads             bool              `json:"has_downloads"`
	HasWiki                  bool              `json:"has_wiki"`
	HasPages                 bool              `json:"has_pages"`
	ForksCount               int               `json:"forks_count"`
	MirrorURL                *string           `json:"mirror_url"`
	Archived                 bool              `json:"archived"`
	Disabled                 bool              `json:"disabled"`
	OpenIssuesCount          int               `json:"open_issues_count"`
	License                  *struct{}         `json:"license"` // always null
	Forks                    int               `json:"forks"`
	OpenIssues               int               `json:"open_issues"`
	Watchers                 int               `json:"watchers"`
	DefaultBranch            string            `json:"default_branch"`
	IsTemplate               bool              `json:"is_template"`
	Topics                   []string          `json:"topics"`
	Visibility               string            `json:"visibility"`
	WebCommitSignoffRequired bool              `json:"web_commit_signoff_required"`
	CustomProperties         map[string]string `json:"custom_properties"`
}

type installationLiteJSON struct {
	ID     int64  `json:"id"`
	NodeID string `json:"node_id"`
}

type installationJSON struct {
	ID                     int64             `json:"id"`
	ClientID               string            `json:"client_id"`
	Account                userJSON          `json:"account"`
	RepositorySelection    string            `json:"repository_selection"`
	AccessTokensURL        string            `json:"access_tokens_url"`
	RepositoriesURL        string            `json:"repositories_url"`
	HTMLURL                string            `json:"html_url"`
	AppID                  int64             `json:"app_id"`
	AppSlug                string            `json:"app_slug"`
	TargetID               int64             `json:"target_id"`
	TargetType             string            `json:"target_type"`
	Permissions            map[string]string `json:"permissions"`
	Events                 []string          `json:"events"`
	CreatedAt              time.Time         `json:"created_at"`
	UpdatedAt              time.Time         `json:"updated_at"`
	SingleFileName         *string           `json:"single_file_name"`
	HasMultipleSingleFiles bool              `json:"has_multiple_single_files"`
	SingleFilePaths        []string          `json:"single_file_paths"`
	SuspendedBy            *userJSON         `json:"suspended_by"`
	SuspendedAt            *time.Time        `json:"suspended_at"`
}

// nodeID is GitHub's legacy global node id: base64 of "0<len(type)>:<type><id>".
func nodeID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("0%d:%s%d", len(typ), typ, id)))
}

// encodeJSON marshals like GitHub: compact, without escaping <, > and &.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (e *Emulator) userJSON(a *account) userJSON {
	api := e.base + "/users/" + url.PathEscape(a.login)
	html := e.base + "/" + a.login
	if a.kind == kindBot {
		html = e.base + "/apps/" + strings.TrimSuffix(a.login, botSuffix)
	}
	return userJSON{
		Login:             a.login,
		ID:                a.id,
		NodeID:            nodeID(a.kind, a.id),
		AvatarURL:         fmt.Sprintf("%s/avatars/u/%d?v=4", e.base, a.id),
		URL:               api,
		HTMLURL:           html,
		FollowersURL:      api + "/followers",
		FollowingURL:      api + "/following{/other_user}",
		GistsURL:          api + "/gists{/gist_id}",
		StarredURL:        api + "/starred{/owner}{/repo}",
		SubscriptionsURL:  api + "/subscriptions",
		OrganizationsURL:  api + "/orgs",
		ReposURL:          api + "/repos",
		EventsURL:         api + "/events{/privacy}",
		ReceivedEventsURL: api + "/received_events",
		Type:              a.kind,
	}
}

func (e *Emulator) userPtr(a *account) *userJSON {
	if a == nil {
		return nil
	}
	u := e.userJSON(a)
	return &u
}

func (e *Emulator) orgJSON(a *account) orgJSON {
	api := e.base + "/orgs/" + url.PathEscape(a.login)
	return orgJSON{
		Login:            a.login,
		ID:               a.id,
		NodeID:           nodeID(kindOrg, a.id),
		URL:              api,
		ReposURL:         api + "/repos",
		EventsURL:        api + "/events",
		HooksURL:         api + "/hooks",
		IssuesURL:        api + "/issues",
		MembersURL:       api + "/members{/member}",
		PublicMembersURL: api + "/public_members{/member}",
		AvatarURL:        fmt.Sprintf("%s/avatars/u/%d?v=4", e.base, a.id),
	}
}

func (e *Emulator) repoAPI(rp *repo) string {
	return e.base + "/repos/" + rp.owner.login + "/" + rp.name
}

func (e *Emulator) repoJSON(rp *repo) repoJSON {
	api := e.repoAPI(rp)
	web := e.base + "/" + rp.owner.login + "/" + rp.name
	host := strings.TrimPrefix(strings.TrimPrefix(e.base, "http://"), "https://")
	open := 0
	for _, is := range rp.issues {
		if is.state == stateOpen {
			open++
		}
	}
	return repoJSON{
		ID:               rp.id,
		NodeID:           nodeID("Repository", rp.id),
		Name:             rp.name,
		FullName:         rp.owner.login + "/" + rp.name,
		Private:          true,
		Owner:            e.userJSON(rp.owner),
		HTMLURL:          web,
		URL:              api,
		ForksURL:         api + "/forks",
		KeysURL:          api + "/keys{/key_id}",
		CollaboratorsURL: api + "/collaborators{/collaborator}",
		TeamsURL:         api + "/teams",
		HooksURL:         api + "/hooks",
		IssueEventsURL:   api + "/issues/events{/number}",
		EventsURL:        api + "/events",
		AssigneesURL:     api + "/assignees{/user}",
		BranchesURL:      api + "/branches{/branch}",
		TagsURL:          api + "/tags",
		BlobsURL:         api + "/git/blobs{/sha}",
		GitTagsURL:       api + "/git/tags{/sha}",
		GitRefsURL:       api + "/git/refs{/sha}",
		TreesURL:         api + "/git/trees{/sha}",
		StatusesURL:      api + "/statuses/{sha}",
		LanguagesURL:     api + "/languages",
		StargazersURL:    api + "/stargazers",
		ContributorsURL:  api + "/contributors",
		SubscribersURL:   api + "/subscribers",
		SubscriptionURL:  api + "/subscription",
		CommitsURL:       api + "/commits{/sha}",
		GitCommitsURL:    api + "/git/commits{/sha}",
		CommentsURL:      api + "/comments{/number}",
		IssueCommentURL:  api + "/issues/comments{/number}",
		ContentsURL:      api + "/contents/{+path}",
		CompareURL:       api + "/compare/{base}...{head}",
		MergesURL:        api + "/merges",
		ArchiveURL:       api + "/{archive_format}{/ref}",
		DownloadsURL:     api + "/downloads",
		IssuesURL:        api + "/issues{/number}",
		PullsURL:         api + "/pulls{/number}",
		MilestonesURL:    api + "/milestones{/number}",
		NotificationsURL: api + "/notifications{?since,all,participating}",
		LabelsURL:        api + "/labels{/name}",
		ReleasesURL:      api + "/releases{/id}",
		DeploymentsURL:   api + "/deployments",
		CreatedAt:        rp.created,
		UpdatedAt:        rp.created,
		PushedAt:         rp.created,
		GitURL:           "git://" + host + "/" + rp.owner.login + "/" + rp.name + ".git",
		SSHURL:           "git@" + host + ":" + rp.owner.login + "/" + rp.name + ".git",
		CloneURL:         web + ".git",
		SVNURL:           web,
		HasIssues:        true,
		HasProjects:      true,
		HasDownloads:     true,
		HasWiki:          true,
		OpenIssuesCount:  open,
		OpenIssues:       open,
		DefaultBranch:    "main",
		Topics:           []string{},
		Visibility:       "private",
		CustomProperties: map[string]string{},
	}
}

func (e *Emulator) labelJSON(rp *repo, l *label) labelJSON {
	return labelJSON{
		ID:     l.id,
		NodeID: nodeID("Label", l.id),
		URL:    e.repoAPI(rp) + "/labels/" + url.PathEscape(l.name),
		Name:   l.name,
		Color:  l.color,
	}
}

func reactionRollup(apiURL string, rs []*reaction) reactionsJSON {
	out := reactionsJSON{URL: apiURL + "/reactions", TotalCount: len(rs)}
	for _, r := range rs {
		switch r.content {
		case "+1":
			out.PlusOne++
		case "-1":
			out.MinusOne++
		case "laugh":
			out.Laugh++
		case "hooray":
			out.Hooray++
		case "confused":
			out.Confused++
		case "heart":
			out.Heart++
		case "rocket":
			out.Rocket++
		case "eyes":
			out.Eyes++
		}
	}
	return out
}

func (e *Emulator) reactionJSON(r *reaction) reactionJSON {
	return reactionJSON{
		ID:        r.id,
		NodeID:    nodeID("Reaction", r.id),
		User:      e.userJSON(r.user),
		Content:   r.content,
		CreatedAt: r.created,
	}
}

func (e *Emulator) appJSON() appJSON {
	return appJSON{
		ID:          e.app.id,
		Slug:        e.app.slug,
		NodeID:      nodeID("App", e.app.id),
		Owner:       e.userJSON(e.app.owner),
		Name:        e.app.name,
		Description: "",
		ExternalURL: e.base,
		HTMLURL:     e.base + "/apps/" + e.app.slug,
		CreatedAt:   e.app.created,
		UpdatedAt:   e.app.created,
		Permissions: maps.Clone(e.app.perms),
		Events:      append([]string(nil), appEvents...),
	}
}

func (e *Emulator) viaApp(via bool) *appJSON {
	if !via {
		return nil
	}
	a := e.appJSON()
	return &a
}

func (e *Emulator) issueAPI(is *issue) string {
	return fmt.Sprintf("%s/issues/%d", e.repoAPI(is.repo), is.number)
}

func (e *Emulator) issueHTML(is *issue) string {
	return fmt.Sprintf("%s/%s/%s/issues/%d", e.base, is.repo.owner.login, is.repo.name, is.number)
}

func (e *Emulator) issueJSON(is *issue) issueJSON {
	api := e.issueAPI(is)
	out := issueJSON{
		URL:                   api,
		RepositoryURL:         e.repoAPI(is.repo),
		LabelsURL:             api + "/labels{/name}",
		CommentsURL:           api + "/comments",
		EventsURL:             api + "/events",
		HTMLURL:               e.issueHTML(is),
		ID:                    is.id,
		NodeID:                nodeID("Issue", is.id),
		Number:                is.number,
		Title:                 is.title,
		User:                  e.userJSON(is.author),
		Labels:                []labelJSON{},
		State:                 is.state,
		Assignees:             []userJSON{},
		Comments:              len(is.comments),
		CreatedAt:             is.created,
		UpdatedAt:             is.updated,
		AuthorAssociation:     e.association(is.repo, is.author),
		Body:                  is.body,
		Reactions:             reactionRollup(api, nil),
		TimelineURL:           api + "/timeline",
		PerformedViaGitHubApp: e.viaApp(is.viaApp),
	}
	for _, l := range is.labels {
		out.Labels = append(out.Labels, e.labelJSON(is.repo, l))
	}
	for _, a := range is.assignees {
		out.Assignees = append(out.Assignees, e.userJSON(a))
	}
	if len(is.assignees) > 0 {
		out.Assignee = e.userPtr(is.assignees[0])
	}
	if is.state == stateClosed {
		closed := is.closed
		out.ClosedAt = &closed
	}
	if is.stateReason != "" {
		reason := is.stateReason
		out.StateReason = &reason
	}
	return out
}

func (e *Emulator) restIssueJSON(is *issue) restIssueJSON {
	return restIssueJSON{issueJSON: e.issueJSON(is), ClosedBy: e.userPtr(is.closedBy)}
}

func (e *Emulator) commentAPI(c *comment) string {
	return fmt.Sprintf("%s/issues/comments/%d", e.repoAPI(c.issue.repo), c.id)
}

func (e *Emulator) commentJSON(c *comment) commentJSON {
	api := e.commentAPI(c)
	return commentJSON{
		URL:                   api,
		HTMLURL:               fmt.Sprintf("%s#issuecomment-%d", e.issueHTML(c.issue), c.id),
		IssueURL:              e.issueAPI(c.issue),
		ID:                    c.id,
		NodeID:                nodeID("IssueComment", c.id),
		User:                  e.userJSON(c.author),
		CreatedAt:             c.created,
		UpdatedAt:             c.updated,
		AuthorAssociation:     e.association(c.issue.repo, c.author),
		Body:                  c.body,
		Reactions:             reactionRollup(api, c.reactions),
		PerformedViaGitHubApp: e.viaApp(c.viaApp),
	}
}

func (e *Emulator) installationJSON(in *installation) installationJSON {
	selection := "all"
	if in.repos != nil {
		selection = "selected"
	}
	target := "User"
	html := e.base + "/settings/installations/" + fmt.Sprint(in.id)
	if in.account.kind == kindOrg {
		target = "Organization"
		html = e.base + "/organizations/" + in.account.login + "/settings/installations/" + fmt.Sprint(in.id)
	}
	return installationJSON{
		ID:                  in.id,
		ClientID:            e.app.clientID,
		Account:             e.userJSON(in.account),
		RepositorySelection: selection,
		AccessTokensURL:     fmt.Sprintf("%s/app/installations/%d/access_tokens", e.base, in.id),
		RepositoriesURL:     e.base + "/installation/repositories",
		HTMLURL:             html,
		AppID:               e.app.id,
		AppSlug:             e.app.slug,
		TargetID:            in.account.id,
		TargetType:          target,
		Permissions:         maps.Clone(e.app.perms),
		Events:              append([]string(nil), appEvents...),
		CreatedAt:           in.created,
		UpdatedAt:           in.created,
		SingleFilePaths:     []string{},
	}
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
