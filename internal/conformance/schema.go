package conformance

import (
	"bytes"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// AdaptiveCardSchemaID is the id the Adaptive Card schema names itself by.
const AdaptiveCardSchemaID = "http://adaptivecards.io/schemas/adaptive-card.json"

// AdaptiveCard15 compiles the upstream Adaptive Card 1.5 schema, a draft-06
// schema whose root names itself with "id" and whose references are all
// "#/definitions/…". It is added under that id so that nothing is fetched;
// the compiler checks it against the draft-06 metaschema and asserts its
// "format" keywords, as draft-06 does. The test skips when the data is
// absent.
func AdaptiveCard15(t testing.TB) *jsonschema.Schema {
	t.Helper()
	path := File(t, "microsoft-adaptivecards/schemas/1.5.0/adaptive-card.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(AdaptiveCardSchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(AdaptiveCardSchemaID)
	if err != nil {
		t.Fatalf("compile the Adaptive Card schema: %v", err)
	}
	return s
}

// Validate checks a JSON document against a compiled schema.
func Validate(s *jsonschema.Schema, raw []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return s.Validate(v)
}
