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

// recordTimeout bounds recording what came of a send, which is done even
// when the item's context has ended.
const recordTimeout = 10 * time.Second

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
	// Observe counts outcomes: the transport's name and "sent", "retry"
	// (not delivered, tried again: a Retry or Blocked failure), "failed",
	// "unknown" or "skipped".
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
// It returns nil when none is left to send; outbox.Again when it ran out
// of time after handing some over, so that the item runs again at once;
// outbox.RetryAt when the service asked the app to wait; another error
// (retried with backoff) while some are left to send; outbox.Permanent
// when the item cannot be performed at all. After the first send of a run,
// it starts another only while ctx leaves the session's Timeout for it,
// and while the gate is neither settled nor past its deadline.
func (p *Performer) Perform(ctx context.Context, it store.OutboxItem) error {
	var item gates.EmailItem
	if err := json.Unmarshal(it.Payload, &item); err != nil || item.Gate == "" || it.Kind != gates.KindEmail {
		return outbox.Permanent(fmt.Errorf("email outbox item %s: not an %s item", it.Key, gates.KindEmail))
	}
	gateID := item.Gate
	info, err := p.info(ctx, gateID)
	if err != nil {
		return err
	}
	emails, err := p.o.Store.Emails(ctx, gateID)
	if err != nil {
		return fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	if why := p.over(info); why != "" {
		return p.skip(ctx, gateID, emails, why)
	}
	if len(emails) == 0 {
		if emails, err = p.addRecipients(ctx, gateID); err != nil || len(emails) == 0 {
			return err
		}
	}
	return p.send(ctx, info, emails)
}

// info reads the gate; a gate that does not exist is a Permanent error.
func (p *Performer) info(ctx context.Context, gateID string) (gates.Info, error) {
	info, err := p.o.Gates.Info(ctx, gateID)
	switch {
	case errors.Is(err, gates.ErrNotFound):
		return info, outbox.Permanent(fmt.Errorf("email of gate %s: %w", gateID, err))
	case err != nil:
		return info, fmt.Errorf("email of gate %s: %w", gateID, err)
	}
	return info, nil
}

// over says why a gate takes no more email: it settled, or its deadline
// passed. It is empty while the gate waits for answers.
func (p *Performer) over(info gates.Info) string {
	switch {
	case approval.Status(info.View.Status).Settled():
		return "the gate settled first"
	case !info.Deadline.IsZero() && !p.o.Now().Before(info.Deadline):
		return "the gate's deadline passed first"
	}
	return ""
}

// notRecorded is the reason of an email found in "sending": a run handed
// it over and stopped before recording what came of it.
const notRecorded = "the outcome of handing it over was not recorded"

// skip gives up the emails of a gate that takes no more, for why: those
// not sent are skipped, and one found in "sending" is unknown.
func (p *Performer) skip(ctx context.Context, gateID string, emails []store.Email, why string) error {
	name := p.o.Transport.Name()
	for _, e := range emails {
		log := p.o.Logger.With("gate", gateID, "label", e.Label, "transport", name, "message_id", e.MessageID)
		switch e.State {
		case store.EmailPending:
			moved, err := p.move(ctx, e, store.EmailPending, store.EmailSkipped, why)
			if err != nil {
				return err
			}
			if moved {
				p.o.Observe(name, resultSkipped)
				log.Info("email skipped", "reason", why)
			}
		case store.EmailSending:
			if _, err := p.unrecorded(ctx, e, log); err != nil {
				return err
			}
		}
	}
	return nil
}

// unrecorded moves an email found in "sending" to unknown: a run handed it
// over and stopped before recording what came of it, so it is never sent
// again. It reports whether this call moved it.
func (p *Performer) unrecorded(ctx context.Context, e store.Email, log *slog.Logger) (bool, error) {
	moved, err := p.move(ctx, e, store.EmailSending, store.EmailUnknown, notRecorded)
	if err != nil || !moved {
		return false, err
	}
	p.o.Observe(p.o.Transport.Name(), resultUnknown)
	log.Warn("email outcome unknown: " + notRecorded + "; not sending it again")
	return true, nil
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

var (
	// errTimeUp stops a run that has no time left for another send.
	errTimeUp = errors.New("no time left for another send")
	// errTaken is an email another run is sending.
	errTaken = errors.New("another run is sending it")
)

// send sends the pending emails in order on one session, and settles the
// ones an earlier run left in "sending". An email is sent once at most: it
// is moved to "sending" before it is handed over, and one found there was
// handed over by a run that stopped before recording the outcome.
//
// The run stops sending when ctx leaves no time for another send, when
// the service asks the app to wait, and when the app's set-up blocks every
// message; the emails it did not try stay pending.
func (p *Performer) send(ctx context.Context, info gates.Info, emails []store.Email) error {
	name := p.o.Transport.Name()
	s := p.o.Transport.Open()
	defer s.Close()
	var (
		started, progressed bool
		pending             int
		stop                error         // why the run sends no more
		lastErr             error         // why the last email left pending is
		retries, waits      int           // Retry failures, and those with a Retry-After
		wait                time.Duration // the longest Retry-After
	)
	for i, e := range emails {
		log := p.o.Logger.With("gate", info.ID, "label", e.Label, "transport", name, "message_id", e.MessageID)
		switch e.State {
		case store.EmailSending:
			moved, err := p.unrecorded(ctx, e, log)
			if err != nil {
				return err
			}
			if moved {
				e.State, e.LastError = store.EmailUnknown, notRecorded
			}
		case store.EmailPending:
			if stop == nil && started && !timeLeft(ctx, s.Timeout()) {
				stop = errTimeUp
			}
			if stop != nil {
				pending++
				continue
			}
			if started {
				// The gate may have settled, or its deadline passed, meanwhile.
				var err error
				if info, err = p.info(ctx, info.ID); err != nil {
					return err
				}
				if why := p.over(info); why != "" {
					return p.skip(ctx, info.ID, emails[i:], why)
				}
			}
			started = true
			after, failed, err := p.sendOne(ctx, s, info, e, log)
			if err != nil {
				return err
			}
			e = after
			switch {
			case e.State != store.EmailPending:
				progressed = true
			case failed == nil:
				pending++
				lastErr = errTaken
			case FailureOf(failed) == Blocked:
				pending++
				stop = failed
			default:
				pending++
				lastErr = failed
				retries++
				if d := retryAfter(failed); d > 0 {
					// The service holds every message, not just this one.
					waits++
					wait = max(wait, d)
					stop = failed
				}
			}
		}
		if err := p.notice(ctx, info.ID, i, e); err != nil {
			return err
		}
	}
	if pending == 0 {
		return nil
	}
	cause := stop
	if cause == nil {
		cause = lastErr
	}
	err := fmt.Errorf("email of gate %s: %d not sent yet: %w", info.ID, pending, cause)
	switch {
	case errors.Is(stop, errTimeUp) && progressed:
		return outbox.Again(err)
	case FailureOf(stop) != Blocked && retries > 0 && waits == retries:
		return outbox.RetryAt(err, p.o.Now().Add(wait))
	}
	return err
}

// sendOne sends one pending email on s and records the outcome. It returns
// the email as it now stands and the send's failure, if any; err only when
// the store or the issue fails. An email another run took stays as it was,
// with no failure.
func (p *Performer) sendOne(ctx context.Context, s Session, info gates.Info, e store.Email, log *slog.Logger) (after store.Email, failed, err error) {
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
			return e, nil, merr
		}
		p.o.Observe(name, resultFailed)
		log.Error("email not sent: it could not be written", "error", err)
		e.State, e.LastError = store.EmailFailed, reason
		return e, err, nil
	}
	moved, err := p.move(ctx, e, store.EmailPending, store.EmailSending, "")
	if err != nil || !moved {
		return e, nil, err // not moved: another run has it
	}

	sendErr := s.Send(ctx, m)

	to, result, reason := store.EmailSent, resultSent, ""
	failure := FailureOf(sendErr)
	if sendErr != nil {
		reason = Reason(sendErr)
		switch failure {
		case Refused:
			to, result = store.EmailFailed, resultFailed
		case Unsure:
			to, result = store.EmailUnknown, resultUnknown
		default: // Retry, Blocked: not delivered
			to, result = store.EmailPending, resultRetry
		}
	}
	// Recorded even when ctx has ended (the send may have overrun it). A
	// failure to record leaves it "sending": the next run takes it as sent
	// or not, and does not send it again.
	moved, err = p.record(ctx, e, to, reason)
	if err != nil {
		return e, nil, err
	}
	if !moved {
		log.Warn("email outcome not recorded: another run settled it", "outcome", result)
		return e, nil, nil
	}
	p.o.Observe(name, result)
	e.State, e.LastError = to, reason
	var notice, text string
	switch {
	case sendErr == nil:
		log.Info("email sent")
	case failure == Blocked:
		log.Error("email not sent: the mail set-up is refused; sending stops until it is fixed", "reason", reason, "error", sendErr)
		notice = "email/blocked"
		text = "No approval email can be sent: " + reason + ". The app keeps trying; its operator needs to fix the mail settings."
	case result == resultRetry:
		log.Warn("email not sent; retrying", "reason", reason, "error", sendErr)
		notice = "email/delayed"
		text = "The approval email is delayed: " + reason + ". The app keeps trying until the gate settles."
	case result == resultFailed:
		log.Error("email refused", "reason", reason, "error", sendErr)
	case result == resultUnknown:
		log.Warn("email outcome unknown; not sending it again", "reason", reason, "error", sendErr)
	}
	if notice != "" {
		if err := p.o.Gates.Notice(ctx, info.ID, notice, text); err != nil {
			return e, sendErr, fmt.Errorf("email of gate %s: %w", info.ID, err)
		}
	}
	return e, sendErr, nil
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

// record moves an email from "sending" to what came of handing it over,
// on a context that outlives ctx by up to recordTimeout.
func (p *Performer) record(ctx context.Context, e store.Email, to store.EmailState, reason string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return p.move(ctx, e, store.EmailSending, to, reason)
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

// timeLeft reports whether ctx has not ended and leaves at least d.
func timeLeft(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ctx.Err() == nil && (!ok || time.Until(deadline) >= d)
}
