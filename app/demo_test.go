package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The newcomer's first command runs a whole gate and shows its audit trail
// and outputs.
func TestDemoAuto(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(context.Background(), []string{"--auto"}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"<!-- gatehouse:opened gate=", "── alice at", "[+1 by github-actions[bot]]", "### ✅ Approved",
		"The action exited 0", "decision      approved", "field-rollout 25",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDemoRejectsUnknownFlags(t *testing.T) {
	if err := runDemo(context.Background(), []string{"--nope"}, &bytes.Buffer{}); err == nil {
		t.Error("no error for an unknown flag")
	}
}
