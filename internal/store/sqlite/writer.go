package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
)

// Writes are committed in groups. One goroutine, the writer, owns the write
// connection: it takes every write waiting for it, runs them in one
// transaction, each inside a savepoint so that a failed write leaves no
// trace, and commits them together, so they share one sync of the file.
// The writer also keeps each statement prepared for reuse.

// maxBatch bounds the writes committed together.
const maxBatch = 128

// errClosed answers writes after Close.
var errClosed = errors.New("sqlite store is closed")

// An op is a write waiting for the writer.
type op struct {
	ctx  context.Context
	fn   func(context.Context, *wtx) error
	done chan error
}

// write runs fn in a write transaction and returns once that is committed,
// or returns fn's error as is, and then nothing fn wrote is kept. fn must
// use the context and the transaction it is given.
func (s *Store) write(ctx context.Context, fn func(context.Context, *wtx) error) error {
	o := op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- o:
		return <-o.done
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errClosed
	}
}

// exec runs one write statement.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context, tx *wtx) (err error) {
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// writer commits batches of waiting writes until Close.
func (s *Store) writer(conn *sql.Conn) {
	defer close(s.stopped)
	tx := &wtx{conn: conn, stmts: map[string]*sql.Stmt{}}
	defer tx.close()
	for {
		var batch []op
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.stop:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		tx.commit(batch)
	}
}

// wtx is the writer's connection. Its methods run each statement prepared
// once and kept.
type wtx struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// commit runs a batch of writes in one transaction and tells each how it
// went.
func (tx *wtx) commit(batch []op) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	err := func() error {
		if _, err := tx.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for i, o := range batch {
			var fatal error
			if errs[i], fatal = tx.run(o); fatal != nil {
				tx.ExecContext(ctx, `ROLLBACK`)
				return fatal
			}
		}
		if _, err := tx.ExecContext(ctx, `COMMIT`); err != nil {
			// A failed COMMIT may leave the transaction open.
			tx.ExecContext(ctx, `ROLLBACK`)
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}()
	for i, o := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		o.done <- errs[i]
	}
}

// run runs one write of a batch inside a savepoint, rolled back if the
// write fails. fatal is an error that spoils the whole batch. The write's
// statements are not cancelled with its context, since interrupting a
// statement would roll back the whole batch.
func (tx *wtx) run(o op) (err, fatal error) {
	if err := o.ctx.Err(); err != nil {
		return err, nil
	}
	ctx := context.WithoutCancel(o.ctx)
	if _, err := tx.ExecContext(ctx, `SAVEPOINT op`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("write panicked: %v\n%s", p, debug.Stack())
			}
		}()
		return o.fn(ctx, tx)
	}()
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO op`); rerr != nil {
			return err, fmt.Errorf("roll back a failed write: %w", rerr)
		}
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE op`); rerr != nil {
		return err, fmt.Errorf("release savepoint: %w", rerr)
	}
	return err, nil
}

// stmt returns query prepared, or nil if it does not prepare; running it
// unprepared then reports why.
func (tx *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	st, ok := tx.stmts[query]
	if !ok {
		var err error
		if st, err = tx.conn.PrepareContext(ctx, query); err != nil {
			return nil
		}
		tx.stmts[query] = st
	}
	return st
}

func (tx *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.conn.ExecContext(ctx, query, args...)
}

func (tx *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.conn.QueryContext(ctx, query, args...)
}

func (tx *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.conn.QueryRowContext(ctx, query, args...)
}

func (tx *wtx) close() {
	for _, st := range tx.stmts {
		st.Close()
	}
	tx.conn.Close()
}
