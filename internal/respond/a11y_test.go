package respond

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

var controlTag = regexp.MustCompile(`<(input|select|textarea|button)\b[^>]*>`)

// attr is the value of an attribute of an HTML tag.
func attr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

// focusOrder is the controls of a page that Tab reaches, in order: "name"
// or "name=value" for boxes and buttons.
func focusOrder(body string) []string {
	var out []string
	for _, tag := range controlTag.FindAllString(body, -1) {
		if attr(tag, "type") == "hidden" || strings.Contains(tag, " disabled") || strings.Contains(tag, " hidden") {
			continue
		}
		name := attr(tag, "name")
		if t := attr(tag, "type"); t == "checkbox" || strings.HasPrefix(tag, "<button") {
			name += "=" + attr(tag, "value")
		}
		out = append(out, name)
	}
	return out
}

// checkAccessible checks that every control of a page has a label, and
// that every id it is described by exists.
func checkAccessible(t *testing.T, body string) {
	t.Helper()
	for _, tag := range controlTag.FindAllString(body, -1) {
		if strings.HasPrefix(tag, "<button") || attr(tag, "type") == "hidden" {
			continue
		}
		id := attr(tag, "id")
		if id == "" || !strings.Contains(body, `<label for="`+id+`">`) {
			t.Errorf("control without a label: %s", tag)
		}
	}
	for _, m := range regexp.MustCompile(`aria-describedby="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		for id := range strings.FieldsSeq(m[1]) {
			if !strings.Contains(body, ` id="`+id+`"`) {
				t.Errorf("aria-describedby names %q, which is not on the page", id)
			}
		}
	}
}

func TestFormIsAccessible(t *testing.T) {
	fieldsFirst := []string{"reason", "rollout", "notify=true", "teams=HR", "teams=Finance", "teams=IT", "_comment"}
	tests := []struct {
		name string
		// open returns the page.
		open func(e *env) page
		want []string
	}{
		{"email form", func(e *env) page { return e.browser.get(e.emailLink("g1", alice)) },
			append(fieldsFirst, "decision=approve", "decision=reject")},
		{"email form, reject chosen", func(e *env) page { return e.browser.get(e.emailLink("g1", alice) + "?decision=reject") },
			append(fieldsFirst, "decision=reject", "decision=approve")},
		{"email form with problems", func(e *env) page {
			e.gates.result = func(info gates.Info, _ gates.Answer) gates.Answered {
				return gates.Answered{Result: gates.Invalid, Problems: []string{"reason: required", "teams: choose at least one"}, Gate: info}
			}
			link := e.emailLink("g1", alice)
			return e.browser.post(link, answerForm(csrfOf(t, e.browser.get(link)), "approve"))
		}, append(fieldsFirst, "decision=approve", "decision=reject")},
		{"channel form", func(e *env) page { return e.browser.signIn(e.link("g1"), "alice") },
			append(fieldsFirst, "decision=approve", "decision=reject")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.open(newEnv(t, envOptions{}))
			if p.status != http.StatusOK && p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d:\n%s", p.status, p.body)
			}
			body := p.body[strings.Index(p.body, "<main>"):]
			if diff := cmp.Diff(tt.want, focusOrder(body)); diff != "" {
				t.Errorf("focus order (-want +got):\n%s", diff)
			}
			checkAccessible(t, body)
			if t.Failed() {
				t.Logf("page:\n%s", p.body)
			}
		})
	}
}

func TestHeadingsReadAlone(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.browser.get(e.emailLink("g1", alice))
	var got []string
	for _, m := range regexp.MustCompile(`<h([1-6])>([^<]*)</h[1-6]>`).FindAllStringSubmatch(p.body, -1) {
		got = append(got, "h"+m[1]+" "+m[2])
	}
	if diff := cmp.Diff([]string{"h1 Deploy g1", "h2 Instructions", "h2 Your answer"}, got); diff != "" {
		t.Errorf("headings (-want +got):\n%s", diff)
	}
}
