package actionrun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

func TestOutputs(t *testing.T) {
	schema, err := fields.Parse("- id: reason\n  type: string\n- id: rollout\n  type: number\n  integer: true\n  default: 10\n- id: regions\n  type: multiselect\n  values: [eu, us]\n")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	alice := approval.Response{
		ID: "comment:7", Actor: approval.Actor{Login: "alice"}, Via: approval.ViaComment, Decision: approval.Approve,
		Fields:  fields.Values{"reason": "staging is green", "rollout": int64(25), "regions": []string{"eu", "us"}},
		Comment: "ship it", At: at, URL: "https://github.com/o/r/issues/3#issuecomment-7",
	}
	got, err := outputs(schema, Result{
		Outcome: approval.Outcome{
			Status: approval.Approved, Approved: true, DecidedBy: "alice", Counted: []approval.Response{alice},
			Approvers: []string{"alice"}, Fields: alice.Fields, Comment: "ship it", SettledAt: at,
		},
		Responses:   api.Responses([]approval.Response{alice}),
		IssueNumber: 3, IssueURL: "https://github.com/o/r/issues/3",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"decision", "approved"},
		{"approved", "true"},
		{"approvers", "alice"},
		{"decided-by", "alice"},
		{"fields", `{"reason":"staging is green","regions":["eu","us"],"rollout":25}`},
		{"comment", "ship it"},
		{"responses", `[{"actor":"alice","via":"comment","decision":"approve","fields":{"reason":"staging is green","regions":["eu","us"],"rollout":25},"comment":"ship it","at":"2026-11-21T09:30:00Z","url":"https://github.com/o/r/issues/3#issuecomment-7"}]`},
		{"issue-number", "3"},
		{"issue-url", "https://github.com/o/r/issues/3"},
		{"field-reason", "staging is green"},
		{"field-rollout", "25"},
		{"field-regions", "eu,us"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

// Responses read from the app's JSON give the same output as the typed
// responses of standalone mode.
func TestOutputsResponsesFromTheApp(t *testing.T) {
	schema, err := fields.Parse("- id: rollout\n  type: number\n  integer: true\n- id: ratio\n  type: number\n- id: regions\n  type: multiselect\n  values: [eu, us]\n")
	if err != nil {
		t.Fatal(err)
	}
	typed := api.Responses([]approval.Response{{
		Actor: approval.Actor{Login: "alice"}, Via: approval.ViaComment, Decision: approval.Approve,
		Fields: fields.Values{"rollout": int64(9007199254740993), "ratio": 0.25, "regions": []string{"eu", "us"}},
		At:     time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
	}})
	wire := `{"status":"approved","responses":[{"actor":"alice","via":"comment","decision":"approve","fields":{"rollout":9007199254740993,"ratio":0.25,"regions":["eu","us"]},"comment":"","at":"2026-11-21T10:30:00+01:00","url":""}]}`
	dec := json.NewDecoder(strings.NewReader(wire))
	dec.UseNumber()
	var view api.Gate
	if err := dec.Decode(&view); err != nil {
		t.Fatal(err)
	}
	fromApp := responsesOf(view.Responses)
	standalone, err := outputs(schema, Result{Responses: typed})
	if err != nil {
		t.Fatal(err)
	}
	app, err := outputs(schema, Result{Responses: fromApp})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(standalone, app); diff != "" {
		t.Errorf("outputs (-standalone +app):\n%s", diff)
	}
}

// A timed-out or cancelled gate reports the defaults and null for fields
// without one.
func TestOutputsDefaults(t *testing.T) {
	schema, err := fields.Parse("- id: reason\n  type: string\n- id: rollout\n  type: number\n  default: 10\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []approval.Status{approval.TimedOut, approval.Cancelled} {
		o := approval.Outcome{Status: status}
		if status == approval.TimedOut {
			o.Fields = schema.Defaults()
		}
		got, err := outputs(schema, Result{Outcome: o})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, kv := range got {
			m[kv[0]] = kv[1]
		}
		if m["fields"] != `{"reason":null,"rollout":10}` || m["field-rollout"] != "10" || m["field-reason"] != "" || m["responses"] != "[]" || m["approved"] != "false" {
			t.Errorf("%s outputs: %v", status, m)
		}
	}
}

// Values cannot break out of their frame in the output file: each gets a
// fresh delimiter.
func TestWriteOutputsFraming(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output")
	hostile := "looks fine\nghadelimiter_0\ndecision<<EOF\napproved\nEOF"
	if err := writeOutputs(path, [][2]string{{"comment", hostile}, {"decision", "rejected"}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if _, delim, _ := strings.Cut(first, "<<"); !strings.HasPrefix(delim, "ghadelimiter_") || len(delim) != len("ghadelimiter_")+32 {
		t.Fatalf("first line %q", first)
	}
	got, err := ReadOutputs(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]string{{"comment", hostile}, {"decision", "rejected"}}, got); diff != "" {
		t.Errorf("outputs read back (-want +got):\n%s", diff)
	}
}

func TestReadOutputs(t *testing.T) {
	got, err := ReadOutputs("a=1\nb<<X\nline 1\n\nline 3\nX\n\nc<<Y\nY\nd=x<<y\n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]string{{"a", "1"}, {"b", "line 1\n\nline 3"}, {"c", ""}, {"d", "x<<y"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"no equals sign", "b<<X\nnever closed"} {
		if _, err := ReadOutputs(bad); err == nil {
			t.Errorf("ReadOutputs(%q): no error", bad)
		}
	}
}
