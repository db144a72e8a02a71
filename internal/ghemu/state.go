package ghemu

import (
	"strings"
	"time"
)

// Account kinds, as the "type" field of a user object spells them.
const (
	kindUser = "User"
	kindBot  = "Bot"
	kindOrg  = "Organization"

	botSuffix = "[bot]"
)

const (
	stateOpen   = "open"
	stateClosed = "closed"
)

// level is a person's role on a repository, weakest first.
type level int

const (
	levelNone level = iota
	levelRead
	levelTriage
	levelWrite
	levelMaintain
	levelAdmin
)

var roleLevels = map[string]level{
	"read":     levelRead,
	"triage":   levelTriage,
	"write":    levelWrite,
	"maintain": levelMaintain,
	"admin":    levelAdmin,
}

// roleName is the role_name the collaborator endpoints report.
func (l level) roleName() string {
	for name, v := range roleLevels {
		if v == l {
			return name
		}
	}
	return "none"
}

// legacyPermission is the coarse "permission" field: maintain reads as
// write and triage as read, as GitHub reports them.
func (l level) legacyPermission() string {
	switch {
	case l >= levelAdmin:
		return "admin"
	case l >= levelWrite:
		return "write"
	case l >= levelRead:
		return "read"
	}
	return "none"
}

type account struct {
	id      int64
	login   string
	kind    string
	created time.Time
}

type org struct {
	acct    *account
	members map[string]bool // lower-case login
	teams   map[string]*team
}

type team struct {
	id      int64
	slug    string
	members map[string]string // lower-case login -> "active" or "pending"
	created time.Time
}

type repo struct {
	id      int64
	owner   *account
	name    string
	roles   map[string]level // lower-case login -> role
	labels  map[string]*label
	issues  []*issue // issues[n-1] is issue n
	hookID  int64
	created time.Time
}

type label struct {
	id    int64
	name  string
	color string
}

type issue struct {
	id          int64
	number      int
	repo        *repo
	author      *account
	viaApp      bool
	title       string
	body        *string
	state       string
	stateReason string
	labels      []*label
	assignees   []*account
	comments    []*comment
	created     time.Time
	updated     time.Time
	closed      time.Time
	closedBy    *account
}

type comment struct {
	id        int64
	issue     *issue
	author    *account
	viaApp    bool
	body      string
	created   time.Time
	updated   time.Time
	reactions []*reaction
}

type reaction struct {
	id      int64
	user    *account
	content string
	created time.Time
}

// token is a credential: a person's or bot's token (scopes apply), or an
// installation token (inst set; perms and repos narrow it).
type token struct {
	value   string
	acct    *account
	scopes  map[string]bool
	inst    *installation
	repos   map[int64]bool // nil: every repository of the installation
	perms   map[string]string
	expires time.Time // zero: never
}

type installation struct {
	id      int64
	account *account
	repos   map[int64]bool // nil: all of the account's repositories
	created time.Time
}

type budget struct {
	limit     int
	remaining int
	reset     time.Time
}

// actor is who a request or a simulated web action acts as. app is set
// when the request authenticated as the App itself with a JWT.
type actor struct {
	acct *account
	tok  *token
	app  bool
}

func (a actor) installation() *installation {
	if a.tok == nil {
		return nil
	}
	return a.tok.inst
}

func lower(s string) string { return strings.ToLower(s) }

func (e *Emulator) now() time.Time {
	return e.clock().UTC().Truncate(time.Second)
}

func (e *Emulator) newID() int64 {
	e.lastID++
	return e.lastID
}

func (e *Emulator) findRepo(owner, name string) *repo {
	return e.repos[lower(owner)+"/"+lower(name)]
}

func (e *Emulator) findIssue(rp *repo, number int) *issue {
	if number < 1 || number > len(rp.issues) {
		return nil
	}
	return rp.issues[number-1]
}

func (e *Emulator) findComment(rp *repo, id int64) *comment {
	c := e.comments[id]
	if c == nil || c.issue.repo != rp {
		return nil
	}
	return c
}

// level is a person's role on a repository: the owner of a personal
// repository is its admin; members of the owning organization read it
// (GitHub's default base permission); beyond that, the role they were given.
func (e *Emulator) level(rp *repo, a *account) level {
	if a == nil {
		return levelNone
	}
	if rp.owner == a && a.kind != kindOrg {
		return levelAdmin
	}
	l := rp.roles[lower(a.login)]
	if o := e.orgs[lower(rp.owner.login)]; o != nil && l < levelRead && e.isOrgMember(o, a) {
		l = levelRead
	}
	return l
}

// inInstallation reports whether an installation token reaches rp.
func inInstallation(t *token, rp *repo) bool {
	in := t.inst
	if in.account != rp.owner {
		return false
	}
	if in.repos != nil && !in.repos[rp.id] {
		return false
	}
	return t.repos == nil || t.repos[rp.id]
}

func (e *Emulator) isOrgMember(o *org, a *account) bool {
	if o.members[lower(a.login)] {
		return true
	}
	for _, t := range o.teams {
		if t.members[lower(a.login)] == "active" {
			return true
		}
	}
	return false
}

// association is the author_association of a on rp.
func (e *Emulator) association(rp *repo, a *account) string {
	switch {
	case rp.owner == a:
		return "OWNER"
	case rp.owner.kind == kindOrg && e.isOrgMember(e.orgs[lower(rp.owner.login)], a):
		return "MEMBER"
	case rp.roles[lower(a.login)] > levelNone:
		return "COLLABORATOR"
	}
	return "NONE"
}

// installationFor is the App's installation that covers rp, if any.
func (e *Emulator) installationFor(rp *repo) *installation {
	for _, in := range e.installs {
		if in.account == rp.owner && (in.repos == nil || in.repos[rp.id]) {
			return in
		}
	}
	return nil
}

func permAtLeast(have, want string) bool {
	rank := map[string]int{"read": 1, "write": 2, "admin": 3}
	return rank[have] >= rank[want] && rank[want] > 0
}
