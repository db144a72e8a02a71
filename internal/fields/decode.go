package fields

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Decode reads a JSON object of values, as encoding/json writes Values, back
// into typed Values: numbers become int64 for integer fields and float64
// otherwise, arrays become []string. Each value is validated against its
// field; null means no value. Defaults are not filled in and required
// fields are not checked: Decode restores what was stored. Problems are
// returned together as a *ValidationError.
func (s Schema) Decode(data []byte) (Values, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode field values: %w", err)
	}
	values := Values{}
	var problems []Problem
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		f, ok := s.Lookup(key)
		if !ok {
			problems = append(problems, Problem{Field: key, Message: s.unknownMessage()})
			continue
		}
		if hasKey(values, f.ID) {
			problems = append(problems, Problem{Field: f.ID, Message: "given more than once"})
			continue
		}
		v, err := f.decodeJSON(raw[key])
		if err != nil {
			problems = append(problems, Problem{Field: f.ID, Message: err.Error()})
			continue
		}
		if v != nil {
			values[f.ID] = v
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return values, nil
}

// UnmarshalJSON reads a field as encoding/json writes it and types its
// default again, so that a Schema survives a round trip through JSON.
func (f *Field) UnmarshalJSON(data []byte) error {
	type plain Field
	var aux struct {
		plain
		Default json.RawMessage `json:"default,omitempty"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*f = Field(aux.plain)
	f.Default = nil
	if len(aux.Default) == 0 {
		return nil
	}
	v, err := f.decodeJSON(aux.Default)
	if err != nil {
		return fmt.Errorf("field %s: default %w", f.ID, err)
	}
	f.Default = v
	return nil
}

// decodeJSON validates one JSON value of the field; null gives nil.
func (f Field) decodeJSON(msg json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("is not valid JSON: %w", err)
	}
	if x == nil {
		return nil, nil
	}
	switch f.Type {
	case Boolean:
		if b, ok := x.(bool); ok {
			return b, nil
		}
		return nil, errors.New("must be true or false")
	case Number:
		if n, ok := x.(json.Number); ok {
			return f.Coerce(n.String())
		}
		return nil, errors.New(f.numberMessage())
	case Multiselect:
		list, ok := x.([]any)
		items := make([]string, len(list))
		for i, item := range list {
			s, isString := item.(string)
			if !isString {
				ok = false
				break
			}
			items[i] = s
		}
		if !ok {
			return nil, errors.New("must be a list of text values")
		}
		if len(items) == 0 {
			return nil, errors.New("must not be empty")
		}
		return f.coerceMulti(items)
	}
	if s, ok := x.(string); ok {
		return f.Coerce(s)
	}
	return nil, errors.New("must be text")
}
