package oidcissuer

import (
	"strconv"
	"strings"
)

// JobClaims describes the workflow job a token is issued to. Its fields are
// the custom claims of a GitHub Actions OIDC token
// (https://docs.github.com/en/actions/reference/security/oidc); the standard
// claims (iss, aud, iat, nbf, exp, jti) are set when the token is minted.
//
// Empty fields that GitHub derives from others are derived the same way:
// Subject, RepositoryOwner, RefType, JobWorkflowRef and JobWorkflowSHA.
type JobClaims struct {
	// Subject is the sub claim. Empty: "repo:<repository>:environment:<name>"
	// when Environment is set, "repo:<repository>:pull_request" for
	// pull_request events, else "repo:<repository>:ref:<ref>".
	Subject string

	Repository           string // owner/name
	RepositoryID         int64
	RepositoryOwner      string
	RepositoryOwnerID    int64
	RepositoryVisibility string // public, private or internal

	Actor   string
	ActorID int64

	RunID      int64
	RunNumber  int
	RunAttempt int
	CheckRunID int64

	Workflow       string // the workflow's name
	WorkflowRef    string // owner/name/.github/workflows/file.yml@refs/heads/main
	WorkflowSHA    string
	JobWorkflowRef string
	JobWorkflowSHA string

	Ref          string // refs/heads/main
	RefType      string // branch or tag
	RefProtected bool
	SHA          string
	EventName    string
	HeadRef      string
	BaseRef      string
	Environment  string

	RunnerEnvironment string // github-hosted or self-hosted
}

// withDefaults fills the fields GitHub derives from others.
func (c JobClaims) withDefaults() JobClaims {
	if c.RepositoryOwner == "" {
		c.RepositoryOwner, _, _ = strings.Cut(c.Repository, "/")
	}
	if c.RefType == "" && c.Ref != "" {
		// GitHub calls every ref that is not a tag a branch, refs/pull/… too.
		c.RefType = "branch"
		if strings.HasPrefix(c.Ref, "refs/tags/") {
			c.RefType = "tag"
		}
	}
	if c.JobWorkflowRef == "" {
		c.JobWorkflowRef = c.WorkflowRef
	}
	if c.JobWorkflowSHA == "" {
		c.JobWorkflowSHA = c.WorkflowSHA
	}
	if c.Subject == "" {
		switch {
		case c.Environment != "":
			c.Subject = "repo:" + c.Repository + ":environment:" + c.Environment
		case c.EventName == "pull_request":
			c.Subject = "repo:" + c.Repository + ":pull_request"
		default:
			c.Subject = "repo:" + c.Repository + ":ref:" + c.Ref
		}
	}
	return c
}

// tokenClaims is the payload of a token, in the order and encoding GitHub
// uses: every custom claim is a string, numbers included.
type tokenClaims struct {
	JTI                  string `json:"jti"`
	Sub                  string `json:"sub"`
	Aud                  string `json:"aud"`
	Ref                  string `json:"ref"`
	SHA                  string `json:"sha"`
	Repository           string `json:"repository"`
	RepositoryOwner      string `json:"repository_owner"`
	RepositoryOwnerID    string `json:"repository_owner_id"`
	RunID                string `json:"run_id"`
	RunNumber            string `json:"run_number"`
	RunAttempt           string `json:"run_attempt"`
	RepositoryVisibility string `json:"repository_visibility"`
	RepositoryID         string `json:"repository_id"`
	ActorID              string `json:"actor_id"`
	Actor                string `json:"actor"`
	Workflow             string `json:"workflow"`
	HeadRef              string `json:"head_ref"`
	BaseRef              string `json:"base_ref"`
	EventName            string `json:"event_name"`
	RefProtected         string `json:"ref_protected"`
	RefType              string `json:"ref_type"`
	Environment          string `json:"environment,omitempty"`
	WorkflowRef          string `json:"workflow_ref"`
	WorkflowSHA          string `json:"workflow_sha"`
	JobWorkflowRef       string `json:"job_workflow_ref"`
	JobWorkflowSHA       string `json:"job_workflow_sha"`
	RunnerEnvironment    string `json:"runner_environment"`
	CheckRunID           string `json:"check_run_id,omitempty"`
	Iss                  string `json:"iss"`
	Nbf                  int64  `json:"nbf"`
	Exp                  int64  `json:"exp"`
	Iat                  int64  `json:"iat"`
}

// newTokenClaims encodes c for a token with the given standard claims.
func newTokenClaims(c JobClaims, jti, iss, aud string, iat, nbf, exp int64) tokenClaims {
	c = c.withDefaults()
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	checkRunID := ""
	if c.CheckRunID != 0 {
		checkRunID = itoa(c.CheckRunID)
	}
	return tokenClaims{
		JTI:                  jti,
		Sub:                  c.Subject,
		Aud:                  aud,
		Ref:                  c.Ref,
		SHA:                  c.SHA,
		Repository:           c.Repository,
		RepositoryOwner:      c.RepositoryOwner,
		RepositoryOwnerID:    itoa(c.RepositoryOwnerID),
		RunID:                itoa(c.RunID),
		RunNumber:            itoa(int64(c.RunNumber)),
		RunAttempt:           itoa(int64(c.RunAttempt)),
		RepositoryVisibility: c.RepositoryVisibility,
		RepositoryID:         itoa(c.RepositoryID),
		ActorID:              itoa(c.ActorID),
		Actor:                c.Actor,
		Workflow:             c.Workflow,
		HeadRef:              c.HeadRef,
		BaseRef:              c.BaseRef,
		EventName:            c.EventName,
		RefProtected:         strconv.FormatBool(c.RefProtected),
		RefType:              c.RefType,
		Environment:          c.Environment,
		WorkflowRef:          c.WorkflowRef,
		WorkflowSHA:          c.WorkflowSHA,
		JobWorkflowRef:       c.JobWorkflowRef,
		JobWorkflowSHA:       c.JobWorkflowSHA,
		RunnerEnvironment:    c.RunnerEnvironment,
		CheckRunID:           checkRunID,
		Iss:                  iss,
		Nbf:                  nbf,
		Exp:                  exp,
		Iat:                  iat,
	}
}
