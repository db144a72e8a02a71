package msemu

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	graphPath    = "/v1.0"
	mailSendRole = "Mail.Send"
	// maxGraphBodyBytes is Microsoft Graph's limit on a request body.
	maxGraphBodyBytes = 4 << 20
	// graphAppID is Microsoft Graph's application id, which 401 answers
	// name.
	graphAppID = "00000003-0000-0000-c000-000000000000"
)

// Messages of Graph's refusals that more than one check gives.
const (
	accessDenied   = "Access is denied. Check credentials and try again."
	policyDenied   = "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."
	noRecipients   = "At least one recipient is not valid., A message can't be sent because it contains no recipients."
	notResolvedFmt = "At least one recipient is not valid., Recipient '%s' is not resolved. All recipients must be resolved before a message can be submitted."
)

// mailbox is an Exchange Online mailbox that an app can send mail as.
type mailbox struct {
	address  string
	objectID string
}

// SentMail is a message that sendMail accepted.
type SentMail struct {
	// Tenant and ClientID are the sending app's, from its access token.
	Tenant, ClientID string
	// Mailbox is the address of the mailbox it was sent as, as added.
	Mailbox string
	// ContentType is the request's Content-Type.
	ContentType string
	// Gzipped is whether the body came with Content-Encoding: gzip.
	Gzipped bool
	// MIME is the RFC 5322 message decoded from the base64 body of a
	// text/plain request.
	MIME []byte
	// JSON is the body of an application/json request.
	JSON json.RawMessage
	// At is when it was accepted.
	At time.Time
}

// GraphURL stands for https://graph.microsoft.com/v1.0.
func (e *Emulator) GraphURL() string { return e.URL() + graphPath }

// AddMailbox makes the mailbox address exist in tenant, with a generated
// object id (MailboxID). Addresses compare case-insensitively.
func (e *Emulator) AddMailbox(tenant, address string) error {
	if !validID(tenant) {
		return fmt.Errorf("msemu: tenant %q is not a tenant id or domain", tenant)
	}
	if err := checkAddress(address); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mailboxes[tenant] == nil {
		e.mailboxes[tenant] = map[string]*mailbox{}
	}
	key := strings.ToLower(address)
	if e.mailboxes[tenant][key] != nil {
		return fmt.Errorf("msemu: mailbox %s already exists in %s", address, tenant)
	}
	e.mailboxes[tenant][key] = &mailbox{address: address, objectID: newUUID()}
	return nil
}

// MailboxID is the object id of a mailbox that AddMailbox added, which
// /users/{id} takes as well as the address; empty when there is none.
func (e *Emulator) MailboxID(tenant, address string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.mailboxes[tenant][strings.ToLower(address)]; m != nil {
		return m.objectID
	}
	return ""
}

// GrantMailSend gives the app clientID of tenant the Mail.Send application
// role, with admin consent: Graph tokens issued from now on carry it in
// roles. With mailboxes, an application access policy restricts the app
// to those mailboxes (compared case-insensitively); without, it may send
// as any mailbox. Granting again replaces the policy.
func (e *Emulator) GrantMailSend(tenant, clientID string, mailboxes ...string) error {
	var policy []string
	if len(mailboxes) > 0 {
		policy = make([]string, 0, len(mailboxes))
		for _, m := range mailboxes {
			if err := checkAddress(m); err != nil {
				return err
			}
			policy = append(policy, strings.ToLower(m))
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.apps[tenant][clientID]
	if a == nil {
		return fmt.Errorf("msemu: app %s is not registered in %s", clientID, tenant)
	}
	a.mailSend, a.mailboxes = true, policy
	return nil
}

// SentMail returns the messages that sendMail accepted, in order.
func (e *Emulator) SentMail() []SentMail {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sent)
}

// GraphRequests counts the sendMail requests Graph received, refused and
// faulted ones included.
func (e *Emulator) GraphRequests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.graphRequests
}

func (e *Emulator) graphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+graphPath+"/users/{id}/sendMail", e.serveSendMail)
}

// graphError is a refusal in Microsoft Graph's error shape.
type graphError struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

type graphErrorBody struct {
	Error graphErrorDetail `json:"error"`
}

type graphErrorDetail struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	InnerError graphInnerError `json:"innerError"`
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// serveSendMail is POST /v1.0/users/{id | userPrincipalName}/sendMail.
// Every answer carries request-id and client-request-id (the request's,
// or the request-id when it sent none), as Graph's do.
func (e *Emulator) serveSendMail(w http.ResponseWriter, r *http.Request) {
	requestID := newUUID()
	clientRequestID := cmp.Or(r.Header.Get("client-request-id"), requestID)
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
	e.mu.Lock()
	e.graphRequests++
	e.mu.Unlock()

	sent, gerr := e.sendMail(r)
	if gerr != nil {
		if gerr.retryAfter > 0 {
			setRetryAfter(w, gerr.retryAfter)
		}
		if gerr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="%s/common/oauth2/authorize", client_id="%s"`, e.AuthorityURL(), graphAppID))
		}
		writeJSON(w, gerr.status, graphErrorBody{Error: graphErrorDetail{
			Code:    gerr.code,
			Message: gerr.message,
			InnerError: graphInnerError{
				Date:            e.clock().UTC().Format("2006-01-02T15:04:05"),
				RequestID:       requestID,
				ClientRequestID: clientRequestID,
			},
		}})
		return
	}
	e.mu.Lock()
	e.sent = append(e.sent, sent)
	e.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// sendMail checks a request in Graph's order (the access token, a pending
// fault, the Mail.Send role, the application access policy, the mailbox,
// then the body) and returns the message to record.
func (e *Emulator) sendMail(r *http.Request) (SentMail, *graphError) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return SentMail{}, &graphError{status: http.StatusUnauthorized, code: "InvalidAuthenticationToken", message: "Access token is empty."}
	}
	who, err := e.verifyAccessToken(raw, graphResource, e.URL())
	if err != nil {
		return SentMail{}, invalidToken(err)
	}
	id := r.PathValue("id")
	e.mu.Lock()
	f := takeFault(&e.graphFaults)
	var policy []string
	if a := e.apps[who.Tenant][who.ClientID]; a != nil {
		policy = a.mailboxes
	}
	mb := e.findMailbox(who.Tenant, id)
	e.mu.Unlock()
	if f != nil {
		return SentMail{}, graphFault(f)
	}
	address := id
	if mb != nil {
		address = mb.address
	}
	switch {
	case !slices.Contains(who.Roles, mailSendRole):
		return SentMail{}, &graphError{status: http.StatusForbidden, code: "ErrorAccessDenied", message: accessDenied}
	case policy != nil && !slices.Contains(policy, strings.ToLower(address)):
		return SentMail{}, &graphError{status: http.StatusForbidden, code: "ErrorAccessDenied", message: policyDenied}
	case mb == nil:
		return SentMail{}, &graphError{status: http.StatusNotFound, code: "ErrorInvalidUser", message: fmt.Sprintf("The requested user '%s' is invalid.", id)}
	}

	body, gzipped, gerr := readGraphBody(r)
	if gerr != nil {
		return SentMail{}, gerr
	}
	sent := SentMail{
		Tenant:      who.Tenant,
		ClientID:    who.ClientID,
		Mailbox:     mb.address,
		ContentType: r.Header.Get("Content-Type"),
		Gzipped:     gzipped,
		At:          e.clock(),
	}
	mt, _, _ := mime.ParseMediaType(sent.ContentType)
	switch mt {
	case "text/plain":
		sent.MIME, gerr = readMIME(body)
	case "application/json":
		sent.JSON, gerr = body, checkJSONMessage(body)
	default:
		gerr = &graphError{status: http.StatusUnsupportedMediaType, code: "UnsupportedMediaType", message: fmt.Sprintf("Content-Type '%s' is not supported; use application/json, or text/plain for MIME content.", sent.ContentType)}
	}
	if gerr != nil {
		return SentMail{}, gerr
	}
	return sent, nil
}

// findMailbox finds a mailbox of tenant by address or object id. Callers
// hold e.mu.
func (e *Emulator) findMailbox(tenant, id string) *mailbox {
	if m := e.mailboxes[tenant][strings.ToLower(id)]; m != nil {
		return m
	}
	for _, m := range e.mailboxes[tenant] {
		if strings.EqualFold(m.objectID, id) {
			return m
		}
	}
	return nil
}

// invalidToken is Graph's answer to an access token it does not take.
func invalidToken(err error) *graphError {
	message := "Access token validation failure."
	switch {
	case errors.Is(err, jwt.ErrInvalidAudience):
		message = "Access token validation failure. Invalid audience."
	case errors.Is(err, jwt.ErrExpired):
		message = "Lifetime validation failed, the token is expired."
	}
	return &graphError{status: http.StatusUnauthorized, code: "InvalidAuthenticationToken", message: message}
}

// readGraphBody reads a request body of at most 4 MB, decompressing
// Content-Encoding: gzip.
func readGraphBody(r *http.Request) ([]byte, bool, *graphError) {
	var body io.Reader = r.Body
	gzipped := false
	switch enc := r.Header.Get("Content-Encoding"); {
	case enc == "" || strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip"):
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, false, badRequest("The request body is not valid gzip: " + err.Error())
		}
		body, gzipped = zr, true
	default:
		return nil, false, badRequest(fmt.Sprintf("Content-Encoding '%s' is not supported.", enc))
	}
	b, err := io.ReadAll(io.LimitReader(body, maxGraphBodyBytes+1))
	if err != nil {
		return nil, false, badRequest("The request body could not be read: " + err.Error())
	}
	if len(b) > maxGraphBodyBytes {
		return nil, false, &graphError{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge", message: "The request body exceeds the 4 MB limit."}
	}
	return b, gzipped, nil
}

// readMIME decodes the base64 body of a MIME sendMail (line breaks and
// other white space allowed) and checks that it is a message with a
// recipient.
func readMIME(body []byte) ([]byte, *graphError) {
	b64 := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\r\n", r) {
			return -1
		}
		return r
	}, string(body))
	decoded, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, &graphError{status: http.StatusBadRequest, code: "ErrorMimeContentInvalidBase64String", message: "Invalid base64 string for MIME content."}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(decoded))
	if err != nil {
		return nil, &graphError{status: http.StatusBadRequest, code: "ErrorMimeContentInvalid", message: "The MIME content is not valid."}
	}
	n := 0
	for _, h := range []string{"To", "Cc", "Bcc"} {
		for _, v := range msg.Header[h] {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				return nil, invalidRecipients(fmt.Sprintf(notResolvedFmt, v))
			}
			n += len(list)
		}
	}
	if n == 0 {
		return nil, invalidRecipients(noRecipients)
	}
	return decoded, nil
}

// recipient is a recipient of a message resource.
type recipient struct {
	EmailAddress struct {
		Address string `json:"address"`
	} `json:"emailAddress"`
}

// checkJSONMessage checks a JSON sendMail body: {"message":{…},
// "saveToSentItems":bool} with a recipient.
func checkJSONMessage(body []byte) *graphError {
	var req struct {
		Message struct {
			To  []recipient `json:"toRecipients"`
			Cc  []recipient `json:"ccRecipients"`
			Bcc []recipient `json:"bccRecipients"`
		} `json:"message"`
		SaveToSentItems bool `json:"saveToSentItems"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequestCode("UnableToDeserializePostBody", "were unable to deserialize ")
	}
	all := slices.Concat(req.Message.To, req.Message.Cc, req.Message.Bcc)
	if len(all) == 0 {
		return invalidRecipients(noRecipients)
	}
	for _, rc := range all {
		if _, err := mail.ParseAddress(rc.EmailAddress.Address); err != nil {
			return invalidRecipients(fmt.Sprintf(notResolvedFmt, rc.EmailAddress.Address))
		}
	}
	return nil
}

func invalidRecipients(message string) *graphError {
	return badRequestCode("ErrorInvalidRecipients", message)
}

func badRequest(message string) *graphError { return badRequestCode("BadRequest", message) }

func badRequestCode(code, message string) *graphError {
	return &graphError{status: http.StatusBadRequest, code: code, message: message}
}

// checkAddress checks that address is a bare email address.
func checkAddress(address string) error {
	a, err := mail.ParseAddress(address)
	if err != nil || a.Address != address {
		return fmt.Errorf("msemu: %q is not an email address", address)
	}
	return nil
}
