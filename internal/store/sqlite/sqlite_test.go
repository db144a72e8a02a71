package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/store"
	"github.com/gatehouse-ci/gatehouse/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
}

// openTemp opens the store at path; the caller closes it.
func openTemp(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func closeStore(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func gate(n int) store.Gate {
	return store.Gate{
		ID: fmt.Sprintf("gate-%d", n), Repository: "acme/widgets", RunID: int64(n), RunAttempt: 1, Key: "deploy",
		IssueNumber: n, Status: approval.Pending, CreatedAt: t0,
	}
}

func TestMigrationsAreNumbered(t *testing.T) {
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || all[0].name != "0001_init.sql" {
		t.Errorf("migrations = %+v, want 0001_init.sql first", all)
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	applied := func() []string {
		s := openTemp(t, path)
		defer closeStore(t, s)
		rows, err := queryAll(ctx, s.r, func(sc scanner) (string, error) {
			var v, at int64
			err := sc.Scan(&v, &at)
			return fmt.Sprint(v, "@", at), err
		}, `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	first := applied()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(all) {
		t.Fatalf("applied %v, want %d migrations", first, len(all))
	}
	if d := cmp.Diff(first, applied()); d != "" {
		t.Errorf("re-opening applied migrations again (-first +second):\n%s", d)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := openTemp(t, path)
	create(t, s, gate(1))
	want, err := s.Update(ctx, "gate-1", func(store.Snapshot) (store.Change, error) {
		return store.Change{
			Response: &store.Response{ID: "comment:1", Data: []byte("yes"), CreatedAt: t0},
			Notes:    []store.Note{{Text: "edited", At: t0}},
			Settle:   &store.Settlement{Status: approval.Approved, Outcome: []byte("{}"), At: t0},
			Outbox:   []store.OutboxItem{{Key: "close:1", Kind: "close", NextAt: t0, CreatedAt: t0}},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDelivery(ctx, store.Delivery{ID: "d1", Event: "ping", ReceivedAt: t0}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutInstallation(ctx, store.Installation{ID: 5, Account: "acme", AllRepositories: true}, nil); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)

	s = openTemp(t, path)
	defer closeStore(t, s)
	got, err := s.Snapshot(ctx, "gate-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("snapshot after re-open (-before +after):\n%s", d)
	}
	if n, err := s.OutboxBacklog(ctx); err != nil || n != 1 {
		t.Errorf("OutboxBacklog = %d, %v; want 1", n, err)
	}
	if added, err := s.AddDelivery(ctx, store.Delivery{ID: "d1", Event: "ping", ReceivedAt: t0}, time.Minute); err != nil || added {
		t.Errorf("AddDelivery of a delivery stored before re-open = %t, %v; want false", added, err)
	}
	if id, err := s.InstallationFor(ctx, "acme/x"); err != nil || id != 5 {
		t.Errorf("InstallationFor = %d, %v; want 5", id, err)
	}
}

func TestTooNewSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := openTemp(t, path)
	if _, err := s.exec(context.Background(), `INSERT INTO schema_migrations (version, applied_at) VALUES (1000, 0)`); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	s, err := Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer build succeeded")
	}
	if !strings.Contains(err.Error(), "schema version 1000 is newer") {
		t.Errorf("Open error %q, want it to name the newer schema version", err)
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", filepath.Join(t.TempDir(), "missing", "gatehouse.db")} {
		if s, err := Open(context.Background(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestTwoStoresOneFile opens a new file twice at once and writes to it
// through both stores, as two processes would: each migration is applied
// once and the busy timeout makes every write wait its turn.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "odd ?#% name.db")
	stores := make([]*Store, 2)
	var opened sync.WaitGroup
	for i := range stores {
		opened.Go(func() { stores[i] = openTemp(t, path) })
	}
	opened.Wait()
	a, b := stores[0], stores[1]
	if a == nil || b == nil {
		t.FailNow()
	}
	defer closeStore(t, a)
	defer closeStore(t, b)
	create(t, a, gate(1))
	const each = 20
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for j := range each {
				id := fmt.Sprintf("s%d:%d", i, j)
				_, err := s.Update(ctx, "gate-1", func(store.Snapshot) (store.Change, error) {
					return store.Change{Response: &store.Response{ID: id, CreatedAt: t0}}, nil
				})
				if err != nil {
					t.Errorf("Update %s: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, s := range map[string]*Store{"a": a, "b": b} {
		snap, err := s.Snapshot(ctx, "gate-1")
		if err != nil || len(snap.Responses) != 4*each {
			t.Errorf("store %s: %d responses, %v; want %d", name, len(snap.Responses), err, 4*each)
		}
	}
}

func TestFinishDeliveryDropsPayload(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	defer closeStore(t, s)
	if _, err := s.AddDelivery(ctx, store.Delivery{ID: "d1", Event: "ping", Payload: []byte("{}"), ReceivedAt: t0}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDelivery(ctx, "d1", "ignored: ping", t0); err != nil {
		t.Fatal(err)
	}
	var payload []byte
	var result string
	var done sql.NullInt64
	if err := s.r.QueryRow(`SELECT payload, result, done_at FROM deliveries WHERE id = 'd1'`).Scan(&payload, &result, &done); err != nil {
		t.Fatal(err)
	}
	if payload != nil || result != "ignored: ping" || !fromMS(done).Equal(t0) {
		t.Errorf("finished delivery: payload %q, result %q, done %v", payload, result, fromMS(done))
	}
}

func TestTimes(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, tt := range []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero", time.Time{}, time.Time{}},
		{"other zone", time.Date(2025, 3, 1, 13, 0, 0, 0, cet), t0},
		{"below a millisecond", t0.Add(1500 * time.Microsecond), t0.Add(time.Millisecond)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for name, got := range map[string]time.Time{
				"optional": fromMS(optMS(tt.in)),
				"required": fromMS(sql.NullInt64{Int64: millis(tt.in), Valid: true}),
			} {
				if got != tt.want {
					t.Errorf("%s: %v read back as %v, want %v", name, tt.in, got, tt.want)
				}
			}
		})
	}
}

func create(t testing.TB, s *Store, g store.Gate) {
	t.Helper()
	if _, created, err := s.CreateGate(context.Background(), g); err != nil || !created {
		t.Fatalf("CreateGate(%s) = %t, %v", g.ID, created, err)
	}
}

// TestBatch commits writes together: each that fails leaves no trace and
// the others are kept.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := openTemp(t, path)
	defer closeStore(t, s)
	db, err := sql.Open("sqlite", dsn(path, "FULL", false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := &wtx{conn: conn, stmts: map[string]*sql.Stmt{}}
	defer tx.close()

	add := func(id string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event, received_at, lease_until, attempts) VALUES (?, 'ping', 0, 0, 1)`, id)
		return err
	}
	errStop := errors.New("stop")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	batch := []op{
		{ctx: ctx, fn: func(context.Context, *wtx) error { return add("a") }},
		{ctx: ctx, fn: func(context.Context, *wtx) error { return errors.Join(add("b"), errStop) }},
		{ctx: ctx, fn: func(context.Context, *wtx) error { add("c"); panic("bad write") }},
		{ctx: cancelled, fn: func(context.Context, *wtx) error { return add("d") }},
		{ctx: ctx, fn: func(context.Context, *wtx) error { return add("a") }},
		{ctx: ctx, fn: func(context.Context, *wtx) error { return add("e") }},
	}
	for i := range batch {
		batch[i].done = make(chan error, 1)
	}
	tx.commit(batch)

	for i, want := range []string{"", "stop", "write panicked: bad write", "context canceled", "UNIQUE constraint failed", ""} {
		err := <-batch[i].done
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("write %d: error %v, want %q", i, err, want)
		}
	}
	ids, err := queryAll(ctx, s.r, func(sc scanner) (id string, err error) {
		return id, sc.Scan(&id)
	}, `SELECT id FROM deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "e"}, ids); d != "" {
		t.Errorf("stored deliveries (-want +got):\n%s", d)
	}
}

func TestWriteAfterClose(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	closeStore(t, s)
	_, err := s.AddDelivery(context.Background(), store.Delivery{ID: "d1", ReceivedAt: t0}, time.Minute)
	if !errors.Is(err, errClosed) {
		t.Errorf("AddDelivery after Close: error %v, want %v", err, errClosed)
	}
}
