package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// AddDelivery stores a new delivery as leased until d.ReceivedAt+lease: the
// caller's handling of it is its first attempt.
func (s *Store) AddDelivery(ctx context.Context, d store.Delivery, lease time.Duration) (bool, error) {
	attempts := 0
	if lease > 0 {
		attempts = 1
	}
	res, err := s.exec(ctx, `INSERT INTO deliveries (id, event, payload, received_at, lease_until, attempts)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		d.ID, d.Event, d.Payload, millis(d.ReceivedAt), millis(d.ReceivedAt.Add(lease)), attempts)
	if err != nil {
		return false, fmt.Errorf("add delivery %s: %w", d.ID, err)
	}
	added, err := changed(res)
	if err != nil {
		return false, fmt.Errorf("add delivery %s: %w", d.ID, err)
	}
	return added, nil
}

func scanDelivery(s scanner) (store.Delivery, error) {
	var d store.Delivery
	var received, done sql.NullInt64
	err := s.Scan(&d.ID, &d.Event, &d.Payload, &received, &d.Attempts, &d.Result, &done)
	d.ReceivedAt, d.DoneAt = fromMS(received), fromMS(done)
	return d, err
}

// ClaimDeliveries leases the oldest deliveries that are not done and not
// leased at now.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	var ds []store.Delivery
	err := s.write(ctx, func(ctx context.Context, tx *wtx) (err error) {
		ds, err = queryAll(ctx, tx, scanDelivery, `UPDATE deliveries SET lease_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM deliveries WHERE done_at IS NULL AND lease_until <= ? ORDER BY received_at, id LIMIT ?)
			RETURNING id, event, payload, received_at, attempts, result, done_at`,
			millis(now.Add(lease)), millis(now), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	slices.SortFunc(ds, func(a, b store.Delivery) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), cmp.Compare(a.ID, b.ID))
	})
	return ds, nil
}

// FinishDelivery marks a delivery done and drops its payload.
func (s *Store) FinishDelivery(ctx context.Context, id, result string, at time.Time) error {
	return s.exec1(ctx, fmt.Sprintf("finish delivery %s", id),
		`UPDATE deliveries SET done_at = ?, result = ?, payload = NULL WHERE id = ?`, millis(at), result, id)
}

// exec1 runs a write that must change a row, else it is ErrNotFound.
func (s *Store) exec1(ctx context.Context, what, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ok, err := changed(res)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case !ok:
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

const outboxCols = `id, gate_id, key, kind, payload, attempts, next_at, last_error, created_at, done_at`

func scanOutbox(s scanner) (store.OutboxItem, error) {
	var o store.OutboxItem
	var next, created, done sql.NullInt64
	err := s.Scan(&o.ID, &o.GateID, &o.Key, &o.Kind, &o.Payload, &o.Attempts, &next, &o.LastError, &created, &done)
	o.NextAt, o.CreatedAt, o.DoneAt = fromMS(next), fromMS(created), fromMS(done)
	return o, err
}

// ClaimOutbox leases the due items that are not done, in ID order.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	var items []store.OutboxItem
	err := s.write(ctx, func(ctx context.Context, tx *wtx) (err error) {
		items, err = queryAll(ctx, tx, scanOutbox, `UPDATE outbox SET next_at = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox WHERE done_at IS NULL AND next_at <= ? ORDER BY id LIMIT ?)
			RETURNING `+outboxCols,
			millis(now.Add(lease)), millis(now), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	slices.SortFunc(items, func(a, b store.OutboxItem) int { return cmp.Compare(a.ID, b.ID) })
	return items, nil
}

// CompleteOutbox marks an item done; unknown ids are ErrNotFound.
func (s *Store) CompleteOutbox(ctx context.Context, id int64, at time.Time) error {
	return s.exec1(ctx, fmt.Sprintf("complete outbox item %d", id),
		`UPDATE outbox SET done_at = ? WHERE id = ?`, millis(at), id)
}

// RetryOutbox makes an item due again at next; unknown ids are ErrNotFound.
func (s *Store) RetryOutbox(ctx context.Context, id int64, next time.Time, lastError string) error {
	return s.exec1(ctx, fmt.Sprintf("retry outbox item %d", id),
		`UPDATE outbox SET next_at = ?, last_error = ? WHERE id = ?`, millis(next), lastError, id)
}

// OutboxBacklog counts the items not done.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE done_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox backlog: %w", err)
	}
	return n, nil
}

// Outbox lists a gate's items in ID order.
func (s *Store) Outbox(ctx context.Context, gateID string) ([]store.OutboxItem, error) {
	items, err := queryAll(ctx, s.r, scanOutbox, `SELECT `+outboxCols+` FROM outbox WHERE gate_id = ? ORDER BY id`, gateID)
	if err != nil {
		return nil, fmt.Errorf("outbox of gate %s: %w", gateID, err)
	}
	return items, nil
}
