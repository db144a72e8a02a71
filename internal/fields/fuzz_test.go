package fields

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkTyped fails unless v has the Go type that Values documents for f.
func checkTyped(t *testing.T, f Field, v any) {
	t.Helper()
	var ok bool
	switch {
	case f.Type == Boolean:
		_, ok = v.(bool)
	case f.Type == Number && f.Integer:
		_, ok = v.(int64)
	case f.Type == Number:
		_, ok = v.(float64)
	case f.Type == Multiselect:
		var l []string
		l, ok = v.([]string)
		ok = ok && len(l) > 0
	default:
		_, ok = v.(string)
	}
	if !ok {
		t.Fatalf("field %s (%s): value %#v has the wrong Go type", f.ID, f.Type, v)
	}
}

// checkStable fails unless v, a value of f, comes back unchanged from its
// text form and from JSON.
func checkStable(t *testing.T, s Schema, f Field, v any) {
	t.Helper()
	checkTyped(t, f, v)
	again, err := f.Coerce(Format(v))
	if err != nil {
		t.Fatalf("field %s: Coerce(Format(%#v) = %q): %v", f.ID, v, Format(v), err)
	}
	if diff := cmp.Diff(v, again); diff != "" {
		t.Fatalf("field %s: Coerce(Format(v)) (-v +got):\n%s", f.ID, diff)
	}
	data, err := json.Marshal(Values{f.ID: v})
	if err != nil {
		t.Fatalf("field %s: marshal %#v: %v", f.ID, v, err)
	}
	back, err := s.Decode(data)
	if err != nil {
		t.Fatalf("field %s: Decode(%s): %v", f.ID, data, err)
	}
	if diff := cmp.Diff(Values{f.ID: v}, back); diff != "" {
		t.Fatalf("field %s: JSON round trip of %s (-want +got):\n%s", f.ID, data, diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		sample,
		"- {id: a, type: string, max_length: 3}",
		"- {id: a, type: select, values: [x, X], default: x}",
		"- {id: a, type: multiselect, values: [x, y], default: [y, x]}",
		"- {id: a, type: number, integer: true, min: -1e3, max: 1e3, default: 1e2}",
		"- {id: a, type: string, pattern: '(a|b)+', default: ab}",
		"- {id: a, type: datetime, default: '2024-01-01T00:00:00.5+01:00'}",
		"- {id: a, type: duration, default: 1.5d}\n- {id: A, type: boolean}",
		"- &x {id: a, type: email}\n- *x",
		"id: a",
		"- [a]",
		"- {? [a] : b}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned both a schema and an error: %v", err)
			}
			var verr *ValidationError
			if errors.As(err, &verr) {
				for _, p := range verr.Problems {
					if p.Field == "" || p.Message == "" {
						t.Fatalf("problem without a field or a message: %+v", p)
					}
				}
			}
			return
		}
		seen := map[string]bool{}
		requiredWithoutDefault := false
		for _, fd := range s {
			if !validID(fd.ID) || seen[strings.ToLower(fd.ID)] {
				t.Fatalf("accepted invalid or duplicate id %q", fd.ID)
			}
			seen[strings.ToLower(fd.ID)] = true
			if got, ok := s.Lookup(strings.ToUpper(fd.ID)); !ok || got.ID != fd.ID {
				t.Fatalf("Lookup(%q) = %q, %v", strings.ToUpper(fd.ID), got.ID, ok)
			}
			if fd.Default != nil {
				checkStable(t, s, fd, fd.Default)
			} else if fd.Required {
				requiredWithoutDefault = true
			}
		}
		values, err := s.Resolve(nil)
		if (err != nil) != requiredWithoutDefault {
			t.Fatalf("Resolve(nil) error = %v; a required field without default: %v", err, requiredWithoutDefault)
		}
		if err == nil {
			if diff := cmp.Diff(s.Defaults(), values); diff != "" {
				t.Fatalf("Resolve(nil) is not the defaults (-defaults +got):\n%s", diff)
			}
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal schema: %v", err)
		}
		var back Schema
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("unmarshal schema %s: %v", data, err)
		}
		if diff := cmp.Diff(s, back); diff != "" {
			t.Fatalf("schema JSON round trip (-want +got):\n%s", diff)
		}
	})
}

// coerceSchema holds fields of every type and option for FuzzCoerce.
const coerceSchema = sample + `
- {id: num, type: number}
- {id: int, type: number, integer: true}
- {id: short, type: string, max-length: 3}
- {id: cities, type: multiselect, values: [Paris, paris-tx, Zürich, İstanbul]}
`

func FuzzCoerce(f *testing.F) {
	s := mustParse(f, coerceSchema)
	for i, raw := range []string{
		"hotfix", "it", "50", "3", "ap, EU", "yes", "2024-02-29", "2024-05-01T10:00:00.5+01:00",
		"1d12h", "ops@corp.example", "https://wiki.example/r", "OPS-1", "-0", "-9223372036854775808",
		"äöü", "paris,PARIS-TX,zürich,i̇stanbul",
	} {
		f.Add(uint(i), raw)
	}
	f.Add(uint(0), " \t")
	f.Add(uint(2), "1e400")
	f.Add(uint(8), "9999999999999999999d")
	f.Add(uint(12), "1.7976931348623157e308")
	f.Fuzz(func(t *testing.T, index uint, raw string) {
		fd := s[index%uint(len(s))]
		v, err := fd.Coerce(raw)
		if err != nil {
			if v != nil || err.Error() == "" {
				t.Fatalf("Coerce(%q) = %#v, %q", raw, v, err)
			}
			return
		}
		checkStable(t, s, fd, v)
		given := map[string]string{strings.ToUpper(fd.ID): raw}
		if fd.ID != "reason" {
			given["reason"] = "required"
		}
		resolved, err := s.Resolve(given)
		if err != nil {
			t.Fatalf("Resolve of a value Coerce accepts: %v", err)
		}
		if diff := cmp.Diff(v, resolved[fd.ID]); diff != "" {
			t.Fatalf("Resolve and Coerce differ (-coerce +resolve):\n%s", diff)
		}
	})
}
