package oidc

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseClaims(t *testing.T) {
	t.Parallel()
	// required returns the claims every token needs, with extra members added.
	required := func(extra string) string {
		return `{"sub":"repo:o/r:ref:refs/heads/main","repository":"o/r","run_id":"7","run_attempt":"1"` + extra + `}`
	}
	tests := []struct {
		name    string
		payload string
		want    *Claims
		wantErr string
	}{
		{
			name: "as GitHub sends them",
			payload: `{"actor":"octocat","actor_id":"12","aud":"https://gate.example","base_ref":"","event_name":"push",
				"exp":1787167057,"head_ref":"","iat":1787166757,"iss":"https://token.actions.githubusercontent.com",
				"job_workflow_ref":"o/r/.github/workflows/a.yml@refs/heads/main","job_workflow_sha":"b896",
				"jti":"1e410ab1-302e-4e33-8c5f-869a4bd12c3b","nbf":1787166457,"ref":"refs/heads/main",
				"ref_protected":"false","ref_type":"branch","repository":"o/r","repository_id":"1339936803",
				"repository_owner":"o","repository_owner_id":"285964","repository_visibility":"private",
				"run_attempt":"3","run_id":"32291736541","run_number":"17","runner_environment":"github-hosted",
				"sha":"b896","sub":"repo:o/r:ref:refs/heads/main","workflow":"CI",
				"workflow_ref":"o/r/.github/workflows/a.yml@refs/heads/main","workflow_sha":"b896","check_run_id":"96193868770"}`,
			want: &Claims{
				Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:o/r:ref:refs/heads/main",
				Audience: []string{"https://gate.example"}, ID: "1e410ab1-302e-4e33-8c5f-869a4bd12c3b",
				IssuedAt: time.Unix(1787166757, 0), NotBefore: time.Unix(1787166457, 0), Expiry: time.Unix(1787167057, 0),
				Repository: "o/r", RepositoryID: 1339936803, RepositoryOwner: "o", RepositoryOwnerID: 285964,
				RepositoryVisibility: "private", Actor: "octocat", ActorID: 12,
				RunID: 32291736541, RunNumber: 17, RunAttempt: 3, Workflow: "CI",
				WorkflowRef: "o/r/.github/workflows/a.yml@refs/heads/main", WorkflowSHA: "b896",
				JobWorkflowRef: "o/r/.github/workflows/a.yml@refs/heads/main", JobWorkflowSHA: "b896",
				Ref: "refs/heads/main", RefType: "branch", SHA: "b896", EventName: "push",
				RunnerEnvironment: "github-hosted",
			},
		},
		{
			name:    "numbers, booleans and an audience list as JSON types",
			payload: `{"sub":"s","repository":"o/r","run_id":32291736541,"run_attempt":2,"run_number":5,"actor_id":null,"ref_protected":true,"aud":["a","b"],"exp":1787167057.5}`,
			want: &Claims{
				Subject: "s", Repository: "o/r", RunID: 32291736541, RunAttempt: 2, RunNumber: 5,
				RefProtected: true, Audience: []string{"a", "b"}, Expiry: time.Unix(1787167057, 0),
			},
		},
		{name: "run_id not a number", payload: `{"sub":"s","repository":"o/r","run_id":"12ab","run_attempt":"1"}`, wantErr: "claim run_id is not a non-negative integer"},
		{name: "negative id", payload: required(`,"actor_id":"-4"`), wantErr: "claim actor_id is not a non-negative integer"},
		{name: "run_attempt too large", payload: `{"sub":"s","repository":"o/r","run_id":"1","run_attempt":"99999999999"}`, wantErr: "claim run_attempt is not a non-negative integer"},
		{name: "id as an object", payload: required(`,"repository_id":{"v":1}`), wantErr: "want a string, number or boolean"},
		{name: "ref_protected not a boolean", payload: required(`,"ref_protected":"maybe"`), wantErr: "claim ref_protected is not a boolean"},
		{name: "exp not a time", payload: required(`,"exp":1e300`), wantErr: "claim exp is not a time"},
		{name: "aud not strings", payload: required(`,"aud":7`), wantErr: "claim aud is neither"},
		{name: "repository as a number", payload: `{"sub":"s","repository":7,"run_id":"1","run_attempt":"1"}`, wantErr: "decode claims"},
		{name: "not JSON", payload: `nope`, wantErr: "decode claims"},
		{name: "nothing of a workflow run", payload: `{}`, wantErr: "claim sub is missing\nclaim repository is missing\nclaim run_id is missing\nclaim run_attempt is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClaims([]byte(tt.payload))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckTimes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		claims  Claims
		wantErr string
	}{
		{"valid", Claims{NotBefore: now.Add(-5 * time.Minute), Expiry: now.Add(5 * time.Minute)}, ""},
		{"no nbf", Claims{Expiry: now.Add(time.Minute)}, ""},
		{"no exp", Claims{NotBefore: now}, "token has no exp claim"},
		{"expired", Claims{Expiry: now.Add(-2 * time.Minute)}, "token expired at 2026-03-01T11:58:00Z"},
		{"not yet valid", Claims{NotBefore: now.Add(2 * time.Minute), Expiry: now.Add(7 * time.Minute)}, "token is not valid before 2026-03-01T12:02:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTimes(&tt.claims, now)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("checkTimes = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
