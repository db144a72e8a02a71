package oidcissuer_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-githubactions"

	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
)

// realClaimsSupported is claims_supported of
// https://token.actions.githubusercontent.com/.well-known/openid-configuration.
var realClaimsSupported = []string{
	"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha",
	"repository", "repository_id", "repository_owner", "repository_owner_id",
	"enterprise", "enterprise_id", "run_id", "run_number", "run_attempt",
	"actor", "actor_id", "workflow", "workflow_ref", "workflow_sha",
	"head_ref", "base_ref", "event_name", "ref_type", "ref_protected",
	"environment", "environment_node_id", "job_workflow_ref", "job_workflow_sha",
	"repository_visibility", "runner_environment", "issuer_scope", "check_run_id",
}

func sampleJob() oidcissuer.JobClaims {
	return oidcissuer.JobClaims{
		Repository:           "octo-org/octo-repo",
		RepositoryID:         74,
		RepositoryOwnerID:    65,
		RepositoryVisibility: "private",
		Actor:                "octocat",
		ActorID:              12,
		RunID:                22259804324,
		RunNumber:            42,
		RunAttempt:           2,
		CheckRunID:           90000001,
		Workflow:             "deploy",
		WorkflowRef:          "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
		WorkflowSHA:          "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		Ref:                  "refs/heads/main",
		RefProtected:         true,
		SHA:                  "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		EventName:            "workflow_dispatch",
		RunnerEnvironment:    "github-hosted",
	}
}

func start(t *testing.T) *oidcissuer.Issuer {
	t.Helper()
	iss := oidcissuer.New()
	iss.Start()
	t.Cleanup(iss.Close)
	return iss
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", u, err)
	}
}

type jwk struct {
	Kty, Alg, Use, Kid, N, E string
}

func (k jwk) publicKey(t *testing.T) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		t.Fatalf("key %s: n: %v", k.Kid, err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		t.Fatalf("key %s: e: %v", k.Kid, err)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

func keys(t *testing.T, iss *oidcissuer.Issuer) []jwk {
	t.Helper()
	var set struct{ Keys []jwk }
	getJSON(t, iss.Issuer()+"/.well-known/jwks", &set)
	return set.Keys
}

// token is a decoded JWT.
type token struct {
	header       map[string]any
	claims       map[string]any
	signingInput string
	signature    []byte
}

func decode(t *testing.T, raw string) token {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	var tok token
	for i, dst := range []*map[string]any{&tok.header, &tok.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("token part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("token part %d: %v", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	tok.signingInput, tok.signature = parts[0]+"."+parts[1], sig
	return tok
}

// verifyRS256 checks the token's signature with the published key its kid names.
func verifyRS256(t *testing.T, iss *oidcissuer.Issuer, tok token) {
	t.Helper()
	if tok.header["alg"] != "RS256" {
		t.Fatalf("alg = %v, want RS256", tok.header["alg"])
	}
	for _, k := range keys(t, iss) {
		if k.Kid == tok.header["kid"] {
			digest := sha256.Sum256([]byte(tok.signingInput))
			if err := rsa.VerifyPKCS1v15(k.publicKey(t), crypto.SHA256, digest[:], tok.signature); err != nil {
				t.Fatalf("signature does not verify with key %s: %v", k.Kid, err)
			}
			return
		}
	}
	t.Fatalf("kid %v is not published", tok.header["kid"])
}

func TestDiscoveryDocument(t *testing.T) {
	t.Parallel()
	iss := start(t)
	var doc map[string]json.RawMessage
	getJSON(t, iss.Issuer()+"/.well-known/openid-configuration", &doc)

	// The members of the real document, as documented and served by GitHub.
	wantKeys := []string{
		"issuer", "jwks_uri", "subject_types_supported", "response_types_supported",
		"claims_supported", "id_token_signing_alg_values_supported", "scopes_supported",
	}
	var gotKeys []string
	for k := range doc {
		gotKeys = append(gotKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
		t.Errorf("discovery members (-want +got):\n%s", diff)
	}

	type document struct {
		Issuer                           string   `json:"issuer"`
		JWKSURI                          string   `json:"jwks_uri"`
		SubjectTypesSupported            []string `json:"subject_types_supported"`
		ResponseTypesSupported           []string `json:"response_types_supported"`
		ClaimsSupported                  []string `json:"claims_supported"`
		IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
		ScopesSupported                  []string `json:"scopes_supported"`
	}
	var got document
	getJSON(t, iss.Issuer()+"/.well-known/openid-configuration", &got)
	want := document{
		Issuer:                           iss.Issuer(),
		JWKSURI:                          iss.Issuer() + "/.well-known/jwks",
		SubjectTypesSupported:            []string{"public", "pairwise"},
		ResponseTypesSupported:           []string{"id_token"},
		ClaimsSupported:                  realClaimsSupported,
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ScopesSupported:                  []string{"openid"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery document (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(iss.Issuer(), "http://127.0.0.1:") {
		t.Errorf("issuer %q is not on loopback", iss.Issuer())
	}
}

func TestTokenClaimsAreSupported(t *testing.T) {
	t.Parallel()
	iss := start(t)
	job := sampleJob()
	job.Environment = "production"
	job.HeadRef, job.BaseRef = "feature", "main"
	tok := decode(t, iss.Mint(job, "aud"))
	for claim := range tok.claims {
		if !slices.Contains(realClaimsSupported, claim) {
			t.Errorf("token claim %q is not in claims_supported", claim)
		}
	}
}

func TestKeysAndRotation(t *testing.T) {
	t.Parallel()
	iss := start(t)
	before := keys(t, iss)
	if len(before) != 1 {
		t.Fatalf("got %d keys, want 1", len(before))
	}
	k := before[0]
	if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.Kid == "" || k.N == "" || k.E != "AQAB" {
		t.Errorf("key = %+v, want kty RSA, alg RS256, use sig, a kid, n, e AQAB", k)
	}
	if n := k.publicKey(t).N.BitLen(); n != 2048 {
		t.Errorf("modulus has %d bits, want 2048", n)
	}
	old := iss.Mint(sampleJob(), "aud")

	iss.Rotate()
	after := keys(t, iss)
	if len(after) != 2 || after[0] != k || after[1].Kid == k.Kid {
		t.Fatalf("after Rotate keys = %+v, want the old key and a new one", after)
	}
	fresh := decode(t, iss.Mint(sampleJob(), "aud"))
	if fresh.header["kid"] != after[1].Kid {
		t.Errorf("new token kid = %v, want the new key %s", fresh.header["kid"], after[1].Kid)
	}
	verifyRS256(t, iss, fresh)
	verifyRS256(t, iss, decode(t, old))
}

// wantClaims is what a token for sampleJob carries, besides jti and times.
func wantClaims(iss *oidcissuer.Issuer, aud string) map[string]any {
	return map[string]any{
		"iss":                   iss.Issuer(),
		"aud":                   aud,
		"sub":                   "repo:octo-org/octo-repo:ref:refs/heads/main",
		"repository":            "octo-org/octo-repo",
		"repository_id":         "74",
		"repository_owner":      "octo-org",
		"repository_owner_id":   "65",
		"repository_visibility": "private",
		"actor":                 "octocat",
		"actor_id":              "12",
		"run_id":                "22259804324",
		"run_number":            "42",
		"run_attempt":           "2",
		"check_run_id":          "90000001",
		"workflow":              "deploy",
		"workflow_ref":          "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
		"workflow_sha":          "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		"job_workflow_ref":      "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
		"job_workflow_sha":      "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		"ref":                   "refs/heads/main",
		"ref_type":              "branch",
		"ref_protected":         "true",
		"sha":                   "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		"event_name":            "workflow_dispatch",
		"head_ref":              "",
		"base_ref":              "",
		"runner_environment":    "github-hosted",
	}
}

// checkToken checks a token requested for sampleJob.
func checkToken(t *testing.T, iss *oidcissuer.Issuer, raw, aud string) {
	t.Helper()
	tok := decode(t, raw)
	verifyRS256(t, iss, tok)
	got := map[string]any{}
	for k, v := range tok.claims {
		got[k] = v
	}
	jti, _ := got["jti"].(string)
	iat, _ := got["iat"].(float64)
	nbf, _ := got["nbf"].(float64)
	exp, _ := got["exp"].(float64)
	if jti == "" || exp-iat != 300 || iat-nbf != 300 {
		t.Errorf("jti %q, iat %v, nbf %v, exp %v: want a jti, nbf = iat-300, exp = iat+300", jti, iat, nbf, exp)
	}
	for _, k := range []string{"jti", "iat", "nbf", "exp"} {
		delete(got, k)
	}
	if diff := cmp.Diff(wantClaims(iss, aud), got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func TestGetIDTokenWithGoGitHubActions(t *testing.T) {
	t.Parallel()
	iss := start(t)
	requestURL, requestToken := iss.RequestURL(sampleJob())
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   requestURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
	}
	action := githubactions.New(githubactions.WithGetenv(func(k string) string { return env[k] }))

	tests := []struct {
		name, audience, wantAud string
	}{
		{"custom audience", "https://gatehouse.example.com", "https://gatehouse.example.com"},
		{"default audience is the owner's URL", "", "https://github.com/octo-org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := action.GetIDToken(context.Background(), tt.audience)
			if err != nil {
				t.Fatal(err)
			}
			checkToken(t, iss, raw, tt.wantAud)
		})
	}
}

// TestTokenRequestLikeToolkit asks for a token the way @actions/core's
// getIDToken does: "&audience=" and the encoded audience appended to the URL.
func TestTokenRequestLikeToolkit(t *testing.T) {
	t.Parallel()
	iss := start(t)
	requestURL, requestToken := iss.RequestURL(sampleJob())
	const aud = "https://gatehouse.example.com/some path"
	req, err := http.NewRequest(http.MethodGet, requestURL+"&audience="+url.QueryEscape(aud), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+requestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s, want 200", resp.Status)
	}
	var body struct{ Value string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	checkToken(t, iss, body.Value, aud)
}

func TestTokenRequestRefused(t *testing.T) {
	t.Parallel()
	iss := start(t)
	requestURL, requestToken := iss.RequestURL(sampleJob())
	otherURL, otherToken := iss.RequestURL(sampleJob())
	withoutQuery, _, _ := strings.Cut(requestURL, "?")

	tests := []struct {
		name, method, url, auth string
		want                    int
	}{
		{"no authorization", http.MethodGet, requestURL, "", http.StatusUnauthorized},
		{"wrong request token", http.MethodGet, requestURL, "Bearer " + requestToken + "x", http.StatusUnauthorized},
		{"not a bearer token", http.MethodGet, requestURL, "token " + requestToken, http.StatusUnauthorized},
		{"another job's token", http.MethodGet, requestURL, "Bearer " + otherToken, http.StatusUnauthorized},
		{"another job's URL", http.MethodGet, otherURL, "Bearer " + requestToken, http.StatusUnauthorized},
		{"no api-version", http.MethodGet, withoutQuery, "Bearer " + requestToken, http.StatusBadRequest},
		{"POST", http.MethodPost, requestURL, "Bearer " + requestToken, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestMintOptions(t *testing.T) {
	t.Parallel()
	iss := start(t)
	published := keys(t, iss)[0]
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := float64(time.Now().Unix())

	tests := []struct {
		name  string
		opts  []oidcissuer.MintOption
		check func(t *testing.T, tok token)
	}{
		{"signed with the current key", nil, func(t *testing.T, tok token) {
			verifyRS256(t, iss, tok)
			if tok.claims["iss"] != iss.Issuer() {
				t.Errorf("iss = %v, want %s", tok.claims["iss"], iss.Issuer())
			}
		}},
		{"issued at", []oidcissuer.MintOption{oidcissuer.IssuedAt(at)}, func(t *testing.T, tok token) {
			got := []any{tok.claims["iat"], tok.claims["nbf"], tok.claims["exp"]}
			want := []any{float64(at.Unix()), float64(at.Unix() - 300), float64(at.Unix() + 300)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("iat, nbf, exp (-want +got):\n%s", diff)
			}
		}},
		{"expired", []oidcissuer.MintOption{oidcissuer.Expired()}, func(t *testing.T, tok token) {
			if exp := tok.claims["exp"].(float64); exp >= now {
				t.Errorf("exp %v is not in the past (now %v)", exp, now)
			}
		}},
		{"not yet valid", []oidcissuer.MintOption{oidcissuer.NotYetValid()}, func(t *testing.T, tok token) {
			if nbf := tok.claims["nbf"].(float64); nbf <= now {
				t.Errorf("nbf %v is not in the future (now %v)", nbf, now)
			}
		}},
		{"issued by", []oidcissuer.MintOption{oidcissuer.IssuedBy("https://token.actions.githubusercontent.com")}, func(t *testing.T, tok token) {
			verifyRS256(t, iss, tok)
			if got := tok.claims["iss"]; got != "https://token.actions.githubusercontent.com" {
				t.Errorf("iss = %v", got)
			}
		}},
		{"unknown key", []oidcissuer.MintOption{oidcissuer.UnknownKey()}, func(t *testing.T, tok token) {
			if kid := tok.header["kid"]; kid == "" || kid == published.Kid {
				t.Errorf("kid = %v, want one that is not published", kid)
			}
		}},
		{"alg none", []oidcissuer.MintOption{oidcissuer.AlgNone()}, func(t *testing.T, tok token) {
			if diff := cmp.Diff(map[string]any{"alg": "none", "typ": "JWT"}, tok.header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if len(tok.signature) != 0 {
				t.Errorf("signature has %d bytes, want none", len(tok.signature))
			}
		}},
		{"HS256 with the public key", []oidcissuer.MintOption{oidcissuer.HS256WithPublicKey()}, func(t *testing.T, tok token) {
			if tok.header["alg"] != "HS256" {
				t.Errorf("alg = %v, want HS256", tok.header["alg"])
			}
			der, err := x509.MarshalPKIXPublicKey(published.publicKey(t))
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			mac.Write([]byte(tok.signingInput))
			if !hmac.Equal(mac.Sum(nil), tok.signature) {
				t.Error("signature is not HMAC-SHA256 keyed with the PEM public key")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, decode(t, iss.Mint(sampleJob(), "aud", tt.opts...)))
		})
	}
}

func TestDerivedClaims(t *testing.T) {
	t.Parallel()
	iss := start(t)
	tests := []struct {
		name string
		edit func(*oidcissuer.JobClaims)
		want map[string]any
	}{
		{"branch", func(*oidcissuer.JobClaims) {}, map[string]any{
			"sub": "repo:octo-org/octo-repo:ref:refs/heads/main", "ref_type": "branch",
		}},
		{"tag", func(c *oidcissuer.JobClaims) { c.Ref = "refs/tags/v1.2.0" }, map[string]any{
			"sub": "repo:octo-org/octo-repo:ref:refs/tags/v1.2.0", "ref_type": "tag",
		}},
		{"environment wins", func(c *oidcissuer.JobClaims) { c.Environment, c.EventName = "prod", "pull_request" }, map[string]any{
			"sub": "repo:octo-org/octo-repo:environment:prod", "ref_type": "branch",
		}},
		{"pull request", func(c *oidcissuer.JobClaims) { c.EventName, c.Ref = "pull_request", "refs/pull/7/merge" }, map[string]any{
			"sub": "repo:octo-org/octo-repo:pull_request", "ref_type": "branch",
		}},
		{"explicit subject", func(c *oidcissuer.JobClaims) { c.Subject, c.RefType = "repo:octo-org/octo-repo:custom", "branch" }, map[string]any{
			"sub": "repo:octo-org/octo-repo:custom", "ref_type": "branch",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := sampleJob()
			tt.edit(&job)
			claims := decode(t, iss.Mint(job, "aud")).claims
			got := map[string]any{"sub": claims["sub"], "ref_type": claims["ref_type"]}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if claims["repository_owner"] != "octo-org" {
				t.Errorf("repository_owner = %v, want octo-org", claims["repository_owner"])
			}
		})
	}
}
