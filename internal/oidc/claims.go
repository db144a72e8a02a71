package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Claims are the claims of a verified GitHub Actions OIDC token
// (https://docs.github.com/en/actions/reference/security/oidc).
type Claims struct {
	Issuer    string
	Subject   string // repo:owner/name:ref:refs/heads/main, repo:owner/name:environment:prod, …
	Audience  []string
	ID        string // jti
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time

	Repository           string // owner/name
	RepositoryID         int64
	RepositoryOwner      string
	RepositoryOwnerID    int64
	RepositoryVisibility string

	Actor   string
	ActorID int64

	RunID      int64
	RunNumber  int
	RunAttempt int

	Workflow       string
	WorkflowRef    string
	WorkflowSHA    string
	JobWorkflowRef string
	JobWorkflowSHA string

	Ref               string
	RefType           string
	RefProtected      bool
	SHA               string
	EventName         string
	HeadRef           string
	BaseRef           string
	Environment       string
	RunnerEnvironment string
}

// maxUnixTime is the last second of year 9999, a bound on time claims.
const maxUnixTime = 253402300799

// payload is a token's payload as GitHub encodes it.
type payload struct {
	Issuer    string      `json:"iss"`
	Subject   string      `json:"sub"`
	Audience  audience    `json:"aud"`
	ID        string      `json:"jti"`
	IssuedAt  json.Number `json:"iat"`
	NotBefore json.Number `json:"nbf"`
	Expiry    json.Number `json:"exp"`

	Repository           string `json:"repository"`
	RepositoryID         scalar `json:"repository_id"`
	RepositoryOwner      string `json:"repository_owner"`
	RepositoryOwnerID    scalar `json:"repository_owner_id"`
	RepositoryVisibility string `json:"repository_visibility"`
	Actor                string `json:"actor"`
	ActorID              scalar `json:"actor_id"`
	RunID                scalar `json:"run_id"`
	RunNumber            scalar `json:"run_number"`
	RunAttempt           scalar `json:"run_attempt"`
	Workflow             string `json:"workflow"`
	WorkflowRef          string `json:"workflow_ref"`
	WorkflowSHA          string `json:"workflow_sha"`
	JobWorkflowRef       string `json:"job_workflow_ref"`
	JobWorkflowSHA       string `json:"job_workflow_sha"`
	Ref                  string `json:"ref"`
	RefType              string `json:"ref_type"`
	RefProtected         scalar `json:"ref_protected"`
	SHA                  string `json:"sha"`
	EventName            string `json:"event_name"`
	HeadRef              string `json:"head_ref"`
	BaseRef              string `json:"base_ref"`
	Environment          string `json:"environment"`
	RunnerEnvironment    string `json:"runner_environment"`
}

// parseClaims decodes a token payload and checks that it names a workflow
// run: sub, repository, run_id and run_attempt are required.
func parseClaims(data []byte) (*Claims, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	var errs []error
	number := func(name string, s scalar, bits int) int64 {
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(string(s), 10, bits)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("claim %s is not a non-negative integer", name))
		}
		return n
	}
	date := func(name string, n json.Number) time.Time {
		if n == "" {
			return time.Time{}
		}
		f, err := n.Float64()
		if err != nil || f < 0 || f > maxUnixTime {
			errs = append(errs, fmt.Errorf("claim %s is not a time", name))
			return time.Time{}
		}
		return time.Unix(int64(f), 0)
	}
	refProtected := false
	if p.RefProtected != "" {
		var err error
		if refProtected, err = strconv.ParseBool(string(p.RefProtected)); err != nil {
			errs = append(errs, errors.New("claim ref_protected is not a boolean"))
		}
	}
	c := &Claims{
		Issuer:               p.Issuer,
		Subject:              p.Subject,
		Audience:             p.Audience,
		ID:                   p.ID,
		IssuedAt:             date("iat", p.IssuedAt),
		NotBefore:            date("nbf", p.NotBefore),
		Expiry:               date("exp", p.Expiry),
		Repository:           p.Repository,
		RepositoryID:         number("repository_id", p.RepositoryID, 64),
		RepositoryOwner:      p.RepositoryOwner,
		RepositoryOwnerID:    number("repository_owner_id", p.RepositoryOwnerID, 64),
		RepositoryVisibility: p.RepositoryVisibility,
		Actor:                p.Actor,
		ActorID:              number("actor_id", p.ActorID, 64),
		RunID:                number("run_id", p.RunID, 64),
		RunNumber:            int(number("run_number", p.RunNumber, 32)),
		RunAttempt:           int(number("run_attempt", p.RunAttempt, 32)),
		Workflow:             p.Workflow,
		WorkflowRef:          p.WorkflowRef,
		WorkflowSHA:          p.WorkflowSHA,
		JobWorkflowRef:       p.JobWorkflowRef,
		JobWorkflowSHA:       p.JobWorkflowSHA,
		Ref:                  p.Ref,
		RefType:              p.RefType,
		RefProtected:         refProtected,
		SHA:                  p.SHA,
		EventName:            p.EventName,
		HeadRef:              p.HeadRef,
		BaseRef:              p.BaseRef,
		Environment:          p.Environment,
		RunnerEnvironment:    p.RunnerEnvironment,
	}
	if c.Subject == "" {
		errs = append(errs, errors.New("claim sub is missing"))
	}
	if c.Repository == "" {
		errs = append(errs, errors.New("claim repository is missing"))
	}
	if c.RunID < 1 {
		errs = append(errs, errors.New("claim run_id is missing"))
	}
	if c.RunAttempt < 1 {
		errs = append(errs, errors.New("claim run_attempt is missing"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// audience is the aud claim: one string, or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("claim aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// scalar is a claim GitHub sends as a string even when it holds a number or
// a boolean (run_id "42", ref_protected "true"); a JSON number or boolean is
// taken as well.
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*s = ""
	case b[0] == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = scalar(str)
	case string(b) == "true", string(b) == "false", b[0] == '-', b[0] >= '0' && b[0] <= '9':
		*s = scalar(b)
	default:
		return errors.New("want a string, number or boolean")
	}
	return nil
}
