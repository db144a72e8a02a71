package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/ghemu"
)

// sender posts signed issue_comment deliveries to the app.
type sender struct {
	url    string
	hc     *http.Client
	secret []byte
	header http.Header // the real delivery's, less its id and signatures
	prefix string      // of every delivery id of the run
	// approvalEvery: one delivery in this many is an approval on a gate.
	approvalEvery int64
	seq           atomic.Int64
	gates         []*body    // by gate
	pool          []approval // real approving comments
	others        []*body    // issues without a gate
}

// approval is one of alice's approving comments on a gate's issue.
type approval struct {
	gate int // index in sender.gates
	id   int64
}

// newSender registers the gates, opens the other issues, makes the pool of
// approving comments (with the webhook off, so that only the sender
// delivers them) and takes a real delivery as the template of every body.
func (w *world) newSender(ctx context.Context, a *app, concurrency, approvalEvery int) (*sender, error) {
	gates, err := w.registerGates(ctx, a, intakeGates, firstIntakeRun, "alice, bob", "all")
	if err != nil {
		return nil, err
	}
	gh := newClient(1, nil)
	others := make([]issue, intakeIssues)
	for i := range others {
		if others[i], err = w.openIssue(ctx, gh, fmt.Sprintf("Discussion %d", i+1)); err != nil {
			return nil, err
		}
	}
	emu := w.sb.GitHub
	id, err := emu.Comment("alice", owner, repo, others[0].Number, "Looks fine to me.")
	if err != nil {
		return nil, fmt.Errorf("comment for a template delivery: %w", err)
	}
	if err := emu.WaitDeliveries(ctx); err != nil {
		return nil, err
	}
	real, err := deliveryOf(emu, id)
	if err != nil {
		return nil, err
	}
	tmpl, err := shape(real.Payload)
	if err != nil {
		return nil, err
	}
	// Delivery ids are GUIDs, as GitHub's: a random prefix and a count.
	h, err := randomHex(9)
	if err != nil {
		return nil, err
	}
	s := &sender{
		url: a.url + "/webhooks/github", hc: newClient(concurrency, nil), secret: []byte(w.sb.WebhookSecret()),
		approvalEvery: int64(approvalEvery),
		header:        real.Header.Clone(), prefix: fmt.Sprintf("%s-%s-4%s-8%s-", h[:8], h[8:12], h[12:15], h[15:18]),
	}
	for _, h := range []string{"X-GitHub-Delivery", "X-Hub-Signature", "X-Hub-Signature-256", "Content-Length"} {
		s.header.Del(h)
	}
	for _, g := range gates {
		s.gates = append(s.gates, tmpl.forIssue(g.issue))
	}
	for _, is := range others {
		s.others = append(s.others, tmpl.forIssue(is.Number))
	}
	if err := emu.SetWebhookURL(""); err != nil {
		return nil, err
	}
	for i := range approvalPool {
		g := i % len(gates)
		id, err := emu.Comment("alice", owner, repo, gates[g].issue, "approve")
		if err != nil {
			return nil, fmt.Errorf("alice approves: %w", err)
		}
		s.pool = append(s.pool, approval{gate: g, id: id})
	}
	if err := emu.SetWebhookURL(s.url); err != nil {
		return nil, err
	}
	return s, nil
}

// run sends deliveries from concurrency clients until stop, counting the
// answers into r, and returns when the last client has finished and how
// long each request took.
func (s *sender) run(ctx context.Context, r *intakeResult, stop time.Time, concurrency int) (time.Time, []time.Duration) {
	var mu sync.Mutex
	var answers []time.Duration
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			var mine []time.Duration
			codes := map[string]int{}
			for ctx.Err() == nil && time.Now().Before(stop) {
				start := time.Now()
				code := s.send(ctx)
				mine = append(mine, time.Since(start))
				codes[strconv.Itoa(code)]++
			}
			mu.Lock()
			defer mu.Unlock()
			answers = append(answers, mine...)
			for c, n := range codes {
				r.Sent += n
				if c == "202" {
					r.Accepted += n
				} else {
					r.Errors += n
					r.ErrorsByStatus[c] += n
				}
			}
		})
	}
	wg.Wait()
	return time.Now(), answers
}

// deliveryOf finds the delivery of comment id.
func deliveryOf(emu *ghemu.Emulator, id int64) (ghemu.Delivery, error) {
	for _, d := range emu.Deliveries() {
		var p struct {
			Comment struct {
				ID int64 `json:"id"`
			} `json:"comment"`
		}
		if d.Event == "issue_comment" && json.Unmarshal(d.Payload, &p) == nil && p.Comment.ID == id {
			return d, nil
		}
	}
	return ghemu.Delivery{}, fmt.Errorf("no delivery of comment %d", id)
}

// size is the length of a typical body.
func (s *sender) size() int { return len(s.others[0].fill(nil, 1, []byte(`"x"`))) }

// send posts the next delivery and returns the status, 0 when there was
// no answer.
func (s *sender) send(ctx context.Context) int {
	n := s.seq.Add(1)
	var payload []byte
	if n%s.approvalEvery == 0 {
		c := s.pool[int(n/s.approvalEvery)%len(s.pool)]
		payload = s.gates[c.gate].fill(nil, c.id, []byte(`"approve"`))
	} else {
		text, _ := json.Marshal(fmt.Sprintf("Looks fine to me; deploying after lunch (%d).", n))
		payload = s.others[int(n)%len(s.others)].fill(nil, 1_000_000_000+n, text)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
	if err != nil {
		return 0
	}
	req.Header = s.header.Clone()
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("%s%012x", s.prefix, n))
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Holes in a body template.
const (
	holeIssue   = "@@ISSUE@@"
	holeComment = "@@COMMENT@@"
	holeBody    = `"@@BODY@@"`
)

// template is an issue_comment delivery with the issue number, the
// comment id and the comment body made holes.
type template []byte

// shape makes a template of a real delivery: its issue number and comment
// id, bare and inside the URLs, and its comment body. The node ids stay
// the real delivery's; the app does not read them.
func shape(payload []byte) (template, error) {
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("read the template delivery: %w", err)
	}
	is, ok1 := p["issue"].(map[string]any)
	c, ok2 := p["comment"].(map[string]any)
	number, ok3 := is["number"].(float64)
	id, ok4 := c["id"].(float64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, fmt.Errorf("the template delivery has no issue number or comment id: %.200s", payload)
	}
	is["number"], c["id"], c["body"] = holeIssue, holeComment, strings.Trim(holeBody, `"`)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	n, cid := strconv.Itoa(int(number)), strconv.Itoa(int(id))
	// Matches do not overlap, and at one place the first listed wins.
	return template(strings.NewReplacer(
		`"`+holeIssue+`"`, holeIssue,
		`"`+holeComment+`"`, holeComment,
		"/issues/"+n+"#issuecomment-"+cid+`"`, "/issues/"+holeIssue+"#issuecomment-"+holeComment+`"`,
		"/issues/"+n+`"`, "/issues/"+holeIssue+`"`,
		"/issues/"+n+"/", "/issues/"+holeIssue+"/",
		"/comments/"+cid+`"`, "/comments/"+holeComment+`"`,
		"/comments/"+cid+"/", "/comments/"+holeComment+"/",
	).Replace(strings.TrimSpace(b.String()))), nil
}

// body is a template for one issue: text between comment holes.
type body struct {
	parts [][]byte
	holes []string // holes[i] follows parts[i]
}

func (t template) forIssue(number int) *body {
	rest := bytes.ReplaceAll(t, []byte(holeIssue), []byte(strconv.Itoa(number)))
	b := &body{}
	for {
		i, j := bytes.Index(rest, []byte(holeComment)), bytes.Index(rest, []byte(holeBody))
		if i < 0 && j < 0 {
			b.parts = append(b.parts, rest)
			return b
		}
		hole := holeComment
		if i < 0 || (j >= 0 && j < i) {
			i, hole = j, holeBody
		}
		b.parts = append(b.parts, rest[:i])
		b.holes = append(b.holes, hole)
		rest = rest[i+len(hole):]
	}
}

// fill appends the body with comment id and text (a JSON string) to dst.
func (b *body) fill(dst []byte, id int64, text []byte) []byte {
	for i, part := range b.parts {
		dst = append(dst, part...)
		if i < len(b.holes) {
			if b.holes[i] == holeBody {
				dst = append(dst, text...)
			} else {
				dst = strconv.AppendInt(dst, id, 10)
			}
		}
	}
	return dst
}

// randomHex is n random bytes in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
