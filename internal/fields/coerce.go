package fields

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// numberSyntax is the decimal notation accepted for numbers: no hex, no
// underscores, no Inf or NaN.
var numberSyntax = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// Coerce validates one textual value (from a comment line, a web form or a
// Teams card) and returns it in the typed form documented on Values.
// Surrounding space is ignored; an empty value is an error (callers treat an
// empty value as not given). The error reads as the rest of a sentence
// starting with the field id: "must be one of HR, Finance, IT".
func (f Field) Coerce(raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return nil, errors.New("must not be empty")
	case !utf8.ValidString(s):
		return nil, errors.New("must be valid UTF-8 text")
	case strings.ContainsFunc(s, isControl):
		return nil, errors.New("must not contain control characters")
	}
	switch f.Type {
	case Boolean:
		return coerceBool(s)
	case String:
		return f.coerceString(s)
	case Number:
		return f.coerceNumber(s)
	case Select:
		if v, ok := f.match(s); ok {
			return v, nil
		}
		return nil, fmt.Errorf("must be one of %s", strings.Join(f.Values, ", "))
	case Multiselect:
		return f.coerceMulti(strings.Split(s, ","))
	case Date:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, errors.New("must be a date as YYYY-MM-DD")
		}
		return t.Format(time.DateOnly), nil
	case Datetime:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, errors.New("must be a date and time as RFC 3339, like 2024-05-01T14:30:00Z")
		}
		return t.Format(time.RFC3339Nano), nil
	case Duration:
		d, err := ParseDuration(s)
		if err != nil || d < 0 {
			return nil, errors.New("must be a duration like 90m, 36h or 7d")
		}
		return d.String(), nil
	case Email:
		return coerceEmail(s)
	case URL:
		return coerceURL(s)
	default:
		return nil, fmt.Errorf("has unknown type %q", f.Type)
	}
}

// isControl reports control characters other than tab and line breaks,
// which a multi-line text value may hold.
func isControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

func coerceBool(s string) (any, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "y", "on", "1":
		return true, nil
	case "false", "no", "n", "off", "0":
		return false, nil
	}
	return nil, errors.New("must be true or false")
}

func (f Field) coerceString(s string) (any, error) {
	if f.MaxLength > 0 && utf8.RuneCountInString(s) > f.MaxLength {
		return nil, fmt.Errorf("must be at most %d characters", f.MaxLength)
	}
	if f.Pattern != "" {
		re, err := anchored(f.Pattern)
		if err != nil {
			return nil, fmt.Errorf("has an invalid pattern: %w", err)
		}
		if !re.MatchString(s) {
			return nil, fmt.Errorf("must match the pattern %s", f.Pattern)
		}
	}
	return s, nil
}

// anchored compiles pattern so that it must match a whole value.
func anchored(pattern string) (*regexp.Regexp, error) {
	// Compiling the pattern alone first rejects text such as "a)|(b" that
	// would change meaning inside the wrapping group.
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

func (f Field) coerceNumber(s string) (any, error) {
	fail := errors.New(f.numberMessage())
	if !numberSyntax.MatchString(s) {
		return nil, fail
	}
	var x float64
	var n int64
	if f.Integer {
		var err error
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			// Whole numbers written as 1e3 or 10.0.
			x, err = strconv.ParseFloat(s, 64)
			if err != nil || x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
				return nil, fail
			}
			n = int64(x)
		}
		x = float64(n)
	} else {
		var err error
		if x, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, fail
		}
		x += 0 // -0 becomes 0
	}
	if (f.Min != nil && x < *f.Min) || (f.Max != nil && x > *f.Max) {
		return nil, fail
	}
	if f.Integer {
		return n, nil
	}
	return x, nil
}

// numberMessage describes the numbers a field accepts.
func (f Field) numberMessage() string {
	kind := "a number"
	if f.Integer {
		kind = "a whole number"
	}
	switch {
	case f.Min != nil && f.Max != nil:
		return fmt.Sprintf("must be %s between %s and %s", kind, Format(*f.Min), Format(*f.Max))
	case f.Min != nil:
		return fmt.Sprintf("must be %s of at least %s", kind, Format(*f.Min))
	case f.Max != nil:
		return fmt.Sprintf("must be %s of at most %s", kind, Format(*f.Max))
	}
	return "must be " + kind
}

// match finds s among the field's values: exactly, else ignoring case. It
// returns the value as defined.
func (f Field) match(s string) (string, bool) {
	for _, v := range f.Values {
		if v == s {
			return v, true
		}
	}
	for _, v := range f.Values {
		if strings.EqualFold(v, s) {
			return v, true
		}
	}
	return "", false
}

// coerceMulti matches each item (blank items are skipped) and returns the
// chosen values once each, in the order of the field's values.
func (f Field) coerceMulti(items []string) (any, error) {
	chosen := make(map[string]bool, len(items))
	var unknown []string
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		v, ok := f.match(item)
		if !ok {
			unknown = append(unknown, strconv.Quote(item))
			continue
		}
		chosen[v] = true
	}
	msg := "must be one or more of " + strings.Join(f.Values, ", ") + ", comma-separated"
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s (not %s)", msg, strings.Join(unknown, ", "))
	}
	if len(chosen) == 0 {
		return nil, errors.New(msg)
	}
	out := make([]string, 0, len(chosen))
	for _, v := range f.Values {
		if chosen[v] {
			out = append(out, v)
		}
	}
	return out, nil
}

// coerceEmail accepts a bare address such as a@b.example: no display name,
// no angle brackets, and a domain name with a dot.
func coerceEmail(s string) (any, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return nil, errors.New("must be an email address like name@example.com")
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return nil, errors.New("must be an email address like name@example.com")
	}
	return s, nil
}

// coerceURL accepts an absolute http or https URL with a host, as written.
func coerceURL(s string) (any, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		strings.ContainsFunc(s, unicode.IsSpace) {
		return nil, errors.New("must be an absolute http or https URL")
	}
	return s, nil
}

// ParseDuration parses a Go duration ("90m", "1h30m") that may also use d
// for days of 24 hours ("7d", "1d12h", "1.5d").
func ParseDuration(s string) (time.Duration, error) {
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	var total time.Duration
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
		if i <= 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		j := strings.IndexFunc(rest[i:], func(r rune) bool { return r == '.' || (r >= '0' && r <= '9') })
		if j < 0 {
			j = len(rest) - i
		}
		num, unit := rest[:i], rest[i:i+j]
		rest = rest[i+j:]
		var d time.Duration
		var err error
		if unit == "d" {
			if d, err = time.ParseDuration(num + "h"); err == nil && d > math.MaxInt64/24 {
				err = errors.New("too large")
			}
			d *= 24
		} else {
			d, err = time.ParseDuration(num + unit)
		}
		if err != nil || d > math.MaxInt64-total {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		total += d
	}
	if neg {
		total = -total
	}
	return total, nil
}
