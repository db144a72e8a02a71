package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
)

func TestAppApproveWithTypedFields(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	run := w.startGate(map[string]string{"approvers": "alice, bob", "fields": releaseFields})
	w.waitOpened()
	w.waitFor("the gate to be registered", func() bool { return strings.Contains(run.stdout.String(), "egistered") })
	before := w.emu.Stats().RateLimitUsed[w.jobToken]

	id := w.say("alice", "approve\nreason: canary clean\nrollout: 25\nregions: eu\nShip it.")
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	if used := w.emu.Stats().RateLimitUsed[w.jobToken] - before; used != 0 {
		t.Errorf("the action made %d GitHub API calls while waiting, want 0", used)
	}
	issueURL := w.emu.WebURL() + "/" + owner + "/" + repo + "/issues/1"
	want := map[string]string{
		"decision": "approved", "approved": "true", "approvers": "alice", "decided-by": "alice",
		"comment": "Ship it.", "issue-number": "1", "issue-url": issueURL,
		"field-reason": "canary clean", "field-rollout": "25", "field-regions": "eu",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	var fieldsOut map[string]any
	must(t, json.Unmarshal([]byte(out["fields"]), &fieldsOut))
	if diff := cmp.Diff(map[string]any{"reason": "canary clean", "rollout": 25.0, "regions": []any{"eu"}}, fieldsOut); diff != "" {
		t.Errorf("fields output (-want +got):\n%s", diff)
	}
	var responses []map[string]any
	must(t, json.Unmarshal([]byte(out["responses"]), &responses))
	if len(responses) != 1 || responses[0]["actor"] != "alice" || responses[0]["via"] != "comment" ||
		responses[0]["url"] != issueURL+fmt.Sprintf("#issuecomment-%d", id) {
		t.Errorf("responses = %s", out["responses"])
	}

	is := w.waitSummary(audit.KindSummary)
	if is.StateReason != "completed" {
		t.Errorf("issue closed as %q, want completed", is.StateReason)
	}
	w.waitCounted(id)
	summary := comments(is, audit.KindSummary)
	if len(summary) != 1 || summary[0].Author != "gatehouse[bot]" || !strings.Contains(summary[0].Body, "canary clean") {
		t.Errorf("summary comments: %+v", summary)
	}
}
