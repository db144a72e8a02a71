package comment

import (
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	ids := []string{"reason", "rollout", "team", "ticket"}
	w := testWords(b)
	decision := strings.Join([]string{
		"> Approval needed: deploy #1234",
		"",
		"/approve",
		"reason: canary is green in all regions",
		"rollout: 25",
		"team: Finance",
		"",
		"Checked the dashboards and the error budget.",
		"Note: the EU region lags by a few minutes.",
		"Thanks!",
	}, "\r\n")
	paragraph := "We should wait for the canary before deciding; the error rate is still climbing in two regions.\n"
	discussion := strings.Repeat(paragraph, 64*1024/len(paragraph))
	quoted := strings.Repeat("> "+paragraph, 64*1024/(len(paragraph)+2)) + "Agreed, let's wait."
	long := "approve\n" + strings.Repeat("reason: "+paragraph, 64*1024/(len(paragraph)+8))
	for _, bm := range []struct{ name, body string }{
		{"decision-10-lines-3-fields", decision},
		{"discussion-64KiB", discussion},
		{"discussion-64KiB-quoted-first", quoted},
		{"decision-64KiB-repeated-field", long},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.body)))
			b.ReportAllocs()
			for b.Loop() {
				Parse(bm.body, ids, w)
			}
		})
	}
}
