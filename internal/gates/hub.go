package gates

import "sync"

// hub wakes the long polls waiting on a gate when it settles.
type hub struct {
	mu       sync.Mutex
	waiting  map[string]chan struct{}
	draining bool
	closed   chan struct{} // closed when draining
}

func newHub() *hub {
	return &hub{waiting: map[string]chan struct{}{}, closed: make(chan struct{})}
}

// wait returns a channel closed at the gate's next notify, or at once when
// the hub drains. Take it before reading the gate, so that a settle in
// between is not missed.
func (h *hub) wait(gateID string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return h.closed
	}
	ch, ok := h.waiting[gateID]
	if !ok {
		ch = make(chan struct{})
		h.waiting[gateID] = ch
	}
	return ch
}

// notify wakes everyone waiting on the gate.
func (h *hub) notify(gateID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.waiting[gateID]; ok {
		close(ch)
		delete(h.waiting, gateID)
	}
}

// drain wakes every waiter, now and from now on.
func (h *hub) drain() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return
	}
	h.draining = true
	close(h.closed)
	for id, ch := range h.waiting {
		close(ch)
		delete(h.waiting, id)
	}
}
