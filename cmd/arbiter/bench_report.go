package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// benchResult is what one load run measured. Rates and the windows they
// are over start when the first request is sent: submitted transfers per
// second over the send phase (to the last answer), included and finalized
// ones to the last inclusion and the last finality seen.
type benchResult struct {
	Mode       string // "fresh" (funded senders) or "keys"
	Arbiter    bool   // the chain is Arbiter: the funder is a member, senders were vouched for
	ChainID    uint64
	Nodes      []string // where transfers were sent
	Watch      string   // where heads were followed
	Subscribed bool     // heads by newHeads subscription (else polling)
	Senders    int
	Batch      int
	Rate       float64 // offered transfers per second (--rate); 0: unpaced

	Sent, Submitted, Included, Finalized int
	FinalityMoved                        bool  // the finalized block advanced during the run
	Retries                              int64 // refused sends retried
	Again                                int   // transfers seen in a second block (reorgs)
	Blocks                               int   // blocks holding run transfers

	Send, Include, Final time.Duration // windows, from the first request
	InclP50, InclP99     time.Duration // submit to inclusion
	FinalP50, FinalP99   time.Duration // submit to final

	Procs    []procResult
	BenchCPU time.Duration // the tool's own CPU time over the whole run
	LoadAvg  string        // /proc/loadavg at the end
}

// procResult is one measured process: CPU time from the first request to
// the last inclusion and to the last finality, and its peak memory.
type procResult struct {
	PID                  int
	Name                 string
	CPUInclude, CPUFinal time.Duration
	PeakKiB              uint64
}

// summarize computes the ledger's counts, windows and latencies; t0 is when
// the first request was sent.
func summarize(l *ledger, t0 time.Time) benchResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := benchResult{Sent: l.size()}
	var incl, fin []time.Duration
	var lastSubmit, lastIncl, lastFinal time.Time
	for i := range l.submit {
		s := l.sent[i]
		if a := l.submit[i]; !a.IsZero() {
			r.Submitted++
			lastSubmit = later(lastSubmit, a)
		}
		if in := l.include[i]; !in.IsZero() {
			r.Included++
			lastIncl = later(lastIncl, in)
			if !s.IsZero() {
				incl = append(incl, max(in.Sub(s), 0))
			}
		}
		if f := l.final[i]; !f.IsZero() {
			r.Finalized++
			lastFinal = later(lastFinal, f)
			if !s.IsZero() {
				fin = append(fin, max(f.Sub(s), 0))
			}
		}
	}
	r.Send, r.Include, r.Final = since(t0, lastSubmit), since(t0, lastIncl), since(t0, lastFinal)
	r.InclP50, r.InclP99 = percentiles(incl)
	r.FinalP50, r.FinalP99 = percentiles(fin)
	return r
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// since is t-t0, or 0 if t is unset.
func since(t0, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(t0)
}

// percentiles sorts d and returns its p50 and p99 (index n*p/100), zero
// for none.
func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)*50/100], d[len(d)*99/100]
}

// rate is n per second over d, 0 for an empty window.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// perTx is CPU time in µs per transfer, 0 for none.
func perTx(cpu time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

// allFinal reports whether every transfer sent was seen final.
func (r benchResult) allFinal() bool { return r.Finalized == r.Sent }

// cpu sums the measured processes' CPU time to the last inclusion and to
// the last finality.
func (r benchResult) cpu() (include, final time.Duration) {
	for _, p := range r.Procs {
		include += p.CPUInclude
		final += p.CPUFinal
	}
	return include, final
}

// String is the human-readable result. Its first line is the one the
// tool has always printed (scripts parse it): the finalized figures if
// every transfer was seen final, else the included ones.
func (r benchResult) String() string {
	var b strings.Builder
	what, done, window, p50, p99 := "included", r.Included, r.Include, r.InclP50, r.InclP99
	if r.allFinal() {
		what, done, window, p50, p99 = "finalized", r.Finalized, r.Final, r.FinalP50, r.FinalP99
	}
	fmt.Fprintf(&b, "sent %d, %s %d in %d blocks over %v: %.0f tx/s; submit-to-%s latency p50 %v, p99 %v\n",
		r.Sent, what, done, r.Blocks, window.Round(time.Millisecond), rate(done, window), what,
		p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	how := "1 transaction per request"
	if r.Batch > 1 {
		how = fmt.Sprintf("batches of %d", r.Batch)
	}
	if r.Rate > 0 {
		how += fmt.Sprintf(", offered at %g tx/s", r.Rate)
	}
	fmt.Fprintf(&b, "  submitted %d in %v: %.0f tx/s (%d senders, %s, %d node(s)); %d refusals retried\n",
		r.Submitted, r.Send.Round(time.Millisecond), rate(r.Submitted, r.Send), r.Senders, how, len(r.Nodes), r.Retries)
	perBlock := 0.0
	if r.Blocks > 0 {
		perBlock = float64(r.Included) / float64(r.Blocks)
	}
	fmt.Fprintf(&b, "  included %d in %d blocks (%.1f per block) over %v: %.0f tx/s; submit-to-inclusion p50 %v, p99 %v\n",
		r.Included, r.Blocks, perBlock, r.Include.Round(time.Millisecond), rate(r.Included, r.Include),
		r.InclP50.Round(time.Millisecond), r.InclP99.Round(time.Millisecond))
	switch {
	case !r.FinalityMoved && r.Finalized == 0:
		b.WriteString("  finality: the node's finalized block did not move during the run; inclusion only\n")
	default:
		partial := ""
		if !r.allFinal() {
			partial = fmt.Sprintf(" (of %d included; finality stood still)", r.Included)
		}
		fmt.Fprintf(&b, "  finalized %d%s over %v: %.0f tx/s; submit-to-final p50 %v, p99 %v\n",
			r.Finalized, partial, r.Final.Round(time.Millisecond), rate(r.Finalized, r.Final),
			r.FinalP50.Round(time.Millisecond), r.FinalP99.Round(time.Millisecond))
	}
	if len(r.Procs) > 0 {
		ci, cf := r.cpu()
		var per []string
		for _, p := range r.Procs {
			per = append(per, fmt.Sprintf("%d %s cpu %v peak %.0f MiB", p.PID, p.Name,
				p.CPUFinal.Round(10*time.Millisecond), float64(p.PeakKiB)/1024))
		}
		fin := "n/a"
		if r.Finalized > 0 {
			fin = fmt.Sprintf("%.0f", perTx(cf, r.Finalized))
		}
		fmt.Fprintf(&b, "  cpu over %d processes: %s µs per finalized transfer, %.0f µs per included; %s\n",
			len(r.Procs), fin, perTx(ci, r.Included), strings.Join(per, "; "))
	}
	if r.Again > 0 {
		fmt.Fprintf(&b, "  %d transfers were seen in a second block (a reorg); each counted once\n", r.Again)
	}
	return b.String()
}

// benchReport is the JSON form of a result (--json), for scripts: times
// in milliseconds, rates per second.
type benchReport struct {
	Mode          string   `json:"mode"`
	Arbiter       bool     `json:"arbiter"`
	ChainID       uint64   `json:"chain_id"`
	Nodes         []string `json:"nodes"`
	Watch         string   `json:"watch"`
	Subscribed    bool     `json:"heads_by_subscription"`
	Senders       int      `json:"senders"`
	Batch         int      `json:"batch"`
	OfferedTPS    float64  `json:"offered_tps"` // --rate; 0: unpaced
	Sent          int      `json:"sent"`
	Submitted     int      `json:"submitted"`
	Included      int      `json:"included"`
	Finalized     int      `json:"finalized"`
	FinalityMoved bool     `json:"finality_moved"`
	Retries       int64    `json:"retries"`
	Again         int      `json:"seen_again"`
	Blocks        int      `json:"blocks"`
	TxsPerBlock   float64  `json:"txs_per_block"`

	SendMs       float64 `json:"send_ms"`
	SubmittedTPS float64 `json:"submitted_tps"`
	IncludeMs    float64 `json:"include_ms"`
	IncludedTPS  float64 `json:"included_tps"`
	FinalMs      float64 `json:"final_ms"`
	FinalizedTPS float64 `json:"finalized_tps"`
	InclP50Ms    float64 `json:"inclusion_p50_ms"`
	InclP99Ms    float64 `json:"inclusion_p99_ms"`
	FinalP50Ms   float64 `json:"final_p50_ms"`
	FinalP99Ms   float64 `json:"final_p99_ms"`

	CPUPerIncluded float64      `json:"cpu_us_per_included"`
	CPUPerFinal    float64      `json:"cpu_us_per_finalized"`
	PeakMiBMax     float64      `json:"peak_mib_max"`
	Procs          []procReport `json:"processes"`
	BenchCPUMs     float64      `json:"bench_cpu_ms"`
	LoadAvg        string       `json:"loadavg"`
}

// procReport is one process in the JSON result.
type procReport struct {
	PID          int     `json:"pid"`
	Name         string  `json:"name"`
	CPUIncludeMs float64 `json:"cpu_to_inclusion_ms"`
	CPUFinalMs   float64 `json:"cpu_to_final_ms"`
	PeakMiB      float64 `json:"peak_mib"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// report is the result's JSON form.
func (r benchResult) report() benchReport {
	ci, cf := r.cpu()
	out := benchReport{
		Mode: r.Mode, Arbiter: r.Arbiter, ChainID: r.ChainID, Nodes: r.Nodes, Watch: r.Watch, Subscribed: r.Subscribed,
		Senders: r.Senders, Batch: r.Batch, OfferedTPS: r.Rate, Sent: r.Sent, Submitted: r.Submitted, Included: r.Included,
		Finalized: r.Finalized, FinalityMoved: r.FinalityMoved, Retries: r.Retries, Again: r.Again, Blocks: r.Blocks,
		SendMs: ms(r.Send), SubmittedTPS: rate(r.Submitted, r.Send),
		IncludeMs: ms(r.Include), IncludedTPS: rate(r.Included, r.Include),
		FinalMs: ms(r.Final), FinalizedTPS: rate(r.Finalized, r.Final),
		InclP50Ms: ms(r.InclP50), InclP99Ms: ms(r.InclP99), FinalP50Ms: ms(r.FinalP50), FinalP99Ms: ms(r.FinalP99),
		CPUPerIncluded: perTx(ci, r.Included), CPUPerFinal: perTx(cf, r.Finalized),
		Procs: []procReport{}, BenchCPUMs: ms(r.BenchCPU), LoadAvg: r.LoadAvg,
	}
	if r.Blocks > 0 {
		out.TxsPerBlock = float64(r.Included) / float64(r.Blocks)
	}
	for _, p := range r.Procs {
		mib := float64(p.PeakKiB) / 1024
		out.PeakMiBMax = max(out.PeakMiBMax, mib)
		out.Procs = append(out.Procs, procReport{PID: p.PID, Name: p.Name,
			CPUIncludeMs: ms(p.CPUInclude), CPUFinalMs: ms(p.CPUFinal), PeakMiB: mib})
	}
	return out
}
