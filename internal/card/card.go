package card

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ContentType is the content type of an Adaptive Card attachment and of an
// invoke answer that carries a card.
const ContentType = "application/vnd.microsoft.card.adaptive"

// Keys the Action.Execute data carries besides the field inputs (field ids
// start with a letter, so these never collide).
const (
	GateKey    = "_gate"
	CommentKey = "_comment"
)

// Verbs of the Action.Execute buttons.
const (
	VerbApprove = "approve"
	VerbReject  = "reject"
)

// MaxBytes bounds every card's JSON so that the message carrying it stays
// under Teams' 28 KB.
const MaxBytes = 24 << 10

const (
	schemaURL = "http://adaptivecards.io/schemas/adaptive-card.json"
	version   = "1.5"
	// maxComment is the most characters the reason input takes.
	maxComment = 2000
)

// card is an Adaptive Card. Body holds the element types below.
type card struct {
	Schema  string   `json:"$schema"`
	Type    string   `json:"type"`
	Version string   `json:"version"`
	Body    []any    `json:"body"`
	Actions []action `json:"actions,omitempty"`
}

type textBlock struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Wrap   bool   `json:"wrap"`
	Size   string `json:"size,omitempty"`
	Weight string `json:"weight,omitempty"`
	Color  string `json:"color,omitempty"`
}

type factSet struct {
	Type  string `json:"type"`
	Facts []fact `json:"facts"`
}

type fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// inputBase holds the properties every input has.
type inputBase struct {
	Type         string `json:"type"`
	ID           string `json:"id"`
	Label        string `json:"label"`
	IsRequired   bool   `json:"isRequired,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

type textInput struct {
	inputBase
	Value       string `json:"value,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	MaxLength   int    `json:"maxLength,omitempty"`
	Regex       string `json:"regex,omitempty"`
	Style       string `json:"style,omitempty"`
	IsMultiline bool   `json:"isMultiline,omitempty"`
}

type toggleInput struct {
	inputBase
	Title    string `json:"title"`
	Value    string `json:"value,omitempty"`
	ValueOn  string `json:"valueOn"`
	ValueOff string `json:"valueOff"`
	Wrap     bool   `json:"wrap"`
}

type numberInput struct {
	inputBase
	Value *float64 `json:"value,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
}

type choiceSetInput struct {
	inputBase
	Choices       []choice `json:"choices"`
	Style         string   `json:"style"`
	IsMultiSelect bool     `json:"isMultiSelect,omitempty"`
	Value         string   `json:"value,omitempty"`
	Wrap          bool     `json:"wrap"`
}

type choice struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type dateInput struct {
	inputBase
	Value string `json:"value,omitempty"`
}

// action is an Action.Execute (Verb, Data) or an Action.OpenUrl (URL).
type action struct {
	Type             string            `json:"type"`
	Title            string            `json:"title"`
	Verb             string            `json:"verb,omitempty"`
	Style            string            `json:"style,omitempty"`
	Data             map[string]string `json:"data,omitempty"`
	AssociatedInputs string            `json:"associatedInputs,omitempty"`
	URL              string            `json:"url,omitempty"`
}

func newCard(body []any, actions []action) card {
	return card{Schema: schemaURL, Type: "AdaptiveCard", Version: version, Body: body, Actions: actions}
}

func text(s string) textBlock {
	return textBlock{Type: "TextBlock", Text: s, Wrap: true}
}

func colored(s, color string) textBlock {
	t := text(s)
	t.Color = color
	return t
}

func heading(s string) textBlock {
	t := text(s)
	t.Size, t.Weight = "large", "bolder"
	return t
}

// limits caps, in bytes, the free text a card shows.
type limits struct {
	// instructions is how much of the instructions to show; at least their
	// length shows them whole.
	instructions int
	// text caps every other text that the workflow's author or a reviewer
	// wrote: descriptions, values, comments, reasons.
	text int
}

// fit encodes the card that build makes within MaxBytes. It caps the free
// texts at 2000 bytes and shortens the instructions (of length full) as
// little as needed; when even no instructions do not fit, it tries again
// with the texts capped at 500 and then 100 bytes. It fails only when
// nothing fits, which takes a very large field schema.
func fit(gateID string, full int, build func(limits) card) (json.RawMessage, error) {
	var size int
	for _, text := range [...]int{2000, 500, 100} {
		at := func(n int) (json.RawMessage, bool, error) {
			b, err := encode(build(limits{instructions: n, text: text}))
			size = len(b)
			return b, len(b) <= MaxBytes, err
		}
		b, ok, err := at(full)
		if err != nil || ok {
			return b, err
		}
		if full == 0 {
			continue
		}
		if b, ok, err = at(0); err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// at(lo) fits and at(hi) does not; the size grows with n.
		lo, hi := 0, full
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			m, ok, err := at(mid)
			if err != nil {
				return nil, err
			}
			if ok {
				lo, b = mid, m
			} else {
				hi = mid
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("card for gate %s: %d bytes even without instructions and with every text shortened, more than the %d a Teams message allows; the gate has too many or too large fields", gateID, size, MaxBytes)
}

// encode writes the card as compact JSON, leaving <, > and & as they are.
func encode(c card) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode card: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// shorten returns the instructions cut to n bytes with a pointer to the
// issue, or whole when n covers them.
func shorten(s string, n int) string {
	if n >= len(s) {
		return s
	}
	n = runeStart(s, n)
	head := strings.TrimRightFunc(s[:n], unicode.IsSpace)
	if head == "" {
		return "Read the instructions on the issue."
	}
	return head + "… (read the rest on the issue)"
}

// clip cuts s to at most n bytes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeStart(s, n-len("…"))] + "…"
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// joinFit joins items with sep, each clipped to n bytes, and ends with
// "and K more" where the text would pass n bytes.
func joinFit(items []string, sep string, n int) string {
	var b strings.Builder
	for i, item := range items {
		item = clip(item, n)
		if i > 0 && b.Len()+len(sep)+len(item) > n {
			fmt.Fprintf(&b, "%sand %d more", sep, len(items)-i)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(item)
	}
	return b.String()
}
