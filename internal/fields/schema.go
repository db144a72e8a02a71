package fields

import (
	"errors"
	"maps"
	"slices"
	"strings"
)

// Problem is one thing wrong with a field definition or value.
type Problem struct {
	// Field is the field id (as given, for an unknown field), or the
	// position "fields[2]" of a definition without a usable id.
	Field   string
	Message string
}

// ValidationError lists every problem found in a schema or a set of values.
type ValidationError struct {
	Problems []Problem
}

// Error reads as one line: "rollout: must be a number between 1 and 100; reason: required".
func (e *ValidationError) Error() string { return strings.Join(e.Messages(), "; ") }

// Messages returns one "field: problem" line per problem.
func (e *ValidationError) Messages() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Field + ": " + p.Message
	}
	return out
}

// Problems lists the messages of an error from Resolve or Decode: one per
// problem for a *ValidationError, else the error's text; none for nil.
func Problems(err error) []string {
	var ve *ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return ve.Messages()
	}
	return []string{err.Error()}
}

// Lookup finds a field by id, ignoring (ASCII) case.
func (s Schema) Lookup(id string) (Field, bool) {
	for _, f := range s {
		if equalFoldASCII(f.ID, id) {
			return f, true
		}
	}
	return Field{}, false
}

// IDs returns the field ids in schema order.
func (s Schema) IDs() []string {
	ids := make([]string, len(s))
	for i, f := range s {
		ids[i] = f.ID
	}
	return ids
}

// Defaults returns every field's default value (fields without one are left out).
func (s Schema) Defaults() Values {
	v := Values{}
	for _, f := range s {
		if f.Default != nil {
			v[f.ID] = clone(f.Default)
		}
	}
	return v
}

// Resolve validates raw textual values keyed by field id (matched ignoring
// case) and returns them typed, keyed by the canonical id, with defaults
// filled in for fields not given. An empty or blank value counts as not
// given. Problems — an unknown id, a value that does not validate, a
// required field with neither value nor default — are all returned together
// as a *ValidationError, in schema order with unknown ids last.
func (s Schema) Resolve(raw map[string]string) (Values, error) {
	given := make(map[string]string, len(raw))
	twice := map[string]bool{}
	var unknown []Problem
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		f, ok := s.Lookup(key)
		switch {
		case !ok:
			unknown = append(unknown, Problem{Field: key, Message: s.unknownMessage()})
		case hasKey(given, f.ID):
			twice[f.ID] = true
		default:
			given[f.ID] = raw[key]
		}
	}
	values := Values{}
	var problems []Problem
	for _, f := range s {
		text := strings.TrimSpace(given[f.ID])
		switch {
		case twice[f.ID]:
			problems = append(problems, Problem{Field: f.ID, Message: "given more than once"})
		case text != "":
			v, err := f.Coerce(text)
			if err != nil {
				problems = append(problems, Problem{Field: f.ID, Message: err.Error()})
				continue
			}
			values[f.ID] = v
		case f.Default != nil:
			values[f.ID] = clone(f.Default)
		case f.Required:
			problems = append(problems, Problem{Field: f.ID, Message: "required"})
		}
	}
	problems = append(problems, unknown...)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return values, nil
}

// Complete maps every field id to its value in v, or to nil when it has
// none: the action's `fields` output.
func (s Schema) Complete(v Values) map[string]any {
	out := make(map[string]any, len(s))
	for _, f := range s {
		out[f.ID] = v[f.ID]
	}
	return out
}

func (s Schema) unknownMessage() string {
	if len(s) == 0 {
		return "unknown field (this gate has no fields)"
	}
	return "unknown field (fields are " + strings.Join(s.IDs(), ", ") + ")"
}

// equalFoldASCII compares ignoring ASCII case only, as ids are ASCII: the
// Kelvin sign does not name field k.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// clone copies a typed value so that callers cannot change a field's default.
func clone(v any) any {
	if l, ok := v.([]string); ok {
		return slices.Clone(l)
	}
	return v
}
