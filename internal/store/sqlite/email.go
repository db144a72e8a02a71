package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// validEmailState reports whether st is one of the store's email states.
func validEmailState(st store.EmailState) bool {
	switch st {
	case store.EmailPending, store.EmailSending, store.EmailSent, store.EmailFailed, store.EmailUnknown, store.EmailSkipped:
		return true
	}
	return false
}

// checkEmail refuses an email the store cannot keep.
func checkEmail(e store.Email) error {
	switch {
	case e.GateID == "":
		return errors.New("empty gate id")
	case e.Recipient == "":
		return fmt.Errorf("gate %s: empty recipient", e.GateID)
	case !validEmailState(e.State):
		return fmt.Errorf("gate %s, recipient %s: unknown state %q", e.GateID, e.Recipient, e.State)
	case e.Attempts < 0:
		return fmt.Errorf("gate %s, recipient %s: negative attempts %d", e.GateID, e.Recipient, e.Attempts)
	}
	return nil
}

// AddEmails stores a gate's recipients in one transaction; a recipient the
// gate already has keeps its stored email. An unknown gate is ErrNotFound.
func (s *Store) AddEmails(ctx context.Context, emails []store.Email) error {
	for _, e := range emails {
		if err := checkEmail(e); err != nil {
			return fmt.Errorf("add emails: %w", err)
		}
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		known := map[string]bool{}
		for _, e := range emails {
			if !known[e.GateID] {
				var one int
				err := tx.QueryRowContext(ctx, `SELECT 1 FROM gates WHERE id = ?`, e.GateID).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("gate %s: %w", e.GateID, store.ErrNotFound)
				}
				if err != nil {
					return err
				}
				known[e.GateID] = true
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO emails (gate_id, recipient, label, message_id, state, attempts, last_error, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				e.GateID, e.Recipient, e.Label, e.MessageID, string(e.State), e.Attempts, e.LastError, millis(e.UpdatedAt)); err != nil {
				return fmt.Errorf("gate %s, recipient %s: %w", e.GateID, e.Recipient, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add emails: %w", err)
	}
	return nil
}

// Emails lists a gate's emails in the order they were added.
func (s *Store) Emails(ctx context.Context, gateID string) ([]store.Email, error) {
	emails, err := queryAll(ctx, s.r, func(sc scanner) (store.Email, error) {
		e := store.Email{GateID: gateID}
		var updated sql.NullInt64
		err := sc.Scan(&e.Recipient, &e.Label, &e.MessageID, &e.State, &e.Attempts, &e.LastError, &updated)
		e.UpdatedAt = fromMS(updated)
		return e, err
	}, `SELECT recipient, label, message_id, state, attempts, last_error, updated_at
		FROM emails WHERE gate_id = ? ORDER BY rowid`, gateID)
	if err != nil {
		return nil, fmt.Errorf("emails of gate %s: %w", gateID, err)
	}
	return emails, nil
}

// MoveEmail moves an email from one state to another if it is in from.
func (s *Store) MoveEmail(ctx context.Context, gateID, recipient string, from, to store.EmailState, lastError string, at time.Time) error {
	what := fmt.Sprintf("move email of gate %s to %s from %s to %s", gateID, recipient, from, to)
	switch {
	case gateID == "":
		return fmt.Errorf("%s: empty gate id", what)
	case recipient == "":
		return fmt.Errorf("%s: empty recipient", what)
	case !validEmailState(from):
		return fmt.Errorf("%s: unknown state %q", what, from)
	case !validEmailState(to):
		return fmt.Errorf("%s: unknown state %q", what, to)
	}
	attempt := 0
	if to == store.EmailSending {
		attempt = 1
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE emails SET state = ?, attempts = attempts + ?, last_error = ?, updated_at = ?
			WHERE gate_id = ? AND recipient = ? AND state = ?`,
			string(to), attempt, lastError, millis(at), gateID, recipient, string(from))
		if err != nil {
			return err
		}
		if ok, err := changed(res); err != nil || ok {
			return err
		}
		var now string
		err = tx.QueryRowContext(ctx, `SELECT state FROM emails WHERE gate_id = ? AND recipient = ?`, gateID, recipient).Scan(&now)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		}
		return fmt.Errorf("it is %s: %w", now, store.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
