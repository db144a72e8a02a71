package identities

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, text string) *Directory {
	t.Helper()
	d, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestLookups(t *testing.T) {
	t.Parallel()
	d := mustParse(t, sample)
	alice := Person{GitHub: "alice", Emails: []string{"alice@corp.example", "a.liddell@corp.example"}, Teams: aliceID}
	bob := Person{GitHub: "Bob-the-Builder"}
	carol := Person{Emails: []string{"carol@corp.example"}}
	teamsOnly := Person{Teams: bobID}
	type lookup func(*Directory, string) (Person, bool)
	byLogin, byEmail, byTeams := (*Directory).ByLogin, (*Directory).ByEmail, (*Directory).ByTeamsID
	tests := []struct {
		name   string
		lookup lookup
		key    string
		want   Person
		found  bool
	}{
		{"login", byLogin, "alice", alice, true},
		{"login upper-case", byLogin, "ALICE", alice, true},
		{"login as written", byLogin, "Bob-the-Builder", bob, true},
		{"login lower-case", byLogin, "bob-the-builder", bob, true},
		{"login unknown", byLogin, "mallory", Person{}, false},
		{"login empty", byLogin, "", Person{}, false},
		{"login is not an email", byLogin, "alice@corp.example", Person{}, false},
		{"first email", byEmail, "alice@corp.example", alice, true},
		{"second email mixed case", byEmail, "A.Liddell@CORP.example", alice, true},
		{"email of an email-only person", byEmail, "carol@corp.example", carol, true},
		{"email unknown", byEmail, "alice@elsewhere.example", Person{}, false},
		{"email is not a login", byEmail, "alice", Person{}, false},
		{"teams id", byTeams, aliceID, alice, true},
		{"teams id upper-case", byTeams, strings.ToUpper(aliceID), alice, true},
		{"teams-only person", byTeams, bobID, teamsOnly, true},
		{"teams id unknown", byTeams, "00000000-0000-0000-0000-000000000000", Person{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, found := tt.lookup(d, tt.key)
			if found != tt.found {
				t.Errorf("found = %v, want %v", found, tt.found)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("person (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmptyDirectory(t *testing.T) {
	t.Parallel()
	for name, d := range map[string]*Directory{"nil": nil, "zero": {}, "parsed empty": mustParse(t, "")} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if n := d.Len(); n != 0 {
				t.Errorf("Len() = %d, want 0", n)
			}
			if p, ok := d.ByLogin("alice"); ok {
				t.Errorf("ByLogin found %+v", p)
			}
			if p, ok := d.ByEmail("alice@corp.example"); ok {
				t.Errorf("ByEmail found %+v", p)
			}
			if p, ok := d.ByTeamsID(aliceID); ok {
				t.Errorf("ByTeamsID found %+v", p)
			}
		})
	}
}

func TestLookupReturnsACopy(t *testing.T) {
	t.Parallel()
	d := mustParse(t, sample)
	p, _ := d.ByLogin("alice")
	p.Emails[0] = "mallory@evil.example"
	if _, ok := d.ByEmail("mallory@evil.example"); ok {
		t.Fatal("changing a returned person changed the directory's index")
	}
	again, _ := d.ByLogin("alice")
	if again.Emails[0] != "alice@corp.example" {
		t.Errorf("changing a returned person changed the directory: emails %q", again.Emails)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Person
		want string
	}{
		{"login first", Person{GitHub: "Alice", Emails: []string{"A@corp.example"}, Teams: aliceID}, "alice"},
		{"else first email", Person{Emails: []string{"Carol@Corp.example", "c@corp.example"}, Teams: aliceID}, "carol@corp.example"},
		{"else teams id", Person{Teams: strings.ToUpper(aliceID)}, "teams:" + aliceID},
		{"nobody", Person{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Key(); got != tt.want {
				t.Errorf("Key() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", sample)
	bad := write("bad.yaml", "people:\n  - email: x@corp.example\n  - teams: nope\n")
	big := write("big.yaml", "people: []\n"+strings.Repeat("#", maxSize))

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		d, err := Load(good)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := d.ByTeamsID(aliceID); !ok || p.GitHub != "alice" || d.Len() != 4 {
			t.Errorf("Load: Len %d, ByTeamsID = %+v, %v", d.Len(), p, ok)
		}
	})
	t.Run("problems name the file", func(t *testing.T) {
		t.Parallel()
		_, err := Load(bad)
		want := []string{
			bad + `: people[0] (line 2): unknown key "email" (did you mean "emails"?)`,
			bad + `: people[1] (line 3): teams "nope" is not an AAD object id: a GUID like 6f1c2d3e-0000-4000-8000-00000000a11c`,
		}
		if err == nil {
			t.Fatal("Load succeeded")
		}
		if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
			t.Errorf("error lines (-want +got):\n%s", diff)
		}
	})
	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		_, err := Load(big)
		if want := big + ": the file is larger than 1 MiB"; err == nil || err.Error() != want {
			t.Errorf("Load error = %v, want %q", err, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		_, err := Load(filepath.Join(dir, "absent.yaml"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "absent.yaml") {
			t.Errorf("Load error = %v, want a not-exist error naming the file", err)
		}
	})
	t.Run("a directory", func(t *testing.T) {
		t.Parallel()
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Load error = %v, want an error naming %s", err, dir)
		}
	})
}
