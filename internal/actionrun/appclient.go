package actionrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
)

// maxAnswer bounds the size of an answer read from the app.
const maxAnswer = 4 << 20

// appClient calls the Gatehouse app's gate API.
type appClient struct {
	base   string // without a trailing slash
	hc     *http.Client
	timing appTiming
}

func newAppClient(base string, timing appTiming) *appClient {
	// A transport of its own, so no one else's idle connections are shared.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &appClient{base: base, hc: &http.Client{Transport: tr}, timing: timing}
}

// appStatusError is an error answer from the app.
type appStatusError struct {
	code       int
	message    string // the app's {"error"} text, else the status text
	retryAfter time.Duration
}

func (e *appStatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, e.message)
}

// do sends one request, authenticated with bearer, and decodes a 2xx
// answer's JSON into out. A request that gets no complete answer fails with
// a *url.Error; an error answer with an *appStatusError.
func (c *appClient) do(ctx context.Context, timeout time.Duration, method, path, bearer string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	u := c.base + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gatehouse-action")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &url.Error{Op: req.Method, URL: u, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(resp, data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers stay as the app wrote them
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("read the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// statusError reads an error answer: its {"error"} message and Retry-After.
func statusError(resp *http.Response, data []byte) *appStatusError {
	e := &appStatusError{code: resp.StatusCode, message: http.StatusText(resp.StatusCode)}
	var body api.Error
	if json.Unmarshal(data, &body) == nil && strings.TrimSpace(body.Error) != "" {
		e.message = strings.TrimSpace(body.Error)
	}
	if ra := strings.TrimSpace(resp.Header.Get("Retry-After")); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs > 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(ra); err == nil {
			e.retryAfter = max(time.Until(at), 0)
		}
	}
	return e
}
