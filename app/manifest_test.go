package main

import (
	"encoding/json"
	"image/png"
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

// The Teams app manifest template names the bot in every place Teams
// needs it, and its icons have the sizes Teams requires.
func TestTeamsAppManifest(t *testing.T) {
	dir := filepath.Join("..", "deploy", "teams-app")
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	const botID = "5b1d2c3e-0000-4000-8000-0000000000b0"
	filled := strings.NewReplacer("{{BOT_APP_ID}}", botID, "{{PUBLIC_HOST}}", "gatehouse.example.com", "{{ORGANIZATION}}", "Example").Replace(string(data))
	if strings.Contains(filled, "{{") {
		t.Errorf("placeholders left after filling in BOT_APP_ID, PUBLIC_HOST and ORGANIZATION:\n%s", filled)
	}
	var m struct {
		ManifestVersion string `json:"manifestVersion"`
		ID              string `json:"id"`
		Icons           struct{ Color, Outline string }
		Bots            []struct {
			BotID  string   `json:"botId"`
			Scopes []string `json:"scopes"`
		} `json:"bots"`
		ValidDomains []string `json:"validDomains"`
	}
	if err := json.Unmarshal([]byte(filled), &m); err != nil {
		t.Fatalf("the filled-in manifest is not valid JSON: %v", err)
	}
	if m.ID != botID || len(m.Bots) != 1 || m.Bots[0].BotID != botID || !slices.Contains(m.Bots[0].Scopes, "team") {
		t.Errorf("manifest id %q, bots %+v; want the bot's app id, in team scope", m.ID, m.Bots)
	}
	if !slices.Equal(m.ValidDomains, []string{"gatehouse.example.com"}) {
		t.Errorf("validDomains %q", m.ValidDomains)
	}
	for name, size := range map[string]int{m.Icons.Color: 192, m.Icons.Outline: 32} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != size || cfg.Height != size {
			t.Errorf("icon %s: %dx%d, %v; want %dx%d PNG", name, cfg.Width, cfg.Height, err, size, size)
		}
	}
}
