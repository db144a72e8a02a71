package gates

import "sync"

// hub wakes the long polls waiting on a gate when it settles. It holds an
// entry only while someone waits.
type hub struct {
	mu       sync.Mutex
	waiting  map[string]*waiters
	draining bool
	closed   chan struct{} // closed when draining
}

type waiters struct {
	ch chan struct{}
	n  int
}

func newHub() *hub {
	return &hub{waiting: map[string]*waiters{}, closed: make(chan struct{})}
}

// wait returns a channel closed at the gate's next notify, or at once when
// the hub drains, and the function to call when done waiting. Take it
// before reading the gate, so that a settle in between is not missed.
func (h *hub) wait(gateID string) (<-chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return h.closed, func() {}
	}
	w, ok := h.waiting[gateID]
	if !ok {
		w = &waiters{ch: make(chan struct{})}
		h.waiting[gateID] = w
	}
	w.n++
	return w.ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if w.n--; w.n == 0 && h.waiting[gateID] == w {
			delete(h.waiting, gateID)
		}
	}
}

// notify wakes everyone waiting on the gate.
func (h *hub) notify(gateID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.waiting[gateID]; ok {
		close(w.ch)
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
	for id, w := range h.waiting {
		close(w.ch)
		delete(h.waiting, id)
	}
}
