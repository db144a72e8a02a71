package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// The targets.
const (
	latencyTarget = 100 * time.Millisecond // p99
	intakeTarget  = 2000                   // accepted per second
	memoryTarget  = 128 << 20              // bytes of RSS
)

var parts = []string{"latency", "intake", "memory"}

// options are the command line.
type options struct {
	run         []string
	gates       int
	parallel    int
	duration    time.Duration
	concurrency int
	// approvalEvery: intake sends an approval on a gate once in this many
	// deliveries, discussion on other issues otherwise.
	approvalEvery int
	waiters       int
	logLevel      string
	json          bool
	keep          bool
}

func main() {
	var o options
	var run string
	flag.StringVar(&run, "run", strings.Join(parts, ","), "the parts to run: latency, intake, memory")
	flag.IntVar(&o.gates, "gates", 100, "latency: gates, each a run of gatehouse-action")
	flag.IntVar(&o.parallel, "parallel", 10, "latency: actions running at once")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "intake: how long to send deliveries")
	flag.IntVar(&o.concurrency, "concurrency", 32, "intake: clients sending at once")
	flag.IntVar(&o.approvalEvery, "approval-every", 10, "intake: one delivery in this many is an approval on a gate (1: all)")
	flag.IntVar(&o.waiters, "waiters", 1000, "memory: gates registered and long polls held")
	flag.StringVar(&o.logLevel, "log-level", "info", "the app's GATEHOUSE_LOG_LEVEL")
	flag.BoolVar(&o.json, "json", false, "print the results as JSON")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (databases, app logs)")
	flag.Parse()
	o.run = strings.Split(run, ",")
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench(ctx, o, os.Stdout)
	interrupted := ctx.Err() != nil
	stop()
	if interrupted {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	var errs []error
	for _, p := range o.run {
		if !slices.Contains(parts, p) {
			errs = append(errs, fmt.Errorf("-run: unknown part %q; the parts are %s", p, strings.Join(parts, ", ")))
		}
	}
	for name, v := range map[string]int{"-gates": o.gates, "-parallel": o.parallel, "-concurrency": o.concurrency, "-waiters": o.waiters} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: must be at least 1, got %d", name, v))
		}
	}
	if o.duration <= 0 {
		errs = append(errs, fmt.Errorf("-duration: must be positive, got %v", o.duration))
	}
	return errors.Join(errs...)
}

// results are what the parts measured; a part not run is nil.
type results struct {
	Machine string         `json:"machine"`
	Latency *latencyResult `json:"latency,omitempty"`
	Intake  *intakeResult  `json:"intake,omitempty"`
	Memory  *memoryResult  `json:"memory,omitempty"`
}

func bench(ctx context.Context, o options, stdout io.Writer) error {
	progress("building gatehouse and gatehouse-action; starting the sandbox")
	w, err := newWorld(ctx, o.logLevel)
	if err != nil {
		return err
	}
	defer w.close(o.keep)
	r := results{Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
	if slices.Contains(o.run, "latency") {
		progress("latency: %d gates, %d at a time", o.gates, o.parallel)
		if r.Latency, err = w.latency(ctx, o.gates, o.parallel); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if slices.Contains(o.run, "intake") {
		progress("intake: %v of deliveries from %d clients", o.duration, o.concurrency)
		if r.Intake, err = w.intake(ctx, o.duration, o.concurrency, o.approvalEvery); err != nil {
			return fmt.Errorf("intake: %w", err)
		}
	}
	if slices.Contains(o.run, "memory") {
		progress("memory: %d gates and long polls", o.waiters)
		if r.Memory, err = w.memory(ctx, o.waiters); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.print(stdout, o.logLevel)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// print writes the results as a table.
func (r results) print(out io.Writer, logLevel string) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	fmt.Fprintf(out, "gatehouse bench: %s; app on SQLite, log level %s\n\n", r.Machine, logLevel)
	row("part", "measure", "result", "target")
	if l := r.Latency; l != nil {
		row("latency", fmt.Sprintf("accepted -> action exit, %d gates (%d at a time)", l.Gates, l.Parallel), l.FromAccepted.String(), verdict(l.FromAccepted.P99 < ms(latencyTarget), "p99 < 100 ms"))
		row("", "sent -> action exit", l.FromSent.String(), "")
		row("", "CPU", l.Usage.String(), "")
	}
	if in := r.Intake; in != nil {
		row("intake", fmt.Sprintf("accepted (202) over %v, %d clients", in.Duration, in.Concurrency),
			fmt.Sprintf("%.0f/s (%d; errors %d; answer p50 %.1f ms, p99 %.1f ms)", in.AcceptedPerSecond, in.Accepted, in.Errors, in.Answer.P50, in.Answer.P99),
			verdict(in.AcceptedPerSecond >= intakeTarget, "≥ 2000/s"))
		row("", "processed while sending", fmt.Sprintf("%.0f/s (%d of %d stored)", in.ProcessedPerSecond, in.ProcessedInWindow, in.Stored), "")
		row("", "inbox drained", in.drainString(), "")
		row("", "outcomes", in.outcomesString(), "")
		row("", "CPU while sending", in.Sending.String(), "")
		row("", "CPU while draining", in.Draining.String(), "")
	}
	if m := r.Memory; m != nil {
		row("memory", fmt.Sprintf("RSS with %d long polls held", m.Waiters), fmt.Sprintf("VmRSS %s, VmHWM %s", mb(m.Waiting.RSS), mb(m.Waiting.HWM)), verdict(m.Waiting.RSS < memoryTarget, "< 128 MB"))
		row("", "RSS before", fmt.Sprintf("started %s, %d gates registered %s", mb(m.Started.RSS), m.Waiters, mb(m.Registered.RSS)), "")
		row("", "settled", fmt.Sprintf("%d/%d polls returned approved, the last %.1f s after the first approval", m.Approved, m.Waiters, m.SettleSeconds), "")
		row("", "approval -> poll returned", m.Decision.String(), "")
		row("", "CPU", m.Usage.String(), "")
	}
	return tw.Flush()
}

func verdict(ok bool, target string) string {
	if ok {
		return target + ": met"
	}
	return target + ": MISSED"
}

func (u usage) String() string {
	return fmt.Sprintf("app %.2f s, bench process %.2f s, over %.1f s", u.AppCPU.Seconds(), u.BenchCPU.Seconds(), u.Wall.Seconds())
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentiles summarize durations, in milliseconds.
type percentiles struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// percentilesOf takes the nearest rank.
func percentilesOf(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	s := slices.Sorted(slices.Values(ds))
	at := func(p float64) float64 {
		rank := int(math.Ceil(p * float64(len(s))))
		return ms(s[max(0, min(rank, len(s))-1)])
	}
	return percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func (p percentiles) String() string {
	return fmt.Sprintf("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", p.P50, p.P90, p.P99, p.Max)
}
