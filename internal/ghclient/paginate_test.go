package ghclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

// commentPages serves the comments of issue 1 in pages whose sizes are
// given, linking each to next(page) while next returns a page number. The
// function it returns lists the queries asked.
func commentPages(t *testing.T, sizes []int, next func(page int) int) (*github.Client, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		asked []string
	)
	mux := newMux(t)
	var srv *httptest.Server
	mux.HandleFunc("GET "+issuePath+"/comments", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		asked = append(asked, r.URL.RawQuery)
		mu.Unlock()
		if q.Get("per_page") != "100" {
			t.Errorf("per_page = %q, want 100", q.Get("per_page"))
		}
		page := 1
		if p := q.Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		if page > len(sizes) {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		if n := next(page); n != 0 {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s/comments?page=%d&per_page=100>; rel="next"`, srv.URL, issuePath, n))
		}
		var items []string
		for i := range sizes[page-1] {
			items = append(items, fmt.Sprintf(`{"id":%d}`, page*1000+i))
		}
		fmt.Fprintf(w, "[%s]", strings.Join(items, ","))
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := NewWithTransport(srv.URL, ownTransport())
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
}

func listComments(ctx context.Context, c *github.Client) ([]*github.IssueComment, error) {
	return ListAll(ctx, func(opts github.ListOptions) ([]*github.IssueComment, *github.Response, error) {
		return c.Issues.ListComments(ctx, "o", "r", 1, &github.IssueListCommentsOptions{ListOptions: opts})
	})
}

func TestListAllPages(t *testing.T) {
	t.Parallel()
	c, asked := commentPages(t, []int{100, 100, 50}, func(page int) int {
		if page < 3 {
			return page + 1
		}
		return 0
	})
	comments, err := listComments(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []int64
	for page, size := range []int{100, 100, 50} {
		for i := range size {
			want = append(want, int64((page+1)*1000+i))
		}
	}
	for _, cm := range comments {
		got = append(got, cm.GetID())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comment ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"per_page=100", "page=2&per_page=100", "page=3&per_page=100"}, asked()); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestListAllFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sizes     []int
		next      func(page int) int
		wantQuery []string
		status    int
	}{
		{
			name:      "next page does not advance",
			sizes:     []int{100, 100},
			next:      func(int) int { return 2 },
			wantQuery: []string{"per_page=100", "page=2&per_page=100"},
		},
		{
			name:      "a page fails",
			sizes:     []int{100},
			next:      func(int) int { return 2 },
			wantQuery: []string{"per_page=100", "page=2&per_page=100"},
			status:    500,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, asked := commentPages(t, tc.sizes, tc.next)
			comments, err := listComments(context.Background(), c)
			if err == nil || comments != nil {
				t.Fatalf("ListAll = %d comments, %v; want an error", len(comments), err)
			}
			if got := StatusCode(err); got != tc.status {
				t.Errorf("StatusCode(%v) = %d, want %d", err, got, tc.status)
			}
			if diff := cmp.Diff(tc.wantQuery, asked()); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListAllBounded(t *testing.T) {
	t.Parallel()
	calls := 0
	_, err := ListAll(context.Background(), func(opts github.ListOptions) ([]int, *github.Response, error) {
		calls++
		return []int{opts.Page}, &github.Response{NextPage: max(opts.Page, 1) + 1}, nil
	})
	if err == nil {
		t.Error("ListAll over endless pages: no error")
	}
	if calls != maxPages {
		t.Errorf("%d pages read, want %d", calls, maxPages)
	}
}

func TestListAllStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, err := ListAll(ctx, func(opts github.ListOptions) ([]int, *github.Response, error) {
		calls++
		cancel()
		return []int{1}, &github.Response{NextPage: 2}, nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("ListAll = %v after %d pages, want context.Canceled after 1", err, calls)
	}
}
