package ghapp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

const (
	// fetchTimeout bounds one membership request, retries included.
	fetchTimeout = 30 * time.Second
	// maxMemberships bounds the cache; expired answers are dropped first.
	maxMemberships = 10000
)

// memberKey is one membership question; the names are lower case, as
// GitHub compares them.
type memberKey struct {
	installation     int64
	org, slug, login string
}

type membership struct {
	active  bool
	expires time.Time
}

// flight is a membership request in progress and the callers waiting for
// it. active and err are set before done is closed.
type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	active  bool
	err     error
}

// memberships caches membership answers and shares one request among the
// callers asking the same question at once. The request runs on its own
// context (bounded by fetchTimeout), so that one caller giving up does not
// fail the others; it is cancelled when every caller has given up.
type memberships struct {
	fetch func(ctx context.Context, k memberKey) (bool, error)
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	cache   map[memberKey]membership
	flights map[memberKey]*flight
}

func newMemberships(fetch func(context.Context, memberKey) (bool, error), ttl time.Duration, now func() time.Time) *memberships {
	return &memberships{
		fetch:   fetch,
		ttl:     ttl,
		now:     now,
		cache:   map[memberKey]membership{},
		flights: map[memberKey]*flight{},
	}
}

func (m *memberships) active(ctx context.Context, k memberKey) (bool, error) {
	m.mu.Lock()
	if c, ok := m.cache[k]; ok && m.now().Before(c.expires) {
		m.mu.Unlock()
		return c.active, nil
	}
	f := m.flights[k]
	if f == nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		m.flights[k] = f
		go m.run(fctx, k, f)
	}
	f.waiters++
	m.mu.Unlock()

	select {
	case <-f.done:
		return f.active, f.err
	case <-ctx.Done():
		m.mu.Lock()
		defer m.mu.Unlock()
		f.waiters--
		if f.waiters == 0 && m.flights[k] == f {
			delete(m.flights, k)
			f.cancel()
		}
		return false, fmt.Errorf("team membership of %s in %s/%s: %w", k.login, k.org, k.slug, ctx.Err())
	}
}

func (m *memberships) run(ctx context.Context, k memberKey, f *flight) {
	active, err := m.fetch(ctx, k)
	f.cancel()
	m.mu.Lock()
	if m.flights[k] == f {
		delete(m.flights, k)
	}
	if err == nil {
		m.remember(k, active)
	}
	f.active, f.err = active, err
	m.mu.Unlock()
	close(f.done)
}

// remember caches an answer. Callers hold m.mu.
func (m *memberships) remember(k memberKey, active bool) {
	now := m.now()
	if len(m.cache) >= maxMemberships {
		for key, c := range m.cache {
			if !now.Before(c.expires) {
				delete(m.cache, key)
			}
		}
		if len(m.cache) >= maxMemberships {
			clear(m.cache)
		}
	}
	m.cache[k] = membership{active: active, expires: now.Add(m.ttl)}
}

func lower(s string) string { return strings.ToLower(s) }
