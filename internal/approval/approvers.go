package approval

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
)

// Approvers is the parsed `approvers` input.
type Approvers struct {
	Logins []string // GitHub logins
	Teams  []string // "org/team-slug"
	Emails []string
}

// Empty reports whether no approver is listed.
func (a Approvers) Empty() bool {
	return len(a.Logins)+len(a.Teams)+len(a.Emails) == 0
}

var (
	// loginRE is the shape of a GitHub login or organization name: letters,
	// digits and single inner hyphens; validLogin also checks its length.
	loginRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$`)
	slugRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
)

// validLogin reports whether s can be a GitHub login or organization name
// (at most 39 characters).
func validLogin(s string) bool { return len(s) <= 39 && loginRE.MatchString(s) }

// ParseApprovers reads a comma- or newline-separated list of GitHub logins,
// org/team slugs (a leading @ is optional) and email addresses. Duplicates
// (compared case-insensitively) are dropped; every malformed entry is
// reported.
func ParseApprovers(s string) (Approvers, error) {
	var a Approvers
	var bad []string
	seen := map[string]bool{}
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		entry = strings.TrimSpace(entry)
		key := strings.ToLower(strings.TrimPrefix(entry, "@"))
		if entry == "" || seen[key] {
			continue
		}
		seen[key] = true
		switch {
		case strings.Contains(entry, "@") && !strings.HasPrefix(entry, "@"):
			addr, err := mail.ParseAddress(entry)
			if err != nil || addr.Address != entry || addr.Name != "" {
				bad = append(bad, fmt.Sprintf("%q is not an email address", entry))
				continue
			}
			a.Emails = append(a.Emails, entry)
		case strings.Contains(entry, "/"):
			org, team, _ := strings.Cut(strings.TrimPrefix(entry, "@"), "/")
			if !validLogin(org) || !slugRE.MatchString(team) {
				bad = append(bad, fmt.Sprintf("%q is not an org/team slug", entry))
				continue
			}
			a.Teams = append(a.Teams, org+"/"+team)
		default:
			login := strings.TrimPrefix(entry, "@")
			if !validLogin(login) {
				bad = append(bad, fmt.Sprintf("%q is not a GitHub login", entry))
				continue
			}
			a.Logins = append(a.Logins, login)
		}
	}
	if len(bad) > 0 {
		return a, fmt.Errorf("approvers: %s", strings.Join(bad, "; "))
	}
	return a, nil
}
