package msemu

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	a := do(t, http.MethodGet, emu.OpenIDURL(), nil, "")
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	want := map[string]any{
		"issuer":                                "https://api.botframework.com",
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              emu.URL() + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []any{"RS256"},
		"token_endpoint_auth_methods_supported": []any{"private_key_jwt"},
	}
	if diff := cmp.Diff(want, a.json(t)); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	keySet(t, want["jwks_uri"].(string)) // serves a JWKS whose x5c and x5t match
}

// publishedKey is a member of the Bot Framework JWKS as served.
type publishedKey struct {
	Kty          string   `json:"kty"`
	Use          string   `json:"use"`
	Kid          string   `json:"kid"`
	X5t          string   `json:"x5t"`
	E            string   `json:"e"`
	X5c          []string `json:"x5c"`
	Endorsements []string `json:"endorsements"`
}

func publishedKeys(t *testing.T, emu *Emulator) []publishedKey {
	t.Helper()
	var set struct{ Keys []publishedKey }
	if err := json.Unmarshal(do(t, http.MethodGet, emu.URL()+"/v1/.well-known/keys", nil, "").body, &set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

// teamsKids are the kids of published keys endorsed for msteams, and the
// others.
func teamsKids(keys []publishedKey) (teams, other []string) {
	for _, k := range keys {
		if slices.Contains(k.Endorsements, "msteams") {
			teams = append(teams, k.Kid)
		} else {
			other = append(other, k.Kid)
		}
	}
	return teams, other
}

func TestBotFrameworkKeys(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	keys := publishedKeys(t, emu)
	for _, k := range keys {
		if k.Kty != "RSA" || k.Use != "sig" || k.E != "AQAB" || k.Kid == "" || k.Kid != k.X5t || len(k.X5c) != 1 || len(k.Endorsements) == 0 {
			t.Errorf("key %+v is not shaped like the Bot Framework's", k)
		}
	}
	teams, other := teamsKids(keys)
	if len(teams) != 1 || len(other) != 1 {
		t.Fatalf("keys endorsed for msteams %v, for other channels only %v; want one of each", teams, other)
	}
	tok, err := emu.Token(TokenOptions{Audience: botID})
	check(t, err)
	if kid := headerOf(t, tok).KeyID; kid != teams[0] {
		t.Errorf("tokens are signed by %s, want the msteams key %s", kid, teams[0])
	}
}

func headerOf(t *testing.T, token string) jose.Header {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.HS256})
	if err != nil {
		t.Fatalf("parse %q: %v", token, err)
	}
	return tok.Headers[0]
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	before, err := emu.Token(TokenOptions{Audience: botID})
	check(t, err)
	check(t, emu.RotateKey())
	after, err := emu.Token(TokenOptions{Audience: botID})
	check(t, err)

	oldKid, newKid := headerOf(t, before).KeyID, headerOf(t, after).KeyID
	if oldKid == newKid {
		t.Fatalf("the rotated key signs with the old kid %s", oldKid)
	}
	teams, _ := teamsKids(publishedKeys(t, emu))
	if diff := cmp.Diff([]string{oldKid, newKid}, teams); diff != "" {
		t.Errorf("msteams keys (-want +got):\n%s", diff)
	}
	set := keySet(t, emu.URL()+"/v1/.well-known/keys")
	for _, raw := range []string{before, after} {
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
		check(t, err)
		var c jwt.Claims
		if err := tok.Claims(set.Key(tok.Headers[0].KeyID)[0].Key, &c); err != nil {
			t.Errorf("token by %s does not verify against the JWKS: %v", tok.Headers[0].KeyID, err)
		}
	}
}
