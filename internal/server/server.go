package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
)

// Metrics receives per-request measurements and serves /metrics.
type Metrics interface {
	Handler() http.Handler
	HTTP(route string, code int, d time.Duration)
}

// Pinger checks the store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options wire the server to the app's parts.
type Options struct {
	Gates    Gates
	Verifier Verifier
	Webhooks http.Handler
	// Teams is the Bot Framework endpoint; nil when no bot is set up.
	Teams http.Handler
	// Pages serve /respond/ and /auth/ (the response page and GitHub
	// sign-in); nil when they are not set up.
	Pages   http.Handler
	Metrics Metrics
	Store   Pinger
	Logger  *slog.Logger
	// RegisterRate and RegisterBurst bound registrations per client
	// address (per second); zero takes the defaults.
	RegisterRate  float64
	RegisterBurst int
}

// New returns the app's HTTP handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	s := &server{o: o, limits: newLimiter(o.RegisterRate, o.RegisterBurst)}
	route := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.middleware(pattern, h))
	}
	route("POST /webhooks/github", o.Webhooks.ServeHTTP)
	route("POST "+api.GatesPath, s.register)
	route("GET "+api.GatesPath+"/{id}", s.view)
	route("POST "+api.GatesPath+"/{id}/cancel", s.cancel)
	route("POST /api/teams/messages", optional(o.Teams, "no Microsoft Teams bot is set up on this Gatehouse app"))
	route("/respond/", optional(o.Pages, "response pages are not set up on this Gatehouse app"))
	route("/auth/", optional(o.Pages, "GitHub sign-in is not set up on this Gatehouse app"))
	route("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	route("GET /readyz", s.ready)
	route("GET /metrics", o.Metrics.Handler().ServeHTTP)
	route("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// optional serves h, or 404 with why when it is not set up.
func optional(h http.Handler, why string) http.HandlerFunc {
	if h == nil {
		return func(w http.ResponseWriter, _ *http.Request) { writeError(w, http.StatusNotFound, why) }
	}
	return h.ServeHTTP
}

type server struct {
	o      Options
	limits *limiter
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.o.Store.Ping(ctx); err != nil {
		s.o.Logger.ErrorContext(r.Context(), "store unreachable", "error", err)
		writeError(w, http.StatusServiceUnavailable, "the store is unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type ctxKey struct{}

// requestID returns the id of the request being served.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware gives each request an id (the caller's X-Request-Id when it is
// sane, else a new one), recovers panics as 500s, logs one line and
// measures it under its route pattern.
func (s *server) middleware(pattern string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !safeID.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), ctxKey{}, id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.o.Logger.ErrorContext(ctx, "panic serving request", "request_id", id, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "internal error")
				}
			}
			d := time.Since(start)
			s.o.Metrics.HTTP(pattern, sw.status, d)
			level := slog.LevelInfo
			if pattern == "GET /healthz" || pattern == "GET /readyz" || pattern == "GET /metrics" {
				level = slog.LevelDebug
			}
			s.o.Logger.Log(ctx, level, "http request", "request_id", id, "method", r.Method, "route", pattern,
				"status", sw.status, "duration_ms", d.Milliseconds(), "delivery", r.Header.Get("X-GitHub-Delivery"))
		}()
		h(sw, r.WithContext(ctx))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Error: msg})
}

// isBodyTooLarge reports a body over its http.MaxBytesReader limit.
func isBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
