package identities

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// entry is how the fuzz test writes a person back out.
type entry struct {
	GitHub string   `yaml:"github,omitempty"`
	Emails []string `yaml:"emails,omitempty"`
	Teams  string   `yaml:"teams,omitempty"`
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		sample,
		"people: [{github: a, emails: [a@b.c, A@B.C]}]",
		"people: [{github: a}, {github: A}]",
		"people:\n  - emails: ['\"quoted local\"@corp.example', 'x@[127.0.0.1]']\n",
		"people:\n  - teams: " + strings.ToUpper(aliceID) + "\n  - teams: " + aliceID + "\n",
		"people: [{email: a@b.c}]",
		"people: [&a {github: a}, *a]",
		"people: []\n---\npeople: []\n",
		"people:\n\t- github: a\n",
		"- github: a",
		"people: [{? [a] : b}]",
		"people: [{github: 'é'}]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d, err := Parse([]byte(text))
		if err != nil {
			var perr *Error
			if d != nil || !errors.As(err, &perr) || len(perr.Problems) == 0 || len(perr.Problems) > maxProblems+1 {
				t.Fatalf("Parse = %v, %#v", d, err)
			}
			for _, p := range perr.Problems {
				if p.Message == "" || strings.Contains(p.String(), "\n") {
					t.Fatalf("a problem must be one non-empty line: %+v", p)
				}
			}
			return
		}
		keys := map[string]bool{}
		var back []entry
		for i, p := range d.people {
			if keys[p.Key()] || p.Key() == "" {
				t.Fatalf("people[%d] %+v: key %q empty or repeated", i, p, p.Key())
			}
			keys[p.Key()] = true
			found := func(what string, got Person, ok bool) {
				t.Helper()
				if !ok {
					t.Fatalf("people[%d]: %s misses", i, what)
				}
				if diff := cmp.Diff(p, got); diff != "" {
					t.Fatalf("people[%d]: %s (-want +got):\n%s", i, what, diff)
				}
			}
			if p.GitHub != "" {
				got, ok := d.ByLogin(strings.ToUpper(p.GitHub))
				found("ByLogin", got, ok)
			}
			for _, e := range p.Emails {
				got, ok := d.ByEmail(strings.ToUpper(e))
				found("ByEmail", got, ok)
			}
			if p.Teams != "" {
				got, ok := d.ByTeamsID(strings.ToLower(p.Teams))
				found("ByTeamsID", got, ok)
			}
			back = append(back, entry(p))
		}

		// What was accepted reads back the same once written out.
		data, err := yaml.Marshal(map[string][]entry{"people": back})
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse of the accepted people written out:\n%s\n%v", data, err)
		}
		if diff := cmp.Diff(d.people, again.people); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}
