package metrics

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "grantlog"

// Transport is how a check reached Grantlog.
type Transport uint8

// Transports.
const (
	HTTP Transport = iota
	NATS
	Follower
	numTransports
)

func (t Transport) String() string {
	switch t {
	case HTTP:
		return "http"
	case NATS:
		return "nats"
	case Follower:
		return "follower"
	}
	return "unknown"
}

// Decision is a check's answer: allowed, denied, or an error (refused,
// invalid, unauthenticated, not yet applied...).
type Decision uint8

// Decisions.
const (
	Allowed Decision = iota
	Denied
	Error
	numDecisions
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case Denied:
		return "denied"
	}
	return "error"
}

// DecisionOf is the decision of a check answered allowed (when err is
// nil) or failed with err.
func DecisionOf(allowed bool, err error) Decision {
	switch {
	case err != nil:
		return Error
	case allowed:
		return Allowed
	}
	return Denied
}

// Outcome is how a command ended.
type Outcome uint8

// Outcomes.
const (
	// OK: done at the first attempt.
	OK Outcome = iota
	// Conflict: refused with 409 (a concurrent change the command lost
	// for good, a name taken, a reused Idempotency-Key).
	Conflict
	// Retried: done, after losing at least one optimistic-concurrency
	// race on its namespace and being decided again.
	Retried
	// Refused: refused with any other 4xx (invalid, unauthenticated,
	// forbidden, not found, a node that does not serve commands).
	Refused
	// Failed: a 5xx (the stream or the index failed, a timeout).
	Failed
	numOutcomes
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Conflict:
		return "conflict"
	case Retried:
		return "retried"
	case Refused:
		return "refused"
	}
	return "failed"
}

// OutcomeOf classifies a command answered with HTTP status status (the
// status of its error, or its success status) that was decided again
// retries times.
func OutcomeOf(status int, retries int32) Outcome {
	switch {
	case status < 400 && retries > 0:
		return Retried
	case status < 400:
		return OK
	case status == http.StatusConflict:
		return Conflict
	case status < 500:
		return Refused
	}
	return Failed
}

// Buckets.
var (
	// CheckBuckets are the check latency buckets: 25µs to 2.5s.
	CheckBuckets = []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 2.5}
	// CommandBuckets are the command latency buckets: 1ms to 10s.
	CommandBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// BatchSizeBuckets are the batch size buckets: 1 to 1,000 checks.
	BatchSizeBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
)

// Metrics are one node's metrics, in a registry of their own: the Go
// runtime and process collectors, the checks over HTTP and NATS, the
// commands, and (SetNode) the node's state.
type Metrics struct {
	Registry *prometheus.Registry
	Checks   *Checks
	Commands *Commands
}

// New returns a node's metrics, registered.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Checks:   NewChecks(HTTP, NATS),
		Commands: NewCommands(),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Checks, m.Commands,
	)
	return m
}

// Handler serves the registry in Prometheus' exposition formats
// (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Checks are the check metrics of some transports: latency by transport
// and decision, and the batches' latency, sizes and decisions.
type Checks struct {
	duration, batchDuration, batchSize *prometheus.HistogramVec
	batchItems                         *prometheus.CounterVec

	// Label children, resolved once: observing allocates nothing.
	dur   [numTransports][numDecisions]prometheus.Observer
	bdur  [numTransports][2]prometheus.Observer // outcome ok, error
	bsize [numTransports]prometheus.Observer
	items [numTransports][numDecisions]prometheus.Counter
}

// NewChecks returns the check metrics of transports, every series
// present (at zero) from the start.
func NewChecks(transports ...Transport) *Checks {
	c := &Checks{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "check_duration_seconds",
			Help:    "Time to answer one check (POST /v1/check, grantlog.v1.check, Follower.Check), by transport and decision (allowed, denied, error).",
			Buckets: CheckBuckets,
		}, []string{"transport", "decision"}),
		batchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "check_batch_duration_seconds",
			Help:    "Time to answer one batch of checks (POST /v1/checks, grantlog.v1.checks, Follower.CheckBatch), by transport and outcome (ok: answered; error: refused as a whole).",
			Buckets: CheckBuckets,
		}, []string{"transport", "outcome"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "check_batch_size",
			Help:    "Checks per answered batch, by transport.",
			Buckets: BatchSizeBuckets,
		}, []string{"transport"}),
		batchItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "check_batch_items_total",
			Help: "Checks answered inside batches, by transport and decision (allowed, denied, error: that check was refused).",
		}, []string{"transport", "decision"}),
	}
	for _, t := range transports {
		for d := Decision(0); d < numDecisions; d++ {
			c.dur[t][d] = c.duration.WithLabelValues(t.String(), d.String())
			c.items[t][d] = c.batchItems.WithLabelValues(t.String(), d.String())
		}
		c.bdur[t][0] = c.batchDuration.WithLabelValues(t.String(), "ok")
		c.bdur[t][1] = c.batchDuration.WithLabelValues(t.String(), "error")
		c.bsize[t] = c.batchSize.WithLabelValues(t.String())
	}
	return c
}

// Check records one check that started at start. A nil Checks, or a
// transport it was not made for, records nothing.
func (c *Checks) Check(t Transport, d Decision, start time.Time) {
	if c == nil || t >= numTransports || d >= numDecisions {
		return
	}
	if o := c.dur[t][d]; o != nil {
		o.Observe(time.Since(start).Seconds())
	}
}

// Batch records one batch that started at start: refused as a whole
// (failed), or answered with allowed, denied and errored checks (a check
// of a batch may be refused on its own: errored).
func (c *Checks) Batch(t Transport, allowed, denied, errored int, failed bool, start time.Time) {
	if c == nil || t >= numTransports || c.bsize[t] == nil {
		return
	}
	if failed {
		c.bdur[t][1].Observe(time.Since(start).Seconds())
		return
	}
	c.bdur[t][0].Observe(time.Since(start).Seconds())
	c.bsize[t].Observe(float64(allowed + denied + errored))
	c.items[t][Allowed].Add(float64(allowed))
	c.items[t][Denied].Add(float64(denied))
	c.items[t][Error].Add(float64(errored))
}

// Describe implements prometheus.Collector.
func (c *Checks) Describe(ch chan<- *prometheus.Desc) {
	c.duration.Describe(ch)
	c.batchDuration.Describe(ch)
	c.batchSize.Describe(ch)
	c.batchItems.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Checks) Collect(ch chan<- prometheus.Metric) {
	c.duration.Collect(ch)
	c.batchDuration.Collect(ch)
	c.batchSize.Collect(ch)
	c.batchItems.Collect(ch)
}

// Commands are the command metrics: outcomes and latency by operation.
type Commands struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewCommands returns the command metrics.
func NewCommands() *Commands {
	return &Commands{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "commands_total",
			Help: "Commands answered, by operation (the API table's name, e.g. role.create) and outcome (ok, conflict, retried, refused, failed).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "command_duration_seconds",
			Help:    "Time to answer one command (decided, appended, applied locally), by operation.",
			Buckets: CommandBuckets,
		}, []string{"operation"}),
	}
}

// Op resolves the series of one operation (its name from the API table:
// a bounded set). Call it once per operation, when the edge is built. A
// nil Commands returns a nil *CommandOp, which records nothing.
func (c *Commands) Op(name string) *CommandOp {
	if c == nil {
		return nil
	}
	op := &CommandOp{dur: c.duration.WithLabelValues(name)}
	for o := Outcome(0); o < numOutcomes; o++ {
		op.outcomes[o] = c.total.WithLabelValues(name, o.String())
	}
	return op
}

// Describe implements prometheus.Collector.
func (c *Commands) Describe(ch chan<- *prometheus.Desc) {
	c.total.Describe(ch)
	c.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Commands) Collect(ch chan<- prometheus.Metric) {
	c.total.Collect(ch)
	c.duration.Collect(ch)
}

// CommandOp is one operation's command series.
type CommandOp struct {
	outcomes [numOutcomes]prometheus.Counter
	dur      prometheus.Observer
}

// Observe records one command that started at start and ended with o.
func (op *CommandOp) Observe(o Outcome, start time.Time) {
	if op == nil || o >= numOutcomes {
		return
	}
	op.outcomes[o].Inc()
	op.dur.Observe(time.Since(start).Seconds())
}

// Retries counts the times a command was decided again after losing an
// optimistic-concurrency race. The edge puts one in the command's context
// (WithRetries); the command service counts into it (NoteRetry).
type Retries struct{ n atomic.Int32 }

// Load returns the count.
func (r *Retries) Load() int32 {
	if r == nil {
		return 0
	}
	return r.n.Load()
}

type retriesKey struct{}

// WithRetries returns ctx carrying r.
func WithRetries(ctx context.Context, r *Retries) context.Context {
	return context.WithValue(ctx, retriesKey{}, r)
}

// NoteRetry counts one retry into ctx's Retries, if it carries one.
func NoteRetry(ctx context.Context) {
	if r, _ := ctx.Value(retriesKey{}).(*Retries); r != nil {
		r.n.Add(1)
	}
}
