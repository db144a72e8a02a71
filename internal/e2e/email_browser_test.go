package e2e

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse-ci/gatehouse/internal/audit"
)

// TestEmailPageInChromium answers an approval email in a real browser, as a
// person on a phone would. Headless Chromium opens the email's reject link:
// the page must name the gate, load its stylesheet under its own
// Content-Security-Policy without a complaint, fit the screen, label every
// control and take the keyboard through the fields in order. Filled in by
// typing and approved with the keyboard, the form settles the gate with the
// typed values; the link then shows that it was used, and no form.
func TestEmailPageInChromium(t *testing.T) {
	t.Parallel()
	p := openChromium(t, chromium(t))
	ew := newEmailWorld(t, true)
	run := ew.startGate(emailGate("carol@corp.example"))
	ew.waitRegistered(run)
	carol := readMail(t, mailTo(t, ew.waitMail(1), "carol@corp.example"))
	title := ew.issue().Title

	p.load("open the reject link",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait),
		chromedp.Navigate(carol.Reject),
		chromedp.WaitVisible(chromedp.CSS("form.answer")),
	)
	got := evaluate[formPage](p, "read the form page", formPageJS)
	want := formPage{
		Title:        title + " · Gatehouse",
		H1:           title,
		Intent:       "You chose to reject — confirm below.",
		Sheets:       []string{"/respond/static/respond.css"},
		Width:        390,
		MainMaxWidth: "672px", // 42rem, from the stylesheet
		Labels: []string{
			"reason: reason required",
			"rollout: rollout",
			"regions=eu: regions › eu",
			"regions=us: regions › us",
			"regions=apac: regions › apac",
			"_comment: Reason (optional)",
			"decision=reject: Reject",
			"decision=approve: Approve",
		},
		// The link's decision comes first, and only preselects: both
		// buttons are there, full width on a phone.
		Buttons: []button{{Label: "Reject", Primary: true, FlexGrow: "1"}, {Label: "Approve", FlexGrow: "1"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(formPage{}, "Rules", "Overflow"), cmpopts.IgnoreFields(button{}, "Height")); diff != "" {
		t.Errorf("the form page at 390 px (-want +got):\n%s", diff)
	}
	if got.Rules == 0 {
		t.Errorf("the stylesheet has no rules")
	}
	if got.Overflow > 0 {
		t.Errorf("the page is %d px wider than the screen", got.Overflow)
	}
	for _, b := range got.Buttons {
		if b.Height < 44 {
			t.Errorf("the %s button is %.1f px tall, want at least 44", b.Label, b.Height)
		}
	}

	// Tab from the start of the page: the links of the details, then every
	// field in the schema's order, the reason and the buttons.
	order := []string{evaluate[string](p, "read the focus", focusedJS)}
	for len(order) < 20 && !slices.Contains(order, "decision=approve") {
		p.do("press Tab", chromedp.KeyEvent(kb.Tab))
		order = append(order, evaluate[string](p, "read the focus", focusedJS))
	}
	wantOrder := []string{
		"body",
		"link " + owner + "/" + repo + "#1",
		"link release #42 · ship",
		"reason", "rollout", "regions=eu", "regions=us", "regions=apac",
		"_comment", "decision=reject", "decision=approve",
	}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("Tab order (-want +got):\n%s", diff)
	}

	// Fill the form in as a person would: type the reason, type over the
	// rollout's default, tap two regions' labels, type a comment.
	p.do("fill in the form",
		chromedp.SendKeys(chromedp.ID("f-reason"), "canary clean"),
		chromedp.Focus(chromedp.ID("f-rollout")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("25"),
		chromedp.Tap(chromedp.CSS(`label[for="f-regions.0"]`)),
		chromedp.Tap(chromedp.CSS(`label[for="f-regions.1"]`)),
		chromedp.SendKeys(chromedp.ID("comment"), "Ship it."),
	)
	wantForm := map[string][]string{
		"reason": {"canary clean"}, "rollout": {"25"}, "regions": {"eu", "us"}, "_comment": {"Ship it."},
	}
	if diff := cmp.Diff(wantForm, evaluate[map[string][]string](p, "read the form", formDataJS)); diff != "" {
		t.Fatalf("the filled-in form (-want +got):\n%s", diff)
	}
	// From the comment, Tab goes past Reject to Approve; Enter presses it.
	p.do("Tab to Approve", chromedp.KeyEvent(kb.Tab+kb.Tab))
	if got := evaluate[string](p, "read the focus", focusedJS); got != "decision=approve" {
		t.Fatalf("two Tabs from the comment reach %q, want the approve button", got)
	}
	p.load("approve with Enter",
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Recorded"]`)),
	)
	if got, want := evaluate[string](p, "read the notice", `document.querySelector(".notice").textContent`),
		"You approved “"+title+"” as carol@corp.example."; got != want {
		t.Errorf("notice %q, want %q", got, want)
	}

	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, run.stdout.String())
	}
	checkOutputs(t, out, map[string]string{
		"decision": "approved", "decided-by": "carol@corp.example", "comment": "Ship it.",
		"field-reason": "canary clean", "field-rollout": "25", "field-regions": "eu,us",
	})
	if rs := responsesOutput(t, out); len(rs) != 1 || rs[0].Actor != "carol@corp.example" || rs[0].Via != "email" {
		t.Errorf("responses %+v, want carol via email", rs)
	}
	notes := appComments(ew.waitSummary(audit.KindSummary), audit.KindResponse)
	if len(notes) != 1 || !strings.Contains(notes[0].Body, "**Approved** by **carol@corp.example** via email") {
		t.Errorf("response comments %+v, want one recording carol's email approval", notes)
	}

	// The link answers once: opened again, it says so and shows no form.
	p.load("open the link again", chromedp.Navigate(carol.Reject))
	used := evaluate[usedPage](p, "read the page", usedPageJS)
	if used.H1 != "This link has been used" || !strings.Contains(used.Notice, "carol@corp.example approved") || used.Controls != 0 {
		t.Errorf("the used link's page %+v: want it to say carol approved through it, with no form", used)
	}
}

// formPage is what the browser makes of the form page.
type formPage struct {
	Title, H1, Intent string
	// Sheets are the paths of the stylesheets; Rules counts the first's
	// rules as the browser parsed them.
	Sheets []string
	Rules  int
	// MainMaxWidth is the computed max-width of main, which only the
	// stylesheet sets.
	MainMaxWidth string
	// Width is the layout viewport's, which a phone widens to fit a page
	// wider than its screen; Overflow is how much wider than the screen the
	// page is.
	Width, Overflow int
	// Labels are the visible controls, "name: label" ("name=value" for a
	// box or a button), in document order.
	Labels  []string
	Buttons []button
}

// button is a decision button: its label, whether it is the primary one,
// its flex-grow (1 in the phone layout) and its height in CSS pixels.
type button struct {
	Label    string
	Primary  bool
	FlexGrow string
	Height   float64
}

// formPageJS reads a formPage. A control's label is its label's text, a
// box in a fieldset's prefixed by the legend's; a button's is its text.
const formPageJS = `(() => {
	const text = el => el ? el.textContent.replace(/\s+/g, " ").trim() : "";
	const id = el => el.name + (el.type === "checkbox" || el.tagName === "BUTTON" ? "=" + el.value : "");
	const label = el => {
		if (el.tagName === "BUTTON") return text(el);
		const own = [...el.labels].map(text).join(" ");
		const set = el.closest("fieldset");
		return set ? text(set.querySelector("legend")) + " › " + own : own;
	};
	const controls = [...document.querySelectorAll("input, select, textarea, button")].filter(el => el.type !== "hidden" && el.checkVisibility());
	const buttons = [...document.querySelectorAll(".actions button")];
	return {
		Title: document.title,
		H1: text(document.querySelector("h1")),
		Intent: text(document.querySelector(".intent")),
		Sheets: [...document.styleSheets].map(s => s.href ? new URL(s.href).pathname : "inline"),
		Rules: document.styleSheets.length ? document.styleSheets[0].cssRules.length : 0,
		MainMaxWidth: getComputedStyle(document.querySelector("main")).maxWidth,
		Width: window.innerWidth,
		Overflow: document.documentElement.scrollWidth - screen.width,
		Labels: controls.map(el => id(el) + ": " + label(el)),
		Buttons: buttons.map(b => ({
			Label: text(b), Primary: b.classList.contains("primary"),
			FlexGrow: getComputedStyle(b).flexGrow, Height: b.getBoundingClientRect().height,
		})),
	};
})()`

// focusedJS names the focused element: "link <text>", a control's name
// ("name=value" for a box or a button), or "body".
const focusedJS = `(() => {
	const el = document.activeElement;
	if (el.tagName === "A") return "link " + el.textContent.trim();
	if (el.type === "checkbox" || el.tagName === "BUTTON") return el.name + "=" + el.value;
	return el.name || el.tagName.toLowerCase();
})()`

// formDataJS reads what the answer form would send, but its CSRF value and
// the button.
const formDataJS = `(() => {
	const out = {};
	for (const [k, v] of new FormData(document.querySelector("form.answer"))) {
		if (k !== "_csrf") (out[k] ??= []).push(v);
	}
	return out;
})()`

// usedPage is what the browser makes of a used link's page.
type usedPage struct {
	H1, Notice string
	Controls   int
}

const usedPageJS = `({
	H1: document.querySelector("h1").textContent,
	Notice: document.querySelector(".notice").textContent,
	Controls: document.querySelectorAll("form, input, select, textarea, button").length,
})`

// chromium finds the browser: GATEHOUSE_CHROMIUM, else the first of the
// usual names on PATH. Without one the test is skipped, unless
// GATEHOUSE_REQUIRE_CHROMIUM=1, as in CI.
func chromium(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("GATEHOUSE_CHROMIUM"); path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const missing = "no chromium on PATH: install Debian's chromium package, or set GATEHOUSE_CHROMIUM to a Chrome or Chromium binary"
	if os.Getenv("GATEHOUSE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(missing + " (GATEHOUSE_REQUIRE_CHROMIUM=1)")
	}
	t.Skip(missing)
	return ""
}

// chromiumPage is the one tab of a headless Chromium. Every action on it
// is bounded by waitLimit; when the test fails, the page's HTML and
// console are logged.
type chromiumPage struct {
	t   *testing.T
	ctx context.Context
	// marks passes on the marks load writes to the console, as the console
	// shows them.
	marks chan string

	mu sync.Mutex
	// console is every message the pages wrote but the marks; the first
	// checked have been checked.
	console []chromedp.ConsoleMessage
	checked int
}

// markPrefix begins the console messages that mark the end of a load.
const markPrefix = "gatehouse e2e mark: "

// openChromium starts the browser at path, headless and without the
// sandbox (CI runs as root), with a profile of its own in a temporary
// directory that the allocator removes when the browser stops, and the
// test's temporary directory for the files it leaves behind.
func openChromium(t *testing.T, path string) *chromiumPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Env("TMPDIR="+t.TempDir()))
	// Not t.Context(): that ends before the cleanups, and the failure log
	// needs the browser.
	alloc, stop := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(stop)
	ctx, closeTab := chromedp.NewContext(alloc)
	t.Cleanup(closeTab)
	// The browser lives as long as the context of the first Run, so that
	// context has no deadline; the watchdog stops a start that hangs.
	watchdog := time.AfterFunc(waitLimit, stop)
	err := chromedp.Do(ctx)
	if !watchdog.Stop() {
		t.Fatalf("%s did not start within %v", path, waitLimit)
	}
	if err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	p := &chromiumPage{t: t, ctx: ctx, marks: make(chan string)}
	go p.collect(chromedp.Console(ctx))
	t.Cleanup(p.logOnFailure)
	return p
}

// collect keeps the console's messages and passes the marks on, until the
// tab closes.
func (p *chromiumPage) collect(messages iter.Seq2[chromedp.ConsoleMessage, error]) {
	for m, err := range messages {
		if err != nil {
			return
		}
		if mark, ok := strings.CutPrefix(m.Text, markPrefix); ok && m.Type == chromedp.ConsoleDebug {
			select {
			case p.marks <- mark:
			case <-p.ctx.Done():
				return
			}
			continue
		}
		p.mu.Lock()
		p.console = append(p.console, m)
		p.mu.Unlock()
	}
}

// do runs the steps.
func (p *chromiumPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// evaluate returns the value of a JavaScript expression on the page.
func evaluate[T any](p *chromiumPage, what, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// load runs steps that load a page, then fails the test if the pages wrote
// an error or a warning to the console since the last load: a resource or
// a form the Content-Security-Policy refused is reported there.
func (p *chromiumPage) load(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	// The console keeps its order: once the mark is through, so is every
	// message before it.
	p.do(what, append(steps, chromedp.Evaluate[chromedp.Void]("console.debug("+strconv.Quote(markPrefix+what)+")"))...)
	timeout := time.After(waitLimit)
	for seen := ""; seen != what; {
		select {
		case seen = <-p.marks:
		case <-timeout:
			p.t.Fatalf("%s: the console never showed the mark", what)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console[p.checked:] {
		switch {
		case m.Source == "network" && strings.HasSuffix(m.URL, "/favicon.ico"):
			// The browser asks for an icon on its own, and the app has none.
		case m.Type == chromedp.ConsoleError, m.Type == chromedp.ConsoleWarning, m.Type == chromedp.ConsoleException:
			p.t.Errorf("%s: the page reported %s (%s)", what, m, m.URL)
		}
	}
	p.checked = len(p.console)
}

// logOnFailure logs the page and its console when the test failed.
func (p *chromiumPage) logOnFailure() {
	if !p.t.Failed() {
		return
	}
	var console strings.Builder
	p.mu.Lock()
	for _, m := range p.console {
		fmt.Fprintf(&console, "\n%s (%s)", m, m.URL)
	}
	p.mu.Unlock()
	p.t.Logf("browser console:%s", console.String())
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.documentElement.outerHTML`))
	if err != nil {
		p.t.Logf("reading the page: %v", err)
		return
	}
	p.t.Logf("browser page %s", page)
}
