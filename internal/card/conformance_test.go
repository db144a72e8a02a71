package card

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-ci/gatehouse/internal/conformance"
)

func TestCardsConformToSchema(t *testing.T) {
	s := conformance.AdaptiveCard15(t)
	cards := allCards(t)
	g := bigGate(t)
	for name, build := range map[string]func() (json.RawMessage, error){
		"big pending": func() (json.RawMessage, error) { return Pending(g) },
		"big links":   func() (json.RawMessage, error) { return Links(g, respondURL) },
		"big settled": func() (json.RawMessage, error) { return Settled(settle(g, "approved")) },
	} {
		raw, err := build()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cards[name] = raw
	}
	for name, raw := range cards {
		t.Run(name, func(t *testing.T) {
			if err := conformance.Validate(s, raw); err != nil {
				t.Errorf("card does not conform to the Adaptive Card 1.5 schema: %v\n%s", err, raw)
			}
		})
	}
}

// TestSchemaAcceptsSamples shows that the compiled schema accepts the
// upstream 1.5 samples.
func TestSchemaAcceptsSamples(t *testing.T) {
	s := conformance.AdaptiveCard15(t)
	dir := filepath.Dir(conformance.File(t, "microsoft-adaptivecards/samples/v1.5/Elements/Action.Execute.Mode.json"))
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples in %s (%v)", dir, err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := conformance.Validate(s, raw); err != nil {
				t.Errorf("sample does not validate: %v", err)
			}
		})
	}
}

// TestSchemaRejectsBrokenCards shows that the conformance check can fail.
func TestSchemaRejectsBrokenCards(t *testing.T) {
	s := conformance.AdaptiveCard15(t)
	pending, err := Pending(gate(t, everyType))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		spoil func(c map[string]any)
	}{
		{"verb of the wrong type", func(c map[string]any) { c["actions"].([]any)[0].(map[string]any)["verb"] = 42 }},
		{"unknown action property", func(c map[string]any) { c["actions"].([]any)[1].(map[string]any)["verbs"] = "reject" }},
		{"bad action style", func(c map[string]any) { c["actions"].([]any)[0].(map[string]any)["style"] = "loud" }},
		{"number input with a text value", func(c map[string]any) {
			for _, el := range c["body"].([]any) {
				if el := el.(map[string]any); el["type"] == "Input.Number" {
					el["value"] = "ten"
				}
			}
		}},
		{"fact without a value", func(c map[string]any) {
			for _, el := range c["body"].([]any) {
				if el := el.(map[string]any); el["type"] == "FactSet" {
					delete(el["facts"].([]any)[0].(map[string]any), "value")
				}
			}
		}},
		{"Teams extension at the top level", func(c map[string]any) { c["msteams"] = map[string]any{"width": "Full"} }},
		{"schema that is not a URI", func(c map[string]any) { c["$schema"] = "adaptive card" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal(pending, &c); err != nil {
				t.Fatal(err)
			}
			tt.spoil(c)
			raw, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := conformance.Validate(s, raw); err == nil {
				t.Errorf("broken card validates:\n%s", raw)
			}
		})
	}
}
