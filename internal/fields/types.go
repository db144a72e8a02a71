package fields

// Type is the kind of value a field holds.
type Type string

// The field types of the contract (section 4).
const (
	Boolean     Type = "boolean"
	String      Type = "string"
	Number      Type = "number"
	Select      Type = "select"
	Multiselect Type = "multiselect"
	Date        Type = "date"
	Datetime    Type = "datetime"
	Duration    Type = "duration"
	Email       Type = "email"
	URL         Type = "url"
)

// types lists every Type in the order used in messages.
var types = []Type{Boolean, String, Number, Select, Multiselect, Date, Datetime, Duration, Email, URL}

// Field is one typed decision field as defined in the action's `fields` input.
// Build one with Parse, which checks the definition; a Field read back from
// JSON gets its Default typed again (see UnmarshalJSON).
type Field struct {
	ID          string   `json:"id" yaml:"id"`
	Type        Type     `json:"type" yaml:"type"`
	Description string   `json:"description,omitempty" yaml:"description"`
	Required    bool     `json:"required,omitempty" yaml:"required"`
	Default     any      `json:"default,omitempty" yaml:"default"` // typed (as in Values) once parsed
	Pattern     string   `json:"pattern,omitempty" yaml:"pattern"`
	MaxLength   int      `json:"max_length,omitempty" yaml:"max-length"`
	Min         *float64 `json:"min,omitempty" yaml:"min"`
	Max         *float64 `json:"max,omitempty" yaml:"max"`
	Integer     bool     `json:"integer,omitempty" yaml:"integer"`
	Values      []string `json:"values,omitempty" yaml:"values"`
}

// Schema is the ordered list of a gate's fields.
type Schema []Field

// Values maps field ids to typed values. The Go types are: bool (boolean),
// int64 (number with integer: true), float64 (other numbers), []string
// (multiselect, in the order of the field's values) and string (every other
// type, in canonical form: select values as defined, date YYYY-MM-DD,
// datetime RFC 3339 in the offset given, with fractional seconds only when
// given, duration as time.Duration.String). A field without a value is
// absent, never nil.
type Values map[string]any
