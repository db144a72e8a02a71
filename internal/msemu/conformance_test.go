package msemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/gatehouse-ci/gatehouse/internal/conformance"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// botFrameworkSchemas compiles definitions of the Bot Framework protocol
// schema (draft-07), with formats asserted.
func botFrameworkSchemas(t *testing.T, names ...string) map[string]*jsonschema.Schema {
	t.Helper()
	f, err := os.Open(conformance.File(t, "microsoft-botframework-sdk/schemas/protocol/botframework.json"))
	check(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	check(t, err)
	const base = "https://botframework.test/botframework.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	check(t, c.AddResource(base, doc))
	out := map[string]*jsonschema.Schema{}
	for _, name := range names {
		sch, err := c.Compile(base + "#/definitions/" + name)
		if err != nil {
			t.Fatalf("compile %s: %v", name, err)
		}
		out[name] = sch
	}
	return out
}

func validate(t *testing.T, sch *jsonschema.Schema, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	check(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	check(t, err)
	return sch.Validate(inst)
}

// TestActivitiesMatchBotFrameworkSchema checks every activity the emulator
// sends a bot against the Activity definition of the Bot Framework schema.
func TestActivitiesMatchBotFrameworkSchema(t *testing.T) {
	t.Parallel()
	activity := botFrameworkSchemas(t, "Activity")["Activity"]
	if err := validate(t, activity, map[string]any{"type": "message", "conversation": map[string]any{"id": "x"}}); err == nil {
		t.Fatal("an activity without channelId passes, so the schema is not in force")
	}

	w := newWorld(t)
	b := newBot(t)
	personal := must[Chat](t)(w.emu.AddChat(Chat{Type: "personal", Members: []string{w.bob.ID}}))
	check(t, w.emu.AddBot(personal.ID, botID))
	token := botToken(t, w.emu)
	inChannel := postCard(t, w.emu, token, w.deploys, "approve?")
	inGeneral := postCard(t, w.emu, token, w.team.ID, "approve?")

	check(t, w.emu.Install(t.Context(), b.srv.URL, botID, w.team.ID))
	for _, opts := range []InvokeOptions{
		{User: w.alice.ID, ConversationID: w.deploys, ReplyToID: inChannel, Verb: "approve", Data: map[string]any{"reason": "ok", "rollout": 10}},
		{User: w.bob.ID, ConversationID: w.team.ID, ReplyToID: inGeneral, Verb: "reject"},
		{User: w.carol.ID, ConversationID: w.chat.ID, Verb: "approve"},
		{User: w.bob.ID, ConversationID: personal.ID, Verb: "approve"},
	} {
		if _, err := w.emu.Invoke(t.Context(), b.srv.URL, botID, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := b.got()
	if len(got) != 6 {
		t.Fatalf("bot got %d activities, want 6", len(got))
	}
	for _, r := range got {
		if err := validate(t, activity, r.activity); err != nil {
			t.Errorf("%s activity does not match the Activity schema: %v\n%v", r.activity["type"], err, r.activity)
		}
	}
}

// TestConnectorAnswersMatchBotFrameworkSchema checks the connector's
// answers that the schema defines.
func TestConnectorAnswersMatchBotFrameworkSchema(t *testing.T) {
	t.Parallel()
	schemas := botFrameworkSchemas(t, "ResourceResponse", "ChannelAccount")
	w := newWorld(t)
	token := botToken(t, w.emu)
	posted := do(t, http.MethodPost, connectorURL(w.emu, "conversations", w.deploys, "activities"), bearer(token), cardActivity("x"))
	id, _ := posted.json(t)["id"].(string)
	updated := do(t, http.MethodPut, connectorURL(w.emu, "conversations", w.deploys, "activities", id), bearer(token), cardActivity("y"))
	member := do(t, http.MethodGet, connectorURL(w.emu, "conversations", w.deploys, "members", w.bob.ID), bearer(token), "")
	for _, c := range []struct {
		what   string
		schema string
		a      answer
	}{
		{"POST activities", "ResourceResponse", posted},
		{"PUT activities/{id}", "ResourceResponse", updated},
		{"GET members/{id}", "ChannelAccount", member},
	} {
		if err := validate(t, schemas[c.schema], c.a.json(t)); err != nil {
			t.Errorf("%s answer does not match %s: %v\n%s", c.what, c.schema, err, c.a.body)
		}
	}
}
