// Package fields is the typed decision-field schema of a gate: it parses the
// action's `fields` YAML, checks each definition, and validates and coerces
// the values a reviewer gives (from a comment, a Teams card or a web form)
// into typed values with defaults filled in.
//
// One Schema drives the comment parser, the Teams card inputs and the email
// confirmation form, so a value means the same thing whichever way it came.
// Ids are matched ignoring case everywhere and come back in the case they
// were defined in. Format gives a value's text form (the `field-<id>`
// outputs), which Coerce reads back to the same value; Decode reads back the
// JSON that encoding/json writes for Values. Every check reports all its
// problems at once in a *ValidationError.
//
// Parse walks the YAML node tree itself rather than decoding into a struct
// with yaml.v3's KnownFields, so that each problem — an unknown key such as
// max_length included — names its field instead of a line and a Go type.
package fields
