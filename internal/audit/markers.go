package audit

import (
	"fmt"
	"regexp"
	"strconv"
)

// Kind is the kind of text Gatehouse writes on an issue.
type Kind string

// The marker kinds of the contract's audit trail.
const (
	KindOpened    Kind = "opened"
	KindSummary   Kind = "summary"
	KindResponse  Kind = "response"
	KindInvalid   Kind = "invalid"
	KindCancelled Kind = "cancelled"
	// KindNotice is a problem Gatehouse reports on the issue, such as a
	// Teams channel it does not know.
	KindNotice Kind = "notice"
)

// Marker is the hidden first line of a text Gatehouse writes.
type Marker struct {
	Kind    Kind
	Gate    string
	Comment int64 // the comment an Invalid reply answers
}

func (m Marker) String() string {
	if m.Kind == KindInvalid {
		return fmt.Sprintf("<!-- gatehouse:%s gate=%s comment=%d -->", m.Kind, m.Gate, m.Comment)
	}
	return fmt.Sprintf("<!-- gatehouse:%s gate=%s -->", m.Kind, m.Gate)
}

var markerRE = regexp.MustCompile(`^<!-- gatehouse:([a-z]+) gate=([A-Za-z0-9_-]+)(?: comment=([0-9]+))? -->`)

// ParseMarker reads the marker at the start of body, if there is one.
func ParseMarker(body string) (Marker, bool) {
	m := markerRE.FindStringSubmatch(body)
	if m == nil {
		return Marker{}, false
	}
	mk := Marker{Kind: Kind(m[1]), Gate: m[2]}
	if m[3] != "" {
		id, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			return Marker{}, false
		}
		mk.Comment = id
	}
	return mk, true
}
