package approval_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
)

func ExampleEvaluate() {
	approvers, err := approval.ParseApprovers("@alice, acme/release\nbob@corp.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	opened := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	g := approval.Gate{
		Approvers:        approvers,
		MinimumApprovals: 2,
		ExcludeInitiator: true,
		Initiators:       []string{"octocat"},
		Deadline:         opened.Add(time.Hour),
		OnTimeout:        approval.TimeoutReject,
	}
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	responses := []approval.Response{
		{
			ID: "email:7", Actor: approval.Actor{Person: "bob", Email: "bob@corp.example"},
			Via: approval.ViaEmail, Decision: approval.Approve, Comment: "checked the dashboards",
			At: opened.Add(9 * time.Minute),
		},
		{
			ID: "comment:1", Actor: approval.Actor{Login: "octocat"},
			Via: approval.ViaComment, Decision: approval.Approve,
			At: opened.Add(1 * time.Minute),
		},
		{
			ID: "comment:2", Actor: approval.Actor{Login: "alice"},
			Via: approval.ViaComment, Decision: approval.Approve,
			At: opened.Add(5 * time.Minute),
		},
	}

	o := approval.Evaluate(g, responses, opened.Add(10*time.Minute))
	fmt.Println(o.Status, "by", o.DecidedBy, "at", o.SettledAt.Format(time.Kitchen))
	fmt.Println("approvers:", strings.Join(o.Approvers, ", "))
	fmt.Println("comment:", o.Comment)
	// Output:
	// approved by bob@corp.example at 12:09PM
	// approvers: alice, bob@corp.example
	// comment: checked the dashboards
}

func ExampleParseApprovers() {
	a, err := approval.ParseApprovers("alice, @Alice, @acme/release\ncarol@corp.example")
	fmt.Printf("%q %q %q %v\n", a.Logins, a.Teams, a.Emails, err)

	_, err = approval.ParseApprovers("alice, -bob, acme/")
	fmt.Println(err)
	// Output:
	// ["alice"] ["acme/release"] ["carol@corp.example"] <nil>
	// approvers: "-bob" is not a GitHub login; "acme/" is not an org/team slug
}
