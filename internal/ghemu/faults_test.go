package ghemu

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

func TestPrimaryRateLimit(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	check(t, w.emu.SetRateLimit(w.alice, 1, reset))

	_, resp, err := w.aliceGH.Issues.Get(t.Context(), "acme", "app", 1)
	check(t, err)
	if resp.Rate.Remaining != 0 || !resp.Rate.Reset.Time.Equal(reset) {
		t.Errorf("rate after the last request = %+v", resp.Rate)
	}

	// A fresh client, so go-github does not answer from its own memory.
	_, _, err = client(t, w.emu, w.alice).Issues.Get(t.Context(), "acme", "app", 1)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) {
		t.Fatalf("error = %v (%T), want *github.RateLimitError", err, err)
	}
	if rle.Response.StatusCode != 403 || !strings.HasPrefix(rle.Message, "API rate limit exceeded for user ID ") || rle.Rate.Remaining != 0 {
		t.Errorf("rate limit error: %d %q %+v", rle.Response.StatusCode, rle.Message, rle.Rate)
	}
	// Conditional requests are refused too, and nothing is consumed.
	status, h, _ := rawDo(t, w.emu, "GET", "/repos/acme/app/issues/1", w.alice, "", "If-None-Match", `W/"x"`)
	if status != 403 || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Used") != "5000" {
		t.Errorf("exhausted: %d remaining %q used %q", status, h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Used"))
	}
	// Other tokens are unaffected; /rate_limit still answers.
	if _, _, err := w.bobGH.Issues.Get(t.Context(), "acme", "app", 1); err != nil {
		t.Errorf("bob: %v", err)
	}
	limits, _, err := client(t, w.emu, w.alice).RateLimit.Get(t.Context())
	check(t, err)
	if limits.GetCore().Remaining != 0 || limits.GetCore().Limit != 5000 || limits.GetSearch().Limit != 30 {
		t.Errorf("rate limits = %+v", limits)
	}

	// Once the reset time has passed, the budget is full again.
	check(t, w.emu.SetRateLimit(w.alice, 0, time.Now().Add(-time.Second)))
	_, resp, err = client(t, w.emu, w.alice).Issues.Get(t.Context(), "acme", "app", 1)
	check(t, err)
	if resp.Rate.Remaining != 4999 {
		t.Errorf("after reset: remaining %d", resp.Rate.Remaining)
	}
	if err := w.emu.SetRateLimit("ghp_nope", 1, reset); err == nil {
		t.Error("SetRateLimit accepted an unknown token")
	}
}

func TestRateLimitEndpointIsFree(t *testing.T) {
	w := newWorld(t, Options{})
	for range 3 {
		limits, _, err := w.aliceGH.RateLimit.Get(t.Context())
		check(t, err)
		if core := limits.GetCore(); core.Limit != 5000 || core.Remaining != 5000 || core.Reset.IsZero() {
			t.Errorf("core = %+v", core)
		}
	}
	if used := w.emu.Stats().RateLimitUsed[w.alice]; used != 0 {
		t.Errorf("GET /rate_limit consumed %d", used)
	}
}

func TestSecondaryRateLimitFault(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	check(t, w.emu.InjectFault(Fault{Method: "GET", Path: "/repos/acme/app/issues/*", Status: 403, RetryAfter: 1500 * time.Millisecond}))

	_, _, err := w.aliceGH.Issues.Get(t.Context(), "acme", "app", 1)
	var arl *github.AbuseRateLimitError
	if !errors.As(err, &arl) {
		t.Fatalf("error = %v (%T), want *github.AbuseRateLimitError", err, err)
	}
	if arl.RetryAfter == nil || *arl.RetryAfter != 2*time.Second || !strings.HasPrefix(arl.Message, "You have exceeded a secondary rate limit.") {
		t.Errorf("abuse error: retry after %v, message %q", arl.RetryAfter, arl.Message)
	}
	if arl.Response.Header.Get("X-RateLimit-Remaining") != "4999" { // only the POST counted
		t.Errorf("remaining = %q; a faulted request must not consume", arl.Response.Header.Get("X-RateLimit-Remaining"))
	}
	// The fault was for one request only.
	if _, _, err := client(t, w.emu, w.alice).Issues.Get(t.Context(), "acme", "app", 1); err != nil {
		t.Errorf("after the fault: %v", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		method     string
		path       string
		wantStatus []int
		wantMsg    string
		wantRetry  string
	}{
		{"502 twice", Fault{Path: "/repos/acme/app/issues/1/comments", Status: 502, Times: 2}, "GET", "/repos/acme/app/issues/1/comments",
			[]int{502, 502, 200}, "Server Error", ""},
		{"429 with retry-after", Fault{Method: "POST", Status: 429, RetryAfter: time.Minute}, "POST", "/repos/acme/app/issues/1/comments",
			[]int{429, 201}, "You have exceeded a secondary rate limit.", "60"},
		{"other method untouched", Fault{Method: "POST", Status: 500}, "GET", "/repos/acme/app/issues/1",
			[]int{200}, "", ""},
		{"other path untouched", Fault{Path: "/repos/acme/app/issues/*/comments", Status: 500}, "GET", "/repos/acme/app/issues/1",
			[]int{200}, "", ""},
		{"delay only", Fault{Delay: time.Millisecond}, "GET", "/repos/acme/app/issues/1",
			[]int{200}, "", ""},
		{"404 as GitHub words it", Fault{Status: 404}, "GET", "/repos/acme/app/issues/1",
			[]int{404, 200}, "Not Found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, Options{})
			mustIssue(t, w.aliceGH, "acme", "app", "t")
			check(t, w.emu.InjectFault(tt.fault))
			before := w.emu.Stats().RateLimitUsed[w.alice]
			var got []int
			for i := range tt.wantStatus {
				status, h, body := rawDo(t, w.emu, tt.method, tt.path, w.alice, `{"body":"x"}`)
				got = append(got, status)
				if i == 0 && tt.wantMsg != "" {
					var er github.ErrorResponse
					decodeJSON(t, body, &er)
					if !strings.HasPrefix(er.Message, tt.wantMsg) || h.Get("Retry-After") != tt.wantRetry {
						t.Errorf("fault answer: %q, Retry-After %q", er.Message, h.Get("Retry-After"))
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantStatus) {
				t.Errorf("statuses = %v, want %v", got, tt.wantStatus)
			}
			faulted := 0
			for _, s := range got {
				if s >= 400 {
					faulted++
				}
			}
			if used := w.emu.Stats().RateLimitUsed[w.alice] - before; used != len(got)-faulted {
				t.Errorf("consumed %d, want %d (faults are free)", used, len(got)-faulted)
			}
		})
	}
}

func TestInjectFaultRejectsBadFaults(t *testing.T) {
	w := newWorld(t, Options{})
	for _, f := range []Fault{{Path: "[", Status: 500}, {Status: 200}, {Status: 700}, {Status: 500, Times: -1}, {Delay: -time.Second}} {
		if err := w.emu.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) accepted", f)
		}
	}
}

func TestStatsCountRoutes(t *testing.T) {
	w := newWorld(t, Options{})
	mustIssue(t, w.aliceGH, "acme", "app", "t")
	for range 2 {
		_, _, err := w.aliceGH.Issues.ListComments(t.Context(), "acme", "app", 1, nil)
		check(t, err)
	}
	rawDo(t, w.emu, "GET", "/nope", w.alice, "")
	s := w.emu.Stats()
	want := map[string]int{
		"POST /repos/{owner}/{repo}/issues":                        1,
		"GET /repos/{owner}/{repo}/issues/{issue_number}/comments": 2,
		"GET (unknown route)":                                      1,
	}
	for k, v := range want {
		if s.Requests[k] != v {
			t.Errorf("Requests[%q] = %d, want %d (all: %v)", k, s.Requests[k], v, s.Requests)
		}
	}
	if s.RateLimitUsed[w.alice] != 4 {
		t.Errorf("RateLimitUsed = %d, want 4", s.RateLimitUsed[w.alice])
	}
}
