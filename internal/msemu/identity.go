package msemu

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Resources that client-credential tokens can be asked for, as
// "<resource>/.default" scopes.
const (
	botFrameworkResource = "https://api.botframework.com"
	graphResource        = "https://graph.microsoft.com"
)

// app is an application registered in a tenant.
type app struct {
	secret   string
	objectID string // its service principal: oid and sub of its tokens
}

// AddApp registers the application clientID in tenant with a client
// secret, as an Azure app registration (a single-tenant Azure Bot has one).
// Its tokens come from TokenURL(tenant).
func (e *Emulator) AddApp(tenant, clientID, secret string) error {
	switch {
	case tenant == "" || strings.ContainsAny(tenant, "/ \t\r\n"):
		return fmt.Errorf("msemu: tenant %q is not a tenant id or domain", tenant)
	case clientID == "" || strings.ContainsAny(clientID, "/ \t\r\n"):
		return fmt.Errorf("msemu: client id %q is not valid", clientID)
	case secret == "":
		return fmt.Errorf("msemu: app %s needs a client secret", clientID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apps[tenant] == nil {
		e.apps[tenant] = map[string]*app{}
	}
	if e.apps[tenant][clientID] != nil {
		return fmt.Errorf("msemu: app %s is already registered in %s", clientID, tenant)
	}
	e.apps[tenant][clientID] = &app{secret: secret, objectID: newUUID()}
	return nil
}

// TokenRequests counts the requests to the token endpoint that named
// clientID, answered or refused.
func (e *Emulator) TokenRequests(clientID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tokenRequests[clientID]
}

func (e *Emulator) identityRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.serveToken)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", e.serveIdentityKeys)
}

// knownTenant reports whether tenant exists: the Teams tenant, or one
// with a registered app. Callers hold e.mu.
func (e *Emulator) knownTenant(tenant string) bool {
	return tenant == e.opts.TenantID || e.apps[tenant] != nil
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// serveToken is the client credentials grant of the Microsoft identity
// platform (v2.0 endpoint), with client_secret_post or client_secret_basic.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	_ = r.ParseForm() // a malformed body reads as missing parameters, as the real endpoint answers
	form := r.PostForm
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = formUnescape(u), formUnescape(p)
	}
	grant, scope := form.Get("grant_type"), form.Get("scope")

	e.mu.Lock()
	e.tokenRequests[clientID]++
	known := e.knownTenant(tenant)
	a := e.apps[tenant][clientID]
	e.mu.Unlock()

	resource, defaultScope := strings.CutSuffix(scope, "/.default")
	switch {
	case grant == "":
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	case grant != "client_credentials":
		e.aadError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
	case clientID == "":
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	case !known:
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
	case scope == "":
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	case !defaultScope || strings.ContainsAny(scope, " \t"):
		e.aadError(w, r, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
	case a == nil:
		e.aadError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
	case secret == "":
		e.aadError(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case secret != a.secret:
		e.aadError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
	case resource != botFrameworkResource && resource != graphResource:
		e.aadError(w, r, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant))
	default:
		tok, err := e.accessToken(tenant, clientID, a, resource)
		if err != nil {
			e.aadError(w, r, http.StatusInternalServerError, "server_error", 90033, err.Error())
			return
		}
		lifetime := int(e.opts.TokenLifetime.Seconds())
		noStore(w)
		writeJSON(w, http.StatusOK, tokenResponse{TokenType: "Bearer", ExpiresIn: lifetime, ExtExpiresIn: lifetime, AccessToken: tok})
	}
}

// accessToken mints an app-only access token in the v1.0 format that
// Microsoft issues for these resources, with azp beside appid.
func (e *Emulator) accessToken(tenant, clientID string, a *app, resource string) (string, error) {
	now := e.clock().Unix()
	sts := "https://sts.windows.net/" + tenant + "/"
	return e.identity.rs256(map[string]any{
		"aud":      resource,
		"iss":      sts,
		"iat":      now,
		"nbf":      now,
		"exp":      now + int64(e.opts.TokenLifetime.Seconds()),
		"aio":      randomString(32),
		"appid":    clientID,
		"azp":      clientID,
		"appidacr": "1",
		"idp":      sts,
		"idtyp":    "app",
		"oid":      a.objectID,
		"sub":      a.objectID,
		"tid":      tenant,
		"uti":      randomString(16),
		"ver":      "1.0",
	})
}

// verifyAccessToken checks that raw is an unexpired access token of this
// identity platform for audience, held by a registered app, and returns
// the app's client id.
func (e *Emulator) verifyAccessToken(raw, audience string) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", fmt.Errorf("parse token: %w", err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID != e.identity.kid {
		return "", errors.New("token is not signed by the identity platform")
	}
	var std jwt.Claims
	var extra struct {
		AppID  string `json:"appid"`
		Tenant string `json:"tid"`
	}
	if err := tok.Claims(&e.identity.priv.PublicKey, &std, &extra); err != nil {
		return "", fmt.Errorf("verify token: %w", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{audience}, Time: e.clock()}, 0); err != nil {
		return "", fmt.Errorf("validate token: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apps[extra.Tenant][extra.AppID] == nil {
		return "", fmt.Errorf("app %q is not registered in %q", extra.AppID, extra.Tenant)
	}
	return extra.AppID, nil
}

// serveIdentityKeys publishes the keys that sign access tokens.
func (e *Emulator) serveIdentityKeys(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	e.mu.Lock()
	known := e.knownTenant(tenant)
	e.mu.Unlock()
	if !known {
		e.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
		return
	}
	writeJSON(w, http.StatusOK, map[string][]jsonWebKey{"keys": {e.identity.jwk()}})
}

// aadErrorBody is the identity platform's error answer.
type aadErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	URI           string `json:"error_uri"`
}

func (e *Emulator) aadError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, message string) {
	ts := e.clock().UTC().Format("2006-01-02 15:04:05Z")
	trace := newUUID()
	correlation := r.Header.Get("client-request-id")
	if correlation == "" {
		correlation = newUUID()
	}
	noStore(w)
	writeJSON(w, status, aadErrorBody{
		Error:         code,
		Description:   fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, message, trace, correlation, ts),
		Codes:         []int{aadsts},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: correlation,
		URI:           fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
}

// formUnescape decodes a client_secret_basic credential, which RFC 6749
// form-encodes before Basic encoding; a value that does not decode is
// taken as it is.
func formUnescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

// randomString is n random bytes in unpadded base64url.
func randomString(n int) string {
	return base64URL(randomBytes(n))
}
