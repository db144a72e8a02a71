package actionrun

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/api"
	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/fields"
)

// Result is what the action reports when a gate ends, in either mode.
type Result struct {
	// Outcome is the gate's outcome; its Counted responses are set in
	// standalone mode only, Responses in both.
	Outcome approval.Outcome
	// Responses are the counted responses as the responses output gives
	// them.
	Responses   []api.Response
	Rules       approval.Gate
	IssueNumber int // zero when the run ended before the issue was opened
	IssueURL    string
	Why         string   // for a cancelled gate: what cancelled it
	Notes       []string // for the summary, e.g. counted comments edited later
	// AppSettles means the app writes the outcome on the issue and closes
	// it, so the action leaves the issue alone.
	AppSettles bool
}

// outputs are the step outputs of the contract, in a stable order.
func outputs(s fields.Schema, r Result) ([][2]string, error) {
	o := r.Outcome
	values := o.Fields
	if o.Status == approval.Cancelled || values == nil {
		values = s.Defaults()
	}
	complete := s.Complete(values)
	fieldsJSON, err := json.Marshal(complete)
	if err != nil {
		return nil, fmt.Errorf("encode fields output: %w", err)
	}
	responses := r.Responses
	if responses == nil {
		responses = []api.Response{}
	}
	responsesJSON, err := json.Marshal(responses)
	if err != nil {
		return nil, fmt.Errorf("encode responses output: %w", err)
	}
	issueNumber := ""
	if r.IssueNumber != 0 {
		issueNumber = strconv.Itoa(r.IssueNumber)
	}
	out := [][2]string{
		{"decision", string(o.Status)},
		{"approved", strconv.FormatBool(o.Approved)},
		{"approvers", strings.Join(o.Approvers, ",")},
		{"decided-by", o.DecidedBy},
		{"fields", string(fieldsJSON)},
		{"comment", o.Comment},
		{"responses", string(responsesJSON)},
		{"issue-number", issueNumber},
		{"issue-url", r.IssueURL},
	}
	for _, f := range s {
		out = append(out, [2]string{"field-" + f.ID, fields.Format(complete[f.ID])})
	}
	return out, nil
}

// writeOutputs appends outputs to the GITHUB_OUTPUT file. Each value is
// framed by a fresh random delimiter, so no value (a reviewer's comment, say)
// can end its frame early and set other outputs.
func writeOutputs(path string, outs [][2]string) error {
	var b strings.Builder
	for _, kv := range outs {
		delim, err := delimiter(kv[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", kv[0], delim, kv[1], delim)
	}
	return appendFile(path, b.String())
}

func delimiter(value string) (string, error) {
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("output delimiter: %w", err)
	}
	d := "ghadelimiter_" + hex.EncodeToString(buf)
	if strings.Contains(value, d) {
		return "", fmt.Errorf("output value contains its delimiter")
	}
	return d, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// ReadOutputs parses a GITHUB_OUTPUT file as the runner does: `name=value`
// lines and `name<<DELIMITER` blocks, whichever separator comes first on the
// line. Outputs come in file order.
func ReadOutputs(data string) ([][2]string, error) {
	var out [][2]string
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		eq, heredoc := strings.Index(line, "="), strings.Index(line, "<<")
		if heredoc >= 0 && (eq < 0 || heredoc < eq) {
			name, delim := line[:heredoc], line[heredoc+2:]
			end := slices.Index(lines[i+1:], delim)
			if end < 0 {
				return nil, fmt.Errorf("output %s: delimiter never closes", name)
			}
			out = append(out, [2]string{name, strings.Join(lines[i+1:i+1+end], "\n")})
			i += end + 1
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("malformed output line %q", line)
		}
		out = append(out, [2]string{name, value})
	}
	return out, nil
}
