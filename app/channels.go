package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/channel/email"
	"github.com/gatehouse-ci/gatehouse/internal/channel/teams"
	"github.com/gatehouse-ci/gatehouse/internal/config"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/respond"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
)

const (
	// outboundTimeout bounds every call to Microsoft and to GitHub's OAuth
	// endpoints.
	outboundTimeout = 20 * time.Second
	// sendTimeout bounds each step of sending email: over SMTP connecting,
	// then each command and the reply to a message; over Graph one
	// request.
	sendTimeout = 10 * time.Second
)

// channels are the ways to answer a gate besides comments, as configured:
// the Teams bot, Workflows webhooks, email, and the response pages their
// links lead to.
type channels struct {
	cfg       config.Config
	store     *sqlite.Store
	log       *slog.Logger
	client    *http.Client
	connector *teams.Connector // nil without the bot
	webhooks  *teams.Webhooks
	links     *respond.Links
	resolver  gates.Channels  // nil when neither the bot nor a webhook is set up
	mail      email.Transport // nil without an email transport
	// bot and pages are set by connect, and stay nil when not set up.
	bot   http.Handler
	pages http.Handler
}

func newChannels(cfg config.Config, st *sqlite.Store, log *slog.Logger) (*channels, error) {
	c := &channels{cfg: cfg, store: st, log: log, client: &http.Client{Timeout: outboundTimeout}}
	urls := map[string]string{}
	for _, w := range cfg.TeamsWebhooks {
		urls[w.Name] = string(w.URL)
	}
	c.webhooks = teams.NewWebhooks(urls, c.client)
	names := c.webhooks.Names()
	c.links = respond.NewLinks(cfg.SecretKey, cfg.PublicURL)
	if cfg.TeamsBot() {
		c.connector = teams.NewConnector(teams.ConnectorOptions{
			AuthorityURL: cfg.AuthorityURL, TenantID: cfg.TeamsTenantID,
			AppID: cfg.TeamsAppID, AppPassword: string(cfg.TeamsAppPassword),
			HTTPClient: c.client, AllowLoopbackHTTP: cfg.MicrosoftEmulated(),
		})
	}
	if cfg.TeamsBot() || len(names) > 0 {
		c.resolver = teams.NewResolver(teams.ResolverOptions{Bot: cfg.TeamsBot(), Store: st, Webhooks: names})
	}
	var err error
	switch {
	case cfg.SMTP != nil:
		c.mail, err = email.NewSMTP(email.SMTPOptions{Server: *cfg.SMTP, Timeout: sendTimeout})
	case cfg.Graph != nil:
		c.mail, err = email.NewGraph(email.GraphOptions{AuthorityURL: cfg.AuthorityURL, Graph: *cfg.Graph, HTTPClient: c.client, Timeout: sendTimeout})
	}
	if err != nil {
		return nil, fmt.Errorf("email transport: %w", err)
	}
	return c, nil
}

// handlers perform the Teams and email items of the outbox; observe
// counts each email's outcome.
func (c *channels) handlers(svc *gates.Service, observe func(transport, result string)) map[string]outbox.Handler {
	performer := teams.NewPerformer(teams.PerformerOptions{
		Connector: c.connector, Webhooks: c.webhooks, Store: c.store, Gates: svc,
		RespondURL: func(g gates.Info) (string, error) { return c.links.Channel(g.ID, g.Deadline), nil },
	})
	hs := map[string]outbox.Handler{
		gates.KindTeamsCard: performer, gates.KindTeamsUpdate: performer, gates.KindTeamsWebhook: performer,
	}
	if c.mail != nil {
		hs[gates.KindEmail] = email.NewPerformer(email.PerformerOptions{
			Transport: c.mail, From: c.cfg.MailFrom, Gates: svc, Store: c.store,
			Link: c.links.Email, Observe: observe, Logger: c.log,
		})
	}
	return hs
}

// connect builds the parts that answer people, which need the gates
// service.
func (c *channels) connect(svc *gates.Service) {
	if c.cfg.TeamsBot() {
		c.bot = teams.NewBot(teams.BotOptions{
			AppID:     c.cfg.TeamsAppID,
			TenantID:  c.cfg.TeamsTenantID,
			Verifier:  teams.NewVerifier(c.cfg.TeamsOpenIDURL, c.cfg.TeamsAppID, c.client, nil),
			Connector: c.connector, Store: c.store, Gates: svc, Logger: c.log,
		})
	}
	// Email links need no sign-in; channel links need GitHub's.
	if c.cfg.GitHubSignIn() || c.mail != nil {
		o := respond.Options{Links: c.links, Gates: svc, PublicURL: c.cfg.PublicURL, Secret: c.cfg.SecretKey, Logger: c.log}
		if c.cfg.GitHubSignIn() {
			o.OAuth = respond.OAuthOptions{
				ClientID: c.cfg.GitHubClientID, ClientSecret: string(c.cfg.GitHubClientSecret),
				ServerURL: c.cfg.ServerURL, APIURL: c.cfg.APIURL, HTTPClient: c.client,
			}
		}
		mux := http.NewServeMux()
		respond.New(o).Register(mux)
		c.pages = mux
	}
}
