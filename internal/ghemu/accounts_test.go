package ghemu

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

func TestTeamMembership(t *testing.T) {
	w := newWorld(t, Options{})
	scoped := must[string](t)(w.emu.AddUser("alice")) // a second token for alice
	check(t, w.emu.GrantScopes(scoped, "read:org"))
	outsider := must[string](t)(w.emu.AddUser("oscar"))
	check(t, w.emu.GrantScopes(outsider, "read:org"))
	tests := []struct {
		name, token, team, user string
		wantStatus              int
		wantState               string
	}{
		{"active member", scoped, "release", "bob", 200, "active"},
		{"pending member", scoped, "release", "carol", 200, "pending"},
		{"not a member", scoped, "release", "mallory", 404, ""},
		{"unknown user", scoped, "release", "ghost", 404, ""},
		{"unknown team", scoped, "nope", "bob", 404, ""},
		{"token without read:org", w.alice, "release", "bob", 404, ""},
		{"someone outside the org", outsider, "release", "bob", 404, ""},
		{"GITHUB_TOKEN", w.actions, "release", "bob", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, resp, err := client(t, w.emu, tt.token).Teams.GetTeamMembershipBySlug(t.Context(), "acme", tt.team, tt.user)
			if tt.wantStatus != 200 {
				errorResponse(t, err, tt.wantStatus)
				return
			}
			check(t, err)
			if m.GetState() != tt.wantState || m.GetRole() != "member" || m.GetURL() == "" {
				t.Errorf("membership = %+v", m)
			}
			if got := resp.Header.Get("X-OAuth-Scopes"); got != "read:org, repo" {
				t.Errorf("X-OAuth-Scopes = %q", got)
			}
		})
	}
	team, _, err := client(t, w.emu, scoped).Teams.GetTeamBySlug(t.Context(), "acme", "release")
	check(t, err)
	if team.GetSlug() != "release" || team.GetMembersCount() != 1 || team.GetID() == 0 || team.GetPrivacy() != "closed" {
		t.Errorf("team = %+v", team)
	}
	for _, tok := range []string{w.alice, w.actions, outsider} {
		_, _, err := client(t, w.emu, tok).Teams.GetTeamBySlug(t.Context(), "acme", "release")
		errorResponse(t, err, 404)
	}

	check(t, w.emu.SetMembership("acme", "release", "bob", ""))
	_, _, err = client(t, w.emu, scoped).Teams.GetTeamMembershipBySlug(t.Context(), "acme", "release", "bob")
	errorResponse(t, err, 404)
}

func TestCollaboratorPermission(t *testing.T) {
	w := newWorld(t, Options{})
	tests := []struct {
		user           string
		wantPermission string
		wantRole       string
	}{
		{"alice", "write", "write"},
		{"bob", "read", "read"},
		{"mallory", "none", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			p, _, err := w.aliceGH.Repositories.GetPermissionLevel(t.Context(), "acme", "app", tt.user)
			check(t, err)
			got := []string{p.GetPermission(), p.GetUser().GetRoleName(), p.GetUser().GetLogin()}
			if d := cmp.Diff([]string{tt.wantPermission, tt.wantRole, tt.user}, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	p, _, err := w.aliceGH.Repositories.GetPermissionLevel(t.Context(), "alice", "tools", "alice")
	check(t, err)
	if p.GetPermission() != "admin" {
		t.Errorf("owner of a personal repository: %q", p.GetPermission())
	}
	_, _, err = w.bobGH.Repositories.GetPermissionLevel(t.Context(), "acme", "app", "alice")
	errorResponse(t, err, 403)
	_, _, err = w.aliceGH.Repositories.GetPermissionLevel(t.Context(), "acme", "app", "ghost")
	errorResponse(t, err, 404)
}

func TestUserAndRepository(t *testing.T) {
	w := newWorld(t, Options{})
	u, _, err := w.aliceGH.Users.Get(t.Context(), "")
	check(t, err)
	if u.GetLogin() != "alice" || u.GetType() != "User" || u.GetID() == 0 {
		t.Errorf("user = %+v", u)
	}
	_, resp, err := w.actionsGH.Users.Get(t.Context(), "")
	if er := errorResponse(t, err, 403); er.Message != "Resource not accessible by integration" || resp.Header.Get("X-RateLimit-Limit") != "1000" {
		t.Errorf("GITHUB_TOKEN on GET /user: %q, limit %s", er.Message, resp.Header.Get("X-RateLimit-Limit"))
	}
	is, _, err := w.actionsGH.Issues.Create(t.Context(), "acme", "app", &github.IssueRequest{Title: github.String("t")})
	check(t, err)
	if is.GetUser().GetLogin() != "github-actions[bot]" || is.GetUser().GetType() != "Bot" {
		t.Errorf("issue by %+v", is.GetUser())
	}

	tests := []struct {
		who       string
		gh        *github.Client
		wantPush  bool
		wantAdmin bool
	}{{"alice", w.aliceGH, true, false}, {"bob", w.bobGH, false, false}}
	for _, tt := range tests {
		r, _, err := tt.gh.Repositories.Get(t.Context(), "acme", "app")
		check(t, err)
		got := fmt.Sprint(r.GetFullName(), r.GetPrivate(), r.GetOwner().GetType(), r.GetPermissions()["push"], r.GetPermissions()["admin"])
		want := fmt.Sprint("acme/app", true, "Organization", tt.wantPush, tt.wantAdmin)
		if got != want {
			t.Errorf("%s: repository = %s, want %s", tt.who, got, want)
		}
	}
	_, _, err = w.malloryGH.Repositories.Get(t.Context(), "acme", "app")
	errorResponse(t, err, 404)
}

func TestOrgMembersReadOrgRepositories(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	check(t, w.emu.AddTeam("acme", "ops", "erin"))
	check(t, w.emu.SetMembership("acme", "ops", "frank", "pending"))
	erin := client(t, w.emu, must[string](t)(w.emu.AddUser("erin")))
	frank := client(t, w.emu, must[string](t)(w.emu.AddUser("frank")))

	if _, _, err := erin.Issues.CreateComment(t.Context(), "acme", "app", 1, &github.IssueComment{Body: github.String("approve")}); err != nil {
		t.Errorf("an active team member cannot comment: %v", err)
	}
	_, _, err := erin.Issues.AddLabelsToIssue(t.Context(), "acme", "app", 1, []string{"x"})
	errorResponse(t, err, 403)
	_, _, err = frank.Issues.Get(t.Context(), "acme", "app", 1)
	errorResponse(t, err, 404) // a pending member is not a member yet
	_, _, err = erin.Issues.Get(t.Context(), "alice", "tools", 1)
	errorResponse(t, err, 404)
}
