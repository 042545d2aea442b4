package client

import (
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/grantlog/grantlog/internal/metrics"
)

// Collector is the follower's Prometheus collector: its checks
// (grantlog_check_duration_seconds and the batch metrics with
// transport="follower", by decision), its index's applied revision
// (grantlog_applied_revision), the events it applied
// (grantlog_events_applied_total) and its NATS connection
// (grantlog_nats_connected, grantlog_nats_reconnects_total). Register it
// where the process keeps its metrics:
//
//	prometheus.MustRegister(follower.Collector())
//
// Each call returns a new collector of the same metrics: register one.
func (f *Follower) Collector() prometheus.Collector {
	return followerCollector{f.checks, metrics.NewNodeCollector(metrics.Node{
		Applied:       func() uint64 { return f.store.Applied() },
		EventsApplied: f.proj.EventsApplied,
		NATS: func() (bool, uint64) {
			return f.nc.Status() == nats.CONNECTED, f.nc.Stats().Reconnects
		},
	})}
}

// followerCollector joins the follower's check metrics and its state.
type followerCollector struct {
	checks, node prometheus.Collector
}

func (c followerCollector) Describe(ch chan<- *prometheus.Desc) {
	c.checks.Describe(ch)
	c.node.Describe(ch)
}

func (c followerCollector) Collect(ch chan<- prometheus.Metric) {
	c.checks.Collect(ch)
	c.node.Collect(ch)
}
