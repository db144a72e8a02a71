package ghclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// resources serves GETs of named paths with ETags, answering 304 when
// If-None-Match matches, like GitHub.
type resources struct {
	rec  recorder
	mu   sync.Mutex
	docs map[string]doc
}

type doc struct{ etag, body string }

func newResources(t *testing.T, docs map[string]doc) (*httptest.Server, *resources) {
	t.Helper()
	rs := &resources{docs: docs}
	mux := newMux(t)
	for path := range docs {
		mux.HandleFunc("GET "+path, rs.serve)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rs
}

func (rs *resources) serve(w http.ResponseWriter, r *http.Request) {
	rs.rec.add(r)
	rs.mu.Lock()
	d := rs.docs[r.URL.Path]
	rs.mu.Unlock()
	w.Header().Set("ETag", d.etag)
	if r.Header.Get("If-None-Match") == d.etag {
		w.Header().Set("X-RateLimit-Remaining", "4990")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	io.WriteString(w, d.body)
}

func (rs *resources) set(path string, d doc) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.docs[path] = d
}

func TestETagWithClient(t *testing.T) {
	t.Parallel()
	const path = issuePath + "/comments"
	srv, rs := newResources(t, map[string]doc{path: {`"a"`, `[{"id":1,"body":"one"}]`}})
	c, err := New(srv.URL, "tok", WithETagCache(), WithRetry(fast(0, nil)))
	if err != nil {
		t.Fatal(err)
	}

	type read struct {
		IDs       []int64
		Hit       bool
		Remaining int
	}
	list := func() read {
		t.Helper()
		comments, resp, err := c.Issues.ListComments(context.Background(), "o", "r", 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := read{Hit: CacheHit(resp.Response), Remaining: resp.Rate.Remaining}
		for _, cm := range comments {
			r.IDs = append(r.IDs, cm.GetID())
		}
		return r
	}

	var got []read
	got = append(got, list(), list())
	rs.set(path, doc{`"b"`, `[{"id":1,"body":"one"},{"id":2,"body":"two"}]`})
	got = append(got, list(), list())

	want := []read{
		{IDs: []int64{1}, Remaining: 4999},
		{IDs: []int64{1}, Hit: true, Remaining: 4990},
		{IDs: []int64{1, 2}, Remaining: 4999},
		{IDs: []int64{1, 2}, Hit: true, Remaining: 4990},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", `"a"`, `"a"`, `"b"`}, rs.rec.ifNoneMatch()); diff != "" {
		t.Errorf("If-None-Match sent (-want +got):\n%s", diff)
	}
}

// TestETagOutsideRetries runs the chain New builds: a 502 on a conditional
// request is retried with the same If-None-Match, and the 304 that follows
// is served from the cache.
func TestETagOutsideRetries(t *testing.T) {
	t.Parallel()
	etag := map[string]string{"ETag": `"a"`}
	srv, rec := scripted(t, issuePath,
		reply{status: 200, header: etag, body: `{"number":1,"title":"gate"}`},
		reply{status: 502},
		reply{status: 304, header: etag},
		reply{status: 304, header: etag},
	)
	c, err := New(srv.URL, "tok", WithETagCache(), WithRetry(fast(0, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var hits []bool
	for range 3 {
		issue, resp, err := c.Issues.Get(context.Background(), "o", "r", 1)
		if err != nil {
			t.Fatal(err)
		}
		if issue.GetTitle() != "gate" {
			t.Errorf("title = %q, want gate", issue.GetTitle())
		}
		hits = append(hits, CacheHit(resp.Response))
	}
	if diff := cmp.Diff([]bool{false, true, true}, hits); diff != "" {
		t.Errorf("cache hits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", `"a"`, `"a"`, `"a"`}, rec.ifNoneMatch()); diff != "" {
		t.Errorf("If-None-Match sent (-want +got):\n%s", diff)
	}
}

func TestETagNotCached(t *testing.T) {
	t.Parallel()
	etag := map[string]string{"ETag": `"x"`}
	tests := []struct {
		name  string
		first *http.Request
		reply reply
	}{
		{name: "POST", first: newRequest(t, "POST", nil), reply: reply{status: 200, header: etag, body: "{}"}},
		{name: "502", first: newRequest(t, "GET", nil), reply: reply{status: 502, header: etag}},
		{name: "200 without ETag", first: newRequest(t, "GET", nil), reply: reply{status: 200, body: "{}"}},
		{name: "conditional GET of the caller's own", first: newRequest(t, "GET", map[string]string{"If-None-Match": `"x"`}), reply: reply{status: 200, header: etag, body: "{}"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := scripted(t, "/r", tc.reply, reply{status: 200, header: etag, body: "{}"})
			hc := &http.Client{Transport: NewETagTransport(nil)}
			for _, req := range []*http.Request{tc.first, newRequest(t, "GET", nil)} {
				req.URL.Host = srv.Listener.Addr().String()
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if CacheHit(resp) {
					t.Errorf("%s: cache hit, want none", req.Method)
				}
			}
			want := []string{tc.first.Header.Get("If-None-Match"), ""}
			if diff := cmp.Diff(want, rec.ifNoneMatch()); diff != "" {
				t.Errorf("If-None-Match sent (-want +got):\n%s", diff)
			}
		})
	}
}

// newRequest returns a request for http://placeholder/r; tests set the host.
func newRequest(t *testing.T, method string, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://placeholder/r", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// TestETagCallerConditional passes a caller's own conditional GET, and the
// 304 it earns, through untouched.
func TestETagCallerConditional(t *testing.T) {
	t.Parallel()
	srv, _ := newResources(t, map[string]doc{"/r": {`"a"`, "{}"}})
	hc := &http.Client{Transport: NewETagTransport(nil)}
	var got []int
	for _, header := range []map[string]string{nil, {"If-None-Match": `"a"`}} {
		req := newRequest(t, "GET", header)
		req.URL.Host = srv.Listener.Addr().String()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if CacheHit(resp) {
			t.Error("cache hit, want none")
		}
		got = append(got, resp.StatusCode)
	}
	if diff := cmp.Diff([]int{200, 304}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestETagKeyedByAccept(t *testing.T) {
	t.Parallel()
	srv, rs := newResources(t, map[string]doc{"/r": {`"a"`, "{}"}})
	hc := &http.Client{Transport: NewETagTransport(nil)}
	for _, accept := range []string{"application/json", "application/vnd.github.raw+json", "application/json"} {
		req := newRequest(t, "GET", map[string]string{"Accept": accept})
		req.URL.Host = srv.Listener.Addr().String()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if diff := cmp.Diff([]string{"", "", `"a"`}, rs.rec.ifNoneMatch()); diff != "" {
		t.Errorf("If-None-Match sent (-want +got):\n%s", diff)
	}
}

func TestETagEviction(t *testing.T) {
	t.Parallel()
	docs := map[string]doc{}
	for _, p := range []string{"/a", "/b", "/c", "/big"} {
		docs[p] = doc{fmt.Sprintf("%q", p), `{"path":"` + p + `"}`}
	}
	docs["/big"] = doc{`"big"`, `{"this body is":"longer than the cache"}`}
	srv, rs := newResources(t, docs)
	hc := &http.Client{Transport: newETagTransport(nil, 2, 32)}
	paths := []string{"/a", "/b", "/a", "/c", "/a", "/b", "/big", "/big"}
	var bodies []string
	for _, p := range paths {
		resp, err := hc.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	var want []string
	for _, p := range paths {
		want = append(want, docs[p].body)
	}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
	// /b is dropped when /c arrives (/a was used more recently); /big never fits.
	wantINM := []string{"", "", `"/a"`, "", `"/a"`, "", "", ""}
	if diff := cmp.Diff(wantINM, rs.rec.ifNoneMatch()); diff != "" {
		t.Errorf("If-None-Match sent for %v (-want +got):\n%s", paths, diff)
	}
}

func TestETagConcurrent(t *testing.T) {
	t.Parallel()
	const body = `[{"id":1}]`
	srv, _ := newResources(t, map[string]doc{"/r": {`"a"`, body}, "/s": {`"b"`, body}})
	hc := &http.Client{Transport: NewETagTransport(nil)}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 5 {
				resp, err := hc.Get(srv.URL + []string{"/r", "/s"}[i%2])
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != body {
					t.Errorf("body %q, %v; want %q", b, err, body)
				}
			}
		})
	}
	wg.Wait()
}
