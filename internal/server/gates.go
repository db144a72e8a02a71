package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
)

// maxRegistration bounds a registration body.
const maxRegistration = 256 << 10

// Gates is the gate service.
type Gates interface {
	Register(ctx context.Context, claims *oidc.Claims, r api.Register) (api.Registered, bool, error)
	View(ctx context.Context, id, token string, wait time.Duration) (api.Gate, error)
	Cancel(ctx context.Context, id, token, reason string) (api.Gate, error)
}

// Verifier verifies the job's OIDC token.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*oidc.Claims, error)
}

func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	if !s.limits.allow(r) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many registrations from this address; retry shortly")
		return
	}
	token := bearer(r)
	if token == "" {
		writeError(w, http.StatusUnauthorized, "missing Authorization: Bearer <GitHub Actions OIDC token>; the job needs permissions: id-token: write")
		return
	}
	claims, err := s.o.Verifier.Verify(r.Context(), token)
	switch {
	case errors.Is(err, oidc.ErrUnavailable):
		s.o.Logger.WarnContext(r.Context(), "OIDC issuer unavailable", "request_id", requestID(r.Context()), "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the GitHub Actions OIDC issuer cannot be reached to verify the token; retry later")
		return
	case err != nil:
		s.o.Logger.InfoContext(r.Context(), "OIDC token refused", "request_id", requestID(r.Context()), "error", err)
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("the OIDC token was refused: %v", err))
		return
	}
	var req api.Register
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistration))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	switch {
	case isBodyTooLarge(err):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the registration is larger than %d bytes", maxRegistration))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the registration is not valid JSON: %v", err))
		return
	}
	reg, created, err := s.o.Gates.Register(r.Context(), claims, req)
	if err != nil {
		s.fail(w, r, "register gate", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, reg)
}

func (s *server) view(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait: must be a whole number of seconds (at most %d), got %q", api.MaxWait, v))
			return
		}
		wait = time.Duration(min(n, api.MaxWait)) * time.Second
	}
	g, err := s.o.Gates.View(r.Context(), r.PathValue("id"), bearer(r), wait)
	if err != nil {
		if r.Context().Err() != nil {
			return // the poller went away
		}
		s.fail(w, r, "read gate", err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *server) cancel(w http.ResponseWriter, r *http.Request) {
	var req api.Cancel
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &req)
	}
	switch {
	case isBodyTooLarge(err):
		writeError(w, http.StatusRequestEntityTooLarge, "the cancel request is too large")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the cancel request is not valid JSON: %v", err))
		return
	}
	g, err := s.o.Gates.Cancel(r.Context(), r.PathValue("id"), bearer(r), req.Reason)
	if err != nil {
		s.fail(w, r, "cancel gate", err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// fail answers a service error with its status; unexpected errors are
// logged and answered 500 without detail.
func (s *server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	for _, m := range []struct {
		err    error
		status int
	}{
		{gates.ErrInvalid, http.StatusBadRequest},
		{gates.ErrUnauthorized, http.StatusUnauthorized},
		{gates.ErrForbidden, http.StatusForbidden},
		{gates.ErrNotFound, http.StatusNotFound},
		{gates.ErrConflict, http.StatusConflict},
	} {
		if errors.Is(err, m.err) {
			msg := err.Error()
			if m.err == gates.ErrUnauthorized {
				msg = "the poll token does not match this gate"
			}
			s.o.Logger.InfoContext(r.Context(), what+" refused", "request_id", requestID(r.Context()), "status", m.status, "error", msg)
			writeError(w, m.status, msg)
			return
		}
	}
	s.o.Logger.ErrorContext(r.Context(), what, "request_id", requestID(r.Context()), "error", err)
	writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s failed; the app logged the cause (request id %s)", what, requestID(r.Context())))
}
