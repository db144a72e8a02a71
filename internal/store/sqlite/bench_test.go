package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// payload is the size of a typical compact issue_comment delivery.
var payload = bytes.Repeat([]byte("x"), 8<<10)

// handlers is how many requests the webhook server handles at once in the
// parallel benchmarks (times GOMAXPROCS).
const handlers = 8

// benchSync runs fn on a fresh store for each synchronous setting.
func benchSync(b *testing.B, fn func(b *testing.B, s *Store)) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s, err := open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sync)
			if err != nil {
				b.Fatal(err)
			}
			defer closeStore(b, s)
			fn(b, s)
		})
	}
}

func opsPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// gates stores n pending gates, on issues 1..n.
func gates(b *testing.B, s *Store, n int) {
	for i := 1; i <= n; i++ {
		create(b, s, gate(i))
	}
}

func BenchmarkAddDelivery(b *testing.B) {
	benchSync(b, func(b *testing.B, s *Store) {
		var seq atomic.Int64
		add := func(b *testing.B) {
			d := store.Delivery{ID: fmt.Sprint(seq.Add(1)), Event: "issue_comment", Payload: payload, ReceivedAt: t0}
			if _, err := s.AddDelivery(context.Background(), d, time.Minute); err != nil {
				b.Error(err)
			}
		}
		b.Run("serial", func(b *testing.B) {
			for b.Loop() {
				add(b)
			}
			opsPerSecond(b)
		})
		b.Run("parallel", func(b *testing.B) {
			b.SetParallelism(handlers)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					add(b)
				}
			})
			opsPerSecond(b)
		})
	})
}

func BenchmarkUpdateRecordResponse(b *testing.B) {
	const n = 1000
	benchSync(b, func(b *testing.B, s *Store) {
		gates(b, s, n)
		var seq atomic.Int64
		b.SetParallelism(handlers)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := seq.Add(1)
				r := &store.Response{ID: fmt.Sprint("comment:", i), Data: []byte(`{"decision":"approve","actor":"alice"}`), CreatedAt: t0}
				if _, err := s.Update(context.Background(), fmt.Sprint("gate-", i%n+1), func(store.Snapshot) (store.Change, error) {
					return store.Change{Response: r, Notes: []store.Note{{Text: "recorded", At: t0}}}, nil
				}); err != nil {
					b.Error(err)
				}
			}
		})
		opsPerSecond(b)
	})
}

func BenchmarkGateByIssue(b *testing.B) {
	const n = 1000
	s := openTemp(b, filepath.Join(b.TempDir(), "bench.db"))
	defer closeStore(b, s)
	gates(b, s, n)
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GateByIssue(context.Background(), "Acme/Widgets", int(seq.Add(1)%n)+1); err != nil {
				b.Error(err)
			}
		}
	})
	opsPerSecond(b)
}

// BenchmarkDelivery is the store's share of one issue_comment delivery:
// AddDelivery, GateByIssue, Update recording the response, FinishDelivery.
func BenchmarkDelivery(b *testing.B) {
	const n = 1000
	benchSync(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		gates(b, s, n)
		var seq atomic.Int64
		b.SetParallelism(handlers)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := seq.Add(1)
				id := fmt.Sprint(i)
				if _, err := s.AddDelivery(ctx, store.Delivery{ID: id, Event: "issue_comment", Payload: payload, ReceivedAt: t0}, time.Minute); err != nil {
					b.Error(err)
				}
				g, err := s.GateByIssue(ctx, "acme/widgets", int(i%n)+1)
				if err != nil {
					b.Error(err)
					continue
				}
				r := &store.Response{ID: "comment:" + id, Data: []byte(`{"decision":"approve","actor":"alice"}`), CreatedAt: t0}
				if _, err := s.Update(ctx, g.ID, func(store.Snapshot) (store.Change, error) {
					return store.Change{Response: r}, nil
				}); err != nil {
					b.Error(err)
				}
				if err := s.FinishDelivery(ctx, id, "recorded", t0); err != nil {
					b.Error(err)
				}
			}
		})
		opsPerSecond(b)
	})
}
