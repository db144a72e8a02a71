package comment

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

func FuzzParse(f *testing.F) {
	for _, body := range []string{
		"",
		"approve",
		"/LGTM!!",
		"\ufeffRejected.\r\nreason: tests fail\r\n\r\nSee run 42.\r\n",
		"> Approval needed\n> reply approve\n\nyes\nreason: ok",
		"<!-- gatehouse:response gate=1 -->\napprove",
		"<!--\napprove\n-->",
		"<!-->\n<!--->approve",
		"approve\n<!--\nreason: hidden\n--> > quoted after",
		"approve\nreason: a\nREASON: b\nurl: https://x:1/y\nNote: free",
		"deny\n\n\n  text  \n\n\n\nmore\n> q\n",
		"Can we wait?\napprove",
		"ship   it.\nrollout :  10",
		".*\na+",
		"approve\rreason: cr\r\rtext\r",
	} {
		f.Add(body)
	}
	ids := []string{"reason", "rollout", "url", "Team"}
	w := testWords(f)
	f.Fuzz(func(t *testing.T, body string) {
		p, ok := Parse(body, ids, w)
		if !ok {
			if diff := cmp.Diff(Parsed{}, p); diff != "" {
				t.Fatalf("Parse(%q) discussion result not zero (-want +got):\n%s", body, diff)
			}
		} else if p.Decision != approval.Approve && p.Decision != approval.Reject {
			t.Errorf("Parse(%q).Decision = %q", body, p.Decision)
		}
		for id := range p.Fields {
			if !slices.Contains(ids, id) {
				t.Errorf("Parse(%q) set field %q, not one of %q", body, id, ids)
			}
		}
		if p.Comment != strings.TrimSpace(p.Comment) {
			t.Errorf("Parse(%q).Comment = %q has surrounding space", body, p.Comment)
		}
		if strings.ContainsAny(p.Comment, "\r") || strings.Contains(p.Comment, "\n\n\n") {
			t.Errorf("Parse(%q).Comment = %q has a CR or uncollapsed blank lines", body, p.Comment)
		}
		for line := range strings.SplitSeq(p.Comment, "\n") {
			if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), ">") {
				t.Errorf("Parse(%q).Comment = %q has the quoted line %q", body, p.Comment, line)
			}
		}
		again, againOK := Parse(body, ids, w)
		if diff := cmp.Diff(p, again); diff != "" || ok != againOK {
			t.Errorf("Parse(%q) differs on a second run (-first +second):\n%s", body, diff)
		}
		// Every line break (CRLF, or a lone CR) as LF: one pass per form,
		// so "\r\r\n" stays two breaks.
		lf, lfOK := Parse(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n"), ids, w)
		if diff := cmp.Diff(p, lf); diff != "" || ok != lfOK {
			t.Errorf("Parse(%q) differs with LF line breaks (-CRLF +LF):\n%s", body, diff)
		}
		quoted, quotedOK := Parse("> quoted reply\n"+strings.TrimPrefix(body, "\ufeff"), ids, w)
		if diff := cmp.Diff(p, quoted); diff != "" || ok != quotedOK {
			t.Errorf("Parse(%q) differs after a leading quote (-plain +quoted):\n%s", body, diff)
		}
	})
}
