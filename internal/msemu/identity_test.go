package msemu

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

// keySet reads a published JWKS; go-jose checks that each key's x5c and
// x5t match it.
func keySet(t *testing.T, u string) jose.JSONWebKeySet {
	t.Helper()
	a := do(t, http.MethodGet, u, nil, "")
	if a.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, a.status, a.body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(a.body, &set); err != nil {
		t.Fatalf("JWKS at %s: %v", u, err)
	}
	return set
}

// accessClaims are the claims of an access token that tests compare.
type accessClaims struct {
	Audience string   `json:"aud"`
	Issuer   string   `json:"iss"`
	AppID    string   `json:"appid"`
	AZP      string   `json:"azp"`
	Tenant   string   `json:"tid"`
	IDType   string   `json:"idtyp"`
	Version  string   `json:"ver"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	Roles    []string `json:"roles"`
}

// verifyIssued checks an access token's signature against the identity
// platform's published keys and returns its claims.
func verifyIssued(t *testing.T, emu *Emulator, tenant, token string) accessClaims {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	set := keySet(t, emu.URL()+"/"+tenant+"/discovery/v2.0/keys")
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not published once: %d keys", tok.Headers[0].KeyID, len(keys))
	}
	var c accessClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	return c
}

func TestTokenIssued(t *testing.T) {
	t.Parallel()
	c := testclock.New(time.Now().Truncate(time.Second))
	emu := start(t, Options{Now: c.Now, TokenLifetime: 90 * time.Second})
	check(t, emu.AddApp("contoso.onmicrosoft.com", "mail-app", "s3cret/+="))
	check(t, emu.AddApp(emu.TenantID(), botID, botSecret))
	check(t, emu.AddApp("contoso.onmicrosoft.com", "sender-app", "sender-secret"))
	check(t, emu.GrantMailSend("contoso.onmicrosoft.com", "sender-app"))
	mailSend := []string{"Mail.Send"}
	tests := []struct {
		name, tenant, clientID, secret, scope string
		basic                                 bool
		aud                                   string
		roles                                 []string
	}{
		{"bot, secret in the form", emu.TenantID(), botID, botSecret, "https://api.botframework.com/.default", false, "https://api.botframework.com", nil},
		{"graph, secret in Basic", "contoso.onmicrosoft.com", "mail-app", "s3cret/+=", "https://graph.microsoft.com/.default", true, "https://graph.microsoft.com", nil},
		{"graph, with the OpenID scopes MSAL adds", "contoso.onmicrosoft.com", "mail-app", "s3cret/+=", "https://graph.microsoft.com/.default openid offline_access profile", false, "https://graph.microsoft.com", nil},
		{"graph, granted Mail.Send", "contoso.onmicrosoft.com", "sender-app", "sender-secret", "https://graph.microsoft.com/.default", false, "https://graph.microsoft.com", mailSend},
		{"the emulator as Graph, granted Mail.Send", "contoso.onmicrosoft.com", "sender-app", "sender-secret", emu.URL() + "/.default", false, emu.URL(), mailSend},
		{"bot framework, granted Mail.Send: no roles", "contoso.onmicrosoft.com", "sender-app", "sender-secret", "https://api.botframework.com/.default", false, "https://api.botframework.com", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {tt.scope}}
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			if tt.basic {
				r, _ := http.NewRequest(http.MethodPost, "/", nil)
				r.SetBasicAuth(url.QueryEscape(tt.clientID), url.QueryEscape(tt.secret))
				h.Set("Authorization", r.Header.Get("Authorization"))
			} else {
				form.Set("client_id", tt.clientID)
				form.Set("client_secret", tt.secret)
			}
			a := do(t, http.MethodPost, emu.TokenURL(tt.tenant), h, form.Encode())
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if got := a.header.Get("Cache-Control"); got != "no-store, no-cache" {
				t.Errorf("Cache-Control = %q", got)
			}
			var res tokenResponse
			if err := json.Unmarshal(a.body, &res); err != nil {
				t.Fatal(err)
			}
			if res.TokenType != "Bearer" || res.ExpiresIn != 90 || res.ExtExpiresIn != 90 {
				t.Errorf("answer = %+v, want Bearer expiring in 90", res)
			}
			got := verifyIssued(t, emu, tt.tenant, res.AccessToken)
			now := c.Now().Unix()
			want := accessClaims{
				Audience: tt.aud, Issuer: "https://sts.windows.net/" + tt.tenant + "/",
				AppID: tt.clientID, AZP: tt.clientID, Tenant: tt.tenant, IDType: "app", Version: "1.0",
				IssuedAt: now, Expiry: now + 90, Roles: tt.roles,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	check(t, emu.AddApp(emu.TenantID(), botID, botSecret))
	good := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {botID}, "client_secret": {botSecret},
		"scope": {"https://api.botframework.com/.default"},
	}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range good {
			f[key] = vs
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		code   string
		aadsts int
	}{
		{"no grant type", emu.TenantID(), with("grant_type", ""), 400, "invalid_request", 900144},
		{"authorization code grant", emu.TenantID(), with("grant_type", "authorization_code"), 400, "unsupported_grant_type", 70003},
		{"no client id", emu.TenantID(), with("client_id", ""), 400, "invalid_request", 900144},
		{"unknown tenant", "fabrikam.onmicrosoft.com", good, 400, "invalid_request", 90002},
		{"no scope", emu.TenantID(), with("scope", ""), 400, "invalid_request", 900144},
		{"scope without .default", emu.TenantID(), with("scope", "https://api.botframework.com"), 400, "invalid_scope", 1002012},
		{"two scopes", emu.TenantID(), with("scope", "https://api.botframework.com/.default https://graph.microsoft.com/.default"), 400, "invalid_scope", 1002012},
		{"OpenID scopes only", emu.TenantID(), with("scope", "openid profile"), 400, "invalid_scope", 1002012},
		{"app not in the tenant", emu.TenantID(), with("client_id", "stranger"), 400, "unauthorized_client", 700016},
		{"no secret", emu.TenantID(), with("client_secret", ""), 401, "invalid_client", 7000218},
		{"wrong secret", emu.TenantID(), with("client_secret", "guess"), 401, "invalid_client", 7000215},
		{"unknown resource", emu.TenantID(), with("scope", "https://vault.azure.net/.default"), 400, "invalid_resource", 500011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postForm(t, emu.TokenURL(tt.tenant), tt.form)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			var body aadErrorBody
			if err := json.Unmarshal(a.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Error != tt.code || len(body.Codes) != 1 || body.Codes[0] != tt.aadsts {
				t.Errorf("error %q %v, want %q [%d]", body.Error, body.Codes, tt.code, tt.aadsts)
			}
			prefix := "AADSTS" + strconv.Itoa(tt.aadsts) + ": "
			if !strings.HasPrefix(body.Description, prefix) || !strings.Contains(body.Description, "\r\nTrace ID: "+body.TraceID+"\r\nCorrelation ID: "+body.CorrelationID+"\r\nTimestamp: "+body.Timestamp) {
				t.Errorf("error_description = %q", body.Description)
			}
			if _, err := time.Parse("2006-01-02 15:04:05Z", body.Timestamp); err != nil {
				t.Errorf("timestamp: %v", err)
			}
		})
	}
}

func TestTokenCorrelationIDEchoesClientRequestID(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Client-Request-Id": {"5f2b7c1e-aaaa-4bbb-8ccc-000000000001"}}
	a := do(t, http.MethodPost, emu.TokenURL(emu.TenantID()), h, "grant_type=client_credentials")
	var body aadErrorBody
	if err := json.Unmarshal(a.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.CorrelationID != "5f2b7c1e-aaaa-4bbb-8ccc-000000000001" {
		t.Errorf("correlation_id = %q", body.CorrelationID)
	}
}

// TestClientCredentialsCaching drives the token endpoint with
// golang.org/x/oauth2's client: TokenRequests shows a long-lived token
// reused and a short-lived one fetched again.
func TestClientCredentialsCaching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lifetime time.Duration
		want     int
	}{
		{"default lifetime: cached", 0, 1},
		{"a second: refreshed each time", time.Second, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := start(t, Options{TokenLifetime: tt.lifetime})
			check(t, emu.AddApp(emu.TenantID(), botID, botSecret))
			src := (&clientcredentials.Config{
				ClientID: botID, ClientSecret: botSecret, TokenURL: emu.TokenURL(emu.TenantID()),
				Scopes: []string{"https://api.botframework.com/.default"},
			}).TokenSource(t.Context())
			for range 3 {
				if _, err := src.Token(); err != nil {
					t.Fatal(err)
				}
			}
			if got := emu.TokenRequests(botID); got != tt.want {
				t.Errorf("TokenRequests = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestIdentityKeysOfUnknownTenant(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	a := do(t, http.MethodGet, emu.URL()+"/nowhere.example/discovery/v2.0/keys", nil, "")
	if a.status != http.StatusBadRequest {
		t.Errorf("status %d, want 400: %s", a.status, a.body)
	}
}

func TestAddAppRefuses(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	check(t, emu.AddApp("t1", "app", "secret"))
	tests := []struct{ name, tenant, id, secret string }{
		{"empty tenant", "", "app2", "s"},
		{"tenant with a slash", "a/b", "app2", "s"},
		{"empty client id", "t1", "", "s"},
		{"no secret", "t1", "app2", ""},
		{"registered twice", "t1", "app", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := emu.AddApp(tt.tenant, tt.id, tt.secret); err == nil {
				t.Error("AddApp succeeded")
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{
		{Addr: "0.0.0.0:0"},
		{Addr: "no-port"},
		{TokenLifetime: time.Millisecond},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) succeeded", opts)
		}
	}
}

func TestTenantConfiguration(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{TLS: true})
	check(t, emu.AddApp("contoso.onmicrosoft.com", "mail-app", "secret"))
	_, client := trusting(t, emu)
	base := emu.URL()
	root := base + "/contoso.onmicrosoft.com"
	a := doWith(t, client, http.MethodGet, root+"/v2.0/.well-known/openid-configuration", nil, "")
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	strs := func(s ...string) []any {
		out := make([]any, len(s))
		for i, v := range s {
			out[i] = v
		}
		return out
	}
	want := map[string]any{
		"token_endpoint":                        emu.TokenURL("contoso.onmicrosoft.com"),
		"token_endpoint_auth_methods_supported": strs("client_secret_post", "private_key_jwt", "client_secret_basic"),
		"jwks_uri":                              root + "/discovery/v2.0/keys",
		"response_modes_supported":              strs("query", "fragment", "form_post"),
		"subject_types_supported":               strs("pairwise"),
		"id_token_signing_alg_values_supported": strs("RS256"),
		"response_types_supported":              strs("code", "id_token", "code id_token", "id_token token"),
		"scopes_supported":                      strs("openid", "profile", "email", "offline_access"),
		"issuer":                                root + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                root + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         root + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  root + "/oauth2/v2.0/logout",
		"claims_supported": strs("sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"),
		"kerberos_endpoint":     root + "/kerberos",
		"tenant_region_scope":   "NA",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          strings.TrimPrefix(base, "https://"),
		"rbac_url":              "https://pas.windows.net",
	}
	if diff := cmp.Diff(want, a.json(t)); diff != "" {
		t.Errorf("discovery document (-want +got):\n%s", diff)
	}
	if k := doWith(t, client, http.MethodGet, root+"/discovery/v2.0/keys", nil, ""); k.status != http.StatusOK {
		t.Errorf("jwks_uri answers %d", k.status)
	}

	unknown := doWith(t, client, http.MethodGet, base+"/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration", nil, "")
	var body aadErrorBody
	if err := json.Unmarshal(unknown.body, &body); err != nil {
		t.Fatalf("unknown tenant: %d %q: %v", unknown.status, unknown.body, err)
	}
	if unknown.status != http.StatusBadRequest || body.Error != "invalid_tenant" || len(body.Codes) != 1 || body.Codes[0] != 90002 {
		t.Errorf("unknown tenant: %d %s", unknown.status, unknown.body)
	}
}
