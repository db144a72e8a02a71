package api

import (
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// Response is one counted response, as in the action's `responses` output
// and the gate view.
type Response struct {
	Actor    string         `json:"actor"`
	Via      string         `json:"via"`
	Decision string         `json:"decision"`
	Fields   map[string]any `json:"fields"`
	Comment  string         `json:"comment"`
	At       time.Time      `json:"at"`
	URL      string         `json:"url"`
}

// Responses converts counted responses to their JSON shape.
func Responses(rs []approval.Response) []Response {
	out := make([]Response, 0, len(rs))
	for _, r := range rs {
		f := map[string]any(r.Fields)
		if f == nil {
			f = map[string]any{}
		}
		out = append(out, Response{
			Actor:    r.Actor.Identity(),
			Via:      string(r.Via),
			Decision: string(r.Decision),
			Fields:   f,
			Comment:  r.Comment,
			At:       r.At.UTC(),
			URL:      r.URL,
		})
	}
	return out
}
