package ghemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-ci/gatehouse/internal/conformance"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaBase is where the octokit schemas are mounted for the compiler.
// octokit's $ids ("common/user.schema.json" inside common/) are relative to
// the schema root rather than to the file, so the loader drops them and
// serves each file at a URL that makes its $refs resolve: an event schema
// at the root, the shared ones under common/.
const schemaBase = "https://octokit-webhooks.test/"

type octokitLoader struct{ dir string }

func (l octokitLoader) Load(u string) (any, error) {
	rel, ok := strings.CutPrefix(u, schemaBase)
	if !ok {
		return nil, fmt.Errorf("unexpected schema URL %s", u)
	}
	file := filepath.Join(l.dir, filepath.FromSlash(rel))
	if !strings.HasPrefix(rel, "common/") {
		event, action, _ := strings.Cut(strings.TrimSuffix(rel, ".json"), ".")
		file = filepath.Join(l.dir, event, action+".schema.json")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m, ok := doc.(map[string]any); ok {
		delete(m, "$id")
	}
	return doc, nil
}

// conformanceWorld produces every delivery kind the schemas cover, on an
// organization repository with the App, acting as the App (acme/app), an organization
// repository without it (acme/site), a personal repository without it
// (alice/tools) and a personal repository with it (dave/infra).
func conformanceWorld(t *testing.T) []received {
	rc := newReceiver(t)
	w := newWorld(t, Options{AppID: testAppID, WebhookURL: rc.srv.URL, WebhookSecret: testSecret})
	dave := must[string](t)(w.emu.AddUser("dave"))
	check(t, w.emu.AddRepo("acme", "site", map[string]string{"alice": "admin"}))
	check(t, w.emu.AddRepo("dave", "infra", nil))
	_, instGH, _ := appClients(t, w) // installs the App on acme/app
	must[int64](t)(w.emu.InstallApp("dave"))
	daveGH := client(t, w.emu, dave)
	for _, r := range []struct {
		owner, repo string
		gh          *github.Client
	}{{"acme", "app", instGH}, {"acme", "site", w.aliceGH}, {"alice", "tools", w.aliceGH}, {"dave", "infra", daveGH}} {
		req := &github.IssueRequest{Title: github.String("Approval needed"), Labels: &[]string{"approval"}}
		if r.owner != "acme" {
			req.Assignees = &[]string{r.owner} // owners of personal repositories can be assigned
		}
		is, _, err := r.gh.Issues.Create(t.Context(), r.owner, r.repo, req)
		check(t, err)
		n := is.GetNumber()
		cm, _, err := r.gh.Issues.CreateComment(t.Context(), r.owner, r.repo, n, &github.IssueComment{Body: github.String("approve")})
		check(t, err)
		_, _, err = r.gh.Issues.EditComment(t.Context(), r.owner, r.repo, cm.GetID(), &github.IssueComment{Body: github.String("reject")})
		check(t, err)
		_, err = r.gh.Issues.DeleteComment(t.Context(), r.owner, r.repo, cm.GetID())
		check(t, err)
		_, _, err = r.gh.Issues.Edit(t.Context(), r.owner, r.repo, n, &github.IssueRequest{Title: github.String("Renamed"), Body: github.String("now with a body")})
		check(t, err)
		_, _, err = r.gh.Issues.Edit(t.Context(), r.owner, r.repo, n, &github.IssueRequest{State: github.String("closed"), StateReason: github.String("not_planned")})
		check(t, err)
		_, _, err = r.gh.Issues.Edit(t.Context(), r.owner, r.repo, n, &github.IssueRequest{State: github.String("open")})
		check(t, err)
	}
	waitDeliveries(t, w.emu)
	return rc.all()
}

func TestPayloadsMatchOctokitSchemas(t *testing.T) {
	dir := conformance.File(t, "octokit-webhooks/payload-schemas/api.github.com/common/issue.schema.json")
	dir = filepath.Dir(filepath.Dir(dir))
	c := jsonschema.NewCompiler()
	c.UseLoader(octokitLoader{dir: dir})
	c.AssertFormat()
	// The library's uri-template check splits on "/" and so rejects GitHub's
	// "{/name}" expressions, which RFC 6570 allows; check braces instead.
	c.RegisterFormat(&jsonschema.Format{Name: "uri-template", Validate: validateURITemplate})
	schemas := map[string]*jsonschema.Schema{}
	for _, name := range []string{"issue_comment.created", "issue_comment.edited", "issue_comment.deleted", "issues.opened", "issues.closed", "issues.edited"} {
		sch, err := c.Compile(schemaBase + name + ".json")
		if err != nil {
			t.Fatalf("compile %s: %v", name, err)
		}
		schemas[name] = sch
	}

	// The upstream examples pass, so a failure below is the emulator's.
	for name, example := range map[string]string{
		"issue_comment.created": "issue_comment/created.with-installation.payload.json",
		"issue_comment.edited":  "issue_comment/edited.payload.json",
		"issue_comment.deleted": "issue_comment/deleted.payload.json",
		"issues.opened":         "issues/opened.with-organization.payload.json",
		"issues.edited":         "issues/edited.payload.json",
	} {
		b, err := os.ReadFile(conformance.File(t, "octokit-webhooks/payload-examples/api.github.com/"+example))
		check(t, err)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		check(t, err)
		if err := schemas[name].Validate(inst); err != nil {
			t.Fatalf("octokit's own %s example fails its schema, so the schema setup is wrong: %v", example, err)
		}
	}

	checked := map[string]int{}
	for _, r := range conformanceWorld(t) {
		name := events([]received{r})[0]
		sch := schemas[name]
		if sch == nil {
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
		check(t, err)
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s payload does not match the octokit schema: %v\n%s", name, err, r.body)
		}
		checked[name]++
	}
	for name := range schemas {
		if checked[name] != 4 {
			t.Errorf("validated %d %s payloads, want 4", checked[name], name)
		}
	}
}

// validateURITemplate accepts RFC 6570 templates: balanced, unnested braces
// around non-empty expressions.
func validateURITemplate(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	open := -1
	for i, ch := range s {
		switch {
		case ch == '{' && open < 0:
			open = i
		case ch == '}' && open >= 0 && i > open+1:
			open = -1
		case ch == '{' || ch == '}':
			return fmt.Errorf("misplaced %q at %d", ch, i)
		}
	}
	if open >= 0 {
		return fmt.Errorf("unclosed expression at %d", open)
	}
	return nil
}

func TestPayloadKeysMatchOctokitExamples(t *testing.T) {
	examples := conformance.File(t, "octokit-webhooks/payload-examples/api.github.com/issue_comment/created.payload.json")
	examples = filepath.Dir(filepath.Dir(examples))
	keysOf := func(b []byte) []string {
		var m map[string]json.RawMessage
		decodeJSON(t, b, &m)
		return sortedKeys(m)
	}
	// Which repository's delivery matches which example.
	tests := []struct {
		event, repo, example string
	}{
		{"issue_comment.created", "acme/app", "issue_comment/created.with-installation.payload.json"},
		{"issue_comment.created", "acme/site", "issue_comment/created.with-organization.payload.json"},
		{"issue_comment.created", "alice/tools", "issue_comment/created.payload.json"},
		{"issue_comment.edited", "alice/tools", "issue_comment/edited.payload.json"},
		{"issue_comment.deleted", "alice/tools", "issue_comment/deleted.payload.json"},
		{"issues.opened", "alice/tools", "issues/opened.payload.json"},
		{"issues.opened", "acme/site", "issues/opened.with-organization.payload.json"},
		{"issues.edited", "alice/tools", "issues/edited.payload.json"},
		{"issues.reopened", "dave/infra", "issues/reopened.payload.json"},
	}
	got := map[string][]byte{}
	for _, r := range conformanceWorld(t) {
		var p struct {
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		decodeJSON(t, r.body, &p)
		key := events([]received{r})[0] + " " + p.Repository.FullName
		if got[key] == nil {
			got[key] = r.body
		}
	}
	for _, tt := range tests {
		t.Run(tt.event+" "+tt.repo, func(t *testing.T) {
			example, err := os.ReadFile(filepath.Join(examples, filepath.FromSlash(tt.example)))
			check(t, err)
			body := got[tt.event+" "+tt.repo]
			if body == nil {
				t.Fatalf("no %s delivery for %s", tt.event, tt.repo)
			}
			if d := cmp.Diff(keysOf(example), keysOf(body)); d != "" {
				t.Errorf("top-level keys (-octokit example +emulator):\n%s", d)
			}
		})
	}
}
