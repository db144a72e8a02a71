package gates

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/comment"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

// Limits on what a registration may carry.
const (
	maxTitle        = 256
	maxInstructions = 64 << 10
	maxKey          = 512
	// maxApprovers and maxTeams bound the work a decision can cost: each
	// listed team is a membership lookup.
	maxApprovers = 200
	maxTeams     = 20
	// maxTimeout is the longest gate: GitHub ends a job after 35 days of
	// waiting at most.
	maxTimeout = 35 * 24 * time.Hour
)

// spec is a gate's definition as stored: the registration, checked.
type spec struct {
	Owner            string             `json:"owner"`
	Repo             string             `json:"repo"`
	Title            string             `json:"title"`
	Instructions     string             `json:"instructions,omitempty"`
	Approvers        approval.Approvers `json:"approvers"`
	MinimumApprovals int                `json:"minimum_approvals"`
	RequireAll       bool               `json:"require_all,omitempty"`
	ExcludeInitiator bool               `json:"exclude_initiator,omitempty"`
	Initiators       []string           `json:"initiators,omitempty"`
	Fields           fields.Schema      `json:"fields,omitempty"`
	OnTimeout        approval.OnTimeout `json:"on_timeout"`
	Words            comment.Words      `json:"words"`
	Run              api.Run            `json:"run"`
	// TeamsChannel is the teams-channel input when notify has teams.
	TeamsChannel string `json:"teams_channel,omitempty"`
	// Teams is where the card goes; TeamsProblem says why it goes nowhere.
	Teams        *TeamsTarget `json:"teams,omitempty"`
	TeamsProblem string       `json:"teams_problem,omitempty"`
	// Email is notify email; EmailProblem says why no email goes out.
	Email        bool   `json:"email,omitempty"`
	EmailProblem string `json:"email_problem,omitempty"`
}

// rules is the gate as the decision rules see it.
func (s spec) rules(deadline time.Time) approval.Gate {
	return approval.Gate{
		Approvers:        s.Approvers,
		MinimumApprovals: s.MinimumApprovals,
		RequireAll:       s.RequireAll,
		ExcludeInitiator: s.ExcludeInitiator,
		Initiators:       s.Initiators,
		Fields:           s.Fields,
		Deadline:         deadline,
		OnTimeout:        s.OnTimeout,
	}
}

// parseRegistration checks a registration with the action's own parsers and
// reports every problem at once.
func parseRegistration(r api.Register) (spec, time.Duration, error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var s spec
	owner, repo, ok := strings.Cut(r.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		fail("repository: must be owner/name, got %q", r.Repository)
	}
	s.Owner, s.Repo = owner, repo
	if r.RunID < 1 {
		fail("run_id: must be positive")
	}
	if r.RunAttempt < 1 {
		fail("run_attempt: must be positive")
	}
	if r.Key == "" || len(r.Key) > maxKey {
		fail("gate_key: must be 1 to %d characters", maxKey)
	}
	if r.IssueNumber < 1 {
		fail("issue_number: must be positive")
	}
	if r.IssueURL == "" {
		fail("issue_url: required")
	}
	s.Title, s.Instructions, s.Run = r.Title, r.Instructions, r.Run
	if s.Title == "" || len(s.Title) > maxTitle {
		fail("title: must be 1 to %d characters", maxTitle)
	}
	if len(s.Instructions) > maxInstructions {
		fail("instructions: longer than %d bytes", maxInstructions)
	}
	rulesParsed := true
	var err error
	if s.Approvers, err = approval.ParseApprovers(r.Approvers); err != nil {
		errs = append(errs, err)
		rulesParsed = false
	}
	if n := len(s.Approvers.Logins) + len(s.Approvers.Teams) + len(s.Approvers.Emails); n > maxApprovers {
		fail("approvers: %d listed; at most %d", n, maxApprovers)
		rulesParsed = false
	}
	if len(s.Approvers.Teams) > maxTeams {
		fail("approvers: %d teams listed; at most %d", len(s.Approvers.Teams), maxTeams)
		rulesParsed = false
	}
	switch m := strings.ToLower(strings.TrimSpace(r.MinimumApprovals)); m {
	case "all":
		s.RequireAll = true
	case "":
		s.MinimumApprovals = 1
	default:
		if s.MinimumApprovals, err = strconv.Atoi(m); err != nil {
			fail("minimum_approvals: must be a whole number of at least 1, or all; got %q", r.MinimumApprovals)
			rulesParsed = false
		}
	}
	if s.Fields, err = fields.Parse(r.Fields); err != nil {
		fail("fields: %v", err)
	}
	timeout := time.Duration(r.TimeoutSeconds) * time.Second
	if r.TimeoutSeconds < 1 || timeout > maxTimeout {
		fail("timeout_seconds: must be between 1 and %d", int64(maxTimeout/time.Second))
	}
	onTimeout := r.OnTimeout
	if onTimeout == "" {
		onTimeout = string(approval.TimeoutReject)
	}
	if s.OnTimeout, err = approval.ParseOnTimeout(onTimeout); err != nil {
		errs = append(errs, err)
		rulesParsed = false
	}
	s.ExcludeInitiator, s.Initiators = r.ExcludeInitiator, r.Initiators
	if s.Words, err = comment.ParseWords(r.ApproveWords, r.RejectWords); err != nil {
		errs = append(errs, err)
	}
	teams := false
	for _, n := range r.Notify {
		switch strings.ToLower(strings.TrimSpace(n)) {
		case "teams":
			teams = true
		case "email":
			s.Email = true
		default:
			fail("notify: must be email or teams, got %q", n)
		}
	}
	switch {
	case teams && strings.TrimSpace(r.TeamsChannel) == "":
		fail("teams_channel: notify teams needs the channel or Workflows webhook to post to")
	case !teams && r.TeamsChannel != "":
		fail("teams_channel: set notify teams as well")
	case len(r.TeamsChannel) > maxTitle:
		fail("teams_channel: longer than %d bytes", maxTitle)
	}
	s.TeamsChannel = strings.TrimSpace(r.TeamsChannel)
	if rulesParsed {
		if err := s.rules(time.Time{}).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return s, timeout, errors.Join(errs...)
}
