package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Paths of the gate API.
const (
	GatesPath = "/api/v1/gates"
	// MaxWait is the longest long-poll the app holds, in seconds.
	MaxWait = 60
)

// GateID names a gate: the same repository, run id, run attempt and gate
// key always give the same id, in the action and in the app.
func GateID(repository string, runID int64, runAttempt int, key string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d/%s", repository, runID, runAttempt, key)))
	return hex.EncodeToString(sum[:8])
}

// Run describes the workflow run a gate belongs to.
type Run struct {
	Workflow string `json:"workflow"`
	Job      string `json:"job"`
	Number   int    `json:"number"`
	URL      string `json:"url"`
	Actor    string `json:"actor"`
	SHA      string `json:"sha"`
	Ref      string `json:"ref"`
}

// Register is the body of POST /api/v1/gates.
type Register struct {
	Repository string `json:"repository"`
	RunID      int64  `json:"run_id"`
	RunAttempt int    `json:"run_attempt"`
	// Key tells apart the gates of one run attempt: job, step and, in a
	// matrix, the gate-key input.
	Key         string `json:"gate_key"`
	IssueNumber int    `json:"issue_number"`
	IssueURL    string `json:"issue_url"`
	Title       string `json:"title"`
	// Instructions are markdown, shown on every channel.
	Instructions string `json:"instructions,omitempty"`
	// Approvers, MinimumApprovals ("2" or "all"), Fields (YAML) and the
	// words are the action's inputs as written: the app checks them with
	// the same parsers as the action.
	Approvers        string `json:"approvers"`
	MinimumApprovals string `json:"minimum_approvals"`
	Fields           string `json:"fields,omitempty"`
	// TimeoutSeconds counts from registration.
	TimeoutSeconds   int64    `json:"timeout_seconds"`
	OnTimeout        string   `json:"on_timeout"`
	ExcludeInitiator bool     `json:"exclude_initiator"`
	Initiators       []string `json:"initiators,omitempty"`
	ApproveWords     string   `json:"approve_words,omitempty"`
	RejectWords      string   `json:"reject_words,omitempty"`
	Notify           []string `json:"notify,omitempty"`
	TeamsChannel     string   `json:"teams_channel,omitempty"`
	Run              Run      `json:"run"`
}

// Registered answers a registration: the gate and the token that reads and
// cancels it. Registering again returns the same gate and token.
type Registered struct {
	Gate      Gate   `json:"gate"`
	PollToken string `json:"poll_token"`
	// Warnings are problems that do not stop the gate, e.g. a Teams
	// channel the app does not know; the action prints them.
	Warnings []string `json:"warnings,omitempty"`
}

// Gate is the gate view of GET /api/v1/gates/{id}.
type Gate struct {
	ID               string    `json:"id"`
	Status           string    `json:"status"`
	IssueNumber      int       `json:"issue_number"`
	IssueURL         string    `json:"issue_url"`
	Approvals        int       `json:"approvals"`
	MinimumApprovals int       `json:"minimum_approvals"`
	Deadline         time.Time `json:"deadline"`
	Approved         bool      `json:"approved"`
	DecidedBy        string    `json:"decided_by"`
	Approvers        []string  `json:"approvers"`
	// Fields are the settling response's values with defaults filled in
	// (on timeout or cancellation: the defaults).
	Fields    map[string]any `json:"fields"`
	Comment   string         `json:"comment"`
	Responses []Response     `json:"responses"`
	// Reason says what cancelled a cancelled gate.
	Reason    string     `json:"reason,omitempty"`
	Notes     []string   `json:"notes,omitempty"`
	SettledAt *time.Time `json:"settled_at"`
}

// Cancel is the (optional) body of POST /api/v1/gates/{id}/cancel.
type Cancel struct {
	Reason string `json:"reason"`
}

// Error is every error answer of the HTTP APIs.
type Error struct {
	Error string `json:"error"`
}
