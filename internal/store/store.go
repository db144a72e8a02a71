package store

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

// Sentinel errors; implementations wrap them so callers test with errors.Is.
var (
	// ErrNotFound: no such gate (or other record).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored, e.g. a second gate
	// for an issue that already has one, or settling a gate that is settled.
	ErrConflict = errors.New("conflict")
)

// Store is the app's durable state. Every method is safe for concurrent use
// by several goroutines and, for server engines, by several processes.
// Times are stored with at least millisecond precision and returned in UTC.
type Store interface {
	// CreateGate stores a new gate. A gate with the same ID (the ID is
	// derived from repository, run id, run attempt and gate key) is
	// returned as it is stored, with created false. A gate for an issue
	// that another gate already uses is ErrConflict.
	CreateGate(ctx context.Context, g Gate) (stored Gate, created bool, err error)
	// Gate returns a gate by id, or ErrNotFound.
	Gate(ctx context.Context, id string) (Gate, error)
	// GateByIssue returns the gate of an approval issue (repository compared
	// case-insensitively), or ErrNotFound.
	GateByIssue(ctx context.Context, repository string, issue int) (Gate, error)
	// Snapshot returns a gate with its responses and notes.
	Snapshot(ctx context.Context, id string) (Snapshot, error)
	// Update runs fn on the gate's current state while holding the gate
	// exclusively (no other Update of the same gate runs meanwhile, in any
	// process), then writes the Change fn returns in the same transaction:
	// everything or nothing. fn must not do I/O; it may run more than once
	// if the transaction is retried. An error from fn aborts the update and
	// is returned as is. fn must not call the store. The state after the
	// change is returned.
	Update(ctx context.Context, id string, fn func(Snapshot) (Change, error)) (Snapshot, error)
	// DueGates returns up to limit pending gates whose deadline is at or
	// before now, earliest deadline first.
	DueGates(ctx context.Context, now time.Time, limit int) ([]Gate, error)
	// NextDeadline returns the earliest deadline of a pending gate; ok is
	// false when no pending gate has one.
	NextDeadline(ctx context.Context) (deadline time.Time, ok bool, err error)
	// CountGates counts gates by status.
	CountGates(ctx context.Context) (map[approval.Status]int, error)

	// AddDelivery stores a webhook delivery, leased to the caller until
	// d.ReceivedAt+lease, which counts as its first attempt; with a zero
	// lease it is due at once and not attempted yet. A delivery whose ID is
	// already stored (done or not) is left alone and added is false.
	AddDelivery(ctx context.Context, d Delivery, lease time.Duration) (added bool, err error)
	// ClaimDeliveries leases up to limit deliveries that are not done and
	// whose lease has expired at now, oldest first, until now+lease, and
	// counts the attempt.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishDelivery marks a delivery done with a short result ("recorded",
	// "ignored: …") and drops its payload. Unknown ids are ErrNotFound.
	FinishDelivery(ctx context.Context, id, result string, at time.Time) error

	// ClaimOutbox leases up to limit outbox items that are not done and are
	// due at now (NextAt <= now), in ID order, by moving their NextAt to
	// now+lease, and counts the attempt. An item whose lease runs out
	// without Complete or Retry is due again.
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error)
	// CompleteOutbox marks an item done.
	CompleteOutbox(ctx context.Context, id int64, at time.Time) error
	// RetryOutbox makes an item due again at next and records why it failed.
	RetryOutbox(ctx context.Context, id int64, next time.Time, lastError string) error
	// OutboxBacklog counts the items not done.
	OutboxBacklog(ctx context.Context) (int, error)
	// Outbox lists a gate's items, done or not, in ID order.
	Outbox(ctx context.Context, gateID string) ([]OutboxItem, error)

	// PutInstallation records (or replaces) an installation and the
	// repositories it covers; with AllRepositories set, repos may be empty.
	PutInstallation(ctx context.Context, in Installation, repos []string) error
	// AddInstallationRepos and RemoveInstallationRepos change the
	// repositories of a stored installation (unknown ids are ErrNotFound).
	AddInstallationRepos(ctx context.Context, id int64, repos []string) error
	RemoveInstallationRepos(ctx context.Context, id int64, repos []string) error
	// DeleteInstallation forgets an installation and its repositories.
	DeleteInstallation(ctx context.Context, id int64) error
	// InstallationFor returns the installation that covers repository
	// ("owner/name", case-insensitive): one that lists it, else one on the
	// owner's account with AllRepositories; ErrNotFound otherwise.
	InstallationFor(ctx context.Context, repository string) (int64, error)

	// PutConversation remembers a Microsoft Teams conversation the bot is
	// in, replacing what was stored under its ID.
	PutConversation(ctx context.Context, c Conversation) error
	// RemoveConversation forgets a conversation; an unknown ID is no error.
	RemoveConversation(ctx context.Context, id string) error
	// RemoveTeam forgets every conversation of a team (the bot was removed
	// from it); an unknown team is no error.
	RemoveTeam(ctx context.Context, teamID string) error
	// Conversations lists the remembered conversations, by ID.
	Conversations(ctx context.Context) ([]Conversation, error)
	// PutCard remembers the Teams card posted for a gate, replacing an
	// earlier one.
	PutCard(ctx context.Context, c Card) error
	// Card returns the Teams card posted for a gate, or ErrNotFound.
	Card(ctx context.Context, gateID string) (Card, error)

	// AddEmails stores a gate's recipients; a recipient the gate already
	// has keeps its stored email unchanged.
	AddEmails(ctx context.Context, emails []Email) error
	// Emails lists a gate's emails in the order they were added.
	Emails(ctx context.Context, gateID string) ([]Email, error)
	// MoveEmail moves a gate's email from one state to another in one
	// step: ErrConflict when it is not in from, ErrNotFound when there is
	// no such email. Moving to EmailSending counts an attempt. lastError
	// replaces the stored one (empty clears it).
	MoveEmail(ctx context.Context, gateID, recipient string, from, to EmailState, lastError string, at time.Time) error

	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Gate is a registered gate. Spec and Outcome are opaque to the store: the
// caller encodes them (JSON).
type Gate struct {
	ID             string
	Repository     string // "owner/name", as registered
	InstallationID int64
	RunID          int64
	RunAttempt     int
	Key            string // the gate key within the run attempt (job, step, matrix leg)
	IssueNumber    int
	IssueURL       string
	PollTokenHash  []byte
	Spec           []byte // the gate's definition
	Status         approval.Status
	Outcome        []byte    // the settled outcome; nil while pending
	Deadline       time.Time // zero: none
	CreatedAt      time.Time
	SettledAt      time.Time // zero while pending
}

// Response is one recorded response. Data is opaque to the store.
type Response struct {
	GateID    string
	ID        string // unique within the gate, e.g. "comment:1234"
	Data      []byte
	CreatedAt time.Time
}

// Note is a line of a gate's audit trail that is not a response, e.g. "a
// counted comment was edited".
type Note struct {
	Text string
	At   time.Time
}

// Snapshot is a gate with everything recorded for it, responses and notes
// in the order they were recorded.
type Snapshot struct {
	Gate      Gate
	Responses []Response
	Notes     []Note
}

// Settlement settles a pending gate.
type Settlement struct {
	Status  approval.Status // a settled status
	Outcome []byte
	At      time.Time
}

// Change is what an Update writes, all in one transaction. The zero Change
// writes nothing.
type Change struct {
	// Response is recorded unless the gate already has one with its ID.
	Response *Response
	// Notes are appended to the gate's notes.
	Notes []Note
	// Settle settles the gate; settling a gate that is not pending is
	// ErrConflict and nothing of the change is written.
	Settle *Settlement
	// Outbox items are enqueued, each unless an item with its Key exists.
	Outbox []OutboxItem
}

// OutboxItem is a side effect on GitHub (a comment, a reaction, closing an
// issue) that is retried until it succeeds.
type OutboxItem struct {
	ID        int64
	GateID    string
	Key       string // unique across the outbox, e.g. "react:comment:1234"
	Kind      string
	Payload   []byte
	Attempts  int // claims so far
	NextAt    time.Time
	LastError string
	CreatedAt time.Time
	DoneAt    time.Time // zero while not done
}

// Delivery is a webhook delivery received from GitHub.
type Delivery struct {
	ID         string // X-GitHub-Delivery
	Event      string // X-GitHub-Event
	Payload    []byte // nil once done
	ReceivedAt time.Time
	Attempts   int
	Result     string
	DoneAt     time.Time // zero while not done
}

// Installation is an installation of the GitHub App.
type Installation struct {
	ID              int64
	Account         string // the user or organization it is installed on
	AllRepositories bool   // repository_selection "all"
}

// Conversation is a Microsoft Teams conversation the bot can post to: a
// channel of a team, a group chat or a personal chat.
type Conversation struct {
	ID         string // the conversation id; a channel's is its channel id
	ServiceURL string // the Bot Connector base URL for the conversation
	TenantID   string
	Type       string // "channel", "groupChat" or "personal"
	TeamID     string // channels only
	TeamName   string // channels only
	Name       string // the channel's or chat's name; empty when it has none
	UpdatedAt  time.Time
}

// Card is a Teams card posted for a gate, to be updated when it settles.
type Card struct {
	GateID         string
	ServiceURL     string
	ConversationID string
	ActivityID     string
	PostedAt       time.Time
}

// Email is one message of a gate's email notification, to one recipient.
type Email struct {
	GateID    string
	Recipient string // the address, lower-cased
	Label     string // how the issue names the recipient: the listed address or "@login"
	MessageID string // the Message-ID, without angle brackets; the same on every attempt
	State     EmailState
	Attempts  int // times handed to the transport
	LastError string
	UpdatedAt time.Time
}

// EmailState is where one email stands.
type EmailState string

const (
	EmailPending EmailState = "pending" // not handed over yet: safe to send
	EmailSending EmailState = "sending" // handed to the transport; the outcome is not recorded yet
	EmailSent    EmailState = "sent"
	EmailFailed  EmailState = "failed"  // refused for good; not sent
	EmailUnknown EmailState = "unknown" // the app stopped while sending: it may have arrived, and is never sent again
	EmailSkipped EmailState = "skipped" // the gate settled before it was sent
)
