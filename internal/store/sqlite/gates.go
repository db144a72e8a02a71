package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/store"
)

const gateCols = `id, repository, installation_id, run_id, run_attempt, gate_key, issue_number, issue_url,
	poll_token_hash, spec, status, outcome, deadline, created_at, settled_at`

func scanGate(s scanner) (store.Gate, error) {
	var g store.Gate
	var deadline, created, settled sql.NullInt64
	err := s.Scan(&g.ID, &g.Repository, &g.InstallationID, &g.RunID, &g.RunAttempt, &g.Key, &g.IssueNumber, &g.IssueURL,
		&g.PollTokenHash, &g.Spec, &g.Status, &g.Outcome, &deadline, &created, &settled)
	g.Deadline, g.CreatedAt, g.SettledAt = fromMS(deadline), fromMS(created), fromMS(settled)
	return g, err
}

// getGate reads the gate that where selects, or ErrNotFound.
func getGate(ctx context.Context, q querier, where string, args ...any) (store.Gate, error) {
	g, err := scanGate(q.QueryRowContext(ctx, `SELECT `+gateCols+` FROM gates WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Gate{}, store.ErrNotFound
	}
	return g, err
}

// CreateGate stores a new gate, or returns the stored one with its ID.
func (s *Store) CreateGate(ctx context.Context, g store.Gate) (store.Gate, bool, error) {
	if g.ID == "" {
		return store.Gate{}, false, errors.New("create gate: empty id")
	}
	var stored store.Gate
	var created bool
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO gates (`+gateCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			g.ID, g.Repository, g.InstallationID, g.RunID, g.RunAttempt, g.Key, g.IssueNumber, g.IssueURL,
			g.PollTokenHash, g.Spec, string(g.Status), g.Outcome, optMS(g.Deadline), millis(g.CreatedAt), optMS(g.SettledAt))
		if err != nil {
			return err
		}
		if created, err = changed(res); err != nil {
			return err
		}
		stored, err = getGate(ctx, tx, `id = ?`, g.ID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("another gate has issue %s#%d or run %d attempt %d key %q: %w",
				g.Repository, g.IssueNumber, g.RunID, g.RunAttempt, g.Key, store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return store.Gate{}, false, fmt.Errorf("create gate %s: %w", g.ID, err)
	}
	return stored, created, nil
}

// Gate returns a gate by id.
func (s *Store) Gate(ctx context.Context, id string) (store.Gate, error) {
	g, err := getGate(ctx, s.r, `id = ?`, id)
	if err != nil {
		return store.Gate{}, fmt.Errorf("gate %s: %w", id, err)
	}
	return g, nil
}

// GateByIssue returns the gate of an approval issue.
func (s *Store) GateByIssue(ctx context.Context, repository string, issue int) (store.Gate, error) {
	g, err := getGate(ctx, s.r, `repository = ? AND issue_number = ?`, repository, issue)
	if err != nil {
		return store.Gate{}, fmt.Errorf("gate of issue %s#%d: %w", repository, issue, err)
	}
	return g, nil
}

// Snapshot returns a gate with its responses and notes, read in one
// transaction.
func (s *Store) Snapshot(ctx context.Context, id string) (store.Snapshot, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("snapshot of gate %s: %w", id, err)
	}
	defer tx.Rollback()
	snap, err := snapshot(ctx, tx, id)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("snapshot of gate %s: %w", id, err)
	}
	return snap, nil
}

func snapshot(ctx context.Context, q querier, id string) (store.Snapshot, error) {
	g, err := getGate(ctx, q, `id = ?`, id)
	if err != nil {
		return store.Snapshot{}, err
	}
	snap := store.Snapshot{Gate: g}
	snap.Responses, err = queryAll(ctx, q, func(s scanner) (store.Response, error) {
		r := store.Response{GateID: id}
		var at sql.NullInt64
		err := s.Scan(&r.ID, &r.Data, &at)
		r.CreatedAt = fromMS(at)
		return r, err
	}, `SELECT id, data, created_at FROM responses WHERE gate_id = ? ORDER BY rowid`, id)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("responses: %w", err)
	}
	snap.Notes, err = queryAll(ctx, q, func(s scanner) (store.Note, error) {
		var n store.Note
		var at sql.NullInt64
		err := s.Scan(&n.Text, &at)
		n.At = fromMS(at)
		return n, err
	}, `SELECT text, at FROM notes WHERE gate_id = ? ORDER BY seq`, id)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("notes: %w", err)
	}
	return snap, nil
}

// Update runs fn on the gate's state inside the write transaction and
// writes the change it returns.
func (s *Store) Update(ctx context.Context, id string, fn func(store.Snapshot) (store.Change, error)) (store.Snapshot, error) {
	var after store.Snapshot
	var fnErr error
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		snap, err := snapshot(ctx, tx, id)
		if err != nil {
			return err
		}
		ch, err := fn(snap)
		if err != nil {
			fnErr = err
			return err
		}
		after, err = apply(ctx, tx, snap, ch)
		return err
	})
	switch {
	case fnErr != nil:
		return store.Snapshot{}, fnErr
	case err != nil:
		return store.Snapshot{}, fmt.Errorf("update gate %s: %w", id, err)
	}
	return after, nil
}

// apply writes ch and returns snap as it is afterwards.
func apply(ctx context.Context, tx *wtx, snap store.Snapshot, ch store.Change) (store.Snapshot, error) {
	id := snap.Gate.ID
	if st := ch.Settle; st != nil {
		if !st.Status.Settled() {
			return snap, fmt.Errorf("settle: %q is not a settled status", st.Status)
		}
		if snap.Gate.Status != approval.Pending {
			return snap, fmt.Errorf("settle: gate is %s: %w", snap.Gate.Status, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE gates SET status = ?, outcome = ?, settled_at = ? WHERE id = ?`,
			string(st.Status), st.Outcome, optMS(st.At), id); err != nil {
			return snap, fmt.Errorf("settle: %w", err)
		}
		snap.Gate.Status, snap.Gate.Outcome, snap.Gate.SettledAt = st.Status, st.Outcome, utc(st.At)
	}
	if r := ch.Response; r != nil {
		res, err := tx.ExecContext(ctx, `INSERT INTO responses (gate_id, id, data, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, id, r.ID, r.Data, millis(r.CreatedAt))
		if err != nil {
			return snap, fmt.Errorf("record response %s: %w", r.ID, err)
		}
		if added, err := changed(res); err != nil {
			return snap, fmt.Errorf("record response %s: %w", r.ID, err)
		} else if added {
			snap.Responses = append(snap.Responses, store.Response{GateID: id, ID: r.ID, Data: r.Data, CreatedAt: utc(r.CreatedAt)})
		}
	}
	for _, n := range ch.Notes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (gate_id, text, at) VALUES (?, ?, ?)`, id, n.Text, millis(n.At)); err != nil {
			return snap, fmt.Errorf("add note: %w", err)
		}
		snap.Notes = append(snap.Notes, store.Note{Text: n.Text, At: utc(n.At)})
	}
	for _, o := range ch.Outbox {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (gate_id, key, kind, payload, next_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			id, o.Key, o.Kind, o.Payload, millis(o.NextAt), millis(o.CreatedAt)); err != nil {
			return snap, fmt.Errorf("enqueue %s: %w", o.Key, err)
		}
	}
	return snap, nil
}

// utc is t as it reads back from the store.
func utc(t time.Time) time.Time { return fromMS(optMS(t)) }

// DueGates returns pending gates whose deadline has come, earliest first.
func (s *Store) DueGates(ctx context.Context, now time.Time, limit int) ([]store.Gate, error) {
	if limit <= 0 {
		return nil, nil
	}
	gates, err := queryAll(ctx, s.r, scanGate, `SELECT `+gateCols+` FROM gates
		WHERE status = ? AND deadline <= ? ORDER BY deadline, id LIMIT ?`, string(approval.Pending), millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due gates: %w", err)
	}
	return gates, nil
}

// NextDeadline returns the earliest deadline of a pending gate.
func (s *Store) NextDeadline(ctx context.Context) (time.Time, bool, error) {
	var d sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(deadline) FROM gates WHERE status = ?`, string(approval.Pending)).Scan(&d); err != nil {
		return time.Time{}, false, fmt.Errorf("next deadline: %w", err)
	}
	return fromMS(d), d.Valid, nil
}

// CountGates counts gates by status.
func (s *Store) CountGates(ctx context.Context) (map[approval.Status]int, error) {
	type count struct {
		status approval.Status
		n      int
	}
	counts, err := queryAll(ctx, s.r, func(s scanner) (count, error) {
		var c count
		return c, s.Scan(&c.status, &c.n)
	}, `SELECT status, count(*) FROM gates GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count gates: %w", err)
	}
	m := make(map[approval.Status]int, len(counts))
	for _, c := range counts {
		m[c.status] = c.n
	}
	return m, nil
}
