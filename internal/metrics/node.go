package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Node reads a node's state when Prometheus scrapes it. Nil functions
// export nothing.
type Node struct {
	// Applied is the index's applied revision; Head the stream head the
	// node knows (polled each StatusInterval).
	Applied, Head func() uint64
	// EventsApplied counts the events the projector applied since start.
	EventsApplied func() uint64
	// Snapshot is the last snapshot this node took: when, and its size
	// (ok false: none yet).
	Snapshot func() (at time.Time, bytes int64, ok bool)
	// NATS is the state of the node's NATS connection and how often it
	// reconnected.
	NATS func() (connected bool, reconnects uint64)
	// AuditSubscribers counts the open audit streams (audit and
	// permission-change feeds).
	AuditSubscribers func() int
	// GroupCommit counts the command side's atomic batches of commands'
	// events (group commit), the events in them, and the batches the
	// stream refused whole (then appended one by one).
	GroupCommit func() (batches, events, split uint64)
	// CommandPhases reports, phase by phase (queue, decide, append,
	// apply), how many single commands passed it and the seconds they
	// spent there since start: where a command's latency goes.
	CommandPhases func(yield func(phase string, count uint64, seconds float64))
}

func desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, nil)
}

var (
	descApplied       = desc("applied_revision", "The index's applied revision (the stream sequence of the last event folded into it).")
	descHead          = desc("head_revision", "The event stream's head as this node last saw it.")
	descLag           = desc("lag_events", "Events in the stream the index has not applied yet (head - applied).")
	descEventsApplied = desc("events_applied_total", "Events the projector applied to the index since the node started.")
	descSnapAge       = desc("snapshot_age_seconds", "Seconds since this node took its last index snapshot (absent before the first).")
	descSnapSize      = desc("snapshot_size_bytes", "Size of the last index snapshot this node took (compressed archive).")
	descNATSConnected = desc("nats_connected", "1 when the node's NATS connection is connected, else 0.")
	descNATSReconnect = desc("nats_reconnects_total", "Times the node's NATS connection reconnected.")
	descAuditSubs     = desc("audit_subscribers", "Open audit streams (GET /v1/audit/stream, the permission-change feed).")
	descGroupBatches  = desc("group_commit_batches_total", "Atomic batches in which commands decided at the same time appended their events together (group commit).")
	descGroupEvents   = desc("group_commit_events_total", "Events appended inside group-commit batches.")
	descPhase         = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "command_phase_seconds"),
		"Time single commands spent in each phase on this node: queue (waiting for the namespace's command lock), decide (read the index, encode, sign), append (publish to the stream's acknowledgement, fsync included), apply (waiting for this node's index to apply the event).",
		[]string{"phase"}, nil)
	descGroupSplit = desc("group_commit_split_total", "Group-commit batches the stream refused whole (a member's stale expectation or stored message id), whose events were then appended one by one.")
)

// SetNode registers the node's state, read at each scrape.
func (m *Metrics) SetNode(n Node) {
	m.Registry.MustRegister(NewNodeCollector(n))
}

// NewNodeCollector returns a collector of n, read at each scrape.
func NewNodeCollector(n Node) prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApplied, descHead, descLag, descEventsApplied, descSnapAge, descSnapSize,
		descNATSConnected, descNATSReconnect, descAuditSubs, descGroupBatches, descGroupEvents, descGroupSplit, descPhase} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	if n.Applied != nil {
		applied := n.Applied()
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(applied))
		if n.Head != nil {
			head := max(n.Head(), applied)
			ch <- prometheus.MustNewConstMetric(descHead, prometheus.GaugeValue, float64(head))
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(head-applied))
		}
	}
	if n.EventsApplied != nil {
		ch <- prometheus.MustNewConstMetric(descEventsApplied, prometheus.CounterValue, float64(n.EventsApplied()))
	}
	if n.Snapshot != nil {
		if at, size, ok := n.Snapshot(); ok {
			ch <- prometheus.MustNewConstMetric(descSnapAge, prometheus.GaugeValue, time.Since(at).Seconds())
			ch <- prometheus.MustNewConstMetric(descSnapSize, prometheus.GaugeValue, float64(size))
		}
	}
	if n.NATS != nil {
		connected, reconnects := n.NATS()
		v := 0.0
		if connected {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descNATSConnected, prometheus.GaugeValue, v)
		ch <- prometheus.MustNewConstMetric(descNATSReconnect, prometheus.CounterValue, float64(reconnects))
	}
	if n.AuditSubscribers != nil {
		ch <- prometheus.MustNewConstMetric(descAuditSubs, prometheus.GaugeValue, float64(n.AuditSubscribers()))
	}
	if n.GroupCommit != nil {
		batches, events, split := n.GroupCommit()
		ch <- prometheus.MustNewConstMetric(descGroupBatches, prometheus.CounterValue, float64(batches))
		ch <- prometheus.MustNewConstMetric(descGroupEvents, prometheus.CounterValue, float64(events))
		ch <- prometheus.MustNewConstMetric(descGroupSplit, prometheus.CounterValue, float64(split))
	}
	if n.CommandPhases != nil {
		n.CommandPhases(func(phase string, count uint64, seconds float64) {
			ch <- prometheus.MustNewConstSummary(descPhase, count, seconds, nil, phase)
		})
	}
}
