package comment

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// Parsed is what a decision comment says.
type Parsed struct {
	Decision approval.Decision
	// Fields maps a field id (canonical, as given in fieldIDs) to the raw
	// value text; nil when the comment sets no field.
	Fields map[string]string
	// Comment is the free text: the other lines, trimmed, internal line
	// breaks kept.
	Comment string
	// Problems are grammar-level problems, such as a field given twice.
	Problems []string
}

// Parse reads a comment body. ok is false when the first non-empty line is
// not a decision word: the comment is discussion and is ignored, and p is
// the zero Parsed. See the package documentation for the grammar. A word in
// both lists of a hand-built Words rejects.
func Parse(body string, fieldIDs []string, w Words) (p Parsed, ok bool) {
	var (
		s        = lines{rest: strings.TrimPrefix(body, "\ufeff")}
		decided  bool
		text     strings.Builder
		blank    bool
		reported map[string]bool
	)
	for {
		line, more := s.next()
		if !more {
			break
		}
		if strings.TrimSpace(line) == "" {
			blank = text.Len() > 0
			continue
		}
		if !decided {
			d, ok := decide(line, w)
			if !ok {
				return Parsed{}, false
			}
			p.Decision, decided = d, true
			continue
		}
		if id, value, ok := field(line, fieldIDs); ok {
			if _, dup := p.Fields[id]; dup {
				if !reported[id] {
					if reported == nil {
						reported = map[string]bool{}
					}
					reported[id] = true
					p.Problems = append(p.Problems, fmt.Sprintf("field %q is given more than once; the first value counts", id))
				}
				continue
			}
			if p.Fields == nil {
				p.Fields = map[string]string{}
			}
			p.Fields[id] = value
			continue
		}
		line = strings.TrimRightFunc(line, unicode.IsSpace)
		if text.Len() > 0 {
			text.WriteByte('\n')
			if blank {
				text.WriteByte('\n')
			}
		} else {
			line = strings.TrimLeftFunc(line, unicode.IsSpace)
		}
		blank = false
		text.WriteString(line)
	}
	if !decided {
		return Parsed{}, false
	}
	p.Comment = text.String()
	return p, true
}

// decide reports the decision that line gives, if it is a decision word.
func decide(line string, w Words) (approval.Decision, bool) {
	key := normalize(line)
	if key == "" {
		return "", false
	}
	for _, word := range w.Reject {
		if strings.EqualFold(key, normalize(word)) {
			return approval.Reject, true
		}
	}
	for _, word := range w.Approve {
		if strings.EqualFold(key, normalize(word)) {
			return approval.Approve, true
		}
	}
	return "", false
}

// field reports whether line is "<id>: <value>" for one of fieldIDs, and
// returns that id as given in fieldIDs and the trimmed value.
func field(line string, fieldIDs []string) (id, value string, ok bool) {
	key, value, found := strings.Cut(line, ":")
	if !found {
		return "", "", false
	}
	key = strings.TrimSpace(key)
	for _, id := range fieldIDs {
		if strings.EqualFold(key, id) {
			return id, strings.TrimSpace(value), true
		}
	}
	return "", "", false
}

// lines yields the lines of a comment body that are neither quoted nor
// hidden in an HTML comment. Hidden and quoted lines are dropped, not
// returned as blank, so they never split the free text.
type lines struct {
	rest      string
	inComment bool // an HTML comment opened on an earlier line is still open
}

// next returns the next visible line; more is false at the end of the body.
func (l *lines) next() (line string, more bool) {
	for l.rest != "" {
		var raw string
		raw, l.rest = cutLine(l.rest)
		if line, ok := l.visible(raw); ok {
			return line, true
		}
	}
	return "", false
}

// visible strips the HTML comments that open raw and reports what is left,
// unless that is nothing or a quoted line.
func (l *lines) visible(raw string) (string, bool) {
	s := raw
	if l.inComment {
		i := strings.Index(s, "-->")
		if i < 0 {
			return "", false
		}
		s, l.inComment = s[i+len("-->"):], false
	}
	for {
		t := strings.TrimLeftFunc(s, unicode.IsSpace)
		if !strings.HasPrefix(t, "<!--") {
			break
		}
		// As in CommonMark, "<!-->" and "<!--->" close themselves: the
		// closing "-->" may overlap the opening "<!--".
		i := strings.Index(t[2:], "-->")
		if i < 0 {
			l.inComment = true
			return "", false
		}
		s = t[2+i+len("-->"):]
	}
	if s != raw && strings.TrimSpace(s) == "" {
		return "", false
	}
	if strings.HasPrefix(strings.TrimLeftFunc(s, unicode.IsSpace), ">") {
		return "", false
	}
	return s, true
}

// cutLine splits s after its first line break ("\n", "\r\n" or "\r").
func cutLine(s string) (line, rest string) {
	i := strings.IndexAny(s, "\r\n")
	if i < 0 {
		return s, ""
	}
	if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
		return s[:i], s[i+2:]
	}
	return s[:i], s[i+1:]
}
