package approval

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseApprovers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Approvers
		wantErr string
	}{
		{name: "empty", in: "", want: Approvers{}},
		{name: "only separators and spaces", in: " , \n,\r\n ,", want: Approvers{}},
		{name: "one login", in: "alice", want: Approvers{Logins: []string{"alice"}}},
		{name: "login with @", in: "@alice", want: Approvers{Logins: []string{"alice"}}},
		{name: "login case kept", in: "Alice-Smith", want: Approvers{Logins: []string{"Alice-Smith"}}},
		{name: "digits and hyphens", in: "a1-b2-c3", want: Approvers{Logins: []string{"a1-b2-c3"}}},
		{name: "one character login", in: "x", want: Approvers{Logins: []string{"x"}}},
		{
			name: "39 character login",
			in:   strings.Repeat("a", 39),
			want: Approvers{Logins: []string{strings.Repeat("a", 39)}},
		},
		{
			name: "39 character login with hyphens",
			in:   strings.Repeat("ab-", 12) + "abc",
			want: Approvers{Logins: []string{strings.Repeat("ab-", 12) + "abc"}},
		},
		{
			name: "commas",
			in:   "alice,bob, carol ,dave",
			want: Approvers{Logins: []string{"alice", "bob", "carol", "dave"}},
		},
		{
			name: "newlines, CRLF and blank lines",
			in:   "alice\nbob\r\ncarol\n\n  \ndave\n",
			want: Approvers{Logins: []string{"alice", "bob", "carol", "dave"}},
		},
		{
			name: "commas and newlines mixed",
			in:   "alice, bob\ncarol,\n@dave",
			want: Approvers{Logins: []string{"alice", "bob", "carol", "dave"}},
		},
		{name: "team", in: "acme/release", want: Approvers{Teams: []string{"acme/release"}}},
		{name: "team with @", in: "@acme/release", want: Approvers{Teams: []string{"acme/release"}}},
		{
			name: "team slug characters and case kept",
			in:   "Acme-Corp/Release_Team.v2",
			want: Approvers{Teams: []string{"Acme-Corp/Release_Team.v2"}},
		},
		{
			name: "email",
			in:   "alice@corp.example",
			want: Approvers{Emails: []string{"alice@corp.example"}},
		},
		{
			name: "email case kept",
			in:   "Alice.Smith+deploy@Corp.Example",
			want: Approvers{Emails: []string{"Alice.Smith+deploy@Corp.Example"}},
		},
		{
			name: "all kinds, in input order per kind",
			in:   "@alice, acme/release\nbob@corp.example, @acme/ops, carol, dave@corp.example",
			want: Approvers{
				Logins: []string{"alice", "carol"},
				Teams:  []string{"acme/release", "acme/ops"},
				Emails: []string{"bob@corp.example", "dave@corp.example"},
			},
		},
		{
			name: "duplicate logins, case-insensitive, with and without @",
			in:   "alice, Alice, @ALICE, @alice\nbob, alice",
			want: Approvers{Logins: []string{"alice", "bob"}},
		},
		{
			name: "duplicate logins keep the first spelling",
			in:   "@Alice, alice",
			want: Approvers{Logins: []string{"Alice"}},
		},
		{
			name: "duplicate teams, case-insensitive, with and without @",
			in:   "acme/ops, @ACME/Ops, @acme/ops",
			want: Approvers{Teams: []string{"acme/ops"}},
		},
		{
			name: "duplicate emails, case-insensitive",
			in:   "bob@corp.example\nBOB@Corp.Example",
			want: Approvers{Emails: []string{"bob@corp.example"}},
		},
		{
			name: "login and team of the same name are different approvers",
			in:   "acme, acme/acme",
			want: Approvers{Logins: []string{"acme"}, Teams: []string{"acme/acme"}},
		},
		{name: "leading hyphen", in: "-alice", want: Approvers{}, wantErr: `approvers: "-alice" is not a GitHub login`},
		{name: "trailing hyphen", in: "alice-", want: Approvers{}, wantErr: `approvers: "alice-" is not a GitHub login`},
		{name: "double hyphen", in: "al--ice", want: Approvers{}, wantErr: `approvers: "al--ice" is not a GitHub login`},
		{name: "underscore", in: "alice_b", want: Approvers{}, wantErr: `approvers: "alice_b" is not a GitHub login`},
		{name: "space inside", in: "alice bob", want: Approvers{}, wantErr: `approvers: "alice bob" is not a GitHub login`},
		{name: "lone @", in: "@", want: Approvers{}, wantErr: `approvers: "@" is not a GitHub login`},
		{name: "double @", in: "@@alice", want: Approvers{}, wantErr: `approvers: "@@alice" is not a GitHub login`},
		{
			name:    "40 character login",
			in:      strings.Repeat("a", 40),
			want:    Approvers{},
			wantErr: `approvers: "` + strings.Repeat("a", 40) + `" is not a GitHub login`,
		},
		{
			name:    "login over 39 characters with hyphens",
			in:      strings.Repeat("ab-", 13) + "ab",
			want:    Approvers{},
			wantErr: `approvers: "` + strings.Repeat("ab-", 13) + `ab" is not a GitHub login`,
		},
		{name: "team without slug", in: "acme/", want: Approvers{}, wantErr: `approvers: "acme/" is not an org/team slug`},
		{name: "team without org", in: "/release", want: Approvers{}, wantErr: `approvers: "/release" is not an org/team slug`},
		{name: "team with two slashes", in: "acme/ops/x", want: Approvers{}, wantErr: `approvers: "acme/ops/x" is not an org/team slug`},
		{name: "team with bad org", in: "-acme/ops", want: Approvers{}, wantErr: `approvers: "-acme/ops" is not an org/team slug`},
		{name: "team slug starting with a dot", in: "acme/.ops", want: Approvers{}, wantErr: `approvers: "acme/.ops" is not an org/team slug`},
		{
			name:    "team with a 40 character org",
			in:      strings.Repeat("o", 40) + "/ops",
			want:    Approvers{},
			wantErr: `approvers: "` + strings.Repeat("o", 40) + `/ops" is not an org/team slug`,
		},
		{
			name: "team with a 39 character org",
			in:   strings.Repeat("o", 39) + "/ops",
			want: Approvers{Teams: []string{strings.Repeat("o", 39) + "/ops"}},
		},
		{name: "team with space", in: "acme/release team", want: Approvers{}, wantErr: `approvers: "acme/release team" is not an org/team slug`},
		{name: "email without domain", in: "alice@", want: Approvers{}, wantErr: `approvers: "alice@" is not an email address`},
		{name: "email with two @", in: "a@b@c.example", want: Approvers{}, wantErr: `approvers: "a@b@c.example" is not an email address`},
		{name: "email with display name", in: "Alice <alice@corp.example>", want: Approvers{}, wantErr: `approvers: "Alice <alice@corp.example>" is not an email address`},
		{name: "email in angle brackets", in: "<alice@corp.example>", want: Approvers{}, wantErr: `approvers: "<alice@corp.example>" is not an email address`},
		{name: "email with comment", in: "alice@corp.example (Alice)", want: Approvers{}, wantErr: `approvers: "alice@corp.example (Alice)" is not an email address`},
		{
			name: "every malformed entry in one error, valid entries kept",
			in:   "alice, -bad, acme/, bob@corp.example, x@, carol\nacme/o p",
			want: Approvers{
				Logins: []string{"alice", "carol"},
				Emails: []string{"bob@corp.example"},
			},
			wantErr: `approvers: "-bad" is not a GitHub login; "acme/" is not an org/team slug; ` +
				`"x@" is not an email address; "acme/o p" is not an org/team slug`,
		},
		{
			name:    "a malformed duplicate is reported once",
			in:      "-bad, -BAD, @-bad",
			want:    Approvers{},
			wantErr: `approvers: "-bad" is not a GitHub login`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseApprovers(tt.in)
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Errorf("ParseApprovers(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseApprovers(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestApproversEmpty(t *testing.T) {
	tests := []struct {
		name string
		a    Approvers
		want bool
	}{
		{name: "zero", a: Approvers{}, want: true},
		{name: "empty slices", a: Approvers{Logins: []string{}, Teams: []string{}, Emails: []string{}}, want: true},
		{name: "login", a: Approvers{Logins: []string{"alice"}}},
		{name: "team", a: Approvers{Teams: []string{"acme/ops"}}},
		{name: "email", a: Approvers{Emails: []string{"bob@corp.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Empty(); got != tt.want {
				t.Errorf("%+v.Empty() = %t, want %t", tt.a, got, tt.want)
			}
		})
	}
}

// errString is the error's message, or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
