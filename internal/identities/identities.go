package identities

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
)

// Person is one human and the identities they answer with. Values are as
// written in the file.
type Person struct {
	GitHub string   // GitHub login
	Emails []string // plain email addresses
	Teams  string   // AAD object id (a GUID)
}

// Key is the person's identity key: the lower-cased GitHub login, else the
// first email address lower-cased, else "teams:" and the lower-cased object id.
func (p Person) Key() string {
	switch {
	case p.GitHub != "":
		return strings.ToLower(p.GitHub)
	case len(p.Emails) > 0:
		return strings.ToLower(p.Emails[0])
	case p.Teams != "":
		return "teams:" + strings.ToLower(p.Teams)
	}
	return ""
}

// Directory finds a person by any of their identities. A nil or zero
// Directory is empty: every lookup misses.
type Directory struct {
	people  []Person
	byLogin map[string]int // lower-cased login → index in people
	byEmail map[string]int // lower-cased address → index
	byTeams map[string]int // lower-cased object id → index
}

// Load reads and parses the identities file at path; see Parse. A file
// larger than 1 MiB is refused without being read whole.
func Load(path string) (*Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	d, err := Parse(data)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return d, err
}

// ByLogin finds the person with a GitHub login, ignoring case.
func (d *Directory) ByLogin(login string) (Person, bool) {
	if d == nil {
		return Person{}, false
	}
	return d.find(d.byLogin, login)
}

// ByEmail finds the person with an email address, ignoring case.
func (d *Directory) ByEmail(addr string) (Person, bool) {
	if d == nil {
		return Person{}, false
	}
	return d.find(d.byEmail, addr)
}

// ByTeamsID finds the person with an AAD object id, ignoring case.
func (d *Directory) ByTeamsID(objectID string) (Person, bool) {
	if d == nil {
		return Person{}, false
	}
	return d.find(d.byTeams, objectID)
}

// Len is the number of people in the directory.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return len(d.people)
}

// find returns a copy of the person index maps key to, so that callers
// cannot change the directory.
func (d *Directory) find(index map[string]int, key string) (Person, bool) {
	i, ok := index[strings.ToLower(key)]
	if !ok {
		return Person{}, false
	}
	p := d.people[i]
	p.Emails = slices.Clone(p.Emails)
	return p, true
}
