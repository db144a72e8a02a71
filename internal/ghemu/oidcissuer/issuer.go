package oidcissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Issuer is an emulated GitHub Actions OIDC issuer. Create it with New, then
// Start it before using the other methods; Close stops it.
type Issuer struct {
	srv *httptest.Server

	mu    sync.Mutex
	keys  []*signingKey // all published; the last one signs
	stray *signingKey   // never published, for UnknownKey
	jobs  map[string]job
}

// job is a registered workflow job, keyed by its request token.
type job struct {
	id     string
	claims JobClaims
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

// New returns an issuer with one signing key. It does not listen yet.
func New() *Issuer {
	return &Issuer{keys: []*signingKey{newSigningKey()}, jobs: map[string]job{}}
}

// Start serves the issuer on a loopback address.
func (i *Issuer) Start() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /.well-known/jwks", i.serveKeys)
	mux.HandleFunc("GET /_apis/distributedtask/jobs/{job}/idtoken", i.serveToken)
	// Assigned before serving starts, so that handlers see it.
	i.srv = httptest.NewUnstartedServer(mux)
	i.srv.Start()
}

// Close stops the server.
func (i *Issuer) Close() {
	if i.srv != nil {
		i.srv.Close()
	}
}

// Issuer returns the issuer URL: the server's base URL, which is also the iss
// claim of its tokens. It is empty before Start.
func (i *Issuer) Issuer() string {
	if i.srv == nil {
		return ""
	}
	return i.srv.URL
}

// Rotate adds a new signing key and signs with it from now on. Earlier keys
// stay published, so tokens they signed still verify.
func (i *Issuer) Rotate() {
	k := newSigningKey()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
}

// RequestURL registers a workflow job and returns what the runner gives such
// a job as ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
// Tokens requested with them carry the job's claims.
func (i *Issuer) RequestURL(claims JobClaims) (requestURL, requestToken string) {
	id := newUUID()
	requestToken = randomHex(32)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jobs[requestToken] = job{id: id, claims: claims}
	return i.Issuer() + "/_apis/distributedtask/jobs/" + id + "/idtoken?api-version=2.0", requestToken
}

// claimsSupported is the claims_supported list of the real discovery document.
func claimsSupported() []string {
	return []string{
		"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha",
		"repository", "repository_id", "repository_owner", "repository_owner_id",
		"enterprise", "enterprise_id", "run_id", "run_number", "run_attempt",
		"actor", "actor_id", "workflow", "workflow_ref", "workflow_sha",
		"head_ref", "base_ref", "event_name", "ref_type", "ref_protected",
		"environment", "environment_node_id", "job_workflow_ref", "job_workflow_sha",
		"repository_visibility", "runner_environment", "issuer_scope", "check_run_id",
	}
}

// discoveryDocument has the members of the real issuer's
// /.well-known/openid-configuration, in its order.
type discoveryDocument struct {
	Issuer                 string   `json:"issuer"`
	JWKSURI                string   `json:"jwks_uri"`
	SubjectTypesSupported  []string `json:"subject_types_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
	ClaimsSupported        []string `json:"claims_supported"`
	SigningAlgsSupported   []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported        []string `json:"scopes_supported"`
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, discoveryDocument{
		Issuer:                 i.Issuer(),
		JWKSURI:                i.Issuer() + "/.well-known/jwks",
		SubjectTypesSupported:  []string{"public", "pairwise"},
		ResponseTypesSupported: []string{"id_token"},
		ClaimsSupported:        claimsSupported(),
		SigningAlgsSupported:   []string{"RS256"},
		ScopesSupported:        []string{"openid"},
	})
}

type jsonWebKey struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (i *Issuer) serveKeys(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	keys := make([]jsonWebKey, 0, len(i.keys))
	for _, k := range i.keys {
		n, e := publicKeyMembers(&k.key.PublicKey)
		keys = append(keys, jsonWebKey{Kty: "RSA", Alg: "RS256", Use: "sig", Kid: k.id, N: n, E: e})
	}
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string][]jsonWebKey{"keys": keys})
}

// serveToken answers the runner's token request: the job's request token as
// a bearer token, an optional audience parameter (GitHub's default audience
// is the URL of the repository owner), {"value":"<jwt>"} back.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	requestToken, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	i.mu.Lock()
	j, found := i.jobs[requestToken]
	i.mu.Unlock()
	if !ok || !found || j.id != r.PathValue("job") {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "the request token is missing or not valid for this job"})
		return
	}
	query := r.URL.Query()
	if query.Get("api-version") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "the api-version query parameter is required"})
		return
	}
	audience := query.Get("audience")
	if audience == "" {
		audience = "https://github.com/" + j.claims.withDefaults().RepositoryOwner
	}
	token, err := i.mint(j.claims, audience, mintConfig{issuedAt: time.Now()})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"value": token})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// newSigningKey generates an RSA key whose id is its RFC 7638 thumbprint.
func newSigningKey() *signingKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("oidcissuer: generate RSA key: %v", err))
	}
	n, e := publicKeyMembers(&key.PublicKey)
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return &signingKey{id: base64.RawURLEncoding.EncodeToString(sum[:]), key: key}
}

// publicKeyMembers returns the JWK members n and e of a public key.
func publicKeyMembers(pub *rsa.PublicKey) (n, e string) {
	return base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
