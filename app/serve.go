package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/config"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/ghapp"
	"github.com/gatehouse-ci/gatehouse/internal/metrics"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/server"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-ci/gatehouse/internal/webhook"
)

const (
	// shutdownTimeout bounds the wait for requests in progress at SIGTERM.
	shutdownTimeout = 20 * time.Second
	// deliveryWorkers process webhook deliveries concurrently; each spends
	// most of its time waiting for the store's commits.
	deliveryWorkers = 32
	// outboxLease is how long a side effect taken up by a worker stays its
	// own: after a crash, the next process resumes it that much later.
	outboxLease = 30 * time.Second
)

// errConfig marks a configuration that does not load; the problems have
// been printed.
var errConfig = errors.New("invalid configuration")

// serve runs the app until ctx ends, then shuts down gracefully: it stops
// accepting, answers the long polls, lets the requests and deliveries in
// progress finish, and closes the store. ready, when not nil, receives the
// listening address.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer, ready func(addr string)) error {
	cfg, err := config.Load(getenv, os.ReadFile)
	if err != nil {
		for _, line := range splitLines(err.Error()) {
			fmt.Fprintln(stderr, "gatehouse: config:", line)
		}
		return errConfig
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "config", cfg)

	st, err := sqlite.Open(ctx, cfg.Database.Path)
	if err != nil {
		return fmt.Errorf("open the store: %w", err)
	}
	defer st.Close()
	met := metrics.New(st)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(cfg.PrivateKey)})
	apps, err := ghapp.New(ghapp.Options{
		APIURL: cfg.APIURL, AppID: cfg.AppID, PrivateKeyPEM: keyPEM,
		Transport: met.GitHubTransport(http.DefaultTransport.(*http.Transport).Clone()),
		Logger:    log,
	})
	if err != nil {
		return fmt.Errorf("GitHub App: %w", err)
	}
	ch, err := newChannels(cfg, st, log)
	if err != nil {
		return err
	}
	// The service kicks the worker, whose Teams handlers read the service.
	var worker *outbox.Worker
	svc := gates.New(gates.Options{
		Store: st, GitHub: apps, SecretKey: cfg.SecretKey, Kick: func() { worker.Kick() }, Metrics: met, Logger: log,
		Identities: cfg.Identities, Channels: ch.resolver, Email: ch.mail != nil, MailDomains: cfg.MailDomains,
		ServerURL: cfg.ServerURL,
	})
	worker = outbox.NewWorker(outbox.Options{
		Store: st, GitHub: apps, Lease: outboxLease, Observe: met.Outbox, Logger: log, Handlers: ch.handlers(svc, met.Email),
	})
	ch.connect(svc)
	verifier, err := oidc.NewVerifier(ctx, cfg.OIDCIssuer, cfg.Audience())
	if err != nil {
		return fmt.Errorf("OIDC verifier: %w", err)
	}
	hooks := webhook.NewHandler(webhook.Options{
		Secret: cfg.WebhookSecret, Inbox: st, Events: gates.Events, Relevant: svc.Relevant,
		Accepted: svc.Accept, Observe: met.Delivery, Logger: log,
	})
	srv := &http.Server{
		Handler: server.New(server.Options{
			Gates: svc, Verifier: verifier, Webhooks: hooks, Metrics: met, Store: st, Logger: log,
			Teams: ch.bot, Pages: ch.pages,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long polls hold a response for up to a minute.
		WriteTimeout: 90 * time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)
	if ready != nil {
		ready(ln.Addr().String())
	}

	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{
		func(c context.Context) error { return svc.RunDeliveries(c, deliveryWorkers) },
		svc.RunTimeouts,
		worker.Run,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(work); err != nil {
				log.Error("background worker stopped", "error", err)
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		svc.Drain()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopWork()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped", "error", err)
	return err
}
