package identities

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	// maxSize is the largest identities file accepted, in bytes.
	maxSize = 1 << 20
	// maxProblems is how many problems an Error lists before it only counts
	// the rest: a file wrong throughout should not bury the first lines.
	maxProblems = 100
)

var (
	// loginRE is the shape of a GitHub login: letters, digits and single
	// inner hyphens; validLogin also checks the length.
	loginRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$`)
	guidRE  = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
)

// personKeys are the keys of an entry under people, in the order they are checked.
var personKeys = []string{"github", "emails", "teams"}

// suggestions map a misspelt key, lower-cased without -, _ and spaces, to
// the key it probably meant.
var suggestions = map[string]string{
	"people": "people", "person": "people", "persons": "people", "peoples": "people",
	"users": "people", "members": "people", "identities": "people",
	"github": "github", "githublogin": "github", "githubuser": "github", "githubusername": "github",
	"gh": "github", "login": "github", "user": "github", "username": "github",
	"emails": "emails", "email": "emails", "emailaddress": "emails", "emailaddresses": "emails",
	"mail": "emails", "mails": "emails", "address": "emails", "addresses": "emails",
	"teams": "teams", "team": "teams", "teamsid": "teams", "teamsobjectid": "teams", "aad": "teams",
	"aadid": "teams", "aadobjectid": "teams", "objectid": "teams", "oid": "teams", "msteams": "teams",
}

// Problem is one thing wrong in an identities file.
type Problem struct {
	Entry   string // the entry, "people[3]"; empty for the file as a whole
	Line    int    // the line, from 1; 0 when unknown
	Message string
}

// String reads "people[3] (line 12): message".
func (p Problem) String() string {
	switch {
	case p.Entry != "" && p.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.Entry, p.Line, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// Error lists every problem found in an identities file, in file order.
type Error struct {
	File     string // the file's path, when read by Load
	Problems []Problem
}

// Error reads as one line per problem, each led by the file's path when known.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
		if e.File != "" {
			lines[i] = e.File + ": " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// Parse reads an identities file:
//
//	people:
//	  - github: alice
//	    emails: [alice@corp.example]
//	    teams: 6f1c2d3e-0000-4000-8000-00000000a11c
//
// Each person needs at least one of github (a GitHub login), emails (plain
// addresses, no display names) and teams (an AAD object id, a GUID); an
// identity may belong to one person only, ignoring case. An empty file is
// an empty directory. Problems come back together as an *Error.
func Parse(data []byte) (*Directory, error) {
	if len(data) > maxSize {
		return nil, &Error{Problems: []Problem{{Message: "the file is larger than 1 MiB"}}}
	}
	p := parser{dir: &Directory{
		byLogin: map[string]int{},
		byEmail: map[string]int{},
		byTeams: map[string]int{},
	}}
	root := p.document(data)
	if root != nil && len(p.problems) == 0 {
		p.file(root)
	}
	if len(p.problems) > 0 {
		problems := p.problems
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
		if len(problems) > maxProblems {
			more := Problem{Message: fmt.Sprintf("%d more problems not shown", len(problems)-maxProblems)}
			problems = append(problems[:maxProblems:maxProblems], more)
		}
		return nil, &Error{Problems: problems}
	}
	return p.dir, nil
}

// parser collects the directory and the problems of one file.
type parser struct {
	dir      *Directory
	problems []Problem
	lines    []int // the line of each entry, by position
}

func (p *parser) add(entry string, line int, format string, args ...any) {
	p.problems = append(p.problems, Problem{Entry: entry, Line: line, Message: fmt.Sprintf(format, args...)})
}

// document decodes the single YAML document in data; nil when there is none
// or it cannot be read. Aliases are refused: in this file they could only
// repeat an identity.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		p.add("", 0, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		p.add("", next.Line, "a second YAML document starts here; the file must hold one")
	} else if !errors.Is(err, io.EOF) {
		p.add("", 0, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p.refuseAliases(&doc)
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func (p *parser) refuseAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.add("", n.Line, "YAML aliases (*%s) are not allowed: write each identity out", n.Value)
		return
	}
	for _, c := range n.Content {
		p.refuseAliases(c)
	}
}

// file reads the top-level mapping and its people.
func (p *parser) file(root *yaml.Node) {
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		p.add("", root.Line, `the file must be a mapping with a "people" list, like "people: [{github: alice, emails: [alice@corp.example]}]"`)
		return
	}
	people := p.keys("", root, []string{"people"})["people"]
	if people == nil || isNull(people) {
		return
	}
	if people.Kind != yaml.SequenceNode {
		p.add("", people.Line, "people must be a list, each entry with github, emails or teams")
		return
	}
	for i, item := range people.Content {
		p.lines = append(p.lines, item.Line)
		p.person(i, item)
	}
}

// keys reads a mapping's keys, reporting unknown, repeated and non-text ones.
func (p *parser) keys(entry string, n *yaml.Node, known []string) map[string]*yaml.Node {
	given := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			p.add(entry, k.Line, "a key must be a plain name")
		case !slices.Contains(known, k.Value):
			p.add(entry, k.Line, "unknown key %q%s", k.Value, suggest(k.Value, known))
		case given[k.Value] != nil:
			p.add(entry, k.Line, "%s is given more than once", k.Value)
		default:
			given[k.Value] = v
		}
	}
	return given
}

// person reads people[i] and adds it to the directory.
func (p *parser) person(i int, n *yaml.Node) {
	entry := fmt.Sprintf("people[%d]", i)
	if n.Kind != yaml.MappingNode {
		p.add(entry, n.Line, "must be a mapping with github, emails or teams")
		return
	}
	before := len(p.problems)
	given := p.keys(entry, n, personKeys)
	present := func(key string) bool { return given[key] != nil && !isNull(given[key]) }

	var who Person
	if present("github") {
		v := given["github"]
		switch s, ok := scalar(v); {
		case !ok:
			p.add(entry, v.Line, "github must be a GitHub login, like alice")
		case strings.HasPrefix(s, "@") && validLogin(s[1:]):
			p.add(entry, v.Line, "github %q: write the login without the @", s)
		case !validLogin(s):
			p.add(entry, v.Line, "github %q is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters", s)
		default:
			who.GitHub = s
		}
	}
	if present("emails") {
		who.Emails = p.emails(entry, given["emails"])
	}
	if present("teams") {
		v := given["teams"]
		if s, ok := scalar(v); !ok || !guidRE.MatchString(s) {
			p.add(entry, v.Line, "teams %s is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c", describe(v))
		} else {
			who.Teams = s
		}
	}
	if who.Key() == "" && len(p.problems) == before {
		p.add(entry, n.Line, "needs at least one of github, emails or teams")
	}
	p.register(i, entry, who)
}

// emails reads the emails list of an entry, keeping the valid addresses.
func (p *parser) emails(entry string, n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode {
		p.add(entry, n.Line, "emails must be a list, like [alice@corp.example]")
		return nil
	}
	var out []string
	seen := map[string]int{}
	for j, item := range n.Content {
		s, ok := scalar(item)
		if !ok || !validEmail(s) {
			p.add(entry, item.Line, "emails[%d] %s is not a plain email address, like alice@corp.example (no display name, no angle brackets)", j, describe(item))
			continue
		}
		if first, dup := seen[strings.ToLower(s)]; dup {
			p.add(entry, item.Line, "emails[%d] %q repeats emails[%d]", j, s, first)
			continue
		}
		seen[strings.ToLower(s)] = j
		out = append(out, s)
	}
	return out
}

// register indexes people[i], reporting each identity that an earlier
// entry already holds. The indexes map to positions in the file, which are
// positions in p.dir.people when the file has no problems (and the
// directory is kept).
func (p *parser) register(i int, entry string, who Person) {
	claim := func(index map[string]int, value, what, rule string) {
		key := strings.ToLower(value)
		if first, dup := index[key]; dup {
			p.add(entry, p.lines[i], "%s %q is already people[%d]'s (line %d): %s", what, value, first, p.lines[first], rule)
			return
		}
		index[key] = i
	}
	if who.GitHub != "" {
		claim(p.dir.byLogin, who.GitHub, "github", "a login belongs to one person only")
	}
	for _, e := range who.Emails {
		claim(p.dir.byEmail, e, "email", "an address belongs to one person only")
	}
	if who.Teams != "" {
		claim(p.dir.byTeams, who.Teams, "teams", "an object id belongs to one person only")
	}
	p.dir.people = append(p.dir.people, who)
}

// validLogin reports whether s has the shape of a GitHub login.
func validLogin(s string) bool { return len(s) <= 39 && loginRE.MatchString(s) }

// validEmail accepts a bare address: no display name, no angle brackets.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// suggest proposes the known key a misspelt one probably meant.
func suggest(key string, known []string) string {
	k := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(key))
	if s, ok := suggestions[k]; ok && slices.Contains(known, s) {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// scalar returns the text of a non-null scalar as written.
func scalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", false
	}
	return n.Value, true
}

// describe quotes a scalar for a message, or names the kind of node.
func describe(n *yaml.Node) string {
	if s, ok := scalar(n); ok {
		return fmt.Sprintf("%q", s)
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "(a mapping)"
	case yaml.SequenceNode:
		return "(a list)"
	}
	return "(not text)"
}
