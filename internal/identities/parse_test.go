package identities

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	aliceID = "6f1c2d3e-0000-4000-8000-00000000a11c"
	bobID   = "0b0b0b0b-1111-4000-8000-000000000b0b"
)

// sample is a valid file with one person of each shape.
const sample = `
# Who is who across GitHub, email and Teams.
people:
  - github: alice
    emails: [alice@corp.example, a.liddell@corp.example]
    teams: ` + aliceID + `
  - github: Bob-the-Builder
  - emails:
      - carol@corp.example
  - teams: ` + bobID + `
`

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []Person
	}{
		{name: "empty", text: ""},
		{name: "comments only", text: "# nobody yet\n"},
		{name: "empty document", text: "---\n"},
		{name: "empty mapping", text: "{}"},
		{name: "people null", text: "people:\n"},
		{name: "people empty", text: "people: []\n"},
		{
			name: "sample",
			text: sample,
			want: []Person{
				{GitHub: "alice", Emails: []string{"alice@corp.example", "a.liddell@corp.example"}, Teams: aliceID},
				{GitHub: "Bob-the-Builder"},
				{Emails: []string{"carol@corp.example"}},
				{Teams: bobID},
			},
		},
		{
			name: "flow style, null values, upper-case GUID",
			text: "people: [{github: dave, emails: ~, teams: " + strings.ToUpper(bobID) + "}, {github: null, emails: [e@x]}]",
			want: []Person{{GitHub: "dave", Teams: strings.ToUpper(bobID)}, {Emails: []string{"e@x"}}},
		},
		{
			name: "numeric login, longest login",
			text: "people:\n  - github: 1234\n  - github: " + strings.Repeat("a", 39) + "\n",
			want: []Person{{GitHub: "1234"}, {GitHub: strings.Repeat("a", 39)}},
		},
		{
			name: "explicit document markers",
			text: "---\npeople:\n  - github: erin\n...\n",
			want: []Person{{GitHub: "erin"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Parse([]byte(tt.text))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d == nil {
				t.Fatal("Parse returned a nil directory")
			}
			if diff := cmp.Diff(tt.want, d.people); diff != "" {
				t.Errorf("people (-want +got):\n%s", diff)
			}
			if d.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", d.Len(), len(tt.want))
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "not YAML", text: "people:\n\t- github: alice\n",
			want: []string{"not valid YAML: line 2: found character that cannot start any token"}},
		{name: "two documents", text: "people: []\n---\npeople: []\n",
			want: []string{"line 2: a second YAML document starts here; the file must hold one"}},
		{name: "a list at the top", text: "- github: alice\n",
			want: []string{`line 1: the file must be a mapping with a "people" list, like "people: [{github: alice, emails: [alice@corp.example]}]"`}},
		{name: "a scalar at the top", text: "alice\n",
			want: []string{`line 1: the file must be a mapping with a "people" list, like "people: [{github: alice, emails: [alice@corp.example]}]"`}},
		{name: "misspelt people", text: "person:\n  - github: alice\n",
			want: []string{`line 1: unknown key "person" (did you mean "people"?)`}},
		{name: "unknown top key", text: "people: []\nversion: 1\n",
			want: []string{`line 2: unknown key "version" (known keys: people)`}},
		{name: "people twice", text: "people: []\npeople: []\n",
			want: []string{"line 2: people is given more than once"}},
		{name: "people not a list", text: "people:\n  github: alice\n",
			want: []string{"line 2: people must be a list, each entry with github, emails or teams"}},
		{name: "entry not a mapping", text: "people:\n  - alice\n",
			want: []string{"people[0] (line 2): must be a mapping with github, emails or teams"}},
		{name: "email for emails", text: "people:\n  - github: alice\n    email: alice@corp.example\n",
			want: []string{`people[0] (line 3): unknown key "email" (did you mean "emails"?)`}},
		{name: "only a misspelt key", text: "people:\n  - email: alice@corp.example\n",
			want: []string{`people[0] (line 2): unknown key "email" (did you mean "emails"?)`}},
		{name: "other misspellings", text: "people:\n  - GitHub: alice\n    aad_object_id: " + aliceID + "\n    Login: alice\n    name: Alice\n",
			want: []string{
				`people[0] (line 2): unknown key "GitHub" (did you mean "github"?)`,
				`people[0] (line 3): unknown key "aad_object_id" (did you mean "teams"?)`,
				`people[0] (line 4): unknown key "Login" (did you mean "github"?)`,
				`people[0] (line 5): unknown key "name" (known keys: github, emails, teams)`,
			}},
		{name: "key not a name", text: "people:\n  - {[github]: alice}\n",
			want: []string{
				"people[0] (line 2): a key must be a plain name",
			}},
		{name: "key twice", text: "people:\n  - github: alice\n    github: alice2\n",
			want: []string{"people[0] (line 3): github is given more than once"}},
		{name: "no identity", text: "people:\n  - {}\n",
			want: []string{"people[0] (line 2): needs at least one of github, emails or teams"}},
		{name: "only nulls and an empty list", text: "people:\n  - github: ~\n    emails: []\n    teams:\n",
			want: []string{"people[0] (line 2): needs at least one of github, emails or teams"}},
		{name: "login with a space", text: "people:\n  - github: al ice\n",
			want: []string{`people[0] (line 2): github "al ice" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`}},
		{name: "login with double hyphen", text: "people:\n  - github: al--ice\n",
			want: []string{`people[0] (line 2): github "al--ice" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`}},
		{name: "login with trailing hyphen", text: "people:\n  - github: alice-\n",
			want: []string{`people[0] (line 2): github "alice-" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`}},
		{name: "login too long", text: "people:\n  - github: " + strings.Repeat("a", 40) + "\n",
			want: []string{`people[0] (line 2): github "` + strings.Repeat("a", 40) + `" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`}},
		{name: "bot login", text: "people:\n  - github: 'gatehouse[bot]'\n",
			want: []string{`people[0] (line 2): github "gatehouse[bot]" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`}},
		{name: "login with @", text: "people:\n  - github: '@alice'\n",
			want: []string{`people[0] (line 2): github "@alice": write the login without the @`}},
		{name: "login a list", text: "people:\n  - github: [alice]\n",
			want: []string{"people[0] (line 2): github must be a GitHub login, like alice"}},
		{name: "emails a string", text: "people:\n  - emails: alice@corp.example\n",
			want: []string{"people[0] (line 2): emails must be a list, like [alice@corp.example]"}},
		{name: "email with a display name", text: "people:\n  - emails: ['Alice <alice@corp.example>']\n",
			want: []string{`people[0] (line 2): emails[0] "Alice <alice@corp.example>" is not a plain email address, like alice@corp.example (no display name, no angle brackets)`}},
		{name: "email in angle brackets", text: "people:\n  - emails: ['<alice@corp.example>']\n",
			want: []string{`people[0] (line 2): emails[0] "<alice@corp.example>" is not a plain email address, like alice@corp.example (no display name, no angle brackets)`}},
		{name: "email without @", text: "people:\n  - emails:\n      - ok@corp.example\n      - alice\n",
			want: []string{`people[0] (line 4): emails[1] "alice" is not a plain email address, like alice@corp.example (no display name, no angle brackets)`}},
		{name: "email a mapping", text: "people:\n  - emails: [{a: b}]\n",
			want: []string{"people[0] (line 2): emails[0] (a mapping) is not a plain email address, like alice@corp.example (no display name, no angle brackets)"}},
		{name: "email twice in one entry", text: "people:\n  - emails: [a@corp.example, A@Corp.Example]\n",
			want: []string{`people[0] (line 2): emails[1] "A@Corp.Example" repeats emails[0]`}},
		{name: "teams not a GUID", text: "people:\n  - teams: alice@corp.example\n",
			want: []string{`people[0] (line 2): teams "alice@corp.example" is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c`}},
		{name: "teams GUID in braces", text: "people:\n  - teams: '{" + aliceID + "}'\n",
			want: []string{`people[0] (line 2): teams "{` + aliceID + `}" is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c`}},
		{name: "teams a list", text: "people:\n  - teams: [" + aliceID + "]\n",
			want: []string{"people[0] (line 2): teams (a list) is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c"}},
		{name: "same login twice", text: "people:\n  - github: alice\n  - github: bob\n  - github: ALICE\n",
			want: []string{`people[2] (line 4): github "ALICE" is already people[0]'s (line 2): a login belongs to one person only`}},
		{name: "same email twice", text: "people:\n  - {github: alice, emails: [shared@corp.example]}\n  - {github: bob, emails: [bob@corp.example, Shared@corp.example]}\n",
			want: []string{`people[1] (line 3): email "Shared@corp.example" is already people[0]'s (line 2): an address belongs to one person only`}},
		{name: "same teams id twice", text: "people:\n  - teams: " + aliceID + "\n  - github: bob\n    teams: " + strings.ToUpper(aliceID) + "\n",
			want: []string{`people[1] (line 3): teams "` + strings.ToUpper(aliceID) + `" is already people[0]'s (line 2): an object id belongs to one person only`}},
		{name: "alias", text: "people:\n  - &a {github: alice}\n  - *a\n",
			want: []string{"line 3: YAML aliases (*a) are not allowed: write each identity out"}},
		{name: "merge key", text: "people:\n  - &a {emails: [a@corp.example]}\n  - <<: *a\n    github: bob\n",
			want: []string{"line 3: YAML aliases (*a) are not allowed: write each identity out"}},
		{name: "every problem at once", text: "people:\n  - github: al ice\n    email: x\n  - teams: nope\n  - {}\n  - github: '@bob'\n    emails: [bob]\nextra: 1\n",
			want: []string{
				`people[0] (line 2): github "al ice" is not a GitHub login: letters, digits and single inner hyphens, at most 39 characters`,
				`people[0] (line 3): unknown key "email" (did you mean "emails"?)`,
				`people[1] (line 4): teams "nope" is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c`,
				`people[2] (line 5): needs at least one of github, emails or teams`,
				`people[3] (line 6): github "@bob": write the login without the @`,
				`people[3] (line 7): emails[0] "bob" is not a plain email address, like alice@corp.example (no display name, no angle brackets)`,
				`line 8: unknown key "extra" (known keys: people)`,
			}},
		{name: "too large", text: "people: []\n" + strings.Repeat("#", maxSize),
			want: []string{"the file is larger than 1 MiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Parse([]byte(tt.text))
			if err == nil {
				t.Fatalf("Parse succeeded with %d people, want errors %q", d.Len(), tt.want)
			}
			if d != nil {
				t.Errorf("Parse returned a directory with its error")
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("error lines (-want +got):\n%s", diff)
			}
			if len(perr.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d", len(perr.Problems), len(tt.want))
			}
		})
	}
}

func TestParseLimitsProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("people:\n")
	for range maxProblems + 20 {
		b.WriteString("  - email: someone@corp.example\n")
	}
	_, err := Parse([]byte(b.String()))
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Parse error = %v, want *Error", err)
	}
	if got, want := len(perr.Problems), maxProblems+1; got != want {
		t.Fatalf("%d problems, want %d", got, want)
	}
	want := Problem{Message: "20 more problems not shown"}
	if diff := cmp.Diff(want, perr.Problems[maxProblems]); diff != "" {
		t.Errorf("last problem (-want +got):\n%s", diff)
	}
	first := Problem{Entry: "people[0]", Line: 2, Message: `unknown key "email" (did you mean "emails"?)`}
	if diff := cmp.Diff(first, perr.Problems[0]); diff != "" {
		t.Errorf("first problem (-want +got):\n%s", diff)
	}
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Entry: "people[3]", Line: 12, Message: "m"}, "people[3] (line 12): m"},
		{Problem{Line: 4, Message: "m"}, "line 4: m"},
		{Problem{Message: "m"}, "m"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	e := &Error{File: "/etc/gatehouse/people.yaml", Problems: []Problem{tests[0].p, tests[2].p}}
	want := "/etc/gatehouse/people.yaml: people[3] (line 12): m\n/etc/gatehouse/people.yaml: m"
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func ExampleParse() {
	d, err := Parse([]byte(sample))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := d.ByEmail("Alice@Corp.Example")
	fmt.Println(d.Len(), p.GitHub, p.Key())
	_, err = Parse([]byte("people:\n  - github: alice\n    email: alice@corp.example\n"))
	fmt.Println(err)
	// Output:
	// 4 alice alice
	// people[0] (line 3): unknown key "email" (did you mean "emails"?)
}
