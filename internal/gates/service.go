package gates

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/gatehouse-ci/gatehouse/internal/identities"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// GitHub is what the service asks GitHub, through the app's installations.
type GitHub interface {
	// RepoInstallation returns the app's installation on a repository, or
	// an error wrapping ghapp.ErrNotInstalled.
	RepoInstallation(ctx context.Context, owner, repo string) (int64, error)
	// ActiveMember reports whether login is an active member of org/slug.
	ActiveMember(ctx context.Context, installationID int64, org, slug, login string) (bool, error)
	// TeamMembers lists the logins of the active members of org/slug.
	TeamMembers(ctx context.Context, installationID int64, org, slug string) ([]string, error)
	// IssueComments lists every comment of an issue.
	IssueComments(ctx context.Context, installationID int64, owner, repo string, issue int) ([]*github.IssueComment, error)
}

// Identities ties a person's GitHub login, email addresses and Teams id
// together; *identities.Directory is one.
type Identities interface {
	ByLogin(login string) (identities.Person, bool)
	ByEmail(addr string) (identities.Person, bool)
	ByTeamsID(objectID string) (identities.Person, bool)
}

// Channels finds where a gate's Teams card goes, by the name the action
// gives in teams-channel.
type Channels interface {
	Resolve(ctx context.Context, name string) (TeamsTarget, error)
}

// Metrics receives the service's measurements.
type Metrics interface {
	// ResponseRecorded observes the time from receiving a response to
	// storing it.
	ResponseRecorded(via string, latency time.Duration)
	// Waiting counts the long polls being held.
	Waiting(delta int)
}

// Options configure a Service.
type Options struct {
	Store  store.Store
	GitHub GitHub
	// SecretKey derives the poll tokens.
	SecretKey []byte
	// Kick tells the outbox worker that side effects are due.
	Kick    func()
	Metrics Metrics
	Now     func() time.Time
	Logger  *slog.Logger
	// Identities is the identities file; nil when there is none.
	Identities Identities
	// Channels resolves teams-channel; nil when Teams is not set up.
	Channels Channels
	// Email says an email transport is set up, for notify email.
	Email bool
	// MailDomains, when not empty, are the only domains email goes to.
	MailDomains []string
	// ServerURL is GitHub's web URL (default https://github.com): issue
	// and run links are checked against it, or made with it.
	ServerURL string
}

// Service registers, records, settles and reports gates.
type Service struct {
	store      store.Store
	github     GitHub
	secret     []byte
	kick       func()
	metrics    Metrics
	now        func() time.Time
	log        *slog.Logger
	identities Identities
	channels   Channels
	email      bool
	domains    []string
	serverURL  string
	hub        *hub
	// wakeTimeouts tells the timeout scheduler that a deadline was added.
	wakeTimeouts chan struct{}
	// newDeliveries announces stored deliveries to RunDeliveries.
	newDeliveries chan struct{}
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{
		store: o.Store, github: o.GitHub, secret: o.SecretKey, kick: o.Kick,
		metrics: o.Metrics, now: o.Now, log: o.Logger,
		identities: o.Identities, channels: o.Channels, email: o.Email, domains: o.MailDomains,
		serverURL: strings.TrimRight(cmp.Or(o.ServerURL, "https://github.com"), "/"),
		hub:       newHub(), wakeTimeouts: make(chan struct{}, 1),
		newDeliveries: make(chan struct{}, 1),
	}
	if s.kick == nil {
		s.kick = func() {}
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

type noMetrics struct{}

func (noMetrics) ResponseRecorded(string, time.Duration) {}
func (noMetrics) Waiting(int)                            {}

// Errors the HTTP layer maps to statuses.
var (
	// ErrInvalid: the request is malformed (400).
	ErrInvalid = errors.New("invalid request")
	// ErrForbidden: the caller may not do this (403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: the poll token does not match (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: no such gate (404).
	ErrNotFound = errors.New("no such gate")
	// ErrConflict: the registration contradicts a stored gate (409).
	ErrConflict = errors.New("conflict")
	// ErrUnknownChannel: Channels.Resolve knows no channel or webhook by
	// that name; its message says what is known.
	ErrUnknownChannel = errors.New("unknown Teams channel")
)

// pollToken is the bearer token that reads and cancels a gate: derived from
// the secret key and the gate id, so that registering again returns it
// again; only its hash is stored.
func (s *Service) pollToken(gateID string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("gatehouse poll token\x00" + gateID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// authorize checks a poll token against the gate's stored hash.
func authorize(g store.Gate, token string) error {
	if token == "" || !hmac.Equal(hashToken(token), g.PollTokenHash) {
		return ErrUnauthorized
	}
	return nil
}

// Drain answers every long poll now, and every new one at once, with the
// gate as it stands: the app is shutting down and the pollers come back.
func (s *Service) Drain() { s.hub.drain() }
