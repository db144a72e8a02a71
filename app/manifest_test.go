package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// The GitHub App manifest asks for the permissions and events the app
// needs, and no more.
func TestGitHubAppManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "deploy", "github-app-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name           string `json:"name"`
		HookAttributes struct {
			URL    string `json:"url"`
			Active bool   `json:"active"`
		} `json:"hook_attributes"`
		DefaultPermissions map[string]string `json:"default_permissions"`
		DefaultEvents      []string          `json:"default_events"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("the manifest is not valid JSON: %v", err)
	}
	if m.Name == "" {
		t.Error("the manifest has no name")
	}
	if !m.HookAttributes.Active || !strings.HasSuffix(m.HookAttributes.URL, "/webhooks/github") {
		t.Errorf("hook_attributes = %+v, want active and delivering to /webhooks/github", m.HookAttributes)
	}
	wantPerms := map[string]string{"issues": "write", "members": "read", "metadata": "read"}
	if diff := cmp.Diff(wantPerms, m.DefaultPermissions); diff != "" {
		t.Errorf("default_permissions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"issue_comment", "issues"}, slices.Sorted(slices.Values(m.DefaultEvents))); diff != "" {
		t.Errorf("default_events (-want +got):\n%s", diff)
	}
	for _, e := range m.DefaultEvents {
		if !slices.Contains(gates.Events, e) {
			t.Errorf("the manifest subscribes to %q, which the app does not handle", e)
		}
	}
}
