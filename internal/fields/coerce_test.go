package fields

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCoerce(t *testing.T) {
	var (
		boolean   = Field{ID: "ok", Type: Boolean}
		text      = Field{ID: "reason", Type: String}
		ticket    = Field{ID: "ticket", Type: String, Pattern: `[A-Z]+-\d+`, MaxLength: 8}
		alt       = Field{ID: "alt", Type: String, Pattern: `a|b`}
		short     = Field{ID: "short", Type: String, MaxLength: 3}
		number    = Field{ID: "n", Type: Number}
		rollout   = Field{ID: "rollout", Type: Number, Min: ptr(1), Max: ptr(100)}
		atLeast   = Field{ID: "n", Type: Number, Min: ptr(-1.5)}
		atMost    = Field{ID: "n", Type: Number, Max: ptr(10)}
		count     = Field{ID: "count", Type: Number, Integer: true}
		pct       = Field{ID: "pct", Type: Number, Integer: true, Min: ptr(0), Max: ptr(100)}
		team      = Field{ID: "team", Type: Select, Values: []string{"HR", "Finance", "IT", "it-ops"}}
		cased     = Field{ID: "c", Type: Select, Values: []string{"x", "XY", "xy"}}
		regions   = Field{ID: "regions", Type: Multiselect, Values: []string{"eu", "us", "ap"}}
		date      = Field{ID: "day", Type: Date}
		datetime  = Field{ID: "at", Type: Datetime}
		duration  = Field{ID: "window", Type: Duration}
		email     = Field{ID: "owner", Type: Email}
		link      = Field{ID: "runbook", Type: URL}
		undefined = Field{ID: "x", Type: "colour"}
		badRegexp = Field{ID: "x", Type: String, Pattern: "("}
	)
	const (
		numberMsg = "must be a number"
		dateMsg   = "must be a date as YYYY-MM-DD"
		timeMsg   = "must be a date and time as RFC 3339, like 2024-05-01T14:30:00Z"
		durMsg    = "must be a duration like 90m, 36h or 7d"
		emailMsg  = "must be an email address like name@example.com"
		urlMsg    = "must be an absolute http or https URL"
		multiMsg  = "must be one or more of eu, us, ap, comma-separated"
	)
	tests := []struct {
		name    string
		field   Field
		raw     string
		want    any
		wantErr string
	}{
		{"empty", text, "", nil, "must not be empty"},
		{"blank", boolean, " \t\n", nil, "must not be empty"},
		{"invalid UTF-8", text, "a\xffb", nil, "must be valid UTF-8 text"},
		{"NUL byte", text, "a\x00b", nil, "must not contain control characters"},
		{"escape", text, "a\x1b[31m", nil, "must not contain control characters"},
		{"unknown type", undefined, "x", nil, `has unknown type "colour"`},

		{"true", boolean, "true", true, ""},
		{"TRUE", boolean, "TRUE", true, ""},
		{"yes", boolean, " Yes ", true, ""},
		{"y", boolean, "y", true, ""},
		{"on", boolean, "ON", true, ""},
		{"1", boolean, "1", true, ""},
		{"false", boolean, "False", false, ""},
		{"no", boolean, "no", false, ""},
		{"n", boolean, "N", false, ""},
		{"off", boolean, "off", false, ""},
		{"0", boolean, "0", false, ""},
		{"not a bool", boolean, "maybe", nil, "must be true or false"},
		{"bool with sign", boolean, "+1", nil, "must be true or false"},

		{"text trimmed", text, "  because  ", "because", ""},
		{"multi-line text", text, "line one\r\n\tline two", "line one\r\n\tline two", ""},
		{"pattern matches", ticket, "OPS-12", "OPS-12", ""},
		{"pattern is anchored at the end", ticket, "OPS-12x", nil, `must match the pattern [A-Z]+-\d+`},
		{"pattern is anchored at the start", ticket, "xOPS-1", nil, `must match the pattern [A-Z]+-\d+`},
		{"alternation anchored as a whole", alt, "ab", nil, "must match the pattern a|b"},
		{"alternation", alt, "b", "b", ""},
		{"max-length counts characters", short, "äöü", "äöü", ""},
		{"over max-length", short, "abcd", nil, "must be at most 3 characters"},
		{"max-length before pattern", ticket, "OPS-123456", nil, "must be at most 8 characters"},
		{"invalid pattern", badRegexp, "x", nil, "has an invalid pattern: error parsing regexp: missing closing ): `(`"},

		{"number", number, "12.5", 12.5, ""},
		{"number integral", number, "100", 100.0, ""},
		{"number signed", number, "+3", 3.0, ""},
		{"number negative zero", number, "-0", 0.0, ""},
		{"number exponent", number, "1.5e3", 1500.0, ""},
		{"number leading dot", number, ".5", 0.5, ""},
		{"number trailing dot", number, "5.", 5.0, ""},
		{"number NaN", number, "NaN", nil, numberMsg},
		{"number Inf", number, "Inf", nil, numberMsg},
		{"number infinity", number, "-infinity", nil, numberMsg},
		{"number overflow", number, "1e400", nil, numberMsg},
		{"number hex", number, "0x10", nil, numberMsg},
		{"number underscores", number, "1_000", nil, numberMsg},
		{"number thousands separator", number, "1,000", nil, numberMsg},
		{"number percent", number, "50%", nil, numberMsg},
		{"number word", number, "ten", nil, numberMsg},
		{"in range", rollout, "50", 50.0, ""},
		{"min inclusive", rollout, "1", 1.0, ""},
		{"max inclusive", rollout, "100", 100.0, ""},
		{"below min", rollout, "0.5", nil, "must be a number between 1 and 100"},
		{"above max", rollout, "101", nil, "must be a number between 1 and 100"},
		{"not a number in range", rollout, "lots", nil, "must be a number between 1 and 100"},
		{"min only", atLeast, "-2", nil, "must be a number of at least -1.5"},
		{"max only", atMost, "11", nil, "must be a number of at most 10"},
		{"integer", count, "42", int64(42), ""},
		{"integer negative", count, "-7", int64(-7), ""},
		{"integer as float", count, "10.0", int64(10), ""},
		{"integer with exponent", count, "1e3", int64(1000), ""},
		{"integer largest", count, "9223372036854775807", int64(9223372036854775807), ""},
		{"integer smallest", count, "-9223372036854775808", int64(-9223372036854775808), ""},
		{"integer too large", count, "9223372036854775808", nil, "must be a whole number"},
		{"integer too large as float", count, "1e19", nil, "must be a whole number"},
		{"integer fraction", count, "1.5", nil, "must be a whole number"},
		{"integer in range", pct, "100", int64(100), ""},
		{"integer out of range", pct, "101", nil, "must be a whole number between 0 and 100"},

		{"select exact", team, "IT", "IT", ""},
		{"select any case", team, "finance", "Finance", ""},
		{"select trimmed", team, " hr ", "HR", ""},
		{"select exact match wins", cased, "xy", "xy", ""},
		{"select case-insensitive takes the first", cased, "Xy", "XY", ""},
		{"select unknown", team, "Sales", nil, "must be one of HR, Finance, IT, it-ops"},
		{"select prefix", team, "F", nil, "must be one of HR, Finance, IT, it-ops"},

		{"multiselect one", regions, "us", []string{"us"}, ""},
		{"multiselect canonical order", regions, "ap, EU", []string{"eu", "ap"}, ""},
		{"multiselect duplicates removed", regions, "us,US, us", []string{"us"}, ""},
		{"multiselect blank items skipped", regions, ",eu,,ap,", []string{"eu", "ap"}, ""},
		{"multiselect only commas", regions, ", ,", nil, multiMsg},
		{"multiselect unknown", regions, "eu, mars, moon", nil, multiMsg + ` (not "mars", "moon")`},

		{"date", date, "2024-02-29", "2024-02-29", ""},
		{"date not in the calendar", date, "2023-02-29", nil, dateMsg},
		{"date month 13", date, "2024-13-01", nil, dateMsg},
		{"date without padding", date, "2024-5-1", nil, dateMsg},
		{"date with time", date, "2024-05-01T00:00:00Z", nil, dateMsg},
		{"date other order", date, "01/05/2024", nil, dateMsg},

		{"datetime UTC", datetime, "2024-05-01T14:30:00Z", "2024-05-01T14:30:00Z", ""},
		{"datetime keeps its offset", datetime, "2024-05-01T14:30:00+02:00", "2024-05-01T14:30:00+02:00", ""},
		{"datetime zero offset", datetime, "2024-05-01T14:30:00+00:00", "2024-05-01T14:30:00Z", ""},
		{"datetime fraction kept", datetime, "2024-05-01T14:30:00.250Z", "2024-05-01T14:30:00.25Z", ""},
		{"datetime without zone", datetime, "2024-05-01T14:30:00", nil, timeMsg},
		{"datetime lower case", datetime, "2024-05-01t14:30:00z", nil, timeMsg},
		{"datetime space", datetime, "2024-05-01 14:30:00Z", nil, timeMsg},
		{"datetime hour 24", datetime, "2024-05-01T24:00:00Z", nil, timeMsg},
		{"datetime date only", datetime, "2024-05-01", nil, timeMsg},

		{"duration", duration, "90m", "1h30m0s", ""},
		{"duration days", duration, "7d", "168h0m0s", ""},
		{"duration days and hours", duration, "1d12h", "36h0m0s", ""},
		{"duration fraction of days", duration, "1.5d", "36h0m0s", ""},
		{"duration zero", duration, "0", "0s", ""},
		{"duration seconds", duration, "1.5s", "1.5s", ""},
		{"duration negative", duration, "-1h", nil, durMsg},
		{"duration without unit", duration, "10", nil, durMsg},
		{"duration unknown unit", duration, "2w", nil, durMsg},
		{"duration with spaces", duration, "1h 30m", nil, durMsg},

		{"email", email, "ops@corp.example", "ops@corp.example", ""},
		{"email with plus", email, "a.b+gate@corp.example", "a.b+gate@corp.example", ""},
		{"email display name", email, "Ops <ops@corp.example>", nil, emailMsg},
		{"email angle brackets", email, "<ops@corp.example>", nil, emailMsg},
		{"email no domain dot", email, "ops@localhost", nil, emailMsg},
		{"email domain literal", email, "ops@[10.0.0.1]", nil, emailMsg},
		{"email quoted local part", email, `"o p"@corp.example`, nil, emailMsg},
		{"email two addresses", email, "a@x.example, b@x.example", nil, emailMsg},
		{"email no at", email, "ops.corp.example", nil, emailMsg},

		{"url", link, "https://wiki.example/run?x=1#y", "https://wiki.example/run?x=1#y", ""},
		{"url http with port", link, "http://localhost:8080/", "http://localhost:8080/", ""},
		{"url scheme in capitals", link, "HTTPS://wiki.example", "HTTPS://wiki.example", ""},
		{"url relative", link, "/run", nil, urlMsg},
		{"url other scheme", link, "ftp://files.example/x", nil, urlMsg},
		{"url javascript", link, "javascript:alert(1)", nil, urlMsg},
		{"url without host", link, "https:///path", nil, urlMsg},
		{"url port only", link, "http://:80/", nil, urlMsg},
		{"url with a space", link, "https://wiki.example/a b", nil, urlMsg},
		{"url unparsable", link, "http://[::1", nil, urlMsg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.field.Coerce(tt.raw)
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Fatalf("Coerce(%q) error (-want +got):\n%s", tt.raw, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Coerce(%q) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "-0", want: 0},
		{in: "90m", want: 90 * time.Minute},
		{in: "36h", want: 36 * time.Hour},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "1d12h30m", want: 36*time.Hour + 30*time.Minute},
		{in: "0.5d", want: 12 * time.Hour},
		{in: "+2d", want: 48 * time.Hour},
		{in: "-1d", want: -24 * time.Hour},
		{in: "1h1d", want: 25 * time.Hour},
		{in: "300ms", want: 300 * time.Millisecond},
		{in: "2µs", want: 2 * time.Microsecond},
		{in: "106751d", want: 106751 * 24 * time.Hour},
		{in: "", wantErr: true},
		{in: "-", wantErr: true},
		{in: "d", wantErr: true},
		{in: "7", wantErr: true},
		{in: "7D", wantErr: true},
		{in: "1w", wantErr: true},
		{in: ".d", wantErr: true},
		{in: "1..5h", wantErr: true},
		{in: "--1h", wantErr: true},
		{in: "1d 2h", wantErr: true},
		{in: "106752d", wantErr: true},
		{in: "106751d1000h", wantErr: true},
		{in: "9999999999999999999d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDuration(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
