package server

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter bounds requests per client address. Verifying a token can make
// the app fetch the issuer's keys, so a flood of forged tokens must not
// turn into a flood of fetches.
type limiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	clients map[string]*rate.Limiter
	reset   time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		perSecond = 10
	}
	if burst <= 0 {
		burst = 20
	}
	return &limiter{rate: rate.Limit(perSecond), burst: burst, clients: map[string]*rate.Limiter{}}
}

// allow reports whether the request's address may go on. The table of
// addresses starts afresh every minute, which bounds its size.
func (l *limiter) allow(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.After(l.reset) {
		clear(l.clients)
		l.reset = now.Add(time.Minute)
	}
	c, ok := l.clients[host]
	if !ok {
		c = rate.NewLimiter(l.rate, l.burst)
		l.clients[host] = c
	}
	return c.Allow()
}
