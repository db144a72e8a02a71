package ghemu

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"
)

type authenticatedUserJSON struct {
	userJSON
	Name      *string   `json:"name"`
	Email     *string   `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// getAuthenticatedUser serves GET /user. Bot and installation tokens get
// 403, as GITHUB_TOKEN and App installation tokens do on GitHub.
func (e *Emulator) getAuthenticatedUser(c *call) (reply, error) {
	if c.actor.acct.kind == kindBot {
		return reply{}, errForbidden(msgIntegration)
	}
	a := c.actor.acct
	return ok(authenticatedUserJSON{userJSON: e.userJSON(a), CreatedAt: a.created, UpdatedAt: a.created}), nil
}

type permissionsJSON struct {
	Admin    bool `json:"admin"`
	Maintain bool `json:"maintain"`
	Push     bool `json:"push"`
	Triage   bool `json:"triage"`
	Pull     bool `json:"pull"`
}

func permissionsOf(l level) permissionsJSON {
	return permissionsJSON{
		Admin:    l >= levelAdmin,
		Maintain: l >= levelMaintain,
		Push:     l >= levelWrite,
		Triage:   l >= levelTriage,
		Pull:     l >= levelRead,
	}
}

type repoRESTJSON struct {
	repoJSON
	Permissions permissionsJSON `json:"permissions"`
}

// getRepo serves GET /repos/{owner}/{repo}.
func (e *Emulator) getRepo(c *call) (reply, error) {
	rp, err := e.repoFor(c, needMetadata)
	if err != nil {
		return reply{}, err
	}
	l := e.level(rp, c.actor.acct)
	if t := c.actor.tok; t != nil && t.inst != nil {
		l = levelRead
		if permAtLeast(t.perms["issues"], "write") {
			l = levelTriage
		}
	}
	return ok(repoRESTJSON{repoJSON: e.repoJSON(rp), Permissions: permissionsOf(l)}), nil
}

type collaboratorJSON struct {
	userJSON
	Permissions permissionsJSON `json:"permissions"`
	RoleName    string          `json:"role_name"`
}

type permissionLevelJSON struct {
	Permission string           `json:"permission"`
	RoleName   string           `json:"role_name"`
	User       collaboratorJSON `json:"user"`
}

// getCollaboratorPermission serves
// GET /repos/{owner}/{repo}/collaborators/{username}/permission. People
// need push access to ask; installations need only to reach the repository.
func (e *Emulator) getCollaboratorPermission(c *call) (reply, error) {
	rp, err := e.repoFor(c, needMetadata)
	if err != nil {
		return reply{}, err
	}
	if c.actor.installation() == nil && e.level(rp, c.actor.acct) < levelWrite {
		return reply{}, errForbidden("Must have push access to view repository collaborators.")
	}
	u := e.accounts[lower(c.param("username"))]
	if u == nil || u.kind == kindOrg {
		return reply{}, errNotFound()
	}
	l := e.level(rp, u)
	return ok(permissionLevelJSON{
		Permission: l.legacyPermission(),
		RoleName:   l.roleName(),
		User:       collaboratorJSON{userJSON: e.userJSON(u), Permissions: permissionsOf(l), RoleName: l.roleName()},
	}), nil
}

type membershipJSON struct {
	URL   string `json:"url"`
	Role  string `json:"role"`
	State string `json:"state"`
}

// teamParam finds {org}/{team_slug} when the caller may see the org's
// teams: a person's token needs the read:org scope (or write:org,
// admin:org) and the person must belong to the org; an installation token
// must be the org's, with the members permission. Otherwise the team does
// not exist for the caller: 404, as GitHub answers (GITHUB_TOKEN included).
func (e *Emulator) teamParam(c *call) (*org, *team, error) {
	o := e.orgs[lower(c.param("org"))]
	if o == nil {
		return nil, nil, errNotFound()
	}
	if in := c.actor.installation(); in != nil {
		if in.account != o.acct || !permAtLeast(c.actor.tok.perms["members"], "read") {
			return nil, nil, errNotFound()
		}
	} else {
		s := c.actor.tok.scopes
		scoped := s["read:org"] || s["write:org"] || s["admin:org"]
		if !scoped || !e.isOrgMember(o, c.actor.acct) {
			return nil, nil, errNotFound()
		}
	}
	t := o.teams[lower(c.param("team_slug"))]
	if t == nil {
		return nil, nil, errNotFound()
	}
	return o, t, nil
}

type teamJSON struct {
	ID                  int64     `json:"id"`
	NodeID              string    `json:"node_id"`
	URL                 string    `json:"url"`
	HTMLURL             string    `json:"html_url"`
	Name                string    `json:"name"`
	Slug                string    `json:"slug"`
	Description         *string   `json:"description"`
	Privacy             string    `json:"privacy"`
	NotificationSetting string    `json:"notification_setting"`
	Permission          string    `json:"permission"`
	MembersURL          string    `json:"members_url"`
	RepositoriesURL     string    `json:"repositories_url"`
	Parent              *struct{} `json:"parent"` // the emulator has no nested teams: always null
	MembersCount        int       `json:"members_count"`
	ReposCount          int       `json:"repos_count"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// getTeam serves GET /orgs/{org}/teams/{team_slug}; a caller that cannot
// read team memberships gets 404 here too, so it tells "cannot see the
// team" apart from "not a member".
func (e *Emulator) getTeam(c *call) (reply, error) {
	o, t, err := e.teamParam(c)
	if err != nil {
		return reply{}, err
	}
	api := fmt.Sprintf("%s/organizations/%d/team/%d", e.base, o.acct.id, t.id)
	active := 0
	for _, state := range t.members {
		if state == "active" {
			active++
		}
	}
	return ok(teamJSON{
		ID:                  t.id,
		NodeID:              nodeID("Team", t.id),
		URL:                 api,
		HTMLURL:             e.base + "/orgs/" + o.acct.login + "/teams/" + t.slug,
		Name:                t.slug,
		Slug:                t.slug,
		Privacy:             "closed",
		NotificationSetting: "notifications_enabled",
		Permission:          "pull",
		MembersURL:          api + "/members{/member}",
		RepositoriesURL:     api + "/repos",
		MembersCount:        active,
		CreatedAt:           t.created,
		UpdatedAt:           t.created,
	}), nil
}

// getTeamMembership serves GET /orgs/{org}/teams/{team_slug}/memberships/{username}:
// 200 with state "active" or "pending", or 404 for people outside the team.
func (e *Emulator) getTeamMembership(c *call) (reply, error) {
	o, t, err := e.teamParam(c)
	if err != nil {
		return reply{}, err
	}
	u := e.accounts[lower(c.param("username"))]
	if u == nil || t.members[lower(u.login)] == "" {
		return reply{}, errNotFound()
	}
	return ok(membershipJSON{
		URL:   fmt.Sprintf("%s/organizations/%d/team/%d/memberships/%s", e.base, o.acct.id, t.id, u.login),
		Role:  "member",
		State: t.members[lower(u.login)],
	}), nil
}

// listTeamMembers serves GET /orgs/{org}/teams/{team_slug}/members: the
// team's active members (a pending invitation is not membership), by
// login, paginated with per_page and page. role may be member, maintainer
// or all; the emulator's members are all "member". Its Link headers use
// the /orgs/… path, where GitHub's use /organizations/{id}/team/{id}/….
func (e *Emulator) listTeamMembers(c *call) (reply, error) {
	_, t, err := e.teamParam(c)
	if err != nil {
		return reply{}, err
	}
	role := c.r.URL.Query().Get("role")
	switch role {
	case "", "all", "member", "maintainer":
	default:
		return reply{}, errUnprocessable(fmt.Sprintf("Invalid request.\n\n%q is not a member of [\"member\", \"maintainer\", \"all\"].", role))
	}
	var list []*account
	if role != "maintainer" {
		for login, state := range t.members {
			if u := e.accounts[login]; u != nil && state == "active" {
				list = append(list, u)
			}
		}
	}
	slices.SortFunc(list, func(a, b *account) int { return cmp.Compare(a.id, b.id) })
	from, to, h := e.pageOf(c, "/orgs/"+c.param("org")+"/teams/"+t.slug+"/members", len(list))
	out := []userJSON{}
	for _, u := range list[from:to] {
		out = append(out, e.userJSON(u))
	}
	return reply{status: http.StatusOK, body: out, header: h}, nil
}

type rateJSON struct {
	Limit     int   `json:"limit"`
	Used      int   `json:"used"`
	Remaining int   `json:"remaining"`
	Reset     int64 `json:"reset"`
}

type rateLimitJSON struct {
	Resources map[string]rateJSON `json:"resources"`
	Rate      rateJSON            `json:"rate"`
}

// getRateLimit serves GET /rate_limit, which does not count against the
// limit. Only core is tracked; the other resources report full budgets.
func (e *Emulator) getRateLimit(c *call) (reply, error) {
	b := e.budgetOf(c.actor)
	core := rateJSON{Limit: b.limit, Used: b.limit - b.remaining, Remaining: b.remaining, Reset: b.reset.Unix()}
	full := func(limit int, window time.Duration) rateJSON {
		return rateJSON{Limit: limit, Remaining: limit, Reset: e.now().Add(window).Unix()}
	}
	return ok(rateLimitJSON{
		Resources: map[string]rateJSON{
			"core":                 core,
			"search":               full(30, time.Minute),
			"code_search":          full(10, time.Minute),
			"graphql":              full(5000, time.Hour),
			"integration_manifest": full(5000, time.Hour),
		},
		Rate: core,
	}), nil
}
