// Command gatehouse is the Gatehouse app: a GitHub App webhook server that
// records approval decisions and answers waiting actions. The server itself
// is not part of this release yet; the action works on its own in standalone
// mode (leave app-url empty).
package main

import (
	"fmt"
	"os"
)

const usage = `gatehouse: the Gatehouse app server is not available in this release.

The Gatehouse action runs without it in standalone mode: leave the action's
app-url input empty and reviewers decide with issue comments. See README.md.
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
