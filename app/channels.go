package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/channel/teams"
	"github.com/gatehouse-ci/gatehouse/internal/config"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/respond"
	"github.com/gatehouse-ci/gatehouse/internal/store/sqlite"
)

// outboundTimeout bounds every call to Microsoft and to GitHub's OAuth
// endpoints.
const outboundTimeout = 20 * time.Second

// channels are the ways to answer a gate besides comments, as configured:
// the Teams bot, Workflows webhooks, and the response pages their links
// lead to.
type channels struct {
	cfg       config.Config
	store     *sqlite.Store
	log       *slog.Logger
	client    *http.Client
	connector *teams.Connector // nil without the bot
	webhooks  *teams.Webhooks
	links     *respond.Links
	resolver  gates.Channels // nil when neither the bot nor a webhook is set up
	// bot and pages are set by connect, and stay nil when not set up.
	bot   http.Handler
	pages http.Handler
}

func newChannels(cfg config.Config, st *sqlite.Store, log *slog.Logger) *channels {
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
	return c
}

// handlers perform the Teams items of the outbox.
func (c *channels) handlers(svc *gates.Service) map[string]outbox.Handler {
	performer := teams.NewPerformer(teams.PerformerOptions{
		Connector: c.connector, Webhooks: c.webhooks, Store: c.store, Gates: svc,
		RespondURL: func(g gates.Info) (string, error) { return c.links.Channel(g.ID, g.Deadline), nil },
	})
	return map[string]outbox.Handler{
		gates.KindTeamsCard: performer, gates.KindTeamsUpdate: performer, gates.KindTeamsWebhook: performer,
	}
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
	if c.cfg.GitHubSignIn() {
		mux := http.NewServeMux()
		respond.New(respond.Options{
			Links: c.links, Gates: svc, PublicURL: c.cfg.PublicURL, Secret: c.cfg.SecretKey, Logger: c.log,
			OAuth: respond.OAuthOptions{
				ClientID: c.cfg.GitHubClientID, ClientSecret: string(c.cfg.GitHubClientSecret),
				ServerURL: c.cfg.ServerURL, APIURL: c.cfg.APIURL, HTTPClient: c.client,
			},
		}).Register(mux)
		c.pages = mux
	}
}
