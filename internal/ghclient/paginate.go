package ghclient

import (
	"context"
	"fmt"

	"github.com/google/go-github/v62/github"
)

// maxPages bounds ListAll against a server whose Link header never ends:
// 100,000 items at 100 a page.
const maxPages = 1000

// ListAll calls list for every page, 100 items a page, following
// Response.NextPage, and returns the items of all pages in order. It fails
// when a page does not advance or there are more than 1,000 pages.
func ListAll[T any](ctx context.Context, list func(opts github.ListOptions) ([]T, *github.Response, error)) ([]T, error) {
	var all []T
	opts := github.ListOptions{PerPage: 100}
	for range maxPages {
		page := max(opts.Page, 1)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		items, resp, err := list(opts)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		all = append(all, items...)
		if resp == nil || resp.NextPage == 0 {
			return all, nil
		}
		if resp.NextPage <= page {
			return nil, fmt.Errorf("page %d: next page %d does not advance", page, resp.NextPage)
		}
		opts.Page = resp.NextPage
	}
	return nil, fmt.Errorf("more than %d pages", maxPages)
}
