// Package fields is the typed decision-field schema of a gate: it parses the
// action's `fields` YAML, checks each definition, and validates and coerces
// the values a reviewer gives (from a comment, a Teams card or a web form)
// into typed values with defaults filled in.
//
// One Schema drives the comment parser, the Teams card inputs and the email
// confirmation form, so a value means the same thing whichever way it came.
package fields
