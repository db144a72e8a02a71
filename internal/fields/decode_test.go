package fields

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecode(t *testing.T) {
	s := mustParse(t, sample)
	tests := []struct {
		name         string
		json         string
		want         Values
		wantProblems []Problem
		wantErr      string
	}{
		{
			name: "every type",
			json: `{"reason":"hotfix","team":"IT","rollout":12.5,"replicas":3,"regions":["eu","ap"],"urgent":false,
				"day":"2024-05-01","at":"2024-05-01T10:00:00Z","window":"168h0m0s","owner":"ops@corp.example",
				"runbook":"https://wiki.example/r","ticket":"OPS-7"}`,
			want: Values{
				"reason": "hotfix", "team": "IT", "rollout": 12.5, "replicas": int64(3),
				"regions": []string{"eu", "ap"}, "urgent": false, "day": "2024-05-01",
				"at": "2024-05-01T10:00:00Z", "window": "168h0m0s", "owner": "ops@corp.example",
				"runbook": "https://wiki.example/r", "ticket": "OPS-7",
			},
		},
		{name: "integral number of a non-integer field", json: `{"rollout":10}`, want: Values{"rollout": 10.0}},
		{name: "large integer exactly", json: `{"replicas":9007199254740993}`, want: Values{"replicas": int64(9007199254740993)}},
		{name: "null is no value", json: `{"team":null}`, want: Values{}},
		{name: "null object", json: `null`, want: Values{}},
		{name: "empty object", json: `{}`, want: Values{}},
		{name: "ids ignoring case", json: `{"TEAM":"IT"}`, want: Values{"team": "IT"}},
		{name: "required fields are not checked", json: `{"team":"HR"}`, want: Values{"team": "HR"}},
		{name: "canonical form", json: `{"team":"it","regions":["ap","EU","ap"]}`, want: Values{"team": "IT", "regions": []string{"eu", "ap"}}},
		{name: "bool as string", json: `{"urgent":"true"}`, wantProblems: []Problem{{"urgent", "must be true or false"}}},
		{name: "number as string", json: `{"rollout":"10"}`, wantProblems: []Problem{{"rollout", "must be a number between 1 and 100"}}},
		{name: "number out of range", json: `{"rollout":0}`, wantProblems: []Problem{{"rollout", "must be a number between 1 and 100"}}},
		{name: "integer field with fraction", json: `{"replicas":1.5}`, wantProblems: []Problem{{"replicas", "must be a whole number of at least 0"}}},
		{name: "string as number", json: `{"reason":5}`, wantProblems: []Problem{{"reason", "must be text"}}},
		{name: "multiselect as string", json: `{"regions":"eu"}`, wantProblems: []Problem{{"regions", "must be a list of text values"}}},
		{name: "multiselect with a number", json: `{"regions":["eu",1]}`, wantProblems: []Problem{{"regions", "must be a list of text values"}}},
		{name: "multiselect empty", json: `{"regions":[]}`, wantProblems: []Problem{{"regions", "must not be empty"}}},
		{name: "multiselect item with a comma", json: `{"regions":["eu,us"]}`, wantProblems: []Problem{{"regions", `must be one or more of eu, us, ap, comma-separated (not "eu,us")`}}},
		{name: "select unknown", json: `{"team":"Sales"}`, wantProblems: []Problem{{"team", "must be one of HR, Finance, IT"}}},
		{name: "given twice", json: `{"team":"HR","Team":"IT"}`, wantProblems: []Problem{{"team", "given more than once"}}},
		{
			name: "every problem",
			json: `{"colour":"red","day":"2024-02-30","urgent":1}`,
			wantProblems: []Problem{
				{"colour", "unknown field (fields are reason, team, rollout, replicas, regions, urgent, day, at, window, owner, runbook, ticket)"},
				{"day", "must be a date as YYYY-MM-DD"},
				{"urgent", "must be true or false"},
			},
		},
		{name: "not JSON", json: `{"team":`, wantErr: "decode field values: unexpected end of JSON input"},
		{name: "not an object", json: `["team"]`, wantErr: "decode field values: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Decode([]byte(tt.json))
			var verr *ValidationError
			switch {
			case tt.wantErr != "":
				if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
			case tt.wantProblems != nil:
				if !errors.As(err, &verr) {
					t.Fatalf("Decode error = %v; want problems", err)
				}
				if diff := cmp.Diff(tt.wantProblems, verr.Problems); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
			case err != nil:
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValuesJSONRoundTrip(t *testing.T) {
	s := mustParse(t, sample)
	for name, raw := range map[string]map[string]string{
		"defaults only": {"reason": "x"},
		"every field": {
			"reason": "line one\nline \"two\" <b>", "team": "Finance", "rollout": "99.99", "replicas": "9223372036854775807",
			"regions": "us,ap", "urgent": "off", "day": "2024-12-31", "at": "2024-05-01T10:00:00.5-07:00",
			"window": "1.5s", "owner": "ops@corp.example", "runbook": "https://wiki.example/r?a=1&b=2", "ticket": "OPS-7",
		},
		"very small and large numbers": {"reason": "x", "rollout": "1.0000000000000002", "replicas": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := s.Resolve(raw)
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s): %v", data, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip through %s (-want +got):\n%s", data, diff)
			}
		})
	}
}

func TestSchemaJSONRoundTrip(t *testing.T) {
	want := mustParse(t, sample+`
- {id: ok, type: boolean, default: true}
- {id: count, type: number, integer: true, default: 3}
- {id: team2, type: select, values: [a, b], default: b, description: "Which?"}
`)
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Schema
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal(%s): %v", data, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip through %s (-want +got):\n%s", data, diff)
	}
}

func TestFieldUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"bad default", `{"id":"team","type":"select","values":["HR"],"default":"IT"}`, "field team: default must be one of HR"},
		{"default of the wrong kind", `{"id":"n","type":"number","integer":true,"default":"3"}`, "field n: default must be a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Field
			err := json.Unmarshal([]byte(tt.json), &f)
			if diff := cmp.Diff(tt.want, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	var f Field
	if err := json.Unmarshal([]byte(`"team"`), &f); err == nil {
		t.Errorf("Unmarshal of a string into a Field = %+v; want an error", f)
	}
}
