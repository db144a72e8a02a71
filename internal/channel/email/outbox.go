package email

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
	"github.com/gatehouse-ci/gatehouse/internal/outbox"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// Gates is what the performer needs of the gates service.
type Gates interface {
	Info(ctx context.Context, gateID string) (gates.Info, error)
	EmailRecipients(ctx context.Context, gateID string) ([]gates.Recipient, error)
	// Notice posts text as a notice on the gate's issue, once per key.
	Notice(ctx context.Context, gateID, key, text string) error
}

// Store is the part of store.Store that keeps a gate's emails.
type Store interface {
	AddEmails(ctx context.Context, emails []store.Email) error
	Emails(ctx context.Context, gateID string) ([]store.Email, error)
	MoveEmail(ctx context.Context, gateID, recipient string, from, to store.EmailState, lastError string, at time.Time) error
}

// The results Observe counts.
const (
	resultSent    = "sent"
	resultRetry   = "retry"
	resultFailed  = "failed"
	resultUnknown = "unknown"
	resultSkipped = "skipped"
)

// PerformerOptions configures a Performer. All but Observe, Now and
// Logger are required.
type PerformerOptions struct {
	Transport Transport
	// From is the sender address (GATEHOUSE_MAIL_FROM).
	From  string
	Gates Gates
	Store Store
	// Link mints a recipient's link to the gate's response page, without
	// a query, good until expires.
	Link func(gateID, recipient string, expires time.Time) string
	// Observe counts outcomes: the transport's name and "sent", "retry",
	// "failed", "unknown" or "skipped".
	Observe func(transport, result string)
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default discards
}

// Performer performs the outbox items of kind gates.KindEmail: it sends a
// gate's email to each recipient at most once.
type Performer struct {
	o PerformerOptions
}

// NewPerformer returns a Performer configured by o.
func NewPerformer(o PerformerOptions) *Performer {
	if o.Observe == nil {
		o.Observe = func(string, string) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Performer{o: o}
}

// Perform sends a gate's email to the recipients that have not had it.
// It returns nil when none is left to send, and an error (retried with
// backoff) while some are; outbox.Permanent when the item cannot be
// performed at all. After the first send of a run, it starts another only
// while ctx leaves the transport's Timeout for it.
func (p *Performer) Perform(ctx context.Context, it store.OutboxItem) error {
	var item gates.EmailItem
	if err := json.Unmarshal(it.Payload, &item); err != nil || item.Gate == "" || it.Kind != gates.KindEmail {
		return outbox.Permanent(fmt.Errorf("email outbox item %s: not an %s item", it.Key, gates.KindEmail))
	}
	gateID := item.Gate
	info, err := p.o.Gates.Info(ctx, gateID)
	if errors.Is(err, gates.ErrNotFound) {
		return outbox.Permanent(fmt.Errorf("email of gate %s: %w", gateID, err))
	}
	if err != nil {
		return fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	emails, err := p.o.Store.Emails(ctx, gateID)
	if err != nil {
		return fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	if approval.Status(info.View.Status).Settled() {
		return p.skip(ctx, gateID, emails)
	}
	if len(emails) == 0 {
		if emails, err = p.addRecipients(ctx, gateID); err != nil || len(emails) == 0 {
			return err
		}
	}
	return p.send(ctx, info, emails)
}

// skip gives up the emails of a settled gate that were not sent.
func (p *Performer) skip(ctx context.Context, gateID string, emails []store.Email) error {
	for _, e := range emails {
		if e.State != store.EmailPending {
			continue
		}
		err := p.o.Store.MoveEmail(ctx, gateID, e.Recipient, store.EmailPending, store.EmailSkipped, "the gate settled first", p.o.Now())
		switch {
		case errors.Is(err, store.ErrConflict):
			continue // another run took it
		case err != nil:
			return fmt.Errorf("skip the email of gate %s to %s: %w", gateID, e.Label, err)
		}
		p.o.Observe(p.o.Transport.Name(), resultSkipped)
		p.o.Logger.Info("email skipped: the gate settled", "gate", gateID, "label", e.Label, "transport", p.o.Transport.Name(), "message_id", e.MessageID)
	}
	return nil
}

// addRecipients stores the gate's recipients, each with a Message-ID of
// its own, and returns the stored emails: another process may have stored
// them first, and what is stored wins. None when no approver has an
// address.
func (p *Performer) addRecipients(ctx context.Context, gateID string) ([]store.Email, error) {
	recipients, err := p.o.Gates.EmailRecipients(ctx, gateID)
	if err != nil {
		return nil, fmt.Errorf("recipients of gate %s: %w", gateID, err)
	}
	if len(recipients) == 0 {
		if err := p.o.Gates.Notice(ctx, gateID, "email/none",
			"No approver has an address known to this app, so no email was sent; approvers can answer here."); err != nil {
			return nil, fmt.Errorf("email of gate %s: %w", gateID, err)
		}
		return nil, nil
	}
	domain := domainOf(p.o.From)
	if domain == "" {
		return nil, outbox.Permanent(fmt.Errorf("email of gate %s: the sender %q is not an email address", gateID, p.o.From))
	}
	now := p.o.Now()
	emails := make([]store.Email, len(recipients))
	for i, r := range recipients {
		label := r.Label
		if label == "" {
			label = "an approver"
		}
		emails[i] = store.Email{
			GateID: gateID, Recipient: strings.ToLower(r.Address), Label: label, MessageID: newMessageID(domain),
			State: store.EmailPending, UpdatedAt: now,
		}
	}
	if err := p.o.Store.AddEmails(ctx, emails); err != nil {
		return nil, fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	stored, err := p.o.Store.Emails(ctx, gateID)
	if err != nil {
		return nil, fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	return stored, nil
}

// newMessageID is 128 random bits in hex at domain.
func newMessageID(domain string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b) + "@" + domain
}

// errTimeUp stops a run that has no time left for another send.
var errTimeUp = errors.New("no time left for another send")

// send sends the pending emails in order and settles the ones an earlier
// run left in "sending". An email is sent once at most: it is moved to
// "sending" before it is handed over, and one found there was handed over
// by a run that stopped before recording the outcome.
func (p *Performer) send(ctx context.Context, info gates.Info, emails []store.Email) error {
	name := p.o.Transport.Name()
	pending, started := 0, false
	var lastErr error
	for i, e := range emails {
		log := p.o.Logger.With("gate", info.ID, "label", e.Label, "transport", name, "message_id", e.MessageID)
		switch e.State {
		case store.EmailSending:
			reason := "the app stopped while sending it"
			moved, err := p.move(ctx, e, store.EmailSending, store.EmailUnknown, reason)
			if err != nil {
				return err
			}
			if moved {
				p.o.Observe(name, resultUnknown)
				log.Warn("email outcome unknown: the app stopped while sending it; not sending it again")
				e.State, e.LastError = store.EmailUnknown, reason
			}
		case store.EmailPending:
			if started && !timeLeft(ctx, p.o.Transport.Timeout()) {
				pending++
				lastErr = errTimeUp
				continue
			}
			started = true
			state, err := p.sendOne(ctx, info, e, log)
			if err != nil {
				return err
			}
			e.State = state.State
			e.LastError = state.LastError
			if state.State == store.EmailPending {
				pending++
				lastErr = errors.New(state.LastError)
			}
		}
		if err := p.notice(ctx, info.ID, i, e); err != nil {
			return err
		}
	}
	if pending > 0 {
		return fmt.Errorf("email of gate %s: %d not sent yet: %w", info.ID, pending, lastErr)
	}
	return nil
}

// sendOne sends one pending email and records the outcome. It returns the
// email's new state and reason; an error only when the store fails.
func (p *Performer) sendOne(ctx context.Context, info gates.Info, e store.Email, log *slog.Logger) (store.Email, error) {
	name := p.o.Transport.Name()
	m, err := Compose(Content{
		Gate: info, From: p.o.From, To: e.Recipient, Label: e.Label,
		Link:      p.o.Link(info.ID, e.Recipient, info.Deadline),
		MessageID: e.MessageID, Date: p.o.Now(),
	})
	if err != nil {
		reason := "the email could not be written"
		moved, merr := p.move(ctx, e, store.EmailPending, store.EmailFailed, reason)
		if merr != nil || !moved {
			return e, merr
		}
		p.o.Observe(name, resultFailed)
		log.Error("email not sent: it could not be written", "error", err)
		e.State, e.LastError = store.EmailFailed, reason
		return e, nil
	}
	moved, err := p.move(ctx, e, store.EmailPending, store.EmailSending, "")
	if err != nil || !moved {
		return e, err // not moved: another run has it
	}

	sendErr := p.o.Transport.Send(ctx, m)

	to, result, reason := store.EmailSent, resultSent, ""
	if sendErr != nil {
		reason = Reason(sendErr)
		switch FailureOf(sendErr) {
		case Refused:
			to, result = store.EmailFailed, resultFailed
		case Unsure:
			to, result = store.EmailUnknown, resultUnknown
		default:
			to, result = store.EmailPending, resultRetry
		}
	}
	// A failure to record leaves it "sending": the next run takes it as
	// sent or not, and does not send it again.
	moved, err = p.move(ctx, e, store.EmailSending, to, reason)
	if err != nil {
		return e, err
	}
	if !moved {
		log.Warn("email outcome not recorded: another run settled it", "outcome", result)
		return e, nil
	}
	p.o.Observe(name, result)
	switch result {
	case resultSent:
		log.Info("email sent")
	case resultRetry:
		log.Warn("email not sent; retrying", "reason", reason, "error", sendErr)
		text := "The approval email is delayed: " + reason + ". The app keeps trying until the gate settles."
		if err := p.o.Gates.Notice(ctx, info.ID, "email/delayed", text); err != nil {
			return e, fmt.Errorf("email of gate %s: %w", info.ID, err)
		}
	case resultFailed:
		log.Error("email refused", "reason", reason, "error", sendErr)
	case resultUnknown:
		log.Warn("email outcome unknown; not sending it again", "reason", reason, "error", sendErr)
	}
	e.State, e.LastError = to, reason
	return e, nil
}

// move moves an email from one state to another; false when it was not
// in from (another run moved it).
func (p *Performer) move(ctx context.Context, e store.Email, from, to store.EmailState, reason string) (bool, error) {
	err := p.o.Store.MoveEmail(ctx, e.GateID, e.Recipient, from, to, reason, p.o.Now())
	switch {
	case errors.Is(err, store.ErrConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("email of gate %s to %s: %s to %s: %w", e.GateID, e.Label, from, to, err)
	}
	return true, nil
}

// notice tells the issue about an email that failed or may not have
// arrived. Notices are posted once per key, so an email's notice is asked
// for on every run until the item is done: one that failed to post is
// posted by a later run.
func (p *Performer) notice(ctx context.Context, gateID string, index int, e store.Email) error {
	var key, text string
	reason := e.LastError
	if reason == "" {
		reason = "the reason was not recorded"
	}
	switch e.State {
	case store.EmailFailed:
		key = "email/failed/" + strconv.Itoa(index)
		text = fmt.Sprintf("The approval email to %s was not sent: %s. %s can answer here.", e.Label, reason, e.Label)
	case store.EmailUnknown:
		key = "email/unknown/" + strconv.Itoa(index)
		text = fmt.Sprintf("The approval email to %s may not have arrived: %s. It is not sent twice; %s can answer here.", e.Label, reason, e.Label)
	default:
		return nil
	}
	if err := p.o.Gates.Notice(ctx, gateID, key, text); err != nil {
		return fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	return nil
}

// timeLeft reports whether ctx leaves at least d for a send.
func timeLeft(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) >= d
}
