package respond

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

// TestPhoneLayout lays the email form out in a headless browser 360 px
// wide: nothing is wider than the screen, the buttons and the boxes' labels
// are at least 44 px tall, and Tab goes through the inputs, the reason and
// the buttons, intended one first, with a visible focus. It needs Chrome or
// Chromium, and is skipped without (fails, with GATEHOUSE_REQUIRE_CHROMIUM=1).
func TestPhoneLayout(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if path, err := exec.LookPath(name); err == nil {
			browser = path
			break
		}
	}
	if browser == "" {
		if os.Getenv("GATEHOUSE_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("GATEHOUSE_REQUIRE_CHROMIUM=1 but no Chrome or Chromium is on PATH")
		}
		t.Skip("no Chrome or Chromium to lay the page out: install Debian's chromium package")
	}
	e := newEnv(t, envOptions{noSignIn: true})
	info := e.gates.infos["g1"]
	info.Title = "Deploy the-service-with-a-rather-long-unbroken-name-to-production-europe-west"
	info.Instructions = "See https://dashboards.example/d/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?from=now-1h"
	e.gates.infos["g1"] = info
	e.gates.result = func(info gates.Info, _ gates.Answer) gates.Answered {
		return gates.Answered{Result: gates.Invalid, Problems: []string{"reason: required"}, Gate: info}
	}
	link := e.emailLink("g1", "a.very.long.mailbox.name.for.testing@subsidiary.corp.example") + "?decision=reject"

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox)
	ctx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()

	type layout struct {
		Overflow bool     `json:"overflow"`
		Short    []string `json:"short"`
	}
	const measure = `(() => {
		const short = [];
		for (const el of document.querySelectorAll(".actions button, .check label")) {
			const h = el.getBoundingClientRect().height;
			if (h < 44) short.push(el.textContent + ": " + h);
		}
		// A page wider than the screen makes a phone zoom out: measure
		// against the screen, not the window.
		return {overflow: document.documentElement.scrollWidth > screen.width, short};
	})()`
	check := func(what string) {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[layout](measure))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if diff := cmp.Diff(layout{Short: []string{}}, got); diff != "" {
			t.Errorf("%s at 360 px (-want +got):\n%s", what, diff)
		}
	}

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(".actions")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The browser runs; a step that cannot finish fails rather than hangs.
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	check("the form")

	// Tab from the form's heading on.
	const focused = `(() => {
		const el = document.activeElement, s = getComputedStyle(el);
		const boxOrButton = el.type === "checkbox" || el.tagName === "BUTTON";
		const visible = el.matches(":focus-visible") && s.outlineStyle === "solid" && parseFloat(s.outlineWidth) >= 2;
		return el.name + (boxOrButton ? "=" + el.value : "") + (visible ? "" : " (focus not visible)");
	})()`
	start := `(() => { const h = [...document.querySelectorAll("h2")].find(h => h.textContent === "Your answer"); h.tabIndex = -1; h.focus(); })()`
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](start)); err != nil {
		t.Fatal(err)
	}
	var order []string
	for range 9 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		name, err := chromedp.Run(ctx, chromedp.Evaluate[string](focused))
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, name)
	}
	want := []string{"reason", "rollout", "notify=true", "teams=HR", "teams=Finance", "teams=IT", "_comment", "decision=reject", "decision=approve"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("Tab order (-want +got):\n%s", diff)
	}

	// The answer comes back with a problem.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#f-reason"), "looks wrong"),
		chromedp.Click(chromedp.CSS(`button[value="reject"]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert")),
	)
	if err != nil {
		t.Fatal(err)
	}
	check("the form with a problem")
}
