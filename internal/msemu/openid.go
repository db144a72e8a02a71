package msemu

import "net/http"

const (
	openIDPath = "/v1/.well-known/openidconfiguration"
	keysPath   = "/v1/.well-known/keys"
	// botFrameworkIssuer is the iss of tokens that channels send to bots.
	botFrameworkIssuer = "https://api.botframework.com"
)

func (e *Emulator) openIDRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+openIDPath, e.serveOpenIDConfiguration)
	mux.HandleFunc("GET "+keysPath, e.serveBotFrameworkKeys)
}

// openIDConfiguration has the members of the Bot Framework's metadata
// document, in its order.
type openIDConfiguration struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

func (e *Emulator) serveOpenIDConfiguration(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, openIDConfiguration{
		Issuer:                botFrameworkIssuer,
		AuthorizationEndpoint: "https://invalid.botframework.com",
		JWKSURI:               e.URL() + keysPath,
		SigningAlgs:           []string{"RS256"},
		TokenAuthMethods:      []string{"private_key_jwt"},
	})
}

// serveBotFrameworkKeys publishes the keys that sign activities to bots:
// every key endorsed for Teams (older ones stay after RotateKey) and one
// endorsed for other channels only.
func (e *Emulator) serveBotFrameworkKeys(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	keys := make([]jsonWebKey, 0, len(e.inbound)+1)
	for _, k := range e.inbound {
		keys = append(keys, k.jwk())
	}
	keys = append(keys, e.unendorsed.jwk())
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string][]jsonWebKey{"keys": keys})
}

// RotateKey publishes a new key endorsed for Teams and signs activities
// with it from now on. Earlier keys stay published, as during Microsoft's
// key rollover, so a bot that caches the JWKS meets a kid it has not seen.
func (e *Emulator) RotateKey() error {
	k, err := e.newKey("api.botframework.com", teamsEndorsements)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inbound = append(e.inbound, k)
	return nil
}

// currentKey is the key that signs activities now.
func (e *Emulator) currentKey() *signingKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inbound[len(e.inbound)-1]
}
