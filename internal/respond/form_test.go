package respond

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

func TestFormValues(t *testing.T) {
	schema, err := fields.Parse(`
- {id: ok, type: boolean}
- {id: on, type: boolean, default: true}
- {id: teams, type: multiselect, values: [HR, IT]}
- {id: none, type: multiselect, values: [HR, IT]}
- {id: reason, type: string}
- {id: blank, type: string}
- {id: decision, type: select, values: [go, wait]}
`)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{
		"ok":       {"true"},
		"teams":    {"HR", "IT"},
		"reason":   {"first", "second"},
		"blank":    {"  "},
		"Reason":   {"other case"},
		"extra":    {"x"},
		"_comment": {"c"},
		// A field named decision comes before the buttons.
		"decision": {"wait", "reject"},
	}
	decision, rest := splitDecision(form)
	if decision != approval.Reject {
		t.Errorf("decision = %q, want reject", decision)
	}
	want := map[string]string{"ok": "true", "on": "false", "teams": "HR,IT", "reason": "first", "decision": "wait"}
	if diff := cmp.Diff(want, formValues(schema, rest)); diff != "" {
		t.Errorf("formValues (-want +got):\n%s", diff)
	}
	if d, _ := splitDecision(url.Values{}); d != "" {
		t.Errorf("decision of an empty form = %q", d)
	}
}

func TestHTMLPattern(t *testing.T) {
	for p, want := range map[string]bool{"": false, "[a-z]+": true, "(?:ab)+": true, "[[:alpha:]]+": false} {
		if got := htmlPattern(p); got != want {
			t.Errorf("htmlPattern(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestCapRunes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 3, "abc"}, {"abcd", 3, "abc"}, {"ééé", 2, "éé"}, {"", 2, ""}} {
		if got := capRunes(tt.in, tt.n); got != tt.want {
			t.Errorf("capRunes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
