package teams

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

const (
	testAppID  = "00000000-0000-4000-8000-0000000000b0"
	testTenant = "0c0ffee0-0000-4000-8000-00000000beef"
	testSecret = "app-password"
)

// testKeys are RSA keys, made once: making them is slow.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// signingKey of the fake key set.
type fakeKey struct {
	kid          string
	priv         *rsa.PrivateKey
	endorsements []string
}

// call is a request the fake Connector served.
type call struct {
	Method, Path, Auth string
	Body               string
}

// answer is a canned error answer of the fake Connector.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// fakeMS fakes the Microsoft services the package talks to, on one
// loopback server: the Bot Framework OpenID metadata and keys, the
// identity platform's token endpoint, and the Bot Connector.
type fakeMS struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	keys        []fakeKey
	keyFetches  int
	metaStatus  int // non-zero: the metadata answers this
	tokenForms  []map[string]string
	tokenTTL    int // expires_in
	issued      []string
	calls       []call
	members     map[string]Member    // by member id
	channels    map[string][]Channel // by team id
	activities  int
	failures    map[string]answer // by "METHOD path"
	tokenStatus int               // non-zero: the token endpoint answers this
}

func newFakeMS(t *testing.T) *fakeMS {
	t.Helper()
	keys := testKeys()
	f := &fakeMS{
		t: t,
		keys: []fakeKey{
			{kid: "k1", priv: keys[0], endorsements: []string{"msteams", "webchat"}},
			{kid: "k2", priv: keys[1], endorsements: []string{"webchat"}},
		},
		tokenTTL: 3600,
		members:  map[string]Member{},
		channels: map[string][]Channel{},
		failures: map[string]answer{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openid", f.metadata)
	mux.HandleFunc("GET /keys", f.keySet)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", f.token)
	mux.HandleFunc("POST /amer/v3/conversations/{conv}/activities", f.connector(func(r *http.Request) any {
		f.activities++
		return map[string]string{"id": fmt.Sprintf("activity-%d", f.activities)}
	}))
	mux.HandleFunc("PUT /amer/v3/conversations/{conv}/activities/{act}", f.connector(func(r *http.Request) any {
		return map[string]string{"id": r.PathValue("act")}
	}))
	mux.HandleFunc("GET /amer/v3/conversations/{conv}/members/{member}", f.connector(func(r *http.Request) any {
		m, ok := f.members[r.PathValue("member")]
		if !ok {
			return nil
		}
		return m
	}))
	mux.HandleFunc("GET /amer/v3/teams/{team}/conversations", f.connector(func(r *http.Request) any {
		return map[string]any{"conversations": f.channels[r.PathValue("team")]}
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMS) URL() string        { return f.srv.URL }
func (f *fakeMS) OpenIDURL() string  { return f.srv.URL + "/openid" }
func (f *fakeMS) ServiceURL() string { return f.srv.URL + "/amer/" }

func (f *fakeMS) metadata(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	status := f.metaStatus
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	writeTestJSON(w, map[string]any{
		"issuer":                                botIssuer,
		"jwks_uri":                              f.srv.URL + "/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (f *fakeMS) keySet(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keyFetches++
	var keys []map[string]any
	for _, k := range f.keys {
		b, err := json.Marshal(jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Use: "sig", Algorithm: "RS256"})
		if err != nil {
			f.t.Error(err)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			f.t.Error(err)
			return
		}
		m["endorsements"] = k.endorsements
		keys = append(keys, m)
	}
	writeTestJSON(w, map[string]any{"keys": keys})
}

func (f *fakeMS) setMetaStatus(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metaStatus = status
}

func (f *fakeMS) KeyFetches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keyFetches
}

func (f *fakeMS) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Error(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	form := map[string]string{"tenant": r.PathValue("tenant")}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	f.tokenForms = append(f.tokenForms, form)
	if f.tokenStatus != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.tokenStatus)
		_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"bad secret"}`)
		return
	}
	tok := fmt.Sprintf("bot-token-%d", len(f.issued)+1)
	f.issued = append(f.issued, tok)
	writeTestJSON(w, map[string]any{"token_type": "Bearer", "expires_in": f.tokenTTL, "access_token": tok})
}

// connector serves a Connector route: the bearer must be the last token
// issued; a canned failure answers first; a nil result is a 404.
func (f *fakeMS) connector(result func(*http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, call{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: string(body)})
		if len(f.issued) == 0 || r.Header.Get("Authorization") != "Bearer "+f.issued[len(f.issued)-1] {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if a, ok := f.failures[r.Method+" "+r.URL.Path]; ok {
			if a.retryAfter != "" {
				w.Header().Set("Retry-After", a.retryAfter)
			}
			w.WriteHeader(a.status)
			_, _ = io.WriteString(w, a.body)
			return
		}
		v := result(r)
		if v == nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"NotFound","message":"no such member"}}`)
			return
		}
		writeTestJSON(w, v)
	}
}

func (f *fakeMS) fail(method, path string, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method+" "+path] = a
}

func (f *fakeMS) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeMS) TokenForms() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]string(nil), f.tokenForms...)
}

// connector returns a Connector of the fake, on the clock c.
func (f *fakeMS) newConnector(c *testclock.Clock) *Connector {
	return NewConnector(ConnectorOptions{
		AuthorityURL:      f.srv.URL,
		TenantID:          testTenant,
		AppID:             testAppID,
		AppPassword:       testSecret,
		HTTPClient:        f.srv.Client(),
		AllowLoopbackHTTP: true,
		Now:               c.Now,
	})
}

// jwtFor signs claims as the Bot Connector would, with the key kid (of
// the fake's keys, or the third test key for "forger").
func (f *fakeMS) jwtFor(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	priv := testKeys()[2]
	for _, k := range f.keys {
		if k.kid == kid {
			priv = k.priv
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsAt are the claims of a good token at now for the service URL.
func claimsAt(now time.Time, serviceURL string) map[string]any {
	return map[string]any{
		"iss":        botIssuer,
		"aud":        testAppID,
		"nbf":        now.Add(-time.Minute).Unix(),
		"exp":        now.Add(time.Hour).Unix(),
		"serviceurl": serviceURL,
	}
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// contains reports whether err's text contains s.
func contains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}
