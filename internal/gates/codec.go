package gates

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// responseRecord is a response as stored.
type responseRecord struct {
	Actor    approval.Actor    `json:"actor"`
	Via      approval.Via      `json:"via"`
	Decision approval.Decision `json:"decision"`
	Fields   json.RawMessage   `json:"fields"`
	Comment  string            `json:"comment,omitempty"`
	At       time.Time         `json:"at"`
	URL      string            `json:"url,omitempty"`
}

// outcomeRecord is a settled outcome as stored; Counted names responses.
type outcomeRecord struct {
	Status    approval.Status `json:"status"`
	Approved  bool            `json:"approved"`
	DecidedBy string          `json:"decided_by,omitempty"`
	Approvers []string        `json:"approvers,omitempty"`
	Counted   []string        `json:"counted,omitempty"`
	Fields    json.RawMessage `json:"fields"`
	Comment   string          `json:"comment,omitempty"`
	SettledAt time.Time       `json:"settled_at"`
	// Reason says what cancelled a cancelled gate.
	Reason string `json:"reason,omitempty"`
}

// gateState is a stored gate decoded.
type gateState struct {
	gate      store.Gate
	spec      spec
	responses []approval.Response
	notes     []string
	outcome   *approval.Outcome // nil while pending
	reason    string
}

func (g *gateState) rules() approval.Gate { return g.spec.rules(g.gate.Deadline) }

func decodeSpec(g store.Gate) (spec, error) {
	var s spec
	if err := json.Unmarshal(g.Spec, &s); err != nil {
		return spec{}, fmt.Errorf("gate %s: decode definition: %w", g.ID, err)
	}
	return s, nil
}

// decodeState decodes a snapshot.
func decodeState(snap store.Snapshot) (*gateState, error) {
	s, err := decodeSpec(snap.Gate)
	if err != nil {
		return nil, err
	}
	st := &gateState{gate: snap.Gate, spec: s}
	byID := map[string]approval.Response{}
	for _, sr := range snap.Responses {
		r, err := decodeResponse(s.Fields, sr)
		if err != nil {
			return nil, fmt.Errorf("gate %s: %w", snap.Gate.ID, err)
		}
		st.responses = append(st.responses, r)
		byID[r.ID] = r
	}
	for _, n := range snap.Notes {
		st.notes = append(st.notes, n.Text)
	}
	if snap.Gate.Status.Settled() {
		var rec outcomeRecord
		if err := json.Unmarshal(snap.Gate.Outcome, &rec); err != nil {
			return nil, fmt.Errorf("gate %s: decode outcome: %w", snap.Gate.ID, err)
		}
		values, err := s.Fields.Decode(rec.Fields)
		if err != nil {
			return nil, fmt.Errorf("gate %s: decode outcome fields: %w", snap.Gate.ID, err)
		}
		o := &approval.Outcome{
			Status:    rec.Status,
			Approved:  rec.Approved,
			DecidedBy: rec.DecidedBy,
			Approvers: rec.Approvers,
			Fields:    values,
			Comment:   rec.Comment,
			SettledAt: rec.SettledAt,
		}
		for _, id := range rec.Counted {
			if r, ok := byID[id]; ok {
				o.Counted = append(o.Counted, r)
			}
		}
		st.outcome, st.reason = o, rec.Reason
	}
	return st, nil
}

func decodeResponse(s fields.Schema, sr store.Response) (approval.Response, error) {
	var rec responseRecord
	if err := json.Unmarshal(sr.Data, &rec); err != nil {
		return approval.Response{}, fmt.Errorf("decode response %s: %w", sr.ID, err)
	}
	values, err := s.Decode(rec.Fields)
	if err != nil {
		return approval.Response{}, fmt.Errorf("decode response %s fields: %w", sr.ID, err)
	}
	return approval.Response{
		ID: sr.ID, Actor: rec.Actor, Via: rec.Via, Decision: rec.Decision,
		Fields: values, Comment: rec.Comment, At: rec.At, URL: rec.URL,
	}, nil
}

func encodeResponse(gateID string, r approval.Response, now time.Time) (*store.Response, error) {
	values, err := json.Marshal(valuesOrEmpty(r.Fields))
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(responseRecord{
		Actor: r.Actor, Via: r.Via, Decision: r.Decision, Fields: values,
		Comment: r.Comment, At: r.At.UTC(), URL: r.URL,
	})
	if err != nil {
		return nil, fmt.Errorf("encode response %s: %w", r.ID, err)
	}
	return &store.Response{GateID: gateID, ID: r.ID, Data: data, CreatedAt: now}, nil
}

func encodeOutcome(o approval.Outcome, reason string) (*store.Settlement, error) {
	values, err := json.Marshal(valuesOrEmpty(o.Fields))
	if err != nil {
		return nil, err
	}
	rec := outcomeRecord{
		Status: o.Status, Approved: o.Approved, DecidedBy: o.DecidedBy, Approvers: o.Approvers,
		Fields: values, Comment: o.Comment, SettledAt: o.SettledAt.UTC(), Reason: reason,
	}
	for _, r := range o.Counted {
		rec.Counted = append(rec.Counted, r.ID)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode outcome: %w", err)
	}
	return &store.Settlement{Status: o.Status, Outcome: data, At: o.SettledAt}, nil
}

func valuesOrEmpty(v fields.Values) fields.Values {
	if v == nil {
		return fields.Values{}
	}
	return v
}
