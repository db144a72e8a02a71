package fields

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sample is a schema with one field of every type, used across the tests.
const sample = `
- id: reason
  type: string
  required: true
  max-length: 200
- id: team
  type: select
  values: [HR, Finance, IT]
- id: rollout
  type: number
  min: 1
  max: 100
  default: 10
- id: replicas
  type: number
  integer: true
  min: 0
- id: regions
  type: multiselect
  values: [eu, us, ap]
  default: [eu]
- id: urgent
  type: boolean
- id: day
  type: date
- id: at
  type: datetime
- id: window
  type: duration
  default: 7d
- id: owner
  type: email
- id: runbook
  type: url
- id: ticket
  type: string
  pattern: '[A-Z]+-[0-9]+'
`

func mustParse(t testing.TB, text string) Schema {
	t.Helper()
	s, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func TestResolve(t *testing.T) {
	s := mustParse(t, sample)
	defaults := Values{"rollout": 10.0, "regions": []string{"eu"}, "window": "168h0m0s"}
	with := func(extra Values) Values {
		v := Values{}
		for k, x := range defaults {
			v[k] = x
		}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name string
		raw  map[string]string
		want Values
		// wantProblems, when set, are the expected problems.
		wantProblems []Problem
	}{
		{
			name: "only the required field",
			raw:  map[string]string{"reason": "hotfix"},
			want: with(Values{"reason": "hotfix"}),
		},
		{
			name: "every field",
			raw: map[string]string{
				"reason": " hotfix ", "team": "it", "rollout": "25", "replicas": "3",
				"regions": "ap,us", "urgent": "yes", "day": "2024-05-01",
				"at": "2024-05-01T10:00:00+01:00", "window": "90m", "owner": "ops@corp.example",
				"runbook": "https://wiki.example/r", "ticket": "OPS-7",
			},
			want: Values{
				"reason": "hotfix", "team": "IT", "rollout": 25.0, "replicas": int64(3),
				"regions": []string{"us", "ap"}, "urgent": true, "day": "2024-05-01",
				"at": "2024-05-01T10:00:00+01:00", "window": "1h30m0s", "owner": "ops@corp.example",
				"runbook": "https://wiki.example/r", "ticket": "OPS-7",
			},
		},
		{
			name: "ids match ignoring case and come back canonical",
			raw:  map[string]string{"REASON": "x", "Team": "hr"},
			want: with(Values{"reason": "x", "team": "HR"}),
		},
		{
			name: "an empty value is not given",
			raw:  map[string]string{"reason": "x", "rollout": "", "team": "  "},
			want: with(Values{"reason": "x"}),
		},
		{
			name:         "required and missing",
			raw:          map[string]string{},
			wantProblems: []Problem{{"reason", "required"}},
		},
		{
			name:         "required and blank",
			raw:          map[string]string{"reason": " \n"},
			wantProblems: []Problem{{"reason", "required"}},
		},
		{
			name:         "unknown field",
			raw:          map[string]string{"reason": "x", "colour": "red"},
			wantProblems: []Problem{{"colour", "unknown field (fields are reason, team, rollout, replicas, regions, urgent, day, at, window, owner, runbook, ticket)"}},
		},
		{
			name:         "given twice in different case",
			raw:          map[string]string{"reason": "x", "team": "HR", "TEAM": "IT"},
			wantProblems: []Problem{{"team", "given more than once"}},
		},
		{
			name: "every problem, in schema order, unknown ids last",
			raw:  map[string]string{"zeta": "1", "rollout": "500", "alpha": "2", "team": "Sales", "ticket": "ops-1"},
			wantProblems: []Problem{
				{"reason", "required"},
				{"team", "must be one of HR, Finance, IT"},
				{"rollout", "must be a number between 1 and 100"},
				{"ticket", "must match the pattern [A-Z]+-[0-9]+"},
				{"alpha", "unknown field (fields are reason, team, rollout, replicas, regions, urgent, day, at, window, owner, runbook, ticket)"},
				{"zeta", "unknown field (fields are reason, team, rollout, replicas, regions, urgent, day, at, window, owner, runbook, ticket)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Resolve(tt.raw)
			var verr *ValidationError
			if errors.As(err, &verr) {
				if diff := cmp.Diff(tt.wantProblems, verr.Problems); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				if got != nil {
					t.Errorf("Resolve returned values with an error: %v", got)
				}
				return
			}
			if err != nil || tt.wantProblems != nil {
				t.Fatalf("Resolve error = %v; want problems %v", err, tt.wantProblems)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveEmptySchema(t *testing.T) {
	var s Schema
	got, err := s.Resolve(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Resolve(nil) = %v, %v; want no values", got, err)
	}
	_, err = s.Resolve(map[string]string{"reason": "x"})
	if diff := cmp.Diff("reason: unknown field (this gate has no fields)", errString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestResolveDoesNotShareDefaults(t *testing.T) {
	s := mustParse(t, sample)
	got, err := s.Resolve(map[string]string{"reason": "x"})
	if err != nil {
		t.Fatal(err)
	}
	got["regions"].([]string)[0] = "changed"
	s.Defaults()["regions"].([]string)[0] = "changed"
	if f, _ := s.Lookup("regions"); f.Default.([]string)[0] != "eu" {
		t.Errorf("default changed through a returned value: %v", f.Default)
	}
}

func TestValidationErrorError(t *testing.T) {
	err := &ValidationError{Problems: []Problem{
		{"rollout", "must be a number between 1 and 100"},
		{"reason", "required"},
	}}
	if diff := cmp.Diff("rollout: must be a number between 1 and 100; reason: required", err.Error()); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	s := mustParse(t, sample)
	for _, id := range []string{"team", "TEAM", "Team"} {
		f, ok := s.Lookup(id)
		if !ok || f.ID != "team" {
			t.Errorf("Lookup(%q) = %q, %v; want team", id, f.ID, ok)
		}
	}
	// "\u212A" is the Kelvin sign, which Unicode folds to k.
	for _, id := range []string{"teams", "tea", "\u212Aey"} {
		if f, ok := mustParse(t, sample+"- {id: key, type: string}").Lookup(id); ok {
			t.Errorf("Lookup(%q) = %q; want not found", id, f.ID)
		}
	}
}

func TestIDs(t *testing.T) {
	want := []string{"reason", "team", "rollout", "replicas", "regions", "urgent", "day", "at", "window", "owner", "runbook", "ticket"}
	if diff := cmp.Diff(want, mustParse(t, sample).IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	want := Values{"rollout": 10.0, "regions": []string{"eu"}, "window": "168h0m0s"}
	if diff := cmp.Diff(want, mustParse(t, sample).Defaults()); diff != "" {
		t.Errorf("Defaults (-want +got):\n%s", diff)
	}
	if got := Schema(nil).Defaults(); got == nil || len(got) != 0 {
		t.Errorf("Defaults of an empty schema = %#v; want an empty map", got)
	}
}

func TestComplete(t *testing.T) {
	s := mustParse(t, "- {id: a, type: string}\n- {id: b, type: boolean}\n- {id: c, type: number}\n")
	got := s.Complete(Values{"a": "x", "c": 1.5})
	want := map[string]any{"a": "x", "b": nil, "c": 1.5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Complete (-want +got):\n%s", diff)
	}
}

func BenchmarkResolve(b *testing.B) {
	s := mustParse(b, `
- {id: reason, type: string, required: true, max-length: 200}
- {id: team, type: select, values: [HR, Finance, IT]}
- {id: rollout, type: number, integer: true, min: 1, max: 100, default: 10}
- {id: ticket, type: string, pattern: '[A-Z]+-[0-9]+'}
- {id: window, type: duration, default: 7d}
`)
	raw := map[string]string{"reason": "hotfix for the login page", "team": "it", "rollout": "25", "ticket": "OPS-1234"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Resolve(raw); err != nil {
			b.Fatal(err)
		}
	}
}
