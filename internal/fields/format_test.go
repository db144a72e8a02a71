package fields

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	tenth, fifth := 0.1, 0.2
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"string", "OPS-1", "OPS-1"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"int64", int64(-42), "-42"},
		{"int64 largest", int64(math.MaxInt64), "9223372036854775807"},
		{"float integral", 100.0, "100"},
		{"float fraction", 12.5, "12.5"},
		{"float zero", 0.0, "0"},
		{"float negative", -0.25, "-0.25"},
		{"float shortest", tenth + fifth, "0.30000000000000004"},
		{"float large, no exponent", 1e20, "100000000000000000000"},
		{"float small, no exponent", 0.000001, "0.000001"},
		{"float very large", 1e21, "1e+21"},
		{"float very small", 1.5e-7, "1.5e-07"},
		{"multiselect", []string{"eu", "ap"}, "eu,ap"},
		{"multiselect one", []string{"eu"}, "eu"},
		{"multiselect none", []string{}, ""},
		{"other", 7, "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.in); got != tt.want {
				t.Errorf("Format(%#v) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
