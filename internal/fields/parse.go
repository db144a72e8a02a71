package fields

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// keys are the keys a field definition may have, in the order they are checked.
var keys = []string{"id", "type", "description", "required", "default", "pattern", "max-length", "min", "max", "integer", "values"}

// optionTypes lists, for each type-specific key, the types it applies to.
var optionTypes = map[string][]Type{
	"pattern":    {String},
	"max-length": {String},
	"min":        {Number},
	"max":        {Number},
	"integer":    {Number},
	"values":     {Select, Multiselect},
}

// Parse reads the action's `fields` input: a YAML list of field definitions.
// Empty text is an empty schema. Every definition is checked and all problems
// are reported together as a *ValidationError whose Problems name the field
// by id, or by position ("fields[2]") when it has no usable id. Text that is
// not YAML, or not a list, is a plain error. Defaults come back typed, as in
// Values.
func Parse(yamlText string) (Schema, error) {
	if strings.TrimSpace(yamlText) == "" {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yamlText), &doc); err != nil {
		return nil, fmt.Errorf("fields are not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("fields must be a YAML list of field definitions (line %d)", root.Line)
	}
	var (
		schema   Schema
		problems []Problem
		seen     = map[string]int{} // lower-case id → position
	)
	for pos, item := range root.Content {
		f, msgs := parseField(deref(item))
		label := f.ID
		if label == "" {
			label = fmt.Sprintf("fields[%d]", pos)
		}
		if f.ID != "" {
			key := strings.ToLower(f.ID)
			if first, dup := seen[key]; dup {
				other := schema[first].ID
				if other == f.ID {
					msgs = append(msgs, fmt.Sprintf("duplicate id: fields[%d] and fields[%d] are both %q", first, pos, f.ID))
				} else {
					msgs = append(msgs, fmt.Sprintf("duplicate id: fields[%d] %q and fields[%d] %q differ only in case, and ids are matched ignoring case", first, other, pos, f.ID))
				}
			} else {
				seen[key] = pos
			}
		}
		for _, m := range msgs {
			problems = append(problems, Problem{Field: label, Message: m})
		}
		schema = append(schema, f)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return schema, nil
}

// parseField reads one definition. It returns the field as far as it could
// be read (ID is set only when valid) and every problem found.
func parseField(n *yaml.Node) (Field, []string) {
	if n.Kind != yaml.MappingNode {
		return Field{}, []string{"must be a mapping with at least id and type"}
	}
	var msgs []string
	bad := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }

	given := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			bad("has a key that is not a plain name (line %d)", k.Line)
		case !slices.Contains(keys, k.Value):
			bad("unknown key %q%s", k.Value, suggestKey(k.Value))
		case given[k.Value] != nil:
			bad("key %q is given more than once", k.Value)
		default:
			given[k.Value] = v
		}
	}
	present := func(key string) bool { return given[key] != nil && !isNull(given[key]) }

	var f Field
	if !present("id") {
		bad("id is required")
	} else if id, ok := scalar(given["id"]); !ok || !validID(id) {
		bad("invalid id %s: an id starts with a letter and holds only letters, digits, _ and -", describe(given["id"]))
	} else {
		f.ID = id
	}

	typeOK := false
	if !present("type") {
		bad("type is required (one of %s)", typeList())
	} else if t, ok := scalar(given["type"]); !ok || !slices.Contains(types, Type(t)) {
		bad("unknown type %s (want one of %s)", describe(given["type"]), typeList())
	} else {
		f.Type, typeOK = Type(t), true
	}

	if present("description") {
		if s, ok := scalar(given["description"]); ok {
			f.Description = s
		} else {
			bad("description must be text")
		}
	}
	if present("required") && given["required"].Decode(&f.Required) != nil {
		bad("required must be true or false")
	}

	// optsOK stays true while the options a default is checked against are sound.
	optsOK := true
	optBad := func(format string, args ...any) {
		optsOK = false
		bad(format, args...)
	}
	if typeOK {
		for _, key := range keys {
			if ts, ok := optionTypes[key]; ok && present(key) && !slices.Contains(ts, f.Type) {
				optBad("%s does not apply to type %s", key, f.Type)
			}
		}
	}
	if present("pattern") {
		if s, ok := scalar(given["pattern"]); !ok {
			optBad("pattern must be text")
		} else if _, err := anchored(s); err != nil {
			optBad("pattern is not a valid regular expression: %v", err)
		} else {
			f.Pattern = s
		}
	}
	if present("max-length") {
		if err := given["max-length"].Decode(&f.MaxLength); err != nil || f.MaxLength <= 0 {
			f.MaxLength = 0
			optBad("max-length must be a whole number of at least 1")
		}
	}
	f.Min = parseBound(given["min"], "min", optBad)
	f.Max = parseBound(given["max"], "max", optBad)
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		optBad("min %s is greater than max %s", Format(*f.Min), Format(*f.Max))
	}
	if present("integer") && given["integer"].Decode(&f.Integer) != nil {
		optBad("integer must be true or false")
	}
	if present("values") {
		f.Values = parseValues(given["values"], f.Type == Multiselect, optBad)
	}
	if typeOK && (f.Type == Select || f.Type == Multiselect) && len(f.Values) == 0 && !present("values") {
		optBad("type %s needs values", f.Type)
	}

	if present("default") && typeOK && optsOK {
		f.Default = parseDefault(f, given["default"], bad)
	}
	return f, msgs
}

// parseBound reads min or max; nil when absent or invalid.
func parseBound(n *yaml.Node, key string, bad func(string, ...any)) *float64 {
	if n == nil || isNull(n) {
		return nil
	}
	var x float64
	if err := n.Decode(&x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		bad("%s must be a finite number", key)
		return nil
	}
	return &x
}

// parseValues reads the values of a select or multiselect. Values are
// matched ignoring case, so values equal ignoring case are duplicates;
// multiselect values are written comma-separated, so they cannot hold a comma.
func parseValues(n *yaml.Node, multi bool, bad func(string, ...any)) []string {
	if n.Kind != yaml.SequenceNode {
		bad("values must be a list, like [HR, Finance, IT]")
		return nil
	}
	if len(n.Content) == 0 {
		bad("values must not be empty")
		return nil
	}
	var out []string
	ok := true
	for i, item := range n.Content {
		v, isScalar := scalar(deref(item))
		switch {
		case !isScalar || v == "":
			bad("values[%d] must be non-empty text", i)
		case strings.TrimSpace(v) != v:
			bad("value %q has surrounding space", v)
		case strings.ContainsFunc(v, isControl):
			bad("value %q holds a control character", v)
		case multi && strings.Contains(v, ","):
			bad("value %q holds a comma, which separates multiselect values", v)
		case slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, v) }):
			bad("value %q is listed more than once (values are matched ignoring case)", v)
		default:
			out = append(out, v)
			continue
		}
		ok = false
	}
	if !ok {
		return nil
	}
	return out
}

// parseDefault checks a default against its (otherwise sound) field and
// returns it typed. A multiselect default may be a list or comma-separated text.
func parseDefault(f Field, n *yaml.Node, bad func(string, ...any)) any {
	var err error
	var v any
	if s, ok := scalar(n); ok {
		v, err = f.Coerce(s)
	} else if f.Type == Multiselect && n.Kind == yaml.SequenceNode {
		items := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			s, ok := scalar(deref(item))
			if !ok {
				bad("default must be a list of values")
				return nil
			}
			items = append(items, s)
		}
		v, err = f.coerceMulti(items)
	} else {
		bad("default must be a single value")
		return nil
	}
	if err != nil {
		bad("default %v", err)
		return nil
	}
	return v
}

// validID reports whether id starts with a letter and holds only ASCII
// letters, digits, _ and -, so that it works as an output name (field-<id>),
// an HTML input name and a comment line key.
func validID(id string) bool {
	for i, r := range id {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == '-')) {
			return false
		}
	}
	return id != ""
}

// suggestKey proposes the known key a misspelt one probably meant.
func suggestKey(key string) string {
	k := strings.ToLower(strings.NewReplacer("_", "-", " ", "-").Replace(key))
	if k == "maxlength" {
		k = "max-length"
	}
	if k != key && slices.Contains(keys, k) {
		return fmt.Sprintf(" (did you mean %q?)", k)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(keys, ", "))
}

func typeList() string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// scalar returns the text of a non-null scalar exactly as written, so that a
// default of 010 or 2024-05-01 keeps its digits whatever YAML would make of it.
func scalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", false
	}
	return n.Value, true
}

// describe quotes a scalar for a message, or names the kind of node.
func describe(n *yaml.Node) string {
	if s, ok := scalar(n); ok {
		return fmt.Sprintf("%q", s)
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "(a mapping)"
	case yaml.SequenceNode:
		return "(a list)"
	}
	return "(not text)"
}
