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

// Field is one typed decision field as defined in the action's `fields` input.
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
// (multiselect) and string (every other type, in canonical form).
type Values map[string]any
