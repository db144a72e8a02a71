package ghclient

import (
	"bytes"
	"container/list"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// CacheHeader is set to "hit" on a response ETagTransport served from its
// cache because GitHub answered 304 Not Modified: nothing changed.
const CacheHeader = "X-Gatehouse-Cache"

const (
	defaultCacheEntries = 1000
	defaultCacheBytes   = 64 << 20
)

// ETagTransport makes GETs conditional. It remembers the ETag and body of
// each 200 response to a GET (keyed by URL and Accept header), sends
// If-None-Match when the same GET is made again, and turns GitHub's 304 into
// the remembered 200, marked with CacheHeader. GitHub does not count a 304
// against the rate limit, so polling this way is free. Requests that are not
// GETs, or that carry their own conditional headers, pass through. The
// least recently used entries are dropped beyond 1,000 entries or 64 MiB of
// bodies. It is safe for concurrent use.
type ETagTransport struct {
	base       http.RoundTripper
	maxEntries int
	maxBytes   int

	mu      sync.Mutex
	entries map[string]*list.Element // of *cached
	order   *list.List               // most recently used first
	size    int                      // bytes of cached bodies
}

type cached struct {
	key    string
	etag   string
	header http.Header
	body   []byte
}

// NewETagTransport returns an ETagTransport over base; nil means
// http.DefaultTransport.
func NewETagTransport(base http.RoundTripper) *ETagTransport {
	return newETagTransport(base, defaultCacheEntries, defaultCacheBytes)
}

func newETagTransport(base http.RoundTripper, maxEntries, maxBytes int) *ETagTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &ETagTransport{
		base:       base,
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		entries:    make(map[string]*list.Element),
		order:      list.New(),
	}
}

// CacheHit reports whether resp was served from an ETagTransport's cache.
func CacheHit(resp *http.Response) bool {
	return resp != nil && resp.Header.Get(CacheHeader) == "hit"
}

// RoundTrip implements http.RoundTripper.
func (t *ETagTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != "" {
		return t.base.RoundTrip(req)
	}
	key := req.URL.String() + " " + req.Header.Get("Accept")
	c := t.get(key)
	out := req
	if c != nil {
		out = req.Clone(req.Context())
		out.Header.Set("If-None-Match", c.etag)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && c != nil:
		return c.response(req, resp), nil
	case resp.StatusCode == http.StatusOK:
		return t.store(key, resp)
	}
	return resp, nil
}

// response builds the remembered 200 from GitHub's 304, taking the 304's
// fresh headers (rate limits, date) over the remembered ones.
func (c *cached) response(req *http.Request, notModified *http.Response) *http.Response {
	discard(notModified)
	h := c.header.Clone()
	for k, v := range notModified.Header {
		switch k {
		case "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding":
		default:
			h[k] = v
		}
	}
	h.Set(CacheHeader, "hit")
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         notModified.Proto,
		ProtoMajor:    notModified.ProtoMajor,
		ProtoMinor:    notModified.ProtoMinor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       req,
		TLS:           notModified.TLS,
	}
}

// store remembers a 200 response that has an ETag and returns it with its
// body intact.
func (t *ETagTransport) store(key string, resp *http.Response) (*http.Response, error) {
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.remove(key)
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(t.maxBytes)+1))
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("read response body to cache: %w", err)
	}
	if len(body) > t.maxBytes {
		t.remove(key)
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.put(&cached{key: key, etag: etag, header: resp.Header.Clone(), body: body})
	return resp, nil
}

func (t *ETagTransport) get(key string) *cached {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		return nil
	}
	t.order.MoveToFront(el)
	return el.Value.(*cached)
}

func (t *ETagTransport) put(c *cached) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(c.key)
	t.entries[c.key] = t.order.PushFront(c)
	t.size += len(c.body)
	for t.order.Len() > t.maxEntries || t.size > t.maxBytes {
		t.removeLocked(t.order.Back().Value.(*cached).key)
	}
}

func (t *ETagTransport) remove(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(key)
}

func (t *ETagTransport) removeLocked(key string) {
	el, ok := t.entries[key]
	if !ok {
		return
	}
	t.order.Remove(el)
	delete(t.entries, key)
	t.size -= len(el.Value.(*cached).body)
}
