package fields

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr(x float64) *float64 { return &x }

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Schema
	}{
		{
			name: "contract example",
			yaml: `
- id: reason
  type: string
  required: true
  description: Why?
- id: team
  type: select
  values: [HR, Finance, IT]
- id: rollout
  type: number
  min: 1
  max: 100
  default: 10
`,
			want: Schema{
				{ID: "reason", Type: String, Required: true, Description: "Why?"},
				{ID: "team", Type: Select, Values: []string{"HR", "Finance", "IT"}},
				{ID: "rollout", Type: Number, Min: ptr(1), Max: ptr(100), Default: 10.0},
			},
		},
		{
			name: "every type with a default",
			yaml: `
- {id: ok, type: boolean, default: yes}
- {id: ticket, type: string, pattern: '[A-Z]+-\d+', max-length: 12, default: OPS-1}
- {id: code, type: string, default: 010}
- {id: pct, type: number, integer: true, min: 0, max: 100, default: 1e1}
- {id: ratio, type: number, default: -0.5}
- {id: team, type: select, values: [HR, IT], default: it}
- {id: regions, type: multiselect, values: [eu, us, ap], default: [ap, EU, ap]}
- {id: envs, type: multiselect, values: [dev, prod], default: "prod, dev"}
- {id: day, type: date, default: 2024-05-01}
- {id: at, type: datetime, default: "2024-05-01T14:30:00+02:00"}
- {id: window, type: duration, default: 1d12h}
- {id: owner, type: email, default: ops@corp.example}
- {id: runbook, type: url, default: "https://wiki.example/run?x=1"}
`,
			want: Schema{
				{ID: "ok", Type: Boolean, Default: true},
				{ID: "ticket", Type: String, Pattern: `[A-Z]+-\d+`, MaxLength: 12, Default: "OPS-1"},
				{ID: "code", Type: String, Default: "010"},
				{ID: "pct", Type: Number, Integer: true, Min: ptr(0), Max: ptr(100), Default: int64(10)},
				{ID: "ratio", Type: Number, Default: -0.5},
				{ID: "team", Type: Select, Values: []string{"HR", "IT"}, Default: "IT"},
				{ID: "regions", Type: Multiselect, Values: []string{"eu", "us", "ap"}, Default: []string{"eu", "ap"}},
				{ID: "envs", Type: Multiselect, Values: []string{"dev", "prod"}, Default: []string{"dev", "prod"}},
				{ID: "day", Type: Date, Default: "2024-05-01"},
				{ID: "at", Type: Datetime, Default: "2024-05-01T14:30:00+02:00"},
				{ID: "window", Type: Duration, Default: "36h0m0s"},
				{ID: "owner", Type: Email, Default: "ops@corp.example"},
				{ID: "runbook", Type: URL, Default: "https://wiki.example/run?x=1"},
			},
		},
		{
			name: "required with a default, ids with digits, _ and -",
			yaml: "- {id: Change_ID-2, type: string, required: true, default: none}\n",
			want: Schema{{ID: "Change_ID-2", Type: String, Required: true, Default: "none"}},
		},
		{
			name: "null options count as absent",
			yaml: "- {id: a, type: string, description: ~, default: ~, pattern: ~}\n",
			want: Schema{{ID: "a", Type: String}},
		},
		{
			name: "select values of other YAML kinds keep their text",
			yaml: "- {id: size, type: select, values: [1, 2.0, yes], default: 2.0}\n",
			want: Schema{{ID: "size", Type: Select, Values: []string{"1", "2.0", "yes"}, Default: "2.0"}},
		},
		{
			name: "comma in a select value",
			yaml: "- {id: city, type: select, values: ['Paris, FR', 'Paris, TX']}\n",
			want: Schema{{ID: "city", Type: Select, Values: []string{"Paris, FR", "Paris, TX"}}},
		},
		{
			name: "aliases",
			yaml: "- &v {id: a, type: select, values: &list [x, y]}\n- {id: b, type: multiselect, values: *list, default: *list}\n",
			want: Schema{
				{ID: "a", Type: Select, Values: []string{"x", "y"}},
				{ID: "b", Type: Multiselect, Values: []string{"x", "y"}, Default: []string{"x", "y"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.yaml)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, text := range []string{"", "  \n\t", "# no fields yet\n", "[]", "~", "---\n"} {
		got, err := Parse(text)
		if err != nil || len(got) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want an empty schema", text, got, err)
		}
	}
}

func TestParseProblems(t *testing.T) {
	const types = "boolean, string, number, select, multiselect, date, datetime, duration, email, url"
	badID := ": an id starts with a letter and holds only letters, digits, _ and -"
	tests := []struct {
		name string
		yaml string
		want []Problem
	}{
		{"not a mapping", "- reason", []Problem{{"fields[0]", "must be a mapping with at least id and type"}}},
		{"missing id", "- {type: string}", []Problem{{"fields[0]", "id is required"}}},
		{"null id", "- {id: ~, type: string}", []Problem{{"fields[0]", "id is required"}}},
		{"id starting with a digit", "- {id: 1st, type: string}", []Problem{{"fields[0]", `invalid id "1st"` + badID}}},
		{"id with a space", "- {id: a b, type: string}", []Problem{{"fields[0]", `invalid id "a b"` + badID}}},
		{"id with a dot", "- {id: a.b, type: string}", []Problem{{"fields[0]", `invalid id "a.b"` + badID}}},
		{"id with a colon", "- {id: 'a:b', type: string}", []Problem{{"fields[0]", `invalid id "a:b"` + badID}}},
		{"id not ASCII", "- {id: café, type: string}", []Problem{{"fields[0]", `invalid id "café"` + badID}}},
		{"id starting with _", "- {id: _a, type: string}", []Problem{{"fields[0]", `invalid id "_a"` + badID}}},
		{"id a list", "- {id: [a], type: string}", []Problem{{"fields[0]", "invalid id (a list)" + badID}}},
		{"id a mapping", "- {id: {a: 1}, type: string}", []Problem{{"fields[0]", "invalid id (a mapping)" + badID}}},
		{"missing type", "- {id: a}", []Problem{{"a", "type is required (one of " + types + ")"}}},
		{"unknown type", "- {id: a, type: text}", []Problem{{"a", `unknown type "text" (want one of ` + types + ")"}}},
		{"type in capitals", "- {id: a, type: String}", []Problem{{"a", `unknown type "String" (want one of ` + types + ")"}}},
		{"type a list", "- {id: a, type: [string]}", []Problem{{"a", "unknown type (a list) (want one of " + types + ")"}}},
		{"misspelt key", "- {id: a, type: string, max_length: 3}", []Problem{{"a", `unknown key "max_length" (did you mean "max-length"?)`}}},
		{"misspelt key without separator", "- {id: a, type: string, maxLength: 3}", []Problem{{"a", `unknown key "maxLength" (did you mean "max-length"?)`}}},
		{"key in capitals", "- {id: a, type: string, Required: true}", []Problem{{"a", `unknown key "Required" (did you mean "required"?)`}}},
		{"unknown key", "- {id: a, type: string, colour: red}", []Problem{{"a", `unknown key "colour" (known keys: id, type, description, required, default, pattern, max-length, min, max, integer, values)`}}},
		{"key not a name", "- {id: a, type: string, [x]: 1}", []Problem{{"a", "has a key that is not a plain name (line 1)"}}},
		{"key twice", "- id: a\n  type: string\n  type: number", []Problem{{"a", `key "type" is given more than once`}}},
		{"duplicate id", "- {id: a, type: string}\n- {id: b, type: string}\n- {id: a, type: number}", []Problem{{"a", `duplicate id: fields[0] and fields[2] are both "a"`}}},
		{"ids equal ignoring case", "- {id: team, type: string}\n- {id: Team, type: string}", []Problem{{"Team", `duplicate id: fields[0] "team" and fields[1] "Team" differ only in case, and ids are matched ignoring case`}}},
		{"description not text", "- {id: a, type: string, description: [x]}", []Problem{{"a", "description must be text"}}},
		{"required not a bool", "- {id: a, type: string, required: maybe}", []Problem{{"a", "required must be true or false"}}},
		{"values on a number", "- {id: a, type: number, values: [1, 2]}", []Problem{{"a", "values does not apply to type number"}}},
		{"pattern on a boolean", "- {id: a, type: boolean, pattern: x}", []Problem{{"a", "pattern does not apply to type boolean"}}},
		{"max-length on an email", "- {id: a, type: email, max-length: 3}", []Problem{{"a", "max-length does not apply to type email"}}},
		{"min and max on a string", "- {id: a, type: string, min: 1, max: 2}", []Problem{{"a", "min does not apply to type string"}, {"a", "max does not apply to type string"}}},
		{"integer on a select", "- {id: a, type: select, values: [x], integer: false}", []Problem{{"a", "integer does not apply to type select"}}},
		{"select without values", "- {id: a, type: select}", []Problem{{"a", "type select needs values"}}},
		{"multiselect with null values", "- {id: a, type: multiselect, values: ~}", []Problem{{"a", "type multiselect needs values"}}},
		{"empty values", "- {id: a, type: select, values: []}", []Problem{{"a", "values must not be empty"}}},
		{"values not a list", "- {id: a, type: select, values: HR}", []Problem{{"a", "values must be a list, like [HR, Finance, IT]"}}},
		{"duplicate values", "- {id: a, type: select, values: [HR, IT, HR]}", []Problem{{"a", `value "HR" is listed more than once (values are matched ignoring case)`}}},
		{"values equal ignoring case", "- {id: a, type: multiselect, values: [it, IT]}", []Problem{{"a", `value "IT" is listed more than once (values are matched ignoring case)`}}},
		{"empty value", "- {id: a, type: select, values: [x, '']}", []Problem{{"a", "values[1] must be non-empty text"}}},
		{"null value", "- {id: a, type: select, values: [x, ~]}", []Problem{{"a", "values[1] must be non-empty text"}}},
		{"list value", "- {id: a, type: select, values: [[x]]}", []Problem{{"a", "values[0] must be non-empty text"}}},
		{"value with surrounding space", "- {id: a, type: select, values: [' x']}", []Problem{{"a", `value " x" has surrounding space`}}},
		{"value with a control character", "- {id: a, type: select, values: [\"a\\x1b\"]}", []Problem{{"a", `value "a\x1b" holds a control character`}}},
		{"multiselect value with a comma", "- {id: a, type: multiselect, values: ['a,b', c]}", []Problem{{"a", `value "a,b" holds a comma, which separates multiselect values`}}},
		{"invalid pattern", "- {id: a, type: string, pattern: '[a-'}", []Problem{{"a", "pattern is not a valid regular expression: error parsing regexp: missing closing ]: `[a-`"}}},
		{"pattern that would escape its anchors", "- {id: a, type: string, pattern: 'a)|(b'}", []Problem{{"a", "pattern is not a valid regular expression: error parsing regexp: unexpected ): `a)|(b`"}}},
		{"pattern not text", "- {id: a, type: string, pattern: [x]}", []Problem{{"a", "pattern must be text"}}},
		{"negative max-length", "- {id: a, type: string, max-length: -1}", []Problem{{"a", "max-length must be a whole number of at least 1"}}},
		{"zero max-length", "- {id: a, type: string, max-length: 0}", []Problem{{"a", "max-length must be a whole number of at least 1"}}},
		{"max-length not a number", "- {id: a, type: string, max-length: ten}", []Problem{{"a", "max-length must be a whole number of at least 1"}}},
		{"min greater than max", "- {id: a, type: number, min: 10, max: 1.5}", []Problem{{"a", "min 10 is greater than max 1.5"}}},
		{"min not a number", "- {id: a, type: number, min: low}", []Problem{{"a", "min must be a finite number"}}},
		{"infinite max", "- {id: a, type: number, max: .inf}", []Problem{{"a", "max must be a finite number"}}},
		{"NaN min", "- {id: a, type: number, min: .nan}", []Problem{{"a", "min must be a finite number"}}},
		{"integer not a bool", "- {id: a, type: number, integer: 2}", []Problem{{"a", "integer must be true or false"}}},
		{"default not in values", "- {id: a, type: select, values: [HR, IT], default: Sales}", []Problem{{"a", "default must be one of HR, IT"}}},
		{"default out of range", "- {id: a, type: number, min: 1, max: 100, default: 0}", []Problem{{"a", "default must be a number between 1 and 100"}}},
		{"default not whole", "- {id: a, type: number, integer: true, default: 1.5}", []Problem{{"a", "default must be a whole number"}}},
		{"default against pattern", "- {id: a, type: string, pattern: '[0-9]+', default: x1}", []Problem{{"a", "default must match the pattern [0-9]+"}}},
		{"default too long", "- {id: a, type: string, max-length: 2, default: abc}", []Problem{{"a", "default must be at most 2 characters"}}},
		{"default not a bool", "- {id: a, type: boolean, default: maybe}", []Problem{{"a", "default must be true or false"}}},
		{"default not a calendar date", "- {id: a, type: date, default: 2024-02-30}", []Problem{{"a", "default must be a date as YYYY-MM-DD"}}},
		{"empty default", "- {id: a, type: string, default: ''}", []Problem{{"a", "default must not be empty"}}},
		{"default a mapping", "- {id: a, type: string, default: {x: 1}}", []Problem{{"a", "default must be a single value"}}},
		{"list default for a select", "- {id: a, type: select, values: [x], default: [x]}", []Problem{{"a", "default must be a single value"}}},
		{"multiselect default with a list item", "- {id: a, type: multiselect, values: [x], default: [[x]]}", []Problem{{"a", "default must be a list of values"}}},
		{"multiselect default not in values", "- {id: a, type: multiselect, values: [x, y], default: [x, z]}", []Problem{{"a", `default must be one or more of x, y, comma-separated (not "z")`}}},
		{"default not checked against unsound options", "- {id: a, type: number, min: 5, max: 1, default: 3}", []Problem{{"a", "min 5 is greater than max 1"}}},
		{
			name: "every problem of every field",
			yaml: `
- id: team
  type: select
  values: [HR, HR]
- type: number
  min: 1
- id: rollout
  type: number
  min: 1
  max: 100
  default: 500
  max_length: 3
- id: Team
  type: boolean
`,
			want: []Problem{
				{"team", `value "HR" is listed more than once (values are matched ignoring case)`},
				{"fields[1]", "id is required"},
				{"rollout", `unknown key "max_length" (did you mean "max-length"?)`},
				{"rollout", "default must be a number between 1 and 100"},
				{"Team", `duplicate id: fields[0] "team" and fields[3] "Team" differ only in case, and ids are matched ignoring case`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.yaml)
			if got != nil {
				t.Errorf("Parse returned a schema with an error: %v", got)
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v; want a *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, verr.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNotAList(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"invalid YAML", "- id: [", "fields are not valid YAML: yaml: line 1: did not find expected node content"},
		{"a mapping", "id: reason\ntype: string\n", "fields must be a YAML list of field definitions (line 1)"},
		{"a scalar", "\n\nreason", "fields must be a YAML list of field definitions (line 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.yaml)
			if got != nil || err == nil {
				t.Fatalf("Parse = %v, %v; want an error only", got, err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrorReadsAsOneLine(t *testing.T) {
	_, err := Parse("- {id: rollout, type: number, min: 1, max: 100, default: 0}\n- {id: reason}\n")
	want := "rollout: default must be a number between 1 and 100; reason: type is required (one of boolean, string, number, select, multiselect, date, datetime, duration, email, url)"
	if err == nil || err.Error() != want || strings.Contains(err.Error(), "\n") {
		t.Errorf("Parse error = %v; want %q", err, want)
	}
}
