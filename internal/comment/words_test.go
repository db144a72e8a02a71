package comment

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultWords(t *testing.T) {
	want := Words{
		Approve: []string{"approve", "approved", "lgtm", "yes"},
		Reject:  []string{"reject", "rejected", "deny", "denied", "no"},
	}
	if diff := cmp.Diff(want, DefaultWords()); diff != "" {
		t.Errorf("DefaultWords() mismatch (-want +got):\n%s", diff)
	}
}

func TestDefaultWordsAreFresh(t *testing.T) {
	w := DefaultWords()
	w.Approve[0] = "changed"
	if got := DefaultWords().Approve[0]; got != "approve" {
		t.Errorf("DefaultWords().Approve[0] = %q after changing an earlier result", got)
	}
}

func TestParseWords(t *testing.T) {
	def := DefaultWords()
	tests := []struct {
		name            string
		approve, reject string
		want            Words
	}{
		{name: "no extra words", want: def},
		{
			name:    "comma separated",
			approve: "ship it,go",
			reject:  "stop, halt",
			want: Words{
				Approve: append(def.Approve, "ship it", "go"),
				Reject:  append(def.Reject, "stop", "halt"),
			},
		},
		{
			name:    "newline separated with the trailing newline of a YAML block",
			approve: "ship it\ngo\n",
			reject:  "stop\r\nhalt\r\n",
			want: Words{
				Approve: append(def.Approve, "ship it", "go"),
				Reject:  append(def.Reject, "stop", "halt"),
			},
		},
		{
			name:    "blank entries are skipped",
			approve: "go,, ,\n\n  \nrun,",
			want:    Words{Approve: append(def.Approve, "go", "run"), Reject: def.Reject},
		},
		{
			name:    "kept in compared form",
			approve: "  ship \t  it!  , /deploy., GO!!",
			want:    Words{Approve: append(def.Approve, "ship it", "deploy", "GO"), Reject: def.Reject},
		},
		{
			name:    "duplicates dropped case-insensitively",
			approve: "LGTM, go, Go, /go!",
			reject:  "No, DENY",
			want:    Words{Approve: append(def.Approve, "go"), Reject: def.Reject},
		},
		{
			name:    "regular expression characters kept literally",
			approve: ".*, a+, [x], (y|z), ^$, \\d",
			want:    Words{Approve: append(def.Approve, ".*", "a+", "[x]", "(y|z)", "^$", `\d`), Reject: def.Reject},
		},
		{
			name:    "unicode words",
			approve: "déployer, ✅",
			reject:  "НЕТ",
			want: Words{
				Approve: append(def.Approve, "déployer", "✅"),
				Reject:  append(def.Reject, "НЕТ"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWords(tt.approve, tt.reject)
			if err != nil {
				t.Fatalf("ParseWords(%q, %q) error: %v", tt.approve, tt.reject, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseWords(%q, %q) mismatch (-want +got):\n%s", tt.approve, tt.reject, diff)
			}
		})
	}
}

func TestParseWordsErrors(t *testing.T) {
	tests := []struct {
		name            string
		approve, reject string
		// want are the parts the error must name.
		want []string
	}{
		{name: "only a slash", approve: "go, /", want: []string{`approve-words: "/" is empty`}},
		{name: "only punctuation", reject: "!!.", want: []string{`reject-words: "!!." is empty`}},
		{name: "slash and spaces", reject: " / !", want: []string{`reject-words: "/ !" is empty`}},
		{name: "line separator", approve: "ship\u2028it", want: []string{`approve-words: "ship\u2028it" contains a line break`}},
		{name: "vertical tab", reject: "a\vb", want: []string{`reject-words: "a\vb" contains a line break`}},
		{name: "quote marker", approve: "> ok", want: []string{`approve-words: "> ok" starts with ">"`}},
		{name: "html comment", approve: "<!-- ok -->", want: []string{`approve-words: "<!-- ok -->" starts with "<!--"`}},
		{name: "approve word that is a default reject word", approve: "No", want: []string{`"No" is both an approve word and a reject word`}},
		{name: "reject word that is a default approve word", reject: "/LGTM!", want: []string{`"lgtm" is both an approve word and a reject word`}},
		{name: "extra word in both inputs", approve: "ship it", reject: "Ship  It", want: []string{`"ship it" is both an approve word and a reject word`}},
		{
			name:    "every problem reported",
			approve: "/, ship it",
			reject:  "ship it, !",
			want: []string{
				`approve-words: "/" is empty`,
				`reject-words: "!" is empty`,
				`"ship it" is both`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWords(tt.approve, tt.reject)
			if err == nil {
				t.Fatalf("ParseWords(%q, %q) = %v, want an error", tt.approve, tt.reject, got)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseWords(%q, %q) error %q does not contain %q", tt.approve, tt.reject, err, want)
				}
			}
			if diff := cmp.Diff(Words{}, got); diff != "" {
				t.Errorf("ParseWords(%q, %q) returned words with its error (-want +got):\n%s", tt.approve, tt.reject, diff)
			}
		})
	}
}
