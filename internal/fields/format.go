package fields

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format returns a typed value as the plain text of the action's
// `field-<id>` outputs and of the audit trail: "true"/"false", decimal
// numbers without an exponent (12.5, 100) unless very large or small,
// multiselect values joined by "," with no space ("HR,IT"), and "" for nil.
// Coerce accepts every text Format returns.
func Format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []string:
		return strings.Join(v, ",")
	default:
		return fmt.Sprint(v)
	}
}
