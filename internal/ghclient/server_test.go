package ghclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// reply is one scripted response.
type reply struct {
	status int
	header map[string]string
	body   string
}

// request is what a test server saw of one request.
type request struct {
	Method      string
	Path        string
	Body        string
	IfNoneMatch string
	Accept      string
}

// recorder keeps the requests a test server saw.
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

func (rec *recorder) add(r *http.Request) int {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, request{
		Method:      r.Method,
		Path:        r.URL.Path,
		Body:        string(body),
		IfNoneMatch: r.Header.Get("If-None-Match"),
		Accept:      r.Header.Get("Accept"),
	})
	return len(rec.reqs)
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

func (rec *recorder) ifNoneMatch() []string {
	var out []string
	for _, r := range rec.requests() {
		out = append(out, r.IfNoneMatch)
	}
	return out
}

// newMux returns a ServeMux whose catch-all fails the test.
func newMux(t *testing.T) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "unexpected request", http.StatusTeapot)
	})
	return mux
}

// scripted serves replies, in order, to requests for path, and fails the
// test on any other request or on one request too many.
func scripted(t *testing.T, path string, replies ...reply) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	mux := newMux(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		n := rec.add(r)
		if n > len(replies) {
			t.Errorf("request %d to %s: only %d scripted", n, path, len(replies))
			http.Error(w, "unscripted", http.StatusTeapot)
			return
		}
		rp := replies[n-1]
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rp.status)
		io.WriteString(w, rp.body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

// ownTransport is a transport of the test's own: httptest.Server.Close
// closes the idle connections of http.DefaultTransport, which would break
// the connections of tests running in parallel.
func ownTransport() http.RoundTripper {
	return http.DefaultTransport.(*http.Transport).Clone()
}
