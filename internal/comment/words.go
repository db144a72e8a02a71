package comment

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Words are the words that decide; the defaults plus the action's
// approve-words / reject-words.
type Words struct{ Approve, Reject []string }

// DefaultWords returns the contract's decision words.
func DefaultWords() Words {
	return Words{
		Approve: []string{"approve", "approved", "lgtm", "yes"},
		Reject:  []string{"reject", "rejected", "deny", "denied", "no"},
	}
}

// ParseWords returns the default words plus the extra words of the
// approve-words and reject-words inputs, each a comma- or newline-separated
// list. Words may contain spaces ("ship it"); blank entries, such as the
// trailing newline of a YAML block, are skipped. Each word is kept in the
// form Parse compares: trimmed, runs of spaces collapsed, without a leading
// '/' or trailing '.' and '!'. Duplicates are dropped. The error names every
// word that can never decide (nothing left once trimmed, a line break, a
// leading '>' or "<!--") and every word that both approves and rejects.
func ParseWords(approveInput, rejectInput string) (Words, error) {
	w := DefaultWords()
	var bad []string
	w.Approve, bad = addWords(w.Approve, "approve-words", approveInput, bad)
	w.Reject, bad = addWords(w.Reject, "reject-words", rejectInput, bad)
	for _, a := range w.Approve {
		for _, r := range w.Reject {
			if strings.EqualFold(a, r) {
				bad = append(bad, fmt.Sprintf("%q is both an approve word and a reject word", a))
			}
		}
	}
	if len(bad) > 0 {
		return Words{}, fmt.Errorf("decision words: %s", strings.Join(bad, "; "))
	}
	return w, nil
}

// addWords appends the words of one input to list, skipping duplicates, and
// appends a message to bad for each word that can never decide.
func addWords(list []string, input, s string, bad []string) ([]string, []string) {
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	for _, entry := range entries {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		word := normalize(entry)
		switch {
		case word == "":
			bad = append(bad, fmt.Sprintf("%s: %q is empty once spaces, a leading \"/\" and trailing \".\" or \"!\" are trimmed", input, entry))
			continue
		case strings.ContainsAny(entry, "\v\f\u0085\u2028\u2029"):
			bad = append(bad, fmt.Sprintf("%s: %q contains a line break", input, entry))
			continue
		case strings.HasPrefix(word, ">"):
			bad = append(bad, fmt.Sprintf("%s: %q starts with \">\", which marks a quoted line", input, entry))
			continue
		case strings.HasPrefix(word, "<!--"):
			bad = append(bad, fmt.Sprintf("%s: %q starts with \"<!--\", which opens a hidden HTML comment", input, entry))
			continue
		}
		if !containsFold(list, word) {
			list = append(list, word)
		}
	}
	return list, bad
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// normalize returns s in the form decision words are compared in: trimmed,
// without one leading '/' or a trailing run of '.' and '!', with each run of
// white space inside it turned into one space.
func normalize(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "/")
	s = strings.TrimRightFunc(s, func(r rune) bool { return r == '.' || r == '!' || unicode.IsSpace(r) })
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	return collapseSpace(s)
}

// collapseSpace turns each run of white space in s into one space. It
// returns s itself, without allocating, when there is nothing to change.
func collapseSpace(s string) string {
	if !needsCollapse(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			space = true
		} else {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsCollapse(s string) bool {
	prev := false
	for _, r := range s {
		if !unicode.IsSpace(r) {
			prev = false
			continue
		}
		if r != ' ' || prev {
			return true
		}
		prev = true
	}
	return false
}
