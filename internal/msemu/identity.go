package msemu

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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
	mailSend bool   // granted the Mail.Send application role
	// mailboxes, when not nil, is the application access policy: the
	// lower-case addresses of the only mailboxes the app may use.
	mailboxes []string
}

// AddApp registers the application clientID in tenant with a client
// secret, as an Azure app registration (a single-tenant Azure Bot has one).
// Its tokens come from TokenURL(tenant).
func (e *Emulator) AddApp(tenant, clientID, secret string) error {
	switch {
	case !validID(tenant):
		return fmt.Errorf("msemu: tenant %q is not a tenant id or domain", tenant)
	case !validID(clientID):
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

// validID reports whether s can be a tenant or client id: not empty, and
// a single path segment without white space.
func validID(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/ \t\r\n")
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
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.serveTenantConfiguration)
}

// knownTenant reports whether tenant exists: the Teams tenant, or one
// with a registered app or a mailbox. Callers hold e.mu.
func (e *Emulator) knownTenant(tenant string) bool {
	return tenant == e.opts.TenantID || e.apps[tenant] != nil || e.mailboxes[tenant] != nil
}

// isGraphResource reports whether resource names Microsoft Graph: its
// global service, or the emulator itself standing for it as a national
// cloud's Graph does.
func (e *Emulator) isGraphResource(resource string) bool {
	return resource == graphResource || resource == e.URL()
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// oidcScopes are the OpenID Connect scopes that MSAL adds to every
// request; the client credentials grant ignores them.
var oidcScopes = []string{"openid", "offline_access", "profile", "email"}

// resourceScope reads the resource of a client credentials scope: a
// single "<resource>/.default", besides OpenID Connect scopes.
func resourceScope(scope string) (string, bool) {
	rest := slices.DeleteFunc(strings.Fields(scope), func(s string) bool { return slices.Contains(oidcScopes, s) })
	if len(rest) != 1 {
		return "", false
	}
	return strings.CutSuffix(rest[0], "/.default")
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

	resource, defaultScope := resourceScope(scope)
	graph := e.isGraphResource(resource)

	e.mu.Lock()
	e.tokenRequests[clientID]++
	known := e.knownTenant(tenant)
	a := e.apps[tenant][clientID]
	var roles []string
	if graph && a != nil && a.mailSend {
		roles = []string{mailSendRole}
	}
	e.mu.Unlock()

	switch {
	case grant == "":
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	case grant != "client_credentials":
		e.aadError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
	case clientID == "":
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	case !known:
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenant))
	case scope == "":
		e.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	case !defaultScope:
		e.aadError(w, r, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
	case a == nil:
		e.aadError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
	case secret == "":
		e.aadError(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case secret != a.secret:
		e.aadError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
	case resource != botFrameworkResource && !graph:
		e.aadError(w, r, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant))
	default:
		tok, err := e.accessToken(tenant, clientID, a, resource, roles)
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
// Microsoft issues for these resources, with azp beside appid and the
// app's application roles, if any, in roles.
func (e *Emulator) accessToken(tenant, clientID string, a *app, resource string, roles []string) (string, error) {
	now := e.clock().Unix()
	sts := "https://sts.windows.net/" + tenant + "/"
	claims := map[string]any{
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
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	return e.identity.rs256(claims)
}

// caller is the app that an access token stands for.
type caller struct {
	ClientID string   `json:"appid"`
	Tenant   string   `json:"tid"`
	Roles    []string `json:"roles"`
}

// verifyAccessToken checks that raw is an unexpired access token of this
// identity platform for one of audiences, held by a registered app, and
// returns who holds it. Errors wrap jwt.ErrInvalidAudience and
// jwt.ErrExpired for those defects.
func (e *Emulator) verifyAccessToken(raw string, audiences ...string) (caller, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return caller{}, fmt.Errorf("parse token: %w", err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID != e.identity.kid {
		return caller{}, errors.New("token is not signed by the identity platform")
	}
	var std jwt.Claims
	var c caller
	if err := tok.Claims(&e.identity.priv.PublicKey, &std, &c); err != nil {
		return caller{}, fmt.Errorf("verify token: %w", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{AnyAudience: audiences, Time: e.clock()}, 0); err != nil {
		return caller{}, fmt.Errorf("validate token: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apps[c.Tenant][c.ClientID] == nil {
		return caller{}, fmt.Errorf("app %q is not registered in %q", c.ClientID, c.Tenant)
	}
	return c, nil
}

// serveIdentityKeys publishes the keys that sign access tokens.
func (e *Emulator) serveIdentityKeys(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	e.mu.Lock()
	known := e.knownTenant(tenant)
	e.mu.Unlock()
	if !known {
		e.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(tenant))
		return
	}
	writeJSON(w, http.StatusOK, map[string][]jsonWebKey{"keys": {e.identity.jwk()}})
}

// tenantConfiguration is a tenant's OpenID Connect metadata, with the
// members login.microsoftonline.com answers, in its order.
type tenantConfiguration struct {
	TokenEndpoint                string   `json:"token_endpoint"`
	TokenEndpointAuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                      string   `json:"jwks_uri"`
	ResponseModes                []string `json:"response_modes_supported"`
	SubjectTypes                 []string `json:"subject_types_supported"`
	SigningAlgs                  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypes                []string `json:"response_types_supported"`
	Scopes                       []string `json:"scopes_supported"`
	Issuer                       string   `json:"issuer"`
	RequestURIParameterSupported bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint             string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint        string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint  string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported          bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported  bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint           string   `json:"end_session_endpoint"`
	Claims                       []string `json:"claims_supported"`
	KerberosEndpoint             string   `json:"kerberos_endpoint"`
	TenantRegionScope            string   `json:"tenant_region_scope"`
	CloudInstanceName            string   `json:"cloud_instance_name"`
	CloudGraphHostName           string   `json:"cloud_graph_host_name"`
	MSGraphHost                  string   `json:"msgraph_host"`
	RBACURL                      string   `json:"rbac_url"`
}

// serveTenantConfiguration is a tenant's discovery document, which MSAL
// reads to find the token endpoint; its issuer is on the authority's host.
// The emulator is the tenant's Graph host too.
func (e *Emulator) serveTenantConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	e.mu.Lock()
	known := e.knownTenant(tenant)
	e.mu.Unlock()
	if !known {
		e.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(tenant))
		return
	}
	base := e.URL()
	root := base + "/" + tenant
	_, host, _ := strings.Cut(base, "://")
	writeJSON(w, http.StatusOK, tenantConfiguration{
		TokenEndpoint:               root + "/oauth2/v2.0/token",
		TokenEndpointAuthMethods:    []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                     root + "/discovery/v2.0/keys",
		ResponseModes:               []string{"query", "fragment", "form_post"},
		SubjectTypes:                []string{"pairwise"},
		SigningAlgs:                 []string{"RS256"},
		ResponseTypes:               []string{"code", "id_token", "code id_token", "id_token token"},
		Scopes:                      []string{"openid", "profile", "email", "offline_access"},
		Issuer:                      root + "/v2.0",
		UserinfoEndpoint:            base + "/oidc/userinfo",
		AuthorizationEndpoint:       root + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint: root + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:         true,
		FrontchannelLogoutSupported: true,
		EndSessionEndpoint:          root + "/oauth2/v2.0/logout",
		Claims:                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		KerberosEndpoint:            root + "/kerberos",
		TenantRegionScope:           "NA",
		CloudInstanceName:           "microsoftonline.com",
		CloudGraphHostName:          "graph.windows.net",
		MSGraphHost:                 host,
		RBACURL:                     "https://pas.windows.net",
	})
}

func tenantNotFound(tenant string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
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
