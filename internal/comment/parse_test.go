package comment

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// testFieldIDs are the gate fields the tests use; "Team" checks that keys
// come back as spelled in fieldIDs.
var testFieldIDs = []string{"reason", "rollout", "url", "Team", "ticket-id"}

func testWords(t testing.TB) Words {
	t.Helper()
	w, err := ParseWords("ship it, .*, a+, [x], (y|z), déployer", "stop the line, ^no$, ✋")
	if err != nil {
		t.Fatalf("ParseWords: %v", err)
	}
	return w
}

func TestParseDefaultWords(t *testing.T) {
	def := DefaultWords()
	words := map[approval.Decision][]string{approval.Approve: def.Approve, approval.Reject: def.Reject}
	variants := []struct {
		name string
		form func(string) string
	}{
		{"as is", func(w string) string { return w }},
		{"upper case", strings.ToUpper},
		{"title case", func(w string) string { return strings.ToUpper(w[:1]) + w[1:] }},
		{"slash", func(w string) string { return "/" + w }},
		{"dot", func(w string) string { return w + "." }},
		{"bang", func(w string) string { return w + "!" }},
		{"run of punctuation", func(w string) string { return w + "!!.!" }},
		{"slash, case and bang", func(w string) string { return "/" + strings.ToUpper(w) + "!" }},
		{"surrounding spaces", func(w string) string { return " \t" + w + " \u00a0" }},
		{"space before punctuation", func(w string) string { return w + " !" }},
		{"leading blank lines", func(w string) string { return "\n \n\t\n" + w }},
		{"CRLF and more lines", func(w string) string { return w + "\r\nthanks\r\n" }},
		{"BOM", func(w string) string { return "\ufeff" + w }},
	}
	for want, list := range words {
		for _, word := range list {
			for _, v := range variants {
				body := v.form(word)
				t.Run(word+"/"+v.name, func(t *testing.T) {
					p, ok := Parse(body, nil, def)
					if !ok {
						t.Fatalf("Parse(%q) is discussion, want %s", body, want)
					}
					if p.Decision != want {
						t.Errorf("Parse(%q).Decision = %q, want %q", body, p.Decision, want)
					}
				})
			}
		}
	}
}

func TestParseNotADecision(t *testing.T) {
	w := testWords(t)
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"spaces only", " \t\r\n \n"},
		{"BOM only", "\ufeff"},
		{"quotes only", "> approve\n>\n  > lgtm"},
		{"html comment only", "<!-- gatehouse:opened gate=1 -->"},
		{"multi-line html comment hides the word", "<!--\napprove\n-->"},
		{"unclosed html comment hides the rest", "<!-- note\napprove"},
		{"question", "approve?"},
		{"word inside a sentence", "I approve this"},
		{"word followed by text", "approve, looks fine"},
		{"word then colon", "approve: yes"},
		{"two slashes", "//approve"},
		{"slash after the word", "approve/"},
		{"leading punctuation", "!approve"},
		{"prefix of a word", "approv"},
		{"word with a suffix", "approves"},
		{"two words", "approve approve"},
		{"reaction emoji", ":+1:"},
		{"first line is discussion, word below", "Can we wait for the canary?\napprove"},
		{"inline html before discussion", "<!-- x --> maybe later"},
		{"only slash", "/"},
		{"only punctuation", "!!!"},
		{"regex word does not match what it would match as a pattern", "anything"},
		{"regex plus is literal", "aaa"},
		{"bracket is literal", "x"},
		{"alternation is literal", "y"},
		{"split word with an inner dot", "ship. it"},
		{"markdown bold word", "**approve**"},
		{"code span word", "`approve`"},
		{"zero-width space", "approve\u200b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := Parse(tt.body, testFieldIDs, w)
			if ok {
				t.Errorf("Parse(%q) = %+v, want discussion", tt.body, p)
			}
			if diff := cmp.Diff(Parsed{}, p); diff != "" {
				t.Errorf("Parse(%q) discussion result not zero (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestParse(t *testing.T) {
	w := testWords(t)
	approve := func(fields map[string]string, comment string, problems ...string) Parsed {
		return Parsed{Decision: approval.Approve, Fields: fields, Comment: comment, Problems: problems}
	}
	reject := func(fields map[string]string, comment string, problems ...string) Parsed {
		return Parsed{Decision: approval.Reject, Fields: fields, Comment: comment, Problems: problems}
	}
	tests := []struct {
		name string
		body string
		want Parsed
	}{
		{name: "bare word", body: "approve", want: approve(nil, "")},
		{name: "extra approve word with spaces", body: "Ship It!", want: approve(nil, "")},
		{name: "extra word with collapsed spaces", body: "/ship \t  it.", want: approve(nil, "")},
		{name: "extra reject word", body: "stop  the line", want: reject(nil, "")},
		{name: "regex word matches itself", body: ".*", want: approve(nil, "")},
		{name: "regex plus matches itself", body: "A+!", want: approve(nil, "")},
		{name: "bracket word matches itself", body: "[x]", want: approve(nil, "")},
		{name: "alternation word matches itself", body: "(Y|Z)", want: approve(nil, "")},
		{name: "anchored word matches itself", body: "^NO$", want: reject(nil, "")},
		{name: "unicode word case-folded", body: "DÉPLOYER", want: approve(nil, "")},
		{name: "emoji word", body: "✋", want: reject(nil, "")},
		{name: "default word by Unicode simple folding", body: "YEſ", want: approve(nil, "")},
		{name: "no-break spaces", body: "ship\u00a0\u00a0it\u00a0!", want: approve(nil, "")},
		{
			name: "quote before the decision",
			body: "> Approval needed: deploy #12\n> Reply approve or reject.\n\nlgtm\nreason: fine",
			want: approve(map[string]string{"reason": "fine"}, ""),
		},
		{
			name: "email reply quoting below",
			body: "reject\r\nCanary is red.\r\n\r\nOn Tue, Gatehouse wrote:\r\n> approve\r\n> reason: x\r\n",
			want: reject(nil, "Canary is red.\n\nOn Tue, Gatehouse wrote:"),
		},
		{
			name: "indented quote ignored",
			body: "  > quoted\napprove\n   > also quoted\ntext",
			want: approve(nil, "text"),
		},
		{
			name: "app marker before the decision",
			body: "<!-- gatehouse:response gate=7 -->\napprove",
			want: approve(nil, ""),
		},
		{
			name: "several html comments on one line",
			body: "<!-- a --> <!-- b -->\n/approve",
			want: approve(nil, ""),
		},
		{
			name: "self-closing html comments",
			body: "<!-->\n<!--->\napprove",
			want: approve(nil, ""),
		},
		{
			name: "text after a leading html comment",
			body: "<!-- marker -->approve",
			want: approve(nil, ""),
		},
		{
			name: "multi-line html comment after the decision is hidden",
			body: "approve\n<!--\nreason: hidden\n-->\nreason: shown",
			want: approve(map[string]string{"reason": "shown"}, ""),
		},
		{
			name: "text after a closing html comment",
			body: "approve\n<!--\nhidden\n--> visible",
			want: approve(nil, "visible"),
		},
		{
			name: "html comment inside a line is text",
			body: "approve\nsee <!-- x --> here",
			want: approve(nil, "see <!-- x --> here"),
		},
		{
			name: "quote line does not open an html comment",
			body: "> <!--\napprove\ntext",
			want: approve(nil, "text"),
		},
		{
			name: "fields and comment",
			body: "approve\nreason: canary is green\nrollout: 25\n\nChecked the dashboards.\nAll good.",
			want: approve(map[string]string{"reason": "canary is green", "rollout": "25"}, "Checked the dashboards.\nAll good."),
		},
		{
			name: "field ids case-insensitive, canonical keys",
			body: "yes\nREASON: ok\nteam: Finance\nTicket-ID: OPS-1",
			want: approve(map[string]string{"reason": "ok", "Team": "Finance", "ticket-id": "OPS-1"}, ""),
		},
		{
			name: "spaces around the colon",
			body: "yes\n  rollout :10\nreason  :   spaced out  ",
			want: approve(map[string]string{"rollout": "10", "reason": "spaced out"}, ""),
		},
		{
			name: "colons in the value",
			body: "approve\nurl: https://example.com:8443/a?b=c:d",
			want: approve(map[string]string{"url": "https://example.com:8443/a?b=c:d"}, ""),
		},
		{
			name: "empty value",
			body: "approve\nreason:",
			want: approve(map[string]string{"reason": ""}, ""),
		},
		{
			name: "unknown key is free text",
			body: "approve\nNote: checked logs\nreason: ok",
			want: approve(map[string]string{"reason": "ok"}, "Note: checked logs"),
		},
		{
			name: "key with spaces is free text",
			body: "approve\nthe reason: unclear",
			want: approve(nil, "the reason: unclear"),
		},
		{
			name: "field given twice keeps the first",
			body: "approve\nreason: first\nReason: second\nreason: third\nrollout: 1\nrollout: 2",
			want: approve(map[string]string{"reason": "first", "rollout": "1"}, "",
				`field "reason" is given more than once; the first value counts`,
				`field "rollout" is given more than once; the first value counts`),
		},
		{
			name: "quoted field is ignored",
			body: "approve\n> reason: quoted\nreason: mine",
			want: approve(map[string]string{"reason": "mine"}, ""),
		},
		{
			name: "field before the decision makes it discussion",
			body: "reason: x\napprove",
			want: Parsed{},
		},
		{
			name: "second decision word is free text",
			body: "approve\nreject",
			want: approve(nil, "reject"),
		},
		{
			name: "blank lines collapse, line breaks kept",
			body: "deny\n\n\n  First line.  \nSecond line.\n\n\n\nThird.\n\n",
			want: reject(nil, "First line.\nSecond line.\n\nThird."),
		},
		{
			name: "indentation inside the comment kept",
			body: "approve\n   steps:\n   - one\n     - nested",
			want: approve(nil, "steps:\n   - one\n     - nested"),
		},
		{
			name: "quotes and fields do not split paragraphs",
			body: "approve\nline one\n> quoted\nreason: r\nline two",
			want: approve(map[string]string{"reason": "r"}, "line one\nline two"),
		},
		{
			name: "CRLF",
			body: "Rejected.\r\nreason: tests fail\r\n\r\nSee run 42.\r\n",
			want: reject(map[string]string{"reason": "tests fail"}, "See run 42."),
		},
		{
			name: "lone CR line breaks",
			body: "approve\rreason: old mac\rbye",
			want: approve(map[string]string{"reason": "old mac"}, "bye"),
		},
		{
			name: "BOM",
			body: "\ufeffapprove\nreason: bom",
			want: approve(map[string]string{"reason": "bom"}, ""),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := Parse(tt.body, testFieldIDs, w)
			if wantOK := tt.want.Decision != ""; ok != wantOK {
				t.Errorf("Parse(%q) ok = %v, want %v", tt.body, ok, wantOK)
			}
			if diff := cmp.Diff(tt.want, p); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestParseHandBuiltWords(t *testing.T) {
	tests := []struct {
		name string
		w    Words
		body string
		want approval.Decision
	}{
		{"word normalized at compare time", Words{Approve: []string{"  /Ship   It! "}}, "ship it", approval.Approve},
		{"word in both lists rejects", Words{Approve: []string{"maybe"}, Reject: []string{"MAYBE"}}, "maybe", approval.Reject},
		{"empty word never matches", Words{Approve: []string{"", "/"}}, "/", ""},
		{"no words", Words{}, "approve", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := Parse(tt.body, nil, tt.w)
			if ok != (tt.want != "") || p.Decision != tt.want {
				t.Errorf("Parse(%q) = %q, %v; want %q", tt.body, p.Decision, ok, tt.want)
			}
		})
	}
}

func TestParseWithoutFields(t *testing.T) {
	body := "approve\nreason: ok"
	p, ok := Parse(body, nil, DefaultWords())
	want := Parsed{Decision: approval.Approve, Comment: "reason: ok"}
	if diff := cmp.Diff(want, p); diff != "" || !ok {
		t.Errorf("Parse(%q) with no fields = %v (-want +got):\n%s", body, ok, diff)
	}
}
