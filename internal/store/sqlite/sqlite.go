package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is the SQLite implementation of store.Store.
type Store struct {
	w       *sql.DB // one connection, held by the writer goroutine
	r       *sql.DB // reads
	ops     chan op // writes, to the writer
	stop    chan struct{}
	stopped chan struct{} // the writer has returned
	once    sync.Once
}

// busyTimeout is how long a write waits for another process's write lock.
const busyTimeout = 5 * time.Second

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, "FULL")
}

// open is Open with the synchronous pragma as a parameter, for benchmarks.
func open(ctx context.Context, path, synchronous string) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("open sqlite store: %q is not a file path", path)
	}
	w, err := sql.Open("sqlite", dsn(path, synchronous, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	conn, err := connect(ctx, w)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, synchronous, true))
	if err != nil {
		conn.Close()
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	s := &Store{w: w, r: r, ops: make(chan op), stop: make(chan struct{}), stopped: make(chan struct{})}
	go s.writer(conn)
	return s, nil
}

// connect brings the schema up to date and returns the write connection.
// Processes that open a new file at once can get SQLITE_BUSY without the
// busy timeout while one of them sets the file up; the others try again.
func connect(ctx context.Context, w *sql.DB) (*sql.Conn, error) {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := migrate(ctx, w)
		if err == nil {
			return w.Conn(ctx)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// dsn gives the data source name of a connection to the file at path. The
// driver runs the pragmas on every connection it opens.
func dsn(path, synchronous string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?" + q.Encode()
}

// Ping checks that the writer and the readers reach the file.
func (s *Store) Ping(ctx context.Context) error {
	noop := func(context.Context, *wtx) error { return nil }
	if err := errors.Join(s.write(ctx, noop), s.r.PingContext(ctx)); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	return nil
}

// Close waits for the writes under way, stops the writer and closes the
// connections.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.stopped
	return errors.Join(s.r.Close(), s.w.Close())
}

// querier is what reads need: a pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

// queryAll runs query and scans every row.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// Times are stored as unix milliseconds; optional ones are NULL when zero.

func millis(t time.Time) int64 { return t.UnixMilli() }

func optMS(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: !t.IsZero()}
}

func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// changed reports whether res changed a row.
func changed(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	return n > 0, err
}
